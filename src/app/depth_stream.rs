//! `--depth` from a GStreamer source (a depth camera, or any launch description producing 16-bit grey in
//! millimetres): a thread pulls its frames, stamps them like colour capture does (buffer time mapped onto
//! the wall clock) and pushes them into the pipeline's [`DepthFeed`], which matches them to colour frames
//! by stamp.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::prelude::*;

use super::AppError;
use crate::capture::{APPSINK_NAME, find_appsink, wall_stamp};
use crate::spatial::{DepthFeed, DepthImage};

/// Whether `--depth SRC` names a GStreamer launch description rather than PNG files.
pub fn is_launch_description(source: &str) -> bool {
    source.contains('!')
}

/// A running depth source; [`DepthStream::stop`] ends it (dropping it does too).
pub struct DepthStream {
    pipeline: gst::Pipeline,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DepthStream {
    /// Starts the launch description (`… ! videoconvert ! video/x-raw,format=GRAY16_LE ! appsink` is
    /// appended when it has no appsink) and waits for its first frame, so a source that cannot start
    /// stops the program here with GStreamer's message.
    pub fn start(launch: &str, feed: DepthFeed, startup_timeout: Duration) -> Result<DepthStream, AppError> {
        let fail = |why: String| AppError::Setup(format!("--depth '{launch}' cannot start: {why}"));
        gst::init().map_err(|e| fail(e.to_string()))?;
        let description = if launch.contains("appsink") {
            launch.to_string()
        } else {
            format!("{launch} ! videoconvert ! video/x-raw,format=GRAY16_LE ! appsink name={APPSINK_NAME}")
        };
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| fail(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| fail("not a pipeline".into()))?;
        let appsink = find_appsink(&pipeline).ok_or_else(|| fail("no appsink".into()))?;
        appsink.set_max_buffers(1);
        appsink.set_drop(true);
        // Files are played at their own rate, like the camera they stand for.
        appsink.set_sync(true);
        pipeline.set_state(gst::State::Playing).map_err(|e| fail(e.to_string()))?;
        let first = wait_first(&pipeline, &appsink, startup_timeout).map_err(|e| {
            let _ = pipeline.set_state(gst::State::Null);
            fail(e)
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (pipeline, stop) = (pipeline.clone(), stop.clone());
            std::thread::Builder::new()
                .name("depth-capture".into())
                .spawn(move || pull_loop(&pipeline, &appsink, first, &feed, &stop))
                .map_err(|e| fail(e.to_string()))?
        };
        tracing::info!(source = launch, "depth capture started");
        Ok(DepthStream { pipeline, stop, thread: Some(thread) })
    }

    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Drop for DepthStream {
    fn drop(&mut self) {
        self.halt();
    }
}

fn bus_error(pipeline: &gst::Pipeline) -> Option<String> {
    let bus = pipeline.bus()?;
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            return Some(e.error().to_string());
        }
    }
    None
}

fn wait_first(pipeline: &gst::Pipeline, appsink: &gst_app::AppSink, timeout: Duration) -> Result<gst::Sample, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(e) = bus_error(pipeline) {
            return Err(e);
        }
        if let Some(sample) = appsink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
            return Ok(sample);
        }
        if appsink.is_eos() {
            return Err("the stream ended before the first frame".into());
        }
        if Instant::now() >= deadline {
            return Err(format!("no frame within {:.1} s", timeout.as_secs_f64()));
        }
    }
}

/// Pulls frames until stopped or the stream ends; a frame that cannot be read is counted in the log and skipped.
fn pull_loop(
    pipeline: &gst::Pipeline,
    appsink: &gst_app::AppSink,
    first: gst::Sample,
    feed: &DepthFeed,
    stop: &AtomicBool,
) {
    let (mut seq, mut bad, mut next) = (0u64, 0u64, Some(first));
    while !stop.load(Ordering::Relaxed) {
        let sample = match next.take().or_else(|| appsink.try_pull_sample(gst::ClockTime::from_mseconds(100))) {
            Some(s) => s,
            None if appsink.is_eos() => {
                tracing::info!("the depth source ended");
                break;
            }
            None => {
                if let Some(e) = bus_error(pipeline) {
                    tracing::warn!("the depth source failed: {e}");
                    break;
                }
                continue;
            }
        };
        match depth_of(pipeline, &sample, seq) {
            Ok(image) => feed.push_depth(image),
            Err(e) => {
                bad += 1;
                if bad.is_power_of_two() {
                    tracing::warn!(seq, bad, "depth frame skipped: {e}");
                }
            }
        }
        seq += 1;
    }
}

/// A GRAY16_LE sample as a depth image in metres, stamped on the wall clock.
fn depth_of(pipeline: &gst::Pipeline, sample: &gst::Sample, seq: u64) -> Result<DepthImage, String> {
    let caps = sample.caps().ok_or("sample without caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| format!("caps {caps}: {e}"))?;
    if info.format() != gst_video::VideoFormat::Gray16Le {
        return Err(format!("the appsink delivers {:?}, not GRAY16_LE", info.format()));
    }
    let buffer = sample.buffer().ok_or("sample without buffer")?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|e| e.to_string())?;
    let stride = usize::try_from(frame.plane_stride()[0]).map_err(|_| "negative stride")?;
    let plane = frame.plane_data(0).map_err(|e| e.to_string())?;
    let (w, h) = (info.width(), info.height());
    let stamp = wall_stamp(pipeline, sample, buffer);
    DepthImage::from_ros("16UC1", w, h, stride as u32, false, plane, stamp, seq).map_err(|e| e.to_string())
}
