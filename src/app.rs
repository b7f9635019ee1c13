//! Wiring of the live node: capture → newest-frame slot → inference worker → results → sinks / ROS.
//!
//! ```text
//! GStreamer ─appsink(1, drop)─▶ capture thread ─FrameSlot(1, newest wins)─▶ worker thread (owns model)
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
pub use frame_slot::{FrameSlot, SlotMode, Taken};
pub use model::{FrameModel, ModelError, Segment};
pub use progress::format_progress;
pub use run::run;
pub use worker::{DescribePolicy, WorkerConfig};

use crate::capture::{CaptureConfig, CaptureEnd, CaptureError, CaptureRunner, FrameOutlet, SourceKind, SourceSpec};

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

/// A running capture + worker pair.
pub struct Pipeline {
    handles: Handles,
    slot: Arc<FrameSlot>,
    capture: Option<CaptureRunner>,
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
        mut config: PipelineConfig,
        stats: Arc<Stats>,
    ) -> Result<Self, AppError> {
        let spec = SourceSpec::parse(&config.capture.source)?;
        let every_frame = spec.kind == SourceKind::File && !config.capture.realtime;
        config.worker.latency_from_stamp = !every_frame;
        let mode = if every_frame { SlotMode::Blocking } else { SlotMode::NewestWins };
        let slot = Arc::new(FrameSlot::new(mode, stats.dropped_frames.clone(), stats.frames_received.clone()));
        let capture = CaptureRunner::start(config.capture.clone(), stats.capture.clone(), slot.clone())?;
        Self::start_worker(load, config.worker, slot, stats, Some(capture))
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
        let slot =
            Arc::new(FrameSlot::new(SlotMode::NewestWins, stats.dropped_frames.clone(), stats.frames_received.clone()));
        Self::start_worker(load, worker, slot, stats, None)
    }

    fn start_worker<M: FrameModel + 'static>(
        load: ModelLoader<M>,
        worker_config: WorkerConfig,
        slot: Arc<FrameSlot>,
        stats: Arc<Stats>,
        capture: Option<CaptureRunner>,
    ) -> Result<Self, AppError> {
        let (commands_tx, commands_rx) = mpsc::channel(16);
        let (describe_tx, describe_rx) = mpsc::channel(4);
        let (results_tx, results_rx) = broadcast::channel(RESULTS_CAPACITY);
        let (descriptions_tx, descriptions_rx) = broadcast::channel(64);
        let (latest_tx, latest) = watch::channel(None);
        let (finished_tx, finished) = watch::channel(false);
        let channels = worker::WorkerChannels {
            slot: slot.clone(),
            commands_rx,
            describe_rx,
            results_tx,
            latest_tx,
            descriptions_tx,
            stats: stats.clone(),
        };
        let worker_stats = stats.clone();
        let depth = worker_config.depth.clone();
        let worker = std::thread::Builder::new()
            .name("inference".into())
            .spawn(move || {
                let report = |status: String| worker_stats.set_model_state(ModelState::Loading(status));
                match load(&report) {
                    Ok(model) => {
                        worker_stats.set_model_state(ModelState::Ready(model.label()));
                        worker::Worker::new(model, worker_config, channels).run();
                    }
                    Err(e) => worker_stats.set_model_state(ModelState::Failed(e)),
                }
                let _ = finished_tx.send(true);
            })
            .map_err(|e| AppError::Setup(format!("cannot spawn the inference thread: {e}")))?;
        let handles = Handles::new(commands_tx, describe_tx, latest, stats, depth, results_rx, descriptions_rx);
        Ok(Self { handles, slot, capture, worker: Some(worker), finished })
    }

    pub fn handles(&self) -> Handles {
        self.handles.clone()
    }

    /// Where frames enter the worker. With GStreamer capture running, capture already feeds it;
    /// a frame pushed here counts in `stats.capture.frames` only when capture is not running.
    pub fn frame_outlet(&self) -> Arc<dyn FrameOutlet> {
        self.slot.clone()
    }

    /// Resolves when the worker has ended (end of file, or capture gave up).
    pub async fn finished(&self) {
        let mut rx = self.finished.clone();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Why the model did not load, once that is known.
    pub fn load_error(&self) -> Option<String> {
        match self.handles.stats.model_state() {
            ModelState::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Stops capture, then waits for the worker to finish its frame (not for a model still loading: a
    /// TensorRT build can take minutes, and the process is about to end). Sinks end on their own after.
    pub fn shutdown(mut self) -> CaptureEnd {
        // Closing the slot releases a capture thread blocked on a full slot (files read frame by
        // frame); the worker still finishes the frame it has and drains the one waiting.
        if let Some(capture) = &self.capture {
            capture.request_stop();
        }
        self.slot.close();
        let end = self.capture.take().map(CaptureRunner::stop).unwrap_or(CaptureEnd::Stopped);
        let loading = matches!(self.handles.stats.model_state(), ModelState::Loading(_));
        if let Some(worker) = self.worker.take().filter(|_| !loading) {
            let _ = worker.join();
        }
        end
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if let Some(capture) = &self.capture {
            capture.request_stop();
        }
        self.slot.close();
        if let Some(capture) = self.capture.take() {
            capture.stop();
        }
        let loading = matches!(self.handles.stats.model_state(), ModelState::Loading(_));
        if let Some(worker) = self.worker.take().filter(|_| !loading) {
            let _ = worker.join();
        }
    }
}
