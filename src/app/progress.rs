//! The progress line: frames in/out, output fps, drops, latency and descriptions, once a second.
//! On a terminal it rewrites one line; otherwise it prints a line every 5 s (logs stay readable).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::frame::{FrameResult, Location};
use crate::link::{Stats, StatsSnapshot};

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
    if s.depth_frames + s.depth_unmatched + s.depth_no_camera + s.depth_unusable > 0 {
        line.push_str(&format!(" | 3-D frames {} unmatched {}", s.depth_located, s.depth_unmatched));
        if s.depth_no_camera + s.depth_unusable > 0 {
            line.push_str(&format!(" no camera_info {} unusable {}", s.depth_no_camera, s.depth_unusable));
        }
    }
    if s.sink_dropped > 0 {
        line.push_str(&format!(" | results a sink missed {}", s.sink_dropped));
    }
    if s.sink_failures > 0 {
        line.push_str(&format!(" | outputs failed {}", s.sink_failures));
    }
    line
}

/// One line per command of a result: its object's id and 3-D position (or why there is none); empty
/// when the run has no depth input.
pub fn format_positions(r: &FrameResult) -> Vec<String> {
    if r.groundings.iter().all(|g| g.location == Location::NoDepthInput) {
        return Vec::new();
    }
    let mut lines = vec![format!("3-D positions on frame {} (camera optical frame, metres):", r.seq)];
    for (k, g) in r.groundings.iter().enumerate() {
        let place = match &g.location {
            Location::Placed(p) => {
                let [x, y, z] = p.centroid;
                let [ex, ey, _] = p.extent;
                format!(
                    "id {} at x {x:+.3} y {y:+.3} z {z:.3} ({:.2} m away), {:.0}x{:.0} mm, {} depth px",
                    g.track_id,
                    (x * x + y * y + z * z).sqrt(),
                    ex * 1e3,
                    ey * 1e3,
                    p.depth_pixels
                )
            }
            Location::Unplaced(why) if g.found => format!("id {}, no position: {why}", g.track_id),
            _ => "not found".into(),
        };
        lines.push(format!("  {} {}: {place}", k + 1, g.command));
    }
    lines
}

/// Runs until the task is aborted: one line for one camera; with several, one line per camera, named.
pub async fn report_progress(cameras: Vec<(String, Arc<Stats>)>) {
    let tty = std::io::stderr().is_terminal() && cameras.len() == 1;
    let period = if tty { Duration::from_secs(1) } else { Duration::from_secs(5) };
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    let mut last: Vec<(u64, Instant)> = cameras.iter().map(|_| (0, Instant::now())).collect();
    loop {
        tick.tick().await;
        let mut lines = Vec::with_capacity(cameras.len());
        for ((name, stats), (last_out, last_at)) in cameras.iter().zip(last.iter_mut()) {
            let snap = stats.snapshot();
            let fps = (snap.frames_out - *last_out) as f64 / last_at.elapsed().as_secs_f64().max(1e-6);
            (*last_out, *last_at) = (snap.frames_out, Instant::now());
            let line = format_progress(&snap, fps);
            lines.push(if cameras.len() > 1 { format!("{name}: {line}") } else { line });
        }
        let mut err = std::io::stderr().lock();
        let _ = if tty { write!(err, "\r\x1b[2K{}", lines[0]) } else { writeln!(err, "{}", lines.join("\n")) };
        let _ = err.flush();
    }
}
