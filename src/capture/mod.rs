//! Capture: GStreamer → RGB [`Frame`]s with a sequence number and the capture time.
//!
//! `--source` is parsed by [`SourceSpec`]; [`GstCapture`] runs one pipeline; [`CaptureRunner`] owns
//! the capture thread that pulls frames, reopens the source after failures, and hands each frame to
//! a [`FrameOutlet`] (the app's newest-frame slot). Nothing here runs inference.

mod convert;
mod gst_capture;
mod runner;
mod source;

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

pub use convert::{ConvertError, to_tight_rgb};
pub use gst_capture::{GstCapture, Pacing, Pulled, find_appsink, wall_stamp};
pub use runner::{CaptureEnd, CaptureRunner};
pub use source::{APPSINK_NAME, SourceKind, SourceSpec};

use crate::frame::Frame;

/// Capture's errors. `Start` is the one-line startup fault; `Stream` is retried; `Frame` is counted.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot initialise GStreamer: {0}")]
    Init(String),
    #[error("bad source '{name}': {reason}")]
    BadSource { name: String, reason: String },
    #[error("source '{name}' cannot start: {message}")]
    Start { name: String, message: String },
    #[error("source '{name}' failed: {message}")]
    Stream { name: String, message: String },
    #[error("frame {seq} unusable: {reason}")]
    Frame { seq: u64, reason: String },
}

/// A frame as it leaves capture, with the instant it was pulled (for pipeline-internal latency).
#[derive(Debug, Clone)]
pub struct CapturedFrame {
    pub frame: Frame,
    pub pulled_at: Instant,
}

/// Where capture delivers frames. `push` may replace an unconsumed frame (newest wins) or block
/// until it is taken (every-frame files); `close` is called once when capture ends.
pub trait FrameOutlet: Send + Sync {
    fn push(&self, frame: CapturedFrame);
    fn close(&self);
}

/// Reconnection policy: `initial · 2^(n-1)` capped at `max`; `max_attempts` consecutive failures
/// (None = forever) before capture gives up.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub max_attempts: Option<u32>,
}

impl RetryPolicy {
    /// Delay before the `attempt`-th retry (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { initial: Duration::from_millis(500), max: Duration::from_secs(10), max_attempts: None }
    }
}

#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// As given to `--source`.
    pub source: String,
    /// ROS frame_id copied into every frame.
    pub frame_id: String,
    /// Play files at their own frame rate, dropping frames like a camera would.
    pub realtime: bool,
    /// Rewind files at end of stream instead of stopping.
    pub looping: bool,
    /// How long the first frame may take before the source counts as not starting.
    pub startup_timeout: Duration,
    pub retry: RetryPolicy,
    /// Warn when no frame arrived for this long.
    pub stall_warning: Duration,
    /// Reopen a live source that has been silent this long (None = wait forever).
    pub stall_restart: Option<Duration>,
}

impl CaptureConfig {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            frame_id: "camera".into(),
            realtime: false,
            looping: false,
            startup_timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            stall_warning: Duration::from_secs(2),
            stall_restart: Some(Duration::from_secs(10)),
        }
    }
}

/// Counters the capture thread updates; read by the progress line and diagnostics.
#[derive(Debug, Default)]
pub struct CaptureStats {
    /// Frames delivered to the outlet.
    pub frames: AtomicU64,
    /// Source failures that led to a retry (reopen).
    pub restarts: AtomicU64,
    /// Frames skipped because they could not be converted.
    pub frame_errors: AtomicU64,
    /// Frames that never reached capture (gaps in buffer times: the appsink dropped them while we
    /// were busy, or the source skipped them).
    pub lost_upstream: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl CaptureStats {
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    fn set_last_error(&self, error: String) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p =
            RetryPolicy { initial: Duration::from_millis(100), max: Duration::from_millis(700), max_attempts: None };
        let d: Vec<u128> = (1..=5).map(|n| p.delay(n).as_millis()).collect();
        assert_eq!(d, vec![100, 200, 400, 700, 700]);
        assert_eq!(p.delay(200), Duration::from_millis(700));
    }
}
