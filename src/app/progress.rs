//! The progress line: frames in/out, output fps, drops, latency and descriptions, once a second.
//! On a terminal it rewrites one line; otherwise it prints a line every 5 s (logs stay readable).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::stats::{Stats, StatsSnapshot};

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.0}", d.as_secs_f64() * 1e3)).unwrap_or_else(|| "-".into())
}

/// One line of text for a snapshot and the output rate.
pub fn format_progress(s: &StatsSnapshot, fps_out: f64) -> String {
    let mut line = format!(
        "frames in {} out {} dropped {} | {:.1} fps | latency p50 {} ms p99 {} ms | model p50 {} ms | descriptions {}",
        s.frames_in,
        s.frames_out,
        s.dropped,
        fps_out,
        ms(s.latency_p50),
        ms(s.latency_p99),
        ms(s.model_p50),
        s.descriptions
    );
    if s.inference_errors > 0 || s.capture_restarts > 0 {
        line.push_str(&format!(" | errors {} restarts {}", s.inference_errors, s.capture_restarts));
    }
    if s.lost_upstream > 0 {
        line.push_str(&format!(" | lost before capture {}", s.lost_upstream));
    }
    if s.sink_dropped > 0 {
        line.push_str(&format!(" | results a sink missed {}", s.sink_dropped));
    }
    if s.sink_failures > 0 {
        line.push_str(&format!(" | outputs failed {}", s.sink_failures));
    }
    line
}

/// Runs until the task is aborted.
pub async fn report_progress(stats: Arc<Stats>) {
    let tty = std::io::stderr().is_terminal();
    let period = if tty { Duration::from_secs(1) } else { Duration::from_secs(5) };
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    let (mut last_out, mut last_at) = (0u64, Instant::now());
    loop {
        tick.tick().await;
        let snap = stats.snapshot();
        let fps = (snap.frames_out - last_out) as f64 / last_at.elapsed().as_secs_f64().max(1e-6);
        (last_out, last_at) = (snap.frames_out, Instant::now());
        let line = format_progress(&snap, fps);
        let mut err = std::io::stderr().lock();
        let _ = if tty { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }
}
