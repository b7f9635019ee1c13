//! The worker with several cameras and a fake model whose every call costs the same, however many frames it
//! holds: the frames waiting in the cameras' slots go to the model together, a batch smaller than the number
//! of cameras is filled round robin so no camera starves, and each camera's results carry only its frames.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::SlowModel;
use pixel_sail::app::{CameraPlan, DescribePolicy, FrameModel, ModelError, Pipeline, Segment, WorkerConfig};
use pixel_sail::capture::CaptureConfig;
use pixel_sail::frame::{Frame, Mask, VisualPrompt};
use pixel_sail::link::{CommandLimits, Stats};

/// A model whose call takes `call` whatever the batch, recording each batch's frames (by frame_id).
struct Batching {
    inner: SlowModel,
    call: Duration,
    limit: usize,
    batches: Arc<Mutex<Vec<Vec<String>>>>,
}

impl FrameModel for Batching {
    type Describing = <SlowModel as FrameModel>::Describing;

    fn segment(&mut self, frame: &Frame, commands: &[String]) -> Result<Vec<Segment>, ModelError> {
        Ok(self.segment_frames(&[(frame, commands)])?.remove(0))
    }

    fn segment_frames(&mut self, items: &[(&Frame, &[String])]) -> Result<Vec<Vec<Segment>>, ModelError> {
        std::thread::sleep(self.call);
        self.batches.lock().unwrap().push(items.iter().map(|(f, _)| f.frame_id.clone()).collect());
        items.iter().map(|(f, c)| self.inner.segment(f, c)).collect()
    }

    fn max_frames_per_call(&self) -> usize {
        self.limit
    }

    fn start_describe(
        &mut self,
        frame: &Frame,
        command: &str,
        mask: &Arc<Mask>,
        max_tokens: usize,
    ) -> Result<Self::Describing, ModelError> {
        self.inner.start_describe(frame, command, mask, max_tokens)
    }

    fn step_describe(&mut self, job: &mut Self::Describing) -> Result<Option<String>, ModelError> {
        self.inner.step_describe(job)
    }

    fn describe_region(
        &mut self,
        frame: &Frame,
        prompt: &VisualPrompt,
        max_tokens: usize,
    ) -> Result<(String, Segment), ModelError> {
        self.inner.describe_region(frame, prompt, max_tokens)
    }
}

fn camera(name: &str) -> (CameraPlan, Arc<Stats>) {
    let mut capture = CaptureConfig::new("test:64x48@60");
    capture.frame_id = name.to_owned();
    let worker = WorkerConfig {
        describe: DescribePolicy { enabled: false, ..DescribePolicy::default() },
        limits: CommandLimits { max_commands: 3, max_chars: 64 },
        initial_commands: vec!["red star".into()],
        latency_from_stamp: true,
        depth: None,
    };
    (CameraPlan { name: name.to_owned(), capture: Some(capture), worker }, Arc::new(Stats::default()))
}

/// Each model call's frames (by frame_id), and each camera's results ("camera:frame_id").
type Seen = (Vec<Vec<String>>, Vec<(String, Vec<String>)>);

/// Runs `names` at 60 fps for `dur` on a model of `limit` frames a call.
fn run(names: &[&str], limit: usize, dur: Duration) -> Seen {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let fast = Duration::ZERO;
    let model = Batching {
        inner: SlowModel { encode: fast, segment: fast, step: fast, steps: 1 },
        call: Duration::from_millis(40),
        limit,
        batches: batches.clone(),
    };
    let load: pixel_sail::app::ModelLoader<Batching> = Box::new(move |_: &dyn Fn(String)| Ok(model));
    let pipeline = Pipeline::start_cameras(load, names.iter().map(|n| camera(n)).collect()).unwrap();
    let mut receivers: Vec<_> =
        pipeline.camera_handles().into_iter().map(|(name, h)| (name, h.subscribe_results())).collect();
    let until = Instant::now() + dur;
    let mut seen: Vec<(String, Vec<String>)> = receivers.iter().map(|(n, _)| (n.clone(), Vec::new())).collect();
    while Instant::now() < until {
        for ((_, rx), (_, ids)) in receivers.iter_mut().zip(seen.iter_mut()) {
            while let Ok(r) = rx.try_recv() {
                ids.push(format!("{}:{}", r.camera, r.frame_id));
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    pipeline.shutdown();
    let batches = batches.lock().unwrap().clone();
    (batches, seen)
}

#[test]
fn waiting_frames_of_every_camera_go_to_the_model_in_one_call() {
    let (batches, seen) = run(&["left", "right"], 4, Duration::from_secs(2));
    assert!(batches.len() >= 10, "{} calls", batches.len());
    let pairs = batches.iter().filter(|b| b.len() == 2).count();
    assert!(pairs * 10 >= batches.len() * 8, "the two cameras share most calls: {pairs} of {}", batches.len());
    assert!(batches.iter().all(|b| b.len() <= 2 && (b.len() < 2 || b[0] != b[1])), "one frame per camera a call");
    for (name, ids) in seen {
        assert!(ids.len() >= 10, "{name}: {} results", ids.len());
        assert!(ids.iter().all(|id| *id == format!("{name}:{name}")), "{name} gets only its own frames: {ids:?}");
    }
}

#[test]
fn a_batch_smaller_than_the_cameras_is_filled_round_robin() {
    let names = ["a", "b", "c"];
    let (batches, seen) = run(&names, 2, Duration::from_secs(3));
    assert!(batches.iter().all(|b| b.len() <= 2), "no call holds more than the limit");
    let counts: Vec<usize> = seen.iter().map(|(_, ids)| ids.len()).collect();
    let (lo, hi) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
    assert!(lo >= 10, "every camera is served: {counts:?}");
    assert!(lo * 10 >= hi * 8, "no camera starves while the model is the bottleneck: {counts:?}");
}
