//! Wiring of the live node: capture → newest-frame slot → inference worker → results → sinks / ROS.
//! Several cameras share one worker and one model: each has its own capture, slot and channels (a lane of
//! the worker), and the worker batches the frames waiting in their slots into one model call.
//!
//! ```text
//! GStreamer ─appsink(1, drop)─▶ capture thread ─FrameSlot(1, newest wins)─▶ worker thread (owns model)
//!  (one per camera)                               (one per camera, shared doorbell)
//!                                                                              │ results broadcast
//!      commands_tx ─▶ (mpsc) ───────────────────────────────────────────────▶ │ latest watch
//!      describe_tx ─▶ (mpsc, oneshot reply) ─────────────────────────────────▶ │ descriptions broadcast
//!                                                        JSONL thread ◀────────┤
//!                                                        video thread ◀────────┘   (ROS publishers)
//! ```
//!
//! [`Pipeline::start`] builds this around any [`FrameModel`] and returns [`Handles`] (in [`crate::link`], the
//! layer the ROS node talks to the pipeline through). `app/` is wiring only: it takes a resolved
//! [`crate::config::run::RunConfig`], never clap structs. Shutdown runs in stream order: capture stops and
//! closes the slot, the worker finishes its frame and drops the results sender, and every sink then
//! drains, flushes and finalises its file.

mod command_input;
mod depth_stream;
mod engine_model;
mod frame_slot;
mod lane;
mod managed;
mod managed_routes;
mod model;
mod progress;
mod run;
mod sinks;
mod start;
mod stop;
mod worker;

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{broadcast, mpsc, watch};

pub use command_input::{parse_command_file, parse_command_line, read_command_file};
pub use depth_stream::DepthStream;
pub use engine_model::EngineModel;
pub use frame_slot::{Doorbell, FrameSlot, SlotMode, Taken};
pub use lane::LaneChannels;
pub use model::{FrameModel, ModelError, Segment};
pub use progress::format_progress;
pub use run::run;
pub use worker::{DescribePolicy, WorkerConfig};

use crate::capture::{CaptureConfig, CaptureEnd, CaptureError, CaptureRunner, FrameOutlet, SourceKind, SourceSpec};
use crate::frame::FrameResult;

use crate::link::{Handles, ModelState, Stats};

/// Results kept for a subscriber that is behind (each holds a frame, ~1 MB at 640×480).
const RESULTS_CAPACITY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
    #[error("{0}")]
    Setup(String),
}

/// Everything [`Pipeline::start`] needs besides the model.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub capture: CaptureConfig,
    pub worker: WorkerConfig,
}

/// One camera of a pipeline: its name, where its frames come from, and its worker settings (its depth feed,
/// its initial commands).
#[derive(Debug, Clone)]
pub struct CameraPlan {
    pub name: String,
    /// A GStreamer source; None: frames are pushed into the camera's outlet (a ROS `image` subscription).
    pub capture: Option<CaptureConfig>,
    pub worker: WorkerConfig,
}

pub use crate::config::cameras::FIRST_CAMERA;

/// A camera of a running pipeline.
struct CameraRun {
    name: String,
    handles: Handles,
    slot: Arc<FrameSlot>,
    capture: Option<CaptureRunner>,
}

/// A running pipeline: each camera's capture, and the one worker that serves them all.
pub struct Pipeline {
    cameras: Vec<CameraRun>,
    /// Every camera's results; a sender, not a receiver, so that a result nobody subscribed to is not kept.
    all_results: broadcast::Sender<Arc<FrameResult>>,
    worker: Option<JoinHandle<()>>,
    finished: watch::Receiver<bool>,
}

/// Loads the model on the worker thread, reporting each step (`stats.model_state`); its error text ends the pipeline.
pub type ModelLoader<M> = Box<dyn FnOnce(&dyn Fn(String)) -> Result<M, String> + Send>;

impl Pipeline {
    /// Opens the source (a source that cannot start is returned as the error) and starts the worker.
    pub fn start<M: FrameModel + 'static>(model: M, config: PipelineConfig) -> Result<Self, AppError> {
        Self::start_loading(Box::new(move |_: &dyn Fn(String)| Ok(model)), config)
    }

    /// [`Pipeline::start`] with the model loaded on the worker thread: capture, the handles (and a ROS node
    /// on them) run at once; frames wait in the newest-frame slot and nothing is published until it is ready.
    pub fn start_loading<M: FrameModel + 'static>(
        load: ModelLoader<M>,
        config: PipelineConfig,
    ) -> Result<Self, AppError> {
        Self::start_counting(load, config, Arc::new(Stats::default()))
    }

    /// [`Pipeline::start_loading`] counting into `stats` (a managed node keeps one set of counters
    /// across its activations).
    pub fn start_counting<M: FrameModel + 'static>(
        load: ModelLoader<M>,
        config: PipelineConfig,
        stats: Arc<Stats>,
    ) -> Result<Self, AppError> {
        let plan = CameraPlan { name: FIRST_CAMERA.into(), capture: Some(config.capture), worker: config.worker };
        Self::start_cameras(load, vec![(plan, stats)])
    }

    /// Starts the worker without GStreamer capture: frames come from whoever pushes into
    /// [`Pipeline::frame_outlet`] (e.g. a ROS `image` subscription). Newest frame wins.
    pub fn start_external<M: FrameModel + 'static>(model: M, worker: WorkerConfig) -> Result<Self, AppError> {
        Self::start_external_loading(Box::new(move |_: &dyn Fn(String)| Ok(model)), worker)
    }

    /// [`Pipeline::start_external`] with the model loaded on the worker thread (see [`Pipeline::start_loading`]).
    pub fn start_external_loading<M: FrameModel + 'static>(
        load: ModelLoader<M>,
        worker: WorkerConfig,
    ) -> Result<Self, AppError> {
        Self::start_external_counting(load, worker, Arc::new(Stats::default()))
    }

    /// [`Pipeline::start_external_loading`] counting into `stats` (see [`Pipeline::start_counting`]).
    pub fn start_external_counting<M: FrameModel + 'static>(
        load: ModelLoader<M>,
        worker: WorkerConfig,
        stats: Arc<Stats>,
    ) -> Result<Self, AppError> {
        let plan = CameraPlan { name: FIRST_CAMERA.into(), capture: None, worker };
        Self::start_cameras(load, vec![(plan, stats)])
    }

    /// Starts every camera (each counting into its own [`Stats`]) around one model loaded on the one worker
    /// thread. A camera whose source cannot start stops the start, named; once running, a camera that fails,
    /// stalls or ends affects only its own outputs.
    pub fn start_cameras<M: FrameModel + 'static>(
        load: ModelLoader<M>,
        plans: Vec<(CameraPlan, Arc<Stats>)>,
    ) -> Result<Self, AppError> {
        if plans.is_empty() {
            return Err(AppError::Setup("no camera to start".into()));
        }
        let several = plans.len() > 1;
        let bell = Arc::new(Doorbell::default());
        let (all_tx, _) = broadcast::channel(RESULTS_CAPACITY * plans.len());
        let mut cameras = Vec::with_capacity(plans.len());
        let mut lanes = Vec::with_capacity(plans.len());
        for (mut plan, stats) in plans {
            let every_frame = match &plan.capture {
                Some(c) => SourceSpec::parse(&c.source)?.kind == SourceKind::File && !c.realtime,
                None => false,
            };
            plan.worker.latency_from_stamp = !every_frame;
            let mode = if every_frame { SlotMode::Blocking } else { SlotMode::NewestWins };
            let slot = Arc::new(FrameSlot::with_bell(
                mode,
                stats.dropped_frames.clone(),
                stats.frames_received.clone(),
                bell.clone(),
            ));
            let capture = match plan.capture.clone() {
                Some(cfg) => Some(CaptureRunner::start(cfg, stats.capture.clone(), slot.clone()).map_err(|e| {
                    if several { AppError::Setup(format!("camera {}: {e}", plan.name)) } else { AppError::Capture(e) }
                })?),
                None => None,
            };
            let (commands_tx, commands_rx) = mpsc::channel(16);
            let (describe_tx, describe_rx) = mpsc::channel(4);
            let (results_tx, results_rx) = broadcast::channel(RESULTS_CAPACITY);
            let (descriptions_tx, descriptions_rx) = broadcast::channel(64);
            let (latest_tx, latest) = watch::channel(None);
            let depth = plan.worker.depth.clone();
            lanes.push((
                plan.worker,
                LaneChannels {
                    camera: plan.name.as_str().into(),
                    slot: slot.clone(),
                    commands_rx,
                    describe_rx,
                    results_tx,
                    all_results_tx: all_tx.clone(),
                    latest_tx,
                    descriptions_tx,
                    stats: stats.clone(),
                },
            ));
            let handles = Handles::new(commands_tx, describe_tx, latest, stats, depth, results_rx, descriptions_rx);
            cameras.push(CameraRun { name: plan.name, handles, slot, capture });
        }
        let all_stats: Vec<Arc<Stats>> = cameras.iter().map(|c| c.handles.stats.clone()).collect();
        let (finished_tx, finished) = watch::channel(false);
        let worker = std::thread::Builder::new()
            .name("inference".into())
            .spawn(move || {
                let set_state = |state: ModelState| all_stats.iter().for_each(|s| s.set_model_state(state.clone()));
                let report = |status: String| set_state(ModelState::Loading(status));
                match load(&report) {
                    Ok(model) => {
                        set_state(ModelState::Ready(model.label()));
                        worker::Worker::new(model, lanes, bell).run();
                    }
                    Err(e) => set_state(ModelState::Failed(e)),
                }
                let _ = finished_tx.send(true);
            })
            .map_err(|e| AppError::Setup(format!("cannot spawn the inference thread: {e}")))?;
        Ok(Self { cameras, all_results: all_tx, worker: Some(worker), finished })
    }

    /// The first camera's handles (the only camera's, with one source).
    pub fn handles(&self) -> Handles {
        self.cameras[0].handles.clone()
    }

    /// Every camera's name and handles, in the order they were given.
    pub fn camera_handles(&self) -> Vec<(String, Handles)> {
        self.cameras.iter().map(|c| (c.name.clone(), c.handles.clone())).collect()
    }

    /// Every camera's results from now on, as they are published (a sink that writes them all to one file);
    /// the receiver ends (`Closed`) once the pipeline is shut down.
    pub fn subscribe_all_results(&self) -> broadcast::Receiver<Arc<FrameResult>> {
        self.all_results.subscribe()
    }

    /// Where the first camera's frames enter the worker. With GStreamer capture running, capture already
    /// feeds it; a frame pushed here counts in `stats.capture.frames` only when capture is not running.
    pub fn frame_outlet(&self) -> Arc<dyn FrameOutlet> {
        self.cameras[0].slot.clone()
    }

    /// Every camera's frame outlet, in camera order.
    pub fn frame_outlets(&self) -> Vec<Arc<dyn FrameOutlet>> {
        self.cameras.iter().map(|c| c.slot.clone() as Arc<dyn FrameOutlet>).collect()
    }

    /// Resolves when the worker has ended (every camera's source ended, or capture gave up on each).
    pub async fn finished(&self) {
        let mut rx = self.finished.clone();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Why the model did not load, once that is known.
    pub fn load_error(&self) -> Option<String> {
        match self.cameras[0].handles.stats.model_state() {
            ModelState::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Stops capture, then waits for the worker to finish its frames (not for a model still loading: a
    /// TensorRT build can take minutes, and the process is about to end). Sinks end on their own after.
    /// Returns how capture ended: the first camera that gave up (named, with several), else the first camera's end.
    pub fn shutdown(mut self) -> CaptureEnd {
        let ends = self.stop_all();
        let several = ends.len() > 1;
        let gave_up = ends.iter().find_map(|(name, end)| match end {
            CaptureEnd::GaveUp(m) if several => Some(CaptureEnd::GaveUp(format!("camera {name}: {m}"))),
            CaptureEnd::GaveUp(m) => Some(CaptureEnd::GaveUp(m.clone())),
            _ => None,
        });
        gave_up.or_else(|| ends.into_iter().next().map(|(_, e)| e)).unwrap_or(CaptureEnd::Stopped)
    }

    fn stop_all(&mut self) -> Vec<(String, CaptureEnd)> {
        // Closing a slot releases a capture thread blocked on a full slot (files read frame by frame); the
        // worker still finishes the frames it has and drains the ones waiting.
        for camera in &self.cameras {
            if let Some(capture) = &camera.capture {
                capture.request_stop();
            }
            camera.slot.close();
        }
        let ends = self
            .cameras
            .iter_mut()
            .map(|c| (c.name.clone(), c.capture.take().map(CaptureRunner::stop).unwrap_or(CaptureEnd::Stopped)))
            .collect();
        let loading = matches!(self.cameras[0].handles.stats.model_state(), ModelState::Loading(_));
        if let Some(worker) = self.worker.take().filter(|_| !loading) {
            let _ = worker.join();
        }
        ends
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop_all();
    }
}
