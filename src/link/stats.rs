//! Pipeline counters and latency windows, shared by the worker, the sinks, the progress line and the
//! ROS diagnostics publisher. Everything is lock-free except the small percentile windows.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capture::CaptureStats;
use crate::spatial::DepthStatus;

/// Samples kept for percentiles (about 30 s at 10 fps).
const WINDOW: usize = 300;

#[derive(Debug, Default)]
pub struct Stats {
    pub capture: Arc<CaptureStats>,
    /// Frames handed to the worker's slot (from capture or an external producer such as ROS).
    pub frames_received: Arc<AtomicU64>,
    /// Frames replaced in the hand-over slot before the worker took them (newest frame wins).
    pub dropped_frames: Arc<AtomicU64>,
    /// Frames the worker turned into results.
    pub processed: AtomicU64,
    /// Frames the model failed on (counted, logged at a limited rate, skipped).
    pub inference_errors: AtomicU64,
    /// Descriptions finished (one per command per description round).
    pub descriptions: AtomicU64,
    /// Results a sink could not keep up with (it lagged behind the broadcast).
    pub sink_dropped: AtomicU64,
    /// Output files that failed (a full disk, a removed directory) and stopped writing.
    pub sink_failures: AtomicU64,
    /// Depth images received (pushed by an input or read from a file sequence).
    pub depth_frames: AtomicU64,
    /// Frames whose groundings got 3-D from a matched depth image.
    pub depth_located: AtomicU64,
    /// Frames with depth flowing but none within the tolerance of their stamp (published without 3-D).
    pub depth_unmatched: AtomicU64,
    /// Frames with matched depth but no camera_info received yet.
    pub depth_no_camera: AtomicU64,
    /// Frames whose depth image or camera_info does not fit the frame (another aspect ratio).
    pub depth_unusable: AtomicU64,
    latency: Mutex<Window>,
    model_time: Mutex<Window>,
    model_state: Mutex<ModelState>,
}

/// Where the model is: the pipeline (and the ROS node on it) runs while it loads, publishing nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    /// What loading is doing now, e.g. "building TensorRT engine 1 of 3 (vision.onnx)".
    Loading(String),
    /// Serving frames; the model's label ("models/tiny on cpu").
    Ready(String),
    /// Loading failed; the pipeline stops.
    Failed(String),
}

impl Default for ModelState {
    fn default() -> Self {
        ModelState::Loading("loading model".into())
    }
}

/// A point-in-time copy, for display and diagnostics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSnapshot {
    pub frames_in: u64,
    pub frames_out: u64,
    pub dropped: u64,
    pub inference_errors: u64,
    pub capture_restarts: u64,
    pub capture_frame_errors: u64,
    /// Frames lost before capture (gaps in buffer times), not part of `frames_in`.
    pub lost_upstream: u64,
    pub descriptions: u64,
    pub sink_dropped: u64,
    pub sink_failures: u64,
    pub depth_frames: u64,
    pub depth_located: u64,
    pub depth_unmatched: u64,
    pub depth_no_camera: u64,
    pub depth_unusable: u64,
    /// Capture-to-result latency percentiles over the recent window.
    pub latency_p50: Option<Duration>,
    pub latency_p99: Option<Duration>,
    /// Per-frame model time (vision pass + masks) percentiles.
    pub model_p50: Option<Duration>,
    pub model_p99: Option<Duration>,
    pub last_capture_error: Option<String>,
    pub model_state: ModelState,
}

impl Stats {
    pub fn record_frame(&self, latency: Duration, model_time: Duration) {
        self.processed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut w) = self.latency.lock() {
            w.push(latency);
        }
        if let Ok(mut w) = self.model_time.lock() {
            w.push(model_time);
        }
    }

    /// Counts what one frame's depth came to; `received` is the feed's running total.
    pub fn record_depth(&self, status: DepthStatus, received: u64) {
        self.depth_frames.store(received, Ordering::Relaxed);
        let counter = match status {
            DepthStatus::NoInput => return,
            DepthStatus::Located => &self.depth_located,
            DepthStatus::Unmatched => &self.depth_unmatched,
            DepthStatus::NoCamera => &self.depth_no_camera,
            DepthStatus::Unusable => &self.depth_unusable,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_model_state(&self, state: ModelState) {
        if let Ok(mut s) = self.model_state.lock() {
            *s = state;
        }
    }

    pub fn model_state(&self) -> ModelState {
        self.model_state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (latency_p50, latency_p99) =
            self.latency.lock().map(|w| (w.quantile(0.5), w.quantile(0.99))).unwrap_or_default();
        let (model_p50, model_p99) =
            self.model_time.lock().map(|w| (w.quantile(0.5), w.quantile(0.99))).unwrap_or_default();
        StatsSnapshot {
            frames_in: get(&self.frames_received),
            frames_out: get(&self.processed),
            dropped: get(&self.dropped_frames),
            inference_errors: get(&self.inference_errors),
            capture_restarts: get(&self.capture.restarts),
            capture_frame_errors: get(&self.capture.frame_errors),
            lost_upstream: get(&self.capture.lost_upstream),
            descriptions: get(&self.descriptions),
            sink_dropped: get(&self.sink_dropped),
            sink_failures: get(&self.sink_failures),
            depth_frames: get(&self.depth_frames),
            depth_located: get(&self.depth_located),
            depth_unmatched: get(&self.depth_unmatched),
            depth_no_camera: get(&self.depth_no_camera),
            depth_unusable: get(&self.depth_unusable),
            latency_p50,
            latency_p99,
            model_p50,
            model_p99,
            last_capture_error: self.capture.last_error(),
            model_state: self.model_state(),
        }
    }
}

#[derive(Debug, Default)]
struct Window(VecDeque<Duration>);

impl Window {
    fn push(&mut self, d: Duration) {
        if self.0.len() == WINDOW {
            self.0.pop_front();
        }
        self.0.push_back(d);
    }

    /// Nearest-rank quantile.
    fn quantile(&self, q: f64) -> Option<Duration> {
        if self.0.is_empty() {
            return None;
        }
        let mut v: Vec<Duration> = self.0.iter().copied().collect();
        v.sort_unstable();
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }
}

/// Nearest-rank quantile of a sample (benchmarks use it on whole runs).
pub fn quantile(samples: &[Duration], q: f64) -> Option<Duration> {
    let mut w = Window::default();
    w.0.extend(samples.iter().copied());
    w.quantile(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&ms, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(quantile(&ms, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
