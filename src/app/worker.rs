//! The inference worker: one thread that owns the model and serves every camera. Each camera has a
//! [`Lane`] (its newest-frame slot, commands, descriptions, channels). The worker takes the frames that are
//! waiting, one per camera, starting after the camera it served first last time (round robin, so no camera
//! starves when the model is the bottleneck and a batch holds fewer frames than there are cameras), segments
//! them in one batched call, publishes each at once, and generates descriptions in the gaps: a pending
//! description advances by steps (a vision pass, a decoding step, a closer look) between two batches (a
//! bounded share of the batch time) or whenever no frame is waiting, so it never holds a finished mask frame
//! back. Only the commands a frame found are described from it, each from its mask on that frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::frame_slot::{Doorbell, Taken};
use super::lane::{Lane, LaneChannels};
use super::model::FrameModel;
use crate::capture::CapturedFrame;
use crate::frame::Frame;
use crate::link::CommandLimits;
use crate::spatial::DepthFeed;

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

pub struct Worker<M: FrameModel> {
    model: M,
    lanes: Vec<Lane<M>>,
    bell: Arc<Doorbell>,
    /// The lane served first in the next batch (round robin).
    next: usize,
    /// The lane whose description steps run next (round robin).
    next_description: usize,
    last_model_time: Duration,
}

impl<M: FrameModel> Worker<M> {
    /// One lane per camera, each with its own configuration (its depth feed, its initial commands).
    pub fn new(model: M, lanes: Vec<(WorkerConfig, LaneChannels)>, bell: Arc<Doorbell>) -> Self {
        let lanes = lanes.into_iter().map(|(cfg, ch)| Lane::new(&model, cfg, ch)).collect();
        Self { model, lanes, bell, next: 0, next_description: 0, last_model_time: Duration::ZERO }
    }

    /// Runs until every camera's slot is closed and empty. Returns the model so callers (benchmarks) can
    /// reuse it.
    pub fn run(mut self) -> M {
        loop {
            let rings = self.bell.rings();
            for lane in &mut self.lanes {
                lane.drain_control(&mut self.model);
            }
            let frames = self.take_frames();
            if self.lanes.iter().all(|l| l.ended) {
                break;
            }
            if !frames.is_empty() {
                self.process(frames);
                let share = self.lanes.first().map_or(0.25, |l| l.describe_share());
                self.describe_for(self.last_model_time.mul_f32(share.max(0.0)));
            } else if self.lanes.iter().any(Lane::has_job) {
                // No frame waiting: the gap is ours.
                self.step_description();
                self.lanes.iter_mut().for_each(Lane::check_stall);
            } else {
                self.bell.wait(rings, Duration::from_millis(20));
                self.lanes.iter_mut().for_each(Lane::check_stall);
            }
        }
        tracing::debug!("inference worker finished");
        self.model
    }

    /// The waiting frames, one per camera, in round-robin order from `next`, at most one batch.
    fn take_frames(&mut self) -> Vec<(usize, CapturedFrame)> {
        let n = self.lanes.len();
        let limit = self.model.max_frames_per_call().max(1);
        let mut out = Vec::new();
        for k in 0..n {
            let i = (self.next + k) % n;
            if out.len() == limit {
                break;
            }
            let lane = &mut self.lanes[i];
            if lane.ended {
                continue;
            }
            match lane.ch.slot.take(Duration::ZERO) {
                Taken::Frame(frame) => out.push((i, frame)),
                Taken::Closed => {
                    tracing::info!(camera = %lane.ch.camera, "camera ended");
                    lane.ended = true;
                }
                Taken::Empty => {}
            }
        }
        if let Some(&(last, _)) = out.last() {
            self.next = (last + 1) % n;
        }
        out
    }

    /// Segments every taken frame in one call (frames of cameras without commands skip the model) and
    /// publishes each on its camera. A failed batch is retried frame by frame, so one camera's bad frame
    /// costs only that frame.
    fn process(&mut self, taken: Vec<(usize, CapturedFrame)>) {
        let started = Instant::now();
        // The frames move into their `Arc`s: no pixel is copied.
        let taken: Vec<(usize, Arc<Frame>, Instant)> =
            taken.into_iter().map(|(i, c)| (i, Arc::new(c.frame), c.pulled_at)).collect();
        for (i, frame, _) in &taken {
            self.lanes[*i].arrived(frame);
        }
        let asked: Vec<usize> = (0..taken.len()).filter(|&k| !self.lanes[taken[k].0].commands.is_empty()).collect();
        let mut answers: Vec<Option<_>> = (0..taken.len()).map(|_| None).collect();
        if !asked.is_empty() {
            let items: Vec<(&Frame, &[String])> =
                asked.iter().map(|&k| (taken[k].1.as_ref(), self.lanes[taken[k].0].commands.as_slice())).collect();
            let results = match self.model.segment_frames(&items) {
                Ok(all) if all.len() == items.len() => all.into_iter().map(Ok).collect(),
                Err(e) if items.len() == 1 => vec![Err(e)],
                batch => {
                    tracing::debug!("a batch of {} frames failed, retrying each: {:?}", items.len(), batch.err());
                    items.iter().map(|(f, c)| self.model.segment(f, c)).collect::<Vec<_>>()
                }
            };
            for (&k, r) in asked.iter().zip(results) {
                answers[k] = Some(r);
            }
        }
        let model_time = started.elapsed();
        self.last_model_time = model_time;
        for ((i, frame, pulled_at), answer) in taken.into_iter().zip(answers) {
            let answer = answer.unwrap_or_else(|| Ok(Vec::new()));
            let time = if self.lanes[i].commands.is_empty() { Duration::ZERO } else { model_time };
            self.lanes[i].publish(frame, pulled_at, answer, time);
        }
    }

    /// Description steps until `budget` is spent (at least one step, if a description is pending).
    fn describe_for(&mut self, budget: Duration) {
        let started = Instant::now();
        while self.lanes.iter().any(Lane::has_job) {
            self.step_description();
            if started.elapsed() >= budget {
                break;
            }
        }
    }

    /// One description step of the next camera (round robin) that has a round pending.
    fn step_description(&mut self) {
        let n = self.lanes.len();
        for k in 0..n {
            let i = (self.next_description + k) % n;
            if self.lanes[i].has_job() {
                self.lanes[i].step_description(&mut self.model);
                self.next_description = (i + 1) % n;
                return;
            }
        }
    }
}
