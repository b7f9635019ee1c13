//! One camera's side of the inference worker: its newest-frame slot, its commands, its descriptions and
//! their rounds, its 3-D locator, and the channels its results go out on. The worker owns the model and
//! one lane per camera; a lane never calls the model except through the `&mut M` the worker lends it, so
//! one camera's state, faults and counters never touch another's.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{broadcast, mpsc, watch};

use super::frame_slot::FrameSlot;
use super::model::{FrameModel, ModelError, Segment};
use super::worker::WorkerConfig;
use crate::frame::{Description, Frame, FrameResult, Grounding, Location, Mask, RegionDescription};
use crate::link::{CommandsAck, DescribeRequest, DescriptionEvent, SetCommands, Stats, validate_commands};
use crate::spatial::{DepthFeed, Locator};

/// No frame for this long is worth a warning.
const STALL_WARNING: Duration = Duration::from_secs(3);

/// A camera's ends of the app's channels.
pub struct LaneChannels {
    pub camera: Arc<str>,
    pub slot: Arc<FrameSlot>,
    pub commands_rx: mpsc::Receiver<SetCommands>,
    pub describe_rx: mpsc::Receiver<DescribeRequest>,
    pub results_tx: broadcast::Sender<Arc<FrameResult>>,
    /// Every camera's results, for sinks that take them all (one JSONL file).
    pub all_results_tx: broadcast::Sender<Arc<FrameResult>>,
    pub latest_tx: watch::Sender<Option<Arc<FrameResult>>>,
    pub descriptions_tx: broadcast::Sender<DescriptionEvent>,
    pub stats: Arc<Stats>,
}

/// A description round: the found commands of one frame, described one after the other.
struct Job<D> {
    commands: Vec<String>,
    /// The frame the round started on and each command's mask on it.
    frame: Arc<Frame>,
    masks: Vec<Arc<Mask>>,
    /// The finished descriptions, in command order (None: that one failed, the command keeps its last).
    texts: Vec<Option<String>>,
    /// The description in progress: the command after the finished ones.
    decoding: Option<D>,
}

pub struct Lane<M: FrameModel> {
    pub ch: LaneChannels,
    cfg: WorkerConfig,
    /// Ids and 3-D positions, after segmentation on every frame.
    locator: Locator,
    pub commands: Vec<String>,
    descriptions: HashMap<String, Description>,
    job: Option<Job<M::Describing>>,
    /// The command set changed and has not been described yet.
    describe_new: bool,
    frames_since_description: u64,
    last_description: Instant,
    last_frame: Option<Arc<Frame>>,
    last_frame_at: Instant,
    stall_warned: bool,
    last_error_log: Option<Instant>,
    /// The slot is closed and empty: this camera has ended.
    pub ended: bool,
}

impl<M: FrameModel> Lane<M> {
    pub fn new(model: &M, cfg: WorkerConfig, ch: LaneChannels) -> Self {
        let mut lane = Self {
            locator: Locator::new(cfg.depth.clone()),
            commands: Vec::new(),
            descriptions: HashMap::new(),
            job: None,
            describe_new: false,
            frames_since_description: 0,
            last_description: Instant::now(),
            last_frame: None,
            last_frame_at: Instant::now(),
            stall_warned: false,
            last_error_log: None,
            ended: false,
            ch,
            cfg,
        };
        let initial = lane.cfg.initial_commands.clone();
        let ack = lane.set_commands(model, &initial);
        if !ack.accepted {
            tracing::error!(camera = %lane.ch.camera, "initial commands refused: {}", ack.message);
        }
        lane
    }

    /// The share of a batch's time description steps may take (see [`super::DescribePolicy::share`]).
    pub fn describe_share(&self) -> f32 {
        self.cfg.describe.share
    }

    pub fn has_job(&self) -> bool {
        self.job.is_some()
    }

    /// Command sets and region requests that arrived since the last call.
    pub fn drain_control(&mut self, model: &mut M) {
        while let Ok(req) = self.ch.commands_rx.try_recv() {
            let ack = self.set_commands(model, &req.commands);
            if let Some(reply) = req.reply {
                let _ = reply.send(ack);
            }
        }
        while let Ok(req) = self.ch.describe_rx.try_recv() {
            let answer = self.describe_region(model, &req);
            let _ = req.reply.send(answer);
        }
    }

    fn set_commands(&mut self, model: &M, raw: &[String]) -> CommandsAck {
        match validate_commands(raw, self.cfg.limits) {
            Err(reason) => {
                tracing::warn!(camera = %self.ch.camera, "commands refused: {reason}");
                CommandsAck { accepted: false, message: reason, active: self.commands.clone() }
            }
            Ok((commands, mut notes)) => {
                for cmd in &commands {
                    let unknown = model.unknown_words(cmd);
                    if !unknown.is_empty() {
                        notes.push(format!(
                            "'{cmd}': unknown words: {} (the model does not know them)",
                            unknown.join(", ")
                        ));
                    }
                }
                for note in &notes {
                    tracing::warn!("{note}");
                }
                if commands != self.commands {
                    tracing::info!(camera = %self.ch.camera, ?commands, "active commands");
                    self.descriptions.retain(|c, _| commands.contains(c));
                    self.job = None; // its commands are stale; describe the new set on the next frame
                    self.describe_new = !commands.is_empty();
                    self.commands = commands;
                }
                CommandsAck { accepted: true, message: notes.join("; "), active: self.commands.clone() }
            }
        }
    }

    /// Called when a frame of this camera reaches the worker, before the model runs on it.
    pub fn arrived(&mut self, frame: &Arc<Frame>) {
        if self.stall_warned {
            tracing::info!(camera = %self.ch.camera, "frames are reaching the model again");
            self.stall_warned = false;
        }
        self.last_frame_at = Instant::now();
        self.last_frame = Some(frame.clone());
    }

    /// Publishes a frame's masks. `pulled_at`: when capture took it; `segments`: the model's answer for this
    /// lane's commands, or its fault; `model_time`: the call that answered it (shared by a batch's frames).
    pub fn publish(
        &mut self,
        frame: Arc<Frame>,
        pulled_at: Instant,
        segments: Result<Vec<Segment>, ModelError>,
        model_time: Duration,
    ) {
        let mut groundings = match self.groundings(segments) {
            Ok(g) => g,
            Err(e) => {
                self.ch.stats.inference_errors.fetch_add(1, Ordering::Relaxed);
                self.log_error(frame.seq, &e);
                return;
            }
        };
        let depth = self.locator.locate(&frame, &mut groundings);
        self.ch.stats.record_depth(depth, self.locator.feed().map_or(0, DepthFeed::received));
        let latency = if self.cfg.latency_from_stamp {
            SystemTime::now().duration_since(frame.stamp).unwrap_or_default()
        } else {
            pulled_at.elapsed()
        };
        let result = Arc::new(FrameResult {
            camera: self.ch.camera.clone(),
            seq: frame.seq,
            stamp: frame.stamp,
            frame_id: frame.frame_id.clone(),
            frame: frame.clone(),
            groundings,
            latency,
        });
        self.ch.stats.record_frame(latency, model_time);
        tracing::trace!(camera = %self.ch.camera, seq = frame.seq, latency_ms = latency.as_millis() as u64, "result published");
        let _ = self.ch.results_tx.send(result.clone());
        let _ = self.ch.all_results_tx.send(result.clone());
        self.ch.latest_tx.send_replace(Some(result.clone()));
        self.frames_since_description += 1;
        self.maybe_start_description(&frame, &result.groundings);
    }

    fn groundings(&self, segments: Result<Vec<Segment>, ModelError>) -> Result<Vec<Grounding>, ModelError> {
        let segments = segments?;
        if segments.len() != self.commands.len() {
            return Err(ModelError::MaskCount { masks: segments.len(), commands: self.commands.len() });
        }
        Ok(self
            .commands
            .iter()
            .zip(segments)
            .map(|(command, s)| Grounding {
                command: command.clone(),
                found: s.found,
                score: s.score,
                bbox: s.bbox,
                mask: s.mask,
                rle: s.rle,
                description: self.descriptions.get(command).cloned(),
                track_id: 0,
                location: Location::NoDepthInput,
            })
            .collect())
    }

    /// Describes the commands whose object this frame found: describing one the model says is not
    /// there would put words to a hallucination. Those keep their last description (its stamp says
    /// when it was made), or none; one found for the first time is described at once, whatever the
    /// policy's period.
    fn maybe_start_description(&mut self, frame: &Arc<Frame>, groundings: &[Grounding]) {
        let policy = &self.cfg.describe;
        let due = self.describe_new
            || groundings.iter().any(|g| g.found && !self.descriptions.contains_key(&g.command))
            || policy.every_frames.is_some_and(|n| self.frames_since_description >= n)
            || policy.every.is_some_and(|t| self.last_description.elapsed() >= t);
        if !policy.enabled || self.job.is_some() || !due {
            return;
        }
        // only now, on the frames that start a description, the found commands are copied out
        let (found, masks): (Vec<String>, Vec<Arc<Mask>>) =
            groundings.iter().filter(|g| g.found).map(|g| (g.command.clone(), g.mask.clone())).unzip();
        if found.is_empty() {
            return;
        }
        self.describe_new = false;
        self.frames_since_description = 0;
        self.last_description = Instant::now();
        let texts = Vec::with_capacity(found.len());
        self.job = Some(Job { commands: found, frame: frame.clone(), masks, texts, decoding: None });
    }

    /// Warns once when no frame of this camera has reached the worker for a while (a ROS image topic that
    /// went quiet; GStreamer capture warns about its own source as well).
    pub fn check_stall(&mut self) {
        let silent = self.last_frame_at.elapsed();
        if !self.ended && !self.stall_warned && silent >= STALL_WARNING {
            tracing::warn!(camera = %self.ch.camera, "no frame has reached the model for {:.1} s", silent.as_secs_f64());
            self.stall_warned = true;
        }
    }

    /// One step of the pending description round, if any: a step of the description in progress (a decoding
    /// step, or the closer look at a small object), else the next command's first pass (a vision pass with its
    /// mask as the visual prompt); once every command is done, publish.
    pub fn step_description(&mut self, model: &mut M) {
        let Some(mut job) = self.job.take() else { return };
        let max_tokens = self.cfg.describe.max_tokens;
        let fault = if let Some(state) = job.decoding.as_mut() {
            match model.step_describe(state) {
                Ok(Some(text)) => {
                    job.texts.push(Some(text));
                    job.decoding = None;
                    None
                }
                Ok(None) => None,
                Err(e) => {
                    job.decoding = None;
                    Some(e)
                }
            }
        } else if job.texts.len() < job.commands.len() {
            let k = job.texts.len();
            match model.start_describe(&job.frame, &job.commands[k], &job.masks[k], max_tokens) {
                Ok(state) => {
                    job.decoding = Some(state);
                    None
                }
                Err(e) => Some(e),
            }
        } else {
            return self.publish_descriptions(job);
        };
        if let Some(e) = fault {
            // the command whose description failed keeps its last one; the round goes on
            job.texts.push(None);
            self.ch.stats.inference_errors.fetch_add(1, Ordering::Relaxed);
            self.log_error(job.frame.seq, &e);
        }
        self.job = Some(job);
    }

    fn publish_descriptions(&mut self, job: Job<M::Describing>) {
        let (stamp, seq) = (job.frame.stamp, job.frame.seq);
        for (command, text) in job.commands.into_iter().zip(job.texts) {
            let Some(text) = text else { continue };
            let description = Description { text, stamp, seq };
            tracing::debug!(camera = %self.ch.camera, %command, text = %description.text, seq, "description");
            self.ch.stats.descriptions.fetch_add(1, Ordering::Relaxed);
            let _ = self
                .ch
                .descriptions_tx
                .send(DescriptionEvent { command: command.clone(), description: description.clone() });
            self.descriptions.insert(command, description);
        }
    }

    fn describe_region(&mut self, model: &mut M, req: &DescribeRequest) -> Result<RegionDescription, String> {
        let frame = self.last_frame.clone().ok_or("no frame has been processed yet")?;
        let max_tokens = self.cfg.describe.max_tokens;
        let (text, segment) = model.describe_region(&frame, &req.prompt, max_tokens).map_err(|e| e.to_string())?;
        Ok(RegionDescription {
            description: Description { text, stamp: frame.stamp, seq: frame.seq },
            mask: segment.mask,
            bbox: segment.bbox,
            frame_id: frame.frame_id.clone(),
        })
    }

    /// Per-frame faults are logged at most every 5 s (the counter has the total).
    fn log_error(&mut self, seq: u64, error: &ModelError) {
        if self.last_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            let total = self.ch.stats.inference_errors.load(Ordering::Relaxed);
            tracing::warn!(camera = %self.ch.camera, seq, total, "inference failed: {error}");
            self.last_error_log = Some(Instant::now());
        }
    }
}
