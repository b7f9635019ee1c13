//! What a run builds from its resolved [`RunConfig`] before it starts, managed or not: the source and the
//! initial commands, the engine's, capture's and the worker's description settings, and the depth feed.

use std::path::PathBuf;
use std::time::Duration;

use super::command_input::read_command_file;
use super::{AppError, DepthStream, DescribePolicy};
use crate::capture::{CaptureConfig, RetryPolicy};
use crate::config::EngineConfig;
use crate::config::cameras::CameraSpec;
use crate::config::run::RunConfig;
use crate::spatial::{CameraIntrinsics, DepthFeed, DepthSequence};

/// What a run starts with: its cameras, the initial commands (parameters, then the command file), the
/// engine's configuration and the `--record` files by camera (each path checked here, so a bad one stops the start).
pub struct StartInputs {
    pub cameras: Vec<CameraSpec>,
    pub commands: Vec<String>,
    pub engine: EngineConfig,
    pub records: Vec<(String, PathBuf)>,
}

pub fn start_inputs(config: &RunConfig) -> anyhow::Result<StartInputs> {
    if config.params.source.trim().is_empty() {
        return Err(AppError::Setup("--source is required (e.g. --source test)".into()).into());
    }
    let cameras = config.cameras()?;
    let mut commands = config.params.prompts.clone();
    if let Some(path) = &config.options.prompts_file {
        let from_file = read_command_file(path)
            .map_err(|e| AppError::Setup(format!("cannot read the command file {}: {e}", path.display())))?;
        commands.extend(from_file);
    }
    let records = config.records(&cameras)?;
    for (_, path) in &records {
        crate::sink::VideoWriter::check_path(path)?;
    }
    Ok(StartInputs { cameras, commands, engine: config.engine_config()?, records })
}

fn secs(s: f64) -> Option<Duration> {
    (s.is_finite() && s > 0.0).then(|| Duration::from_secs_f64(s))
}

pub fn capture_config(config: &RunConfig, source: &str) -> CaptureConfig {
    let o = &config.options;
    let mut cfg = CaptureConfig::new(source);
    cfg.frame_id = config.frame_id();
    cfg.looping = o.looping;
    cfg.realtime = o.realtime;
    cfg.startup_timeout = secs(o.startup_timeout_secs).unwrap_or(cfg.startup_timeout);
    cfg.stall_restart = secs(o.stall_restart_secs);
    cfg.retry = RetryPolicy {
        initial: Duration::from_millis(o.retry_initial_ms.max(1)),
        max: Duration::from_millis(o.retry_max_ms.max(o.retry_initial_ms.max(1))),
        max_attempts: o.retry_attempts,
    };
    cfg
}

pub fn describe_policy(config: &RunConfig) -> DescribePolicy {
    let share = config.options.describe_share;
    DescribePolicy {
        enabled: config.describe_enabled(),
        every_frames: config.options.describe_every_frames.filter(|n| *n > 0),
        every: config.describe_every_secs().and_then(secs),
        max_tokens: config.max_description_tokens(),
        share: if share.is_finite() { share.clamp(0.0, 4.0) } else { 0.25 },
    }
}

/// The depth feed `--depth` / `--camera-info` describe (None without them); a camera file that cannot be read
/// or parsed, or a depth source that yields no first file, stops the start here.
pub fn depth_feed(config: &RunConfig) -> Result<Option<DepthFeed>, AppError> {
    let o = &config.options;
    let (Some(source), Some(camera_info)) = (&o.depth, &o.camera_info) else {
        return Ok(None);
    };
    let stream = super::depth_stream::is_launch_description(source);
    if o.realtime && !stream {
        // Played like a camera, frames are dropped before they are numbered: number n is no longer file n.
        return Err(AppError::Setup(
            "--depth reads file n for frame n, which needs the colour file read frame by frame: drop --realtime".into(),
        ));
    }
    let text = std::fs::read_to_string(camera_info)
        .map_err(|e| AppError::Setup(format!("cannot read --camera-info {}: {e}", camera_info.display())))?;
    let camera = CameraIntrinsics::from_calibration_yaml(&text)
        .map_err(|e| AppError::Setup(format!("--camera-info {}: {e}", camera_info.display())))?;
    let ms = config.params.depth_tolerance_ms;
    let tolerance = Duration::from_secs_f64(if ms.is_finite() { ms.clamp(0.0, 10_000.0) * 1e-3 } else { 0.02 });
    let feed = DepthFeed::new(tolerance);
    feed.set_camera(camera);
    if !stream {
        feed.set_sequence(DepthSequence::open(source).map_err(|e| AppError::Setup(format!("--depth {e}")))?);
    }
    Ok(Some(feed))
}

/// Starts `--depth` when it is a GStreamer source, pushing into `feed` (None for PNG files).
pub fn start_depth_stream(config: &RunConfig, feed: &DepthFeed) -> Result<Option<DepthStream>, AppError> {
    match &config.options.depth {
        Some(source) if super::depth_stream::is_launch_description(source) => {
            let timeout = secs(config.options.startup_timeout_secs).unwrap_or(Duration::from_secs(15));
            DepthStream::start(source, feed.clone(), timeout).map(Some)
        }
        _ => Ok(None),
    }
}
