//! `pixel-sail run` flags that shape the live pipeline (flattened into the CLI's `RunArgs`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::worker::DescribePolicy;
use crate::capture::{CaptureConfig, RetryPolicy};

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
