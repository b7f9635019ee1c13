//! `pixel-sail run`'s flags, and the one step that turns them into a [`RunConfig`] (defaults < CLI flags); the
//! ROS layers (params files, `-p`) are resolved on that, not on the flags.

use std::path::PathBuf;

use clap::Args;

use super::EngineArgs;
use crate::config::ConfigError;
use crate::config::params::NodeSettings;
use crate::config::run::{RunConfig, RunOptions};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Video source: /dev/videoN, rtsp:// or http:// URI, file path or file:// URI, `test`, or a GStreamer
    /// launch description ending in an appsink. Repeatable, one per camera, as `NAME=SRC` (a bare `SRC` is
    /// `camera0`, `camera1`, … by its place); several cameras share one model.
    #[arg(long = "source", value_name = "[NAME=]SRC")]
    pub sources: Vec<String>,
    /// A command such as "pick up the red cup" (repeatable).
    #[arg(long = "prompt")]
    pub prompts: Vec<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Write an annotated video here: `FILE` (the first camera) or `NAME=FILE` (that camera); repeatable.
    #[arg(long, value_name = "[NAME=]FILE")]
    pub record: Vec<String>,
    /// Write per-frame results as JSON lines here.
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
    /// Standalone: no ROS 2 node.
    #[arg(long)]
    pub no_ros: bool,
    /// A managed (lifecycle) node: start unconfigured and load, start and stop on `~/change_state`
    /// (`ros2 lifecycle set NODE configure|activate|...`). Also the parameter `managed`.
    #[arg(long, conflicts_with = "no_ros")]
    pub lifecycle: bool,
    /// Pipeline options (capture, descriptions, command inputs, limits).
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// The raw trailing ROS block, `--ros-args` marker included (filled by [`super::Cli::parse_with_ros_args`]).
    #[arg(skip)]
    pub ros_args: Vec<String>,
}

/// `run` flags that shape the live pipeline (flattened into [`RunArgs`]).
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
    /// numbered pattern such as `depth/%04d.png` (file n goes with colour frame n, the first is 0), or a
    /// GStreamer launch description producing 16-bit grey in millimetres (matched by stamp).
    #[arg(long, value_name = "SRC", requires = "camera_info")]
    pub depth: Option<String>,
    /// The colour camera's calibration (the YAML ROS camera_calibration writes); needed with --depth.
    #[arg(long, value_name = "FILE", requires = "depth")]
    pub camera_info: Option<PathBuf>,
    /// Largest stamp difference between a colour frame and the depth image matched to it, in ms.
    #[arg(long, default_value_t = 20.0)]
    pub depth_tolerance_ms: f64,
}

impl RunArgs {
    /// The run's configuration as the flags give it. A flag that is also a node parameter fills that parameter
    /// (README's table); `--frame-id camera` (the default) means "not given", so a ROS source keeps its own.
    /// A flag that cannot work (`--threads 0`) is refused here with its reason.
    pub fn to_config(&self) -> Result<RunConfig, ConfigError> {
        let (p, e) = (&self.pipeline, &self.engine);
        let d = NodeSettings::default();
        let (policy, period) = if p.no_describe {
            ("off", d.description_period)
        } else if p.describe_every_secs > 0.0 {
            ("periodic", p.describe_every_secs)
        } else {
            ("on_new_command", d.description_period)
        };
        let params = NodeSettings {
            model_dir: e.model.display().to_string(),
            source: self.sources.first().cloned().unwrap_or_default(),
            frame_id: if p.frame_id == "camera" { String::new() } else { p.frame_id.clone() },
            policy: e.policy.unwrap_or_default().as_str().to_owned(),
            execution_providers: e.ep.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
            description_policy: policy.into(),
            description_period: period,
            max_description_tokens: i64::try_from(p.max_description_tokens).unwrap_or(i64::MAX),
            prompts: self.prompts.clone(),
            max_prompts: i64::try_from(e.max_commands).unwrap_or(i64::MAX),
            managed: self.lifecycle,
            depth_tolerance_ms: if p.depth_tolerance_ms.is_finite() {
                p.depth_tolerance_ms
            } else {
                d.depth_tolerance_ms
            },
            ..d
        };
        let options = RunOptions {
            more_sources: self.sources.iter().skip(1).cloned().collect(),
            record: self.record.clone(),
            jsonl: self.jsonl.clone(),
            prompts_file: p.prompts_file.clone(),
            stdin: p.stdin,
            looping: p.looping,
            realtime: p.realtime,
            describe_every_frames: p.describe_every_frames,
            describe_share: p.describe_share,
            max_command_chars: p.max_command_chars,
            retry_initial_ms: p.retry_initial_ms,
            retry_max_ms: p.retry_max_ms,
            retry_attempts: p.retry_attempts,
            startup_timeout_secs: p.startup_timeout_secs,
            stall_restart_secs: p.stall_restart_secs,
            max_frames: p.max_frames,
            duration_secs: p.duration_secs,
            no_progress: p.no_progress,
            depth: p.depth.clone(),
            camera_info: p.camera_info.clone(),
            engine: e.run_options()?,
        };
        Ok(RunConfig { params, options, no_ros: self.no_ros, ros_args: self.ros_args.clone() })
    }
}
