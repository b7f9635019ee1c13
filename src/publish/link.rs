//! What the ROS node needs from the live pipeline, and what it gives back. `app.rs` builds a
//! [`PipelineLink`] from the pipeline's handles; the node never touches the model directly.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::params::NodeSettings;
use crate::frame::{Frame, FrameResult, RegionDescription, VisualPrompt};

/// "What is this?" on the latest frame; the pipeline answers on `reply`.
#[derive(Debug)]
pub struct RegionRequest {
    pub prompt: VisualPrompt,
    pub reply: oneshot::Sender<Result<RegionDescription, String>>,
}

/// Counters the pipeline keeps; the node turns them into rates and `/diagnostics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineStats {
    /// Frames delivered by the source so far.
    pub frames_in: u64,
    /// Frames the model finished.
    pub frames_out: u64,
    /// Frames skipped because the model was busy (latest frame wins) or over `max_rate`.
    pub dropped: u64,
    /// Per-frame faults (bad image, inference error).
    pub errors: u64,
    /// Execution provider actually in use (e.g. "cpu", "tensorrt").
    pub execution_provider: String,
    /// Model name / folder.
    pub model: String,
    /// Last per-frame fault, if any.
    pub last_error: Option<String>,
}

/// Handles into the pipeline.
pub struct PipelineLink {
    /// Replace the active commands. `Ok(note)` when accepted (note may say what was truncated),
    /// `Err(reason)` when refused (e.g. more than `max_prompts`).
    pub set_commands: Box<dyn Fn(Vec<String>) -> Result<String, String> + Send + Sync>,
    /// Region descriptions ([`RegionRequest`]).
    pub describe: mpsc::Sender<RegionRequest>,
    /// Every finished frame.
    pub results: broadcast::Receiver<Arc<FrameResult>>,
    /// A snapshot of the pipeline's counters.
    pub stats: Arc<dyn Fn() -> PipelineStats + Send + Sync>,
    /// Called with the new settings whenever a run-time parameter changes (threshold, rate,
    /// description policy, tokens); the pipeline applies what concerns it.
    pub on_settings: Box<dyn Fn(&NodeSettings) + Send + Sync>,
    /// Set when the source is the ROS `image` topic: decoded frames go here. The pipeline should
    /// keep only the latest (the node uses `try_send` and counts a full channel as a drop).
    pub frames: Option<mpsc::Sender<Frame>>,
}
