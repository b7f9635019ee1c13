//! `pixel-sail run` flags that shape the live pipeline (flattened into the CLI's `RunArgs`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::AppError;
use super::worker::DescribePolicy;
use crate::capture::{CaptureConfig, RetryPolicy};
use crate::spatial::{CameraIntrinsics, DepthFeed, DepthSequence};

#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Command list file, one command per line (`#` comments); re-read whenever it changes.
    #[arg(long)]
    pub prompts_file: Option<PathBuf>,
    /// Read command sets from stdin while running: each line replaces the commands
    /// (`;` separates several), an empty line clears them.
    #[arg(long)]
    pub stdin: bool,
    /// ROS frame_id stamped on every frame.
    #[arg(long, default_value = "camera")]
    pub frame_id: String,
    /// Rewind a file source at its end instead of stopping.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Play a file at its own frame rate and drop frames like a camera (default: every frame).
    #[arg(long)]
    pub realtime: bool,
    /// Do not generate descriptions (masks only).
    #[arg(long)]
    pub no_describe: bool,
    /// Re-describe every N processed frames (in addition to on each new command set).
    #[arg(long)]
    pub describe_every_frames: Option<u64>,
    /// Re-describe every S seconds (0 = never; only on new commands and --describe-every-frames).
    #[arg(long, default_value_t = 2.0)]
    pub describe_every_secs: f64,
    /// Share of a mask frame's time that description steps may take between two frames.
    #[arg(long, default_value_t = 0.25)]
    pub describe_share: f32,
    /// Longest description, in tokens.
    #[arg(long, default_value_t = 16)]
    pub max_description_tokens: usize,
    /// Longest command, in characters (longer ones are truncated with a warning).
    #[arg(long, default_value_t = 200)]
    pub max_command_chars: usize,
    /// First reconnection delay after the source fails, in milliseconds (doubles each failure).
    #[arg(long, default_value_t = 500)]
    pub retry_initial_ms: u64,
    /// Longest reconnection delay, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub retry_max_ms: u64,
    /// Consecutive failed reconnections before giving up (default: never give up).
    #[arg(long)]
    pub retry_attempts: Option<u32>,
    /// Seconds the source may take to deliver its first frame.
    #[arg(long, default_value_t = 15.0)]
    pub startup_timeout_secs: f64,
    /// Reopen a live source that delivered nothing for this many seconds (0 = never).
    #[arg(long, default_value_t = 10.0)]
    pub stall_restart_secs: f64,
    /// Stop after this many processed frames.
    #[arg(long)]
    pub max_frames: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration_secs: Option<f64>,
    /// No progress line.
    #[arg(long)]
    pub no_progress: bool,
    /// Aligned depth for 3-D positions: a folder of 16-bit PNGs in millimetres (in name order) or a
    /// numbered pattern such as `depth/%04d.png`; file n goes with colour frame n (the first is 0).
    #[arg(long, value_name = "SRC", requires = "camera_info")]
    pub depth: Option<String>,
    /// The colour camera's calibration (the YAML ROS camera_calibration writes); needed with --depth.
    #[arg(long, value_name = "FILE", requires = "depth")]
    pub camera_info: Option<PathBuf>,
    /// Largest stamp difference between a colour frame and the depth image matched to it, in ms.
    #[arg(long, default_value_t = 20.0)]
    pub depth_tolerance_ms: f64,
}

fn secs(s: f64) -> Option<Duration> {
    (s.is_finite() && s > 0.0).then(|| Duration::from_secs_f64(s))
}

impl PipelineArgs {
    pub fn capture_config(&self, source: &str) -> CaptureConfig {
        let mut cfg = CaptureConfig::new(source);
        cfg.frame_id = self.frame_id.clone();
        cfg.looping = self.looping;
        cfg.realtime = self.realtime;
        cfg.startup_timeout = secs(self.startup_timeout_secs).unwrap_or(cfg.startup_timeout);
        cfg.stall_restart = secs(self.stall_restart_secs);
        cfg.retry = RetryPolicy {
            initial: Duration::from_millis(self.retry_initial_ms.max(1)),
            max: Duration::from_millis(self.retry_max_ms.max(self.retry_initial_ms.max(1))),
            max_attempts: self.retry_attempts,
        };
        cfg
    }

    /// The depth feed `--depth` / `--camera-info` describe (None without them); a camera file that
    /// cannot be read or parsed, or a depth source that yields no first file, stops the start here.
    pub fn depth_feed(&self) -> Result<Option<DepthFeed>, AppError> {
        let (Some(source), Some(camera_info)) = (&self.depth, &self.camera_info) else {
            return Ok(None);
        };
        if self.realtime {
            // Played like a camera, frames are dropped before they are numbered: number n is no longer file n.
            return Err(AppError::Setup(
                "--depth reads file n for frame n, which needs the colour file read frame by frame: drop --realtime"
                    .into(),
            ));
        }
        let text = std::fs::read_to_string(camera_info)
            .map_err(|e| AppError::Setup(format!("cannot read --camera-info {}: {e}", camera_info.display())))?;
        let camera = CameraIntrinsics::from_calibration_yaml(&text)
            .map_err(|e| AppError::Setup(format!("--camera-info {}: {e}", camera_info.display())))?;
        let sequence = DepthSequence::open(source).map_err(|e| AppError::Setup(format!("--depth {e}")))?;
        let tolerance = Duration::from_secs_f64(if self.depth_tolerance_ms.is_finite() {
            self.depth_tolerance_ms.clamp(0.0, 10_000.0) * 1e-3
        } else {
            0.02
        });
        let feed = DepthFeed::new(tolerance);
        feed.set_camera(camera);
        feed.set_sequence(sequence);
        Ok(Some(feed))
    }

    pub fn describe_policy(&self) -> DescribePolicy {
        DescribePolicy {
            enabled: !self.no_describe,
            every_frames: self.describe_every_frames.filter(|n| *n > 0),
            every: secs(self.describe_every_secs),
            max_tokens: self.max_description_tokens.max(1),
            share: if self.describe_share.is_finite() { self.describe_share.clamp(0.0, 4.0) } else { 0.25 },
        }
    }
}
