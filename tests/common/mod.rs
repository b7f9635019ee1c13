//! Helpers shared by the pipeline tests: a collecting frame outlet, clips made with GStreamer in a
//! temp dir, a deliberately slow fake model, and reading back what `pixel-sail run` wrote.
#![allow(dead_code)]

use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use pixel_sail::app::{FrameModel, ModelError, Segment};
use pixel_sail::capture::{CaptureConfig, CaptureRunner, CapturedFrame, FrameOutlet};
use pixel_sail::decode::{bbox_of, rle_encode};
use pixel_sail::frame::{Frame, Mask, VisualPrompt};

/// Keeps every frame it is given; `closed` flips when capture ends.
#[derive(Default)]
pub struct Collector {
    pub frames: Mutex<Vec<CapturedFrame>>,
    pub closed: Mutex<bool>,
    changed: Condvar,
}

impl Collector {
    /// Waits until `pred(frames, closed)` holds or the timeout passes; returns whether it held.
    pub fn wait(&self, timeout: Duration, pred: impl Fn(&[CapturedFrame], bool) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut frames = self.frames.lock().unwrap();
        loop {
            let closed = *self.closed.lock().unwrap();
            if pred(&frames, closed) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            frames = self.changed.wait_timeout(frames, left.min(Duration::from_millis(50))).unwrap().0;
        }
    }

    pub fn seqs(&self) -> Vec<u64> {
        self.frames.lock().unwrap().iter().map(|f| f.frame.seq).collect()
    }
}

impl FrameOutlet for Collector {
    fn push(&self, frame: CapturedFrame) {
        self.frames.lock().unwrap().push(frame);
        self.changed.notify_all();
    }
    fn close(&self) {
        *self.closed.lock().unwrap() = true;
        self.changed.notify_all();
    }
}

/// Encodes `frames` frames of videotestsrc into `path` (.webm VP8 or .mp4 H.264) and waits for EOS.
pub fn make_clip(path: &Path, frames: u32, width: u32, height: u32) {
    gst::init().unwrap();
    let enc = if path.extension().is_some_and(|e| e == "mp4") {
        "x264enc speed-preset=ultrafast ! h264parse ! mp4mux"
    } else {
        "vp8enc deadline=1 ! webmmux"
    };
    let launch = format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,width={width},height={height},framerate=30/1 \
         ! videoconvert ! video/x-raw,format=I420 ! {enc} ! filesink location=\"{}\"",
        path.display()
    );
    let pipeline = gst::parse::launch(&launch).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
        .expect("clip encoding timed out");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "clip encoding failed: {msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
}

/// A fake model with fixed costs: `encode` + `segment` sleep, and a description takes a vision pass
/// (`encode`) and `steps` steps of `step` each. A command is "found" as a square in the frame's top-left quarter, except
/// that one saying "absent" never is, one saying "blinking" only on [`blinking_seen`] frames and one saying
/// "late" only from frame 10 on.
#[derive(Clone)]
pub struct SlowModel {
    pub encode: Duration,
    pub segment: Duration,
    pub step: Duration,
    pub steps: u32,
}

pub struct FakeImage {
    width: u32,
    height: u32,
    seq: u64,
}

pub struct FakeDescribing {
    left: u32,
    text: String,
    seq: u64,
}

fn square(width: u32, height: u32) -> Segment {
    let mut mask = Mask { width, height, data: vec![0; (width * height) as usize] };
    for y in 0..height / 4 {
        for x in 0..width / 4 {
            mask.data[(y * width + x) as usize] = 1;
        }
    }
    Segment { found: true, score: 0.9, bbox: bbox_of(&mask), rle: rle_encode(&mask), mask: Arc::new(mask) }
}

fn not_found(width: u32, height: u32) -> Segment {
    let mask = Mask { width, height, data: vec![0; (width * height) as usize] };
    Segment { found: false, score: 0.1, bbox: bbox_of(&mask), rle: rle_encode(&mask), mask: Arc::new(mask) }
}

impl SlowModel {
    fn encode(&mut self, frame: &Frame) -> FakeImage {
        std::thread::sleep(self.encode);
        FakeImage { width: frame.width, height: frame.height, seq: frame.seq }
    }
}

impl FrameModel for SlowModel {
    type Describing = FakeDescribing;

    fn segment(&mut self, frame: &Frame, commands: &[String]) -> Result<Vec<Segment>, ModelError> {
        let image = self.encode(frame);
        std::thread::sleep(self.segment);
        Ok(commands
            .iter()
            .map(|c| {
                let seen = !c.contains("absent")
                    && (!c.contains("blinking") || blinking_seen(image.seq))
                    && (!c.contains("late") || image.seq >= 10);
                if seen { square(image.width, image.height) } else { not_found(image.width, image.height) }
            })
            .collect())
    }

    fn start_describe(
        &mut self,
        frame: &Frame,
        command: &str,
        _mask: &Arc<Mask>,
        _max: usize,
    ) -> Result<FakeDescribing, ModelError> {
        std::thread::sleep(self.encode);
        Ok(FakeDescribing { left: self.steps, text: format!("{command} seen on frame {}", frame.seq), seq: frame.seq })
    }

    /// Decoding steps, then the closer look: a second vision pass's worth of time that says which frame it
    /// looked at.
    fn step_describe(&mut self, job: &mut FakeDescribing) -> Result<Option<String>, ModelError> {
        if job.left > 0 {
            std::thread::sleep(self.step);
            job.left -= 1;
            return Ok(None);
        }
        std::thread::sleep(self.encode);
        Ok(Some(format!("{}, looked at closely on frame {}", job.text, job.seq)))
    }

    fn describe_region(
        &mut self,
        frame: &Frame,
        prompt: &VisualPrompt,
        _max: usize,
    ) -> Result<(String, Segment), ModelError> {
        let _ = prompt;
        let image = self.encode(frame);
        Ok((format!("a thing on frame {}", image.seq), square(image.width, image.height)))
    }
}

/// "blinking" objects are in view four frames, then out of view four: runs, not alternate frames, so a
/// description round that lasts a steady number of frames cannot lock onto the frames that miss it.
pub fn blinking_seen(seq: u64) -> bool {
    (seq / 4).is_multiple_of(2)
}

/// Decodes a written video back (a real GStreamer pipeline) and counts its frames.
pub fn count_frames(path: &Path) -> usize {
    let frames = Arc::new(Collector::default());
    let runner = CaptureRunner::start(CaptureConfig::new(path.to_str().unwrap()), Default::default(), frames.clone())
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    assert!(frames.wait(Duration::from_secs(60), |_, closed| closed), "decoding did not finish");
    runner.stop();
    frames.frames.lock().unwrap().len()
}

pub fn jsonl_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

pub fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("pixel-sail did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
