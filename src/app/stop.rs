//! What ends a run: Ctrl-C or SIGTERM, and the `--max-frames` / `--duration-secs` limits.

use std::sync::Arc;
use std::time::Duration;

use crate::link::Stats;

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (what launch systems and `docker stop` send), naming it. A signal
/// that cannot be watched never resolves, so the run goes on rather than stopping at once.
pub async fn stop_signal() -> &'static str {
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "interrupted",
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
                "terminated"
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<&'static str>();
    tokio::select! {
        s = interrupt => s,
        s = terminate => s,
    }
}

/// Resolves when `--max-frames` results were produced (with several cameras, `max_frames` per camera
/// counted over all of them) or `--duration-secs` passed (never if neither).
pub async fn stop_condition(cameras: Vec<Arc<Stats>>, max_frames: Option<u64>, duration_secs: Option<f64>) {
    let deadline = duration_secs.filter(|s| s.is_finite() && *s > 0.0).map(Duration::from_secs_f64);
    let started = tokio::time::Instant::now();
    if max_frames.is_none() && deadline.is_none() {
        std::future::pending::<()>().await;
    }
    let target = max_frames.map(|n| n.saturating_mul(cameras.len() as u64));
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        let done: u64 = cameras.iter().map(|s| s.processed.load(std::sync::atomic::Ordering::Relaxed)).sum();
        if target.is_some_and(|n| done >= n) {
            return;
        }
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            return;
        }
    }
}
