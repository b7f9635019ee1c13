//! The inference worker: one thread that owns the model and turns the newest frame into masks for
//! every active command, publishes them at once, and generates descriptions in the gaps: a pending
//! description advances by steps (a vision pass, a decoding step, a closer look) between two mask
//! frames (a bounded share of the frame time) or whenever no frame is waiting, so it never holds a
//! finished mask frame back. Only the commands a frame found are described from it, each from its
//! mask on that frame.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{broadcast, mpsc, watch};

use super::frame_slot::{FrameSlot, Taken};
use super::model::{FrameModel, ModelError};
use crate::capture::CapturedFrame;
use crate::frame::{Description, Frame, FrameResult, Grounding, Location, Mask, RegionDescription};
use crate::link::{
    CommandLimits, CommandsAck, DescribeRequest, DescriptionEvent, SetCommands, Stats, validate_commands,
};
use crate::spatial::{DepthFeed, Locator};

/// No frame for this long is worth a warning.
const STALL_WARNING: Duration = Duration::from_secs(3);

/// When descriptions are (re)generated: on a new command set, then every N frames and/or every T.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribePolicy {
    pub enabled: bool,
    pub every_frames: Option<u64>,
    pub every: Option<Duration>,
    pub max_tokens: usize,
    /// Time spent on description steps between two mask frames, as a share of the last frame's
    /// model time (at least one step runs). 0.25 costs at most a fifth of the mask rate while a
    /// description is pending, and nothing otherwise.
    pub share: f32,
}

impl Default for DescribePolicy {
    fn default() -> Self {
        Self { enabled: true, every_frames: None, every: Some(Duration::from_secs(2)), max_tokens: 16, share: 0.25 }
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub describe: DescribePolicy,
    pub limits: CommandLimits,
    pub initial_commands: Vec<String>,
    /// Measure latency from the capture stamp (live sources) rather than from the pull (files read
    /// frame by frame, whose stamps follow media time, not the clock).
    pub latency_from_stamp: bool,
    /// Aligned depth and camera intrinsics for 3-D positions (None: ids only, no 3-D).
    pub depth: Option<DepthFeed>,
}

/// The worker's ends of the app's channels.
pub struct WorkerChannels {
    pub slot: Arc<FrameSlot>,
    pub commands_rx: mpsc::Receiver<SetCommands>,
    pub describe_rx: mpsc::Receiver<DescribeRequest>,
    pub results_tx: broadcast::Sender<Arc<FrameResult>>,
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
    stamp: SystemTime,
    seq: u64,
}

pub struct Worker<M: FrameModel> {
    model: M,
    cfg: WorkerConfig,
    /// Ids and 3-D positions, after segmentation on every frame.
    locator: Locator,
    ch: WorkerChannels,
    commands: Vec<String>,
    descriptions: HashMap<String, Description>,
    job: Option<Job<M::Describing>>,
    /// The command set changed and has not been described yet.
    describe_new: bool,
    frames_since_description: u64,
    last_description: Instant,
    last_frame: Option<Arc<Frame>>,
    last_model_time: Duration,
    last_frame_at: Instant,
    stall_warned: bool,
    last_error_log: Option<Instant>,
}

impl<M: FrameModel> Worker<M> {
    pub fn new(model: M, cfg: WorkerConfig, ch: WorkerChannels) -> Self {
        let mut worker = Self {
            model,
            locator: Locator::new(cfg.depth.clone()),
            commands: Vec::new(),
            descriptions: HashMap::new(),
            job: None,
            describe_new: false,
            frames_since_description: 0,
            last_description: Instant::now(),
            last_frame: None,
            last_model_time: Duration::ZERO,
            last_frame_at: Instant::now(),
            stall_warned: false,
            last_error_log: None,
            ch,
            cfg,
        };
        let initial = worker.cfg.initial_commands.clone();
        let ack = worker.set_commands(&initial);
        if !ack.accepted {
            tracing::error!("initial commands refused: {}", ack.message);
        }
        worker
    }

    /// Runs until capture closes the slot. Returns the model so callers (benchmarks) can reuse it.
    pub fn run(mut self) -> M {
        loop {
            self.drain_control();
            // While a description is pending, only peek for frames so its steps fill the gaps.
            let wait = if self.job.is_some() { Duration::ZERO } else { Duration::from_millis(20) };
            match self.ch.slot.take(wait) {
                Taken::Frame(frame) => {
                    self.process(frame);
                    self.describe_for(self.last_model_time.mul_f32(self.cfg.describe.share.max(0.0)));
                }
                // No frame waiting: the gap is ours.
                Taken::Empty => {
                    self.step_description();
                    self.check_stall();
                }
                Taken::Closed => break,
            }
        }
        tracing::debug!("inference worker finished");
        self.model
    }

    fn drain_control(&mut self) {
        while let Ok(req) = self.ch.commands_rx.try_recv() {
            let ack = self.set_commands(&req.commands);
            if let Some(reply) = req.reply {
                let _ = reply.send(ack);
            }
        }
        while let Ok(req) = self.ch.describe_rx.try_recv() {
            let answer = self.describe_region(&req);
            let _ = req.reply.send(answer);
        }
    }

    fn set_commands(&mut self, raw: &[String]) -> CommandsAck {
        match validate_commands(raw, self.cfg.limits) {
            Err(reason) => {
                tracing::warn!("commands refused: {reason}");
                CommandsAck { accepted: false, message: reason, active: self.commands.clone() }
            }
            Ok((commands, mut notes)) => {
                for cmd in &commands {
                    let unknown = self.model.unknown_words(cmd);
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
                    tracing::info!(?commands, "active commands");
                    self.descriptions.retain(|c, _| commands.contains(c));
                    self.job = None; // its commands are stale; describe the new set on the next frame
                    self.describe_new = !commands.is_empty();
                    self.commands = commands;
                }
                CommandsAck { accepted: true, message: notes.join("; "), active: self.commands.clone() }
            }
        }
    }

    fn process(&mut self, captured: CapturedFrame) {
        let started = Instant::now();
        if self.stall_warned {
            tracing::info!("frames are reaching the model again");
            self.stall_warned = false;
        }
        self.last_frame_at = started;
        let CapturedFrame { frame, pulled_at } = captured;
        let frame = Arc::new(frame);
        self.last_frame = Some(frame.clone());
        let mut groundings = match self.segment(&frame) {
            Ok(done) => done,
            Err(e) => {
                self.ch.stats.inference_errors.fetch_add(1, Ordering::Relaxed);
                self.log_error(frame.seq, &e);
                return;
            }
        };
        let model_time = started.elapsed();
        self.last_model_time = model_time;
        let depth = self.locator.locate(&frame, &mut groundings);
        self.ch.stats.record_depth(depth, self.locator.feed().map_or(0, DepthFeed::received));
        let latency = if self.cfg.latency_from_stamp {
            SystemTime::now().duration_since(frame.stamp).unwrap_or_default()
        } else {
            pulled_at.elapsed()
        };
        let result = Arc::new(FrameResult {
            seq: frame.seq,
            stamp: frame.stamp,
            frame_id: frame.frame_id.clone(),
            frame: frame.clone(),
            groundings,
            latency,
        });
        self.ch.stats.record_frame(latency, model_time);
        tracing::trace!(seq = frame.seq, latency_ms = latency.as_millis() as u64, "result published");
        let _ = self.ch.results_tx.send(result.clone());
        self.ch.latest_tx.send_replace(Some(result.clone()));
        self.frames_since_description += 1;
        self.maybe_start_description(&frame, &result.groundings);
    }

    /// Masks for every active command; no model call at all when there are none.
    fn segment(&mut self, frame: &Frame) -> Result<Vec<Grounding>, ModelError> {
        if self.commands.is_empty() {
            return Ok(Vec::new());
        }
        let segments = self.model.segment(frame, &self.commands)?;
        if segments.len() != self.commands.len() {
            return Err(ModelError::MaskCount { masks: segments.len(), commands: self.commands.len() });
        }
        let groundings = self
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
            .collect();
        Ok(groundings)
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
        self.job = Some(Job {
            commands: found,
            frame: frame.clone(),
            masks,
            texts,
            decoding: None,
            stamp: frame.stamp,
            seq: frame.seq,
        });
    }

    /// Warns once when no frame has reached the worker for a while (a ROS image topic that went
    /// quiet; GStreamer capture warns about its own source as well).
    fn check_stall(&mut self) {
        let silent = self.last_frame_at.elapsed();
        if !self.stall_warned && silent >= STALL_WARNING {
            tracing::warn!("no frame has reached the model for {:.1} s", silent.as_secs_f64());
            self.stall_warned = true;
        }
    }

    /// Description steps until `budget` is spent (at least one step, if a description is pending).
    fn describe_for(&mut self, budget: Duration) {
        let started = Instant::now();
        while self.job.is_some() {
            self.step_description();
            if started.elapsed() >= budget {
                break;
            }
        }
    }

    /// One step of the pending description round, if any: a step of the description in progress (a decoding
    /// step, or the closer look at a small object), else the next command's first pass (a vision pass with its
    /// mask as the visual prompt); once every command is done, publish.
    fn step_description(&mut self) {
        let Some(mut job) = self.job.take() else { return };
        let max_tokens = self.cfg.describe.max_tokens;
        let fault = if let Some(state) = job.decoding.as_mut() {
            match self.model.step_describe(state) {
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
            match self.model.start_describe(&job.frame, &job.commands[k], &job.masks[k], max_tokens) {
                Ok(state) => {
                    job.decoding = Some(state);
                    None
                }
                Err(e) => Some(e),
            }
        } else {
            return self.publish_descriptions(job);
        };
        match fault {
            // the command whose description failed keeps its last one; the round goes on
            Some(e) => {
                job.texts.push(None);
                self.fault_and_continue(job, e)
            }
            None => self.job = Some(job),
        }
    }

    fn fault_and_continue(&mut self, job: Job<M::Describing>, e: ModelError) {
        self.ch.stats.inference_errors.fetch_add(1, Ordering::Relaxed);
        self.log_error(job.seq, &e);
        self.job = Some(job);
    }

    fn publish_descriptions(&mut self, job: Job<M::Describing>) {
        for (command, text) in job.commands.into_iter().zip(job.texts) {
            let Some(text) = text else { continue };
            let description = Description { text, stamp: job.stamp, seq: job.seq };
            tracing::debug!(%command, text = %description.text, seq = job.seq, "description");
            self.ch.stats.descriptions.fetch_add(1, Ordering::Relaxed);
            let _ = self
                .ch
                .descriptions_tx
                .send(DescriptionEvent { command: command.clone(), description: description.clone() });
            self.descriptions.insert(command, description);
        }
    }

    fn describe_region(&mut self, req: &DescribeRequest) -> Result<RegionDescription, String> {
        let frame = self.last_frame.clone().ok_or("no frame has been processed yet")?;
        let max_tokens = self.cfg.describe.max_tokens;
        let (text, segment) = self.model.describe_region(&frame, &req.prompt, max_tokens).map_err(|e| e.to_string())?;
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
            tracing::warn!(seq, total, "inference failed: {error}");
            self.last_error_log = Some(Instant::now());
        }
    }
}
