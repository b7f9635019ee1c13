//! How `pixel-sail run` starts the ROS node on the pipeline: [`RosPlan::prepare`] resolves the run's
//! configuration against `--ros-args` (params files, `-p`, remaps) before the model and the pipeline start,
//! and [`RosPlan::spawn`] starts the node on the pipeline's [`Handles`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::PublishError;
use super::startup::{RosStartup, configure};
use crate::capture::FrameOutlet;
use crate::config::params::{NodeSettings, ParamError};
use crate::config::run::RunConfig;
use crate::link::{CameraLink, PipelineLink, PipelineStats};
use crate::link::{Handles, ModelState, Stats};
use crate::spatial::DepthFeed;

/// The node, configured and waiting for the pipeline's handles.
pub struct RosPlan {
    startup: RosStartup,
}

/// A camera of the pipeline as the node is started on it.
pub struct CameraHandles {
    pub name: String,
    pub handles: Handles,
    /// The camera's frame slot when its frames come from the ROS `image` topic.
    pub frames: Option<Arc<dyn FrameOutlet>>,
    /// The feed of [`RosPlan::depth_feed`] for this camera (ROS cameras only).
    pub depth: Option<DepthFeed>,
}

/// A running node: signal `stop` and await `task` to shut it down.
pub struct RosRunning {
    pub stop: oneshot::Sender<()>,
    pub task: JoinHandle<Result<(), PublishError>>,
}

impl RosPlan {
    /// Resolves `config`'s parameters against `--ros-args` (the flags' values < params files < `-p`) and
    /// returns the resolved configuration the run goes on with.
    pub fn prepare(config: RunConfig) -> Result<(RunConfig, Self), PublishError> {
        let startup = configure(&config.ros_args, config.params.clone())?;
        if startup.settings.source.trim().is_empty() {
            return Err(PublishError::Param(ParamError::Invalid {
                name: "source".into(),
                reason: "no source: pass --source, `-p source:=…`, or remap `image` to a camera topic".into(),
            }));
        }
        let config = RunConfig { params: startup.settings.clone(), ..config };
        Ok((config, Self { startup }))
    }

    /// Frames come from the ROS `image` topic instead of a capture source.
    pub fn ros_source(&self) -> bool {
        self.startup.ros_source
    }

    pub fn settings(&self) -> &NodeSettings {
        &self.startup.settings
    }

    /// The depth feed the node fills from `depth` and `camera_info` when `ros_source()` (the worker
    /// matches it to colour frames within `depth_tolerance_ms`); None otherwise.
    pub fn depth_feed(&self) -> Option<DepthFeed> {
        let ms = self.startup.settings.depth_tolerance_ms.clamp(0.0, 1000.0);
        self.ros_source().then(|| DepthFeed::new(Duration::from_secs_f64(ms / 1e3)))
    }

    /// Starts the node on the pipeline's cameras (the model may still be loading: `/diagnostics` says what it
    /// is doing); `model` names it until the model is ready.
    pub fn spawn(self, cameras: Vec<CameraHandles>, model: String) -> RosRunning {
        let cameras = cameras
            .into_iter()
            .map(|c| CameraLink {
                name: c.name,
                commands: c.handles.commands_tx.clone(),
                describe: c.handles.describe_tx.clone(),
                results: c.handles.subscribe_results(),
                stats: self.stats_view(c.handles.stats.clone(), model.clone()),
                frames: c.frames,
                depth: c.depth,
            })
            .collect();
        self.spawn_link(PipelineLink { cameras, lifecycle: None })
    }

    /// The pipeline's counters as `/diagnostics` reads them; `model` names it until it is ready.
    pub fn stats_view(&self, stats_handle: Arc<Stats>, model: String) -> Arc<dyn Fn() -> PipelineStats + Send + Sync> {
        let providers = self.startup.settings.execution_providers.join(",");
        Arc::new(move || {
            let s = stats_handle.snapshot();
            let (model, starting) = match s.model_state {
                ModelState::Loading(step) => (model.clone(), Some(step)),
                ModelState::Ready(label) => (label, None),
                ModelState::Failed(e) => (model.clone(), Some(format!("model failed to load: {e}"))),
            };
            PipelineStats {
                frames_in: s.frames_in,
                frames_out: s.frames_out,
                dropped: s.dropped,
                errors: s.inference_errors + s.capture_frame_errors,
                execution_provider: providers.clone(),
                model,
                last_error: s.last_capture_error.clone(),
                starting,
                frames_without_depth: s.depth_unmatched + s.depth_no_camera + s.depth_unusable,
                lifecycle_state: None,
            }
        })
    }

    /// Starts the node on channels the caller built (a managed node's, which outlive each pipeline).
    pub fn spawn_link(self, link: PipelineLink) -> RosRunning {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(super::node::run(self.startup, link, async move {
            let _ = stopped.await;
        }));
        RosRunning { stop, task }
    }
}
