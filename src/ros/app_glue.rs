//! How `pixel-sail run` starts the ROS node on the pipeline: the CLI flags become the parameters'
//! start values, `--ros-args` (params files, `-p`, remaps) override them, and the result is
//! written back into the run arguments before the model and the pipeline start.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::PublishError;
use super::params::NodeSettings;
use super::startup::{RosStartup, configure};
use crate::capture::FrameOutlet;
use crate::cli::RunArgs;
use crate::config::EngineConfig;
use crate::link::{Handles, ModelState, Stats};
use crate::link::{PipelineLink, PipelineStats};
use crate::spatial::DepthFeed;

/// The node, configured and waiting for the pipeline's handles.
pub struct RosPlan {
    startup: RosStartup,
}

/// A running node: signal `stop` and await `task` to shut it down.
pub struct RosRunning {
    pub stop: oneshot::Sender<()>,
    pub task: JoinHandle<Result<(), PublishError>>,
}

impl RosPlan {
    /// Reads `--ros-args` on top of the CLI flags and writes the outcome back into `args`.
    pub fn prepare(args: &mut RunArgs) -> Result<Self, PublishError> {
        let startup = configure(&args.ros_args, base_settings(args))?;
        if startup.settings.source.trim().is_empty() {
            return Err(PublishError::Param(super::params::ParamError::Invalid {
                name: "source".into(),
                reason: "no source: pass --source, `-p source:=…`, or remap `image` to a camera topic".into(),
            }));
        }
        apply_to_run_args(&startup.settings, args);
        Ok(Self { startup })
    }

    /// Frames come from the ROS `image` topic instead of a capture source.
    pub fn ros_source(&self) -> bool {
        self.startup.ros_source
    }

    pub fn settings(&self) -> &NodeSettings {
        &self.startup.settings
    }

    /// The engine options only parameters carry (the mask threshold, as a logit).
    pub fn adjust_engine(&self, cfg: &mut EngineConfig) {
        let p = self.startup.settings.mask_threshold.clamp(1e-6, 1.0 - 1e-6);
        cfg.mask_threshold = Some((p / (1.0 - p)).ln() as f32);
    }

    /// The depth feed the node fills from `depth` and `camera_info` when `ros_source()` (the worker
    /// matches it to colour frames within `depth_tolerance_ms`); None otherwise.
    pub fn depth_feed(&self) -> Option<DepthFeed> {
        let ms = self.startup.settings.depth_tolerance_ms.clamp(0.0, 1000.0);
        self.ros_source().then(|| DepthFeed::new(Duration::from_secs_f64(ms / 1e3)))
    }

    /// Starts the node on the pipeline (the model may still be loading: `/diagnostics` says what it is doing).
    /// `frames`: the pipeline's frame slot when `ros_source()`; `depth`: the feed of [`Self::depth_feed`];
    /// `model`: its name until the model is ready.
    pub fn spawn(
        self,
        handles: &Handles,
        frames: Option<Arc<dyn FrameOutlet>>,
        depth: Option<DepthFeed>,
        model: String,
    ) -> RosRunning {
        let link = PipelineLink {
            commands: handles.commands_tx.clone(),
            describe: handles.describe_tx.clone(),
            results: handles.subscribe_results(),
            stats: self.stats_view(handles.stats.clone(), model),
            frames,
            depth,
            lifecycle: None,
        };
        self.spawn_link(link)
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

/// The parameters' start values implied by the CLI flags.
pub fn base_settings(args: &RunArgs) -> NodeSettings {
    let p = &args.pipeline;
    let d = NodeSettings::default();
    let (policy, period) = if p.no_describe {
        ("off", d.description_period)
    } else if p.describe_every_secs > 0.0 {
        ("periodic", p.describe_every_secs)
    } else {
        ("on_new_command", d.description_period)
    };
    NodeSettings {
        model_dir: args.engine.model.display().to_string(),
        source: args.source.clone().unwrap_or_default(),
        // The CLI's default frame_id means "not given": a ROS source keeps the camera's own.
        frame_id: if p.frame_id == "camera" { String::new() } else { p.frame_id.clone() },
        execution_providers: args.engine.ep.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
        description_policy: policy.into(),
        description_period: period,
        max_description_tokens: p.max_description_tokens as i64,
        prompts: args.prompts.clone(),
        max_prompts: args.engine.max_commands as i64,
        managed: args.lifecycle,
        depth_tolerance_ms: if p.depth_tolerance_ms.is_finite() { p.depth_tolerance_ms } else { d.depth_tolerance_ms },
        ..d
    }
}

/// Writes the start-up parameters back into the run arguments the pipeline is built from.
pub fn apply_to_run_args(s: &NodeSettings, args: &mut RunArgs) {
    args.engine.model = s.model_dir.clone().into();
    args.engine.ep = s.execution_providers.join(",");
    args.engine.max_commands = usize::try_from(s.max_prompts).unwrap_or(args.engine.max_commands);
    args.source = Some(s.source.clone());
    args.prompts = s.prompts.clone();
    args.lifecycle = s.managed;
    let p = &mut args.pipeline;
    if !s.frame_id.is_empty() {
        p.frame_id = s.frame_id.clone();
    }
    p.no_describe = s.description_policy == "off";
    p.describe_every_secs = if s.description_policy == "periodic" { s.description_period } else { 0.0 };
    p.max_description_tokens = usize::try_from(s.max_description_tokens).unwrap_or(16);
    p.depth_tolerance_ms = s.depth_tolerance_ms;
}
