//! What a front end such as the ROS node holds of the live pipeline ([`PipelineLink`]), the counters it
//! reports ([`PipelineStats`]), and the ask-and-wait helpers for its requests. A front end never touches the
//! model: commands and region requests go over the pipeline's channels, results come back on its broadcast.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::lifecycle::LifecycleCall;
use super::requests::{DescribeRequest, SetCommands};
use crate::capture::FrameOutlet;
use crate::frame::{FrameResult, RegionDescription, VisualPrompt};
use crate::spatial::DepthFeed;

/// How long a command set or a region description may take to be answered.
pub const SET_COMMANDS_TIMEOUT: Duration = Duration::from_secs(10);
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Counters the pipeline keeps; the node turns them into rates and `/diagnostics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineStats {
    /// Frames delivered by the source so far.
    pub frames_in: u64,
    /// Frames the model finished.
    pub frames_out: u64,
    /// Frames skipped because the model was busy (latest frame wins).
    pub dropped: u64,
    /// Per-frame faults (bad image, inference error).
    pub errors: u64,
    /// Execution provider(s) in use (e.g. "cpu", "tensorrt").
    pub execution_provider: String,
    /// Model name / folder.
    pub model: String,
    /// Last per-frame or source fault, if any.
    pub last_error: Option<String>,
    /// Set while the model loads: what it is doing (e.g. "building TensorRT engine 1 of 3 (vision.onnx)").
    /// No frame is finished, so nothing is published, until it is None.
    pub starting: Option<String>,
    /// A managed node's lifecycle state ("unconfigured", "inactive", "active", ...); None without `--lifecycle`.
    pub lifecycle_state: Option<String>,
    /// Frames whose found objects got no 3-D for want of depth: no depth image within the tolerance,
    /// no camera_info, or depth of another aspect ratio.
    pub frames_without_depth: u64,
}

/// One camera of the pipeline as a front end holds it.
pub struct CameraLink {
    /// The camera's name (with several cameras, its topics go under `~/NAME/…` and its input is `NAME/image`).
    pub name: String,
    /// Replace this camera's active commands (the worker answers accepted/refused with a reason).
    pub commands: mpsc::Sender<SetCommands>,
    /// "What is this?" on this camera's latest processed frame.
    pub describe: mpsc::Sender<DescribeRequest>,
    /// Every finished frame of this camera.
    pub results: broadcast::Receiver<Arc<FrameResult>>,
    /// A snapshot of this camera's counters.
    pub stats: Arc<dyn Fn() -> PipelineStats + Send + Sync>,
    /// Set when the camera is a ROS `image` topic: decoded frames are pushed here (the camera's
    /// newest-frame slot).
    pub frames: Option<Arc<dyn FrameOutlet>>,
    /// The camera's depth feed, with a ROS source: the node subscribes `depth` and `camera_info`
    /// and pushes what they deliver here.
    pub depth: Option<DepthFeed>,
}

/// Handles into the pipeline: one [`CameraLink`] per camera (at least one), in camera order.
pub struct PipelineLink {
    pub cameras: Vec<CameraLink>,
    /// Set for a managed node (`--lifecycle`): where each lifecycle transition's work is asked for.
    pub lifecycle: Option<mpsc::Sender<LifecycleCall>>,
}

/// Sends a command set and waits for the worker's answer: `Ok((note, active commands))` or `Err(reason)`.
pub async fn set_commands(
    tx: &mpsc::Sender<SetCommands>,
    commands: Vec<String>,
) -> Result<(String, Vec<String>), String> {
    let (reply, rx) = oneshot::channel();
    tx.send(SetCommands { commands, reply: Some(reply) })
        .await
        .map_err(|_| "the pipeline is not running".to_owned())?;
    match tokio::time::timeout(SET_COMMANDS_TIMEOUT, rx).await {
        Ok(Ok(ack)) if ack.accepted => Ok((ack.message, ack.active)),
        Ok(Ok(ack)) => Err(ack.message),
        Ok(Err(_)) => Err("the pipeline dropped the request".into()),
        Err(_) => Err(format!("no answer within {} s", SET_COMMANDS_TIMEOUT.as_secs())),
    }
}

/// Sends a region request and waits for the description.
pub async fn describe(tx: &mpsc::Sender<DescribeRequest>, prompt: VisualPrompt) -> Result<RegionDescription, String> {
    let (reply, rx) = oneshot::channel();
    tx.send(DescribeRequest { prompt, reply }).await.map_err(|_| "the pipeline is not running".to_owned())?;
    match tokio::time::timeout(DESCRIBE_TIMEOUT, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err("the pipeline dropped the request".into()),
        Err(_) => Err(format!("no answer within {} s", DESCRIBE_TIMEOUT.as_secs())),
    }
}
