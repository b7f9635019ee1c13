//! One running GStreamer pipeline that ends in an appsink, pulled from our own thread.
//!
//! Frames are pulled with `try_pull_sample` on the capture thread (never in a GStreamer streaming
//! callback), converted to tight RGB, and stamped with the buffer's running time mapped through the
//! pipeline's base time and clock onto wall-clock time — the moment the camera delivered the frame,
//! not the moment we got round to pulling it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use gst::prelude::*;
use gst_video::prelude::*;

use super::convert::{ACCEPTED_FORMATS, to_tight_rgb};
use super::source::{APPSINK_NAME, SourceKind, SourceSpec};
use super::{CaptureError, CapturedFrame};
use crate::frame::Frame;

/// What one pull produced.
#[derive(Debug)]
pub enum Pulled {
    Frame(CapturedFrame),
    /// Nothing within the timeout (the source is slow or stalled).
    Idle,
    /// End of stream.
    Eos,
}

/// Queueing at the appsink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Keep one buffer, drop older ones; never block the source (cameras, `--realtime` files).
    NewestWins,
    /// Keep one buffer and block the decoder until it is taken (files: every frame is processed).
    EveryFrame,
}

pub struct GstCapture {
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    label: String,
    frame_id: String,
    /// A sample pulled while checking that the source starts; handed out first.
    pending: Option<gst::Sample>,
    /// PTS of the previous frame, to count frames lost before us (appsink drops, decoder skips).
    last_pts: Option<gst::ClockTime>,
    lost: u64,
}

impl GstCapture {
    /// Builds and starts the pipeline, and waits until the first frame arrives, so that a source that
    /// cannot start is reported here with GStreamer's own message. Setting `stop` ends the wait early
    /// (a camera that accepts the connection but never sends must not hold up shutdown).
    pub fn open(
        spec: &SourceSpec,
        pacing: Pacing,
        realtime: bool,
        frame_id: &str,
        startup_timeout: Duration,
        stop: &AtomicBool,
    ) -> Result<Self, CaptureError> {
        gst::init().map_err(|e| CaptureError::Init(e.to_string()))?;
        let start_err = |message: String| CaptureError::Start { name: spec.label.clone(), message };
        let element = gst::parse::launch(&spec.launch).map_err(|e| start_err(e.to_string()))?;
        let pipeline = element
            .downcast::<gst::Pipeline>()
            .map_err(|_| start_err("the launch description must hold a source and an appsink".into()))?;
        let appsink =
            find_appsink(&pipeline).ok_or_else(|| start_err("the launch description has no appsink".into()))?;
        lower_network_latency(&pipeline);
        appsink.set_max_buffers(1);
        appsink.set_drop(pacing == Pacing::NewestWins);
        // Live sources are already paced by the camera; files only when asked to play in real time.
        appsink.set_sync(spec.sync || (spec.kind == SourceKind::File && realtime));
        let mut capture = Self {
            pipeline,
            appsink,
            label: spec.label.clone(),
            frame_id: frame_id.to_string(),
            pending: None,
            last_pts: None,
            lost: 0,
        };
        if capture.pipeline.set_state(gst::State::Playing).is_err() {
            let message = capture.bus_error().unwrap_or_else(|| "the pipeline refused to start".into());
            return Err(start_err(message));
        }
        capture.wait_first_sample(startup_timeout, stop).map_err(start_err)?;
        tracing::info!(source = %spec.label, "capture started");
        Ok(capture)
    }

    fn wait_first_sample(&mut self, timeout: Duration, stop: &AtomicBool) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if stop.load(Ordering::SeqCst) {
                return Err("stopped before the first frame".into());
            }
            // A frame that arrived means the source started, even when an error follows at once (that
            // error comes back from the next pull): checking the bus first would make it a race.
            if let Some(sample) = self.appsink.try_pull_sample(gst::ClockTime::ZERO) {
                self.pending = Some(sample);
                return Ok(());
            }
            if let Some(message) = self.bus_error() {
                return Err(message);
            }
            if let Some(sample) = self.appsink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
                self.pending = Some(sample);
                return Ok(());
            }
            if self.appsink.is_eos() {
                return Err("the stream ended before the first frame".into());
            }
            if Instant::now() >= deadline {
                return Err(format!("no frame within {:.1} s", timeout.as_secs_f64()));
            }
        }
    }

    /// Pulls the next frame, waiting at most `timeout`. Stream errors from the bus come back as
    /// `CaptureError::Stream`; conversion problems as `CaptureError::Frame` (per-frame, recoverable).
    pub fn pull(&mut self, seq: u64, timeout: Duration) -> Result<Pulled, CaptureError> {
        if let Some(message) = self.bus_error() {
            return Err(CaptureError::Stream { name: self.label.clone(), message });
        }
        let sample = match self.pending.take() {
            Some(sample) => sample,
            None => match self.appsink.try_pull_sample(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64)) {
                Some(sample) => sample,
                None if self.appsink.is_eos() => {
                    // A failing source also sends EOS; the error on the bus is the real news.
                    if let Some(message) = self.bus_error() {
                        return Err(CaptureError::Stream { name: self.label.clone(), message });
                    }
                    return Ok(Pulled::Eos);
                }
                None => return Ok(Pulled::Idle),
            },
        };
        let pulled_at = Instant::now();
        self.count_gap(&sample);
        let frame = self.frame_from_sample(&sample, seq)?;
        Ok(Pulled::Frame(CapturedFrame { frame, pulled_at }))
    }

    fn frame_from_sample(&self, sample: &gst::Sample, seq: u64) -> Result<Frame, CaptureError> {
        let bad = |reason: String| CaptureError::Frame { seq, reason };
        let caps = sample.caps().ok_or_else(|| bad("sample without caps".into()))?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| bad(format!("caps {caps}: {e}")))?;
        if !ACCEPTED_FORMATS.contains(&info.format()) {
            return Err(bad(format!(
                "appsink delivers {:?}; end the description with `videoconvert ! video/x-raw,format=RGB ! appsink`",
                info.format()
            )));
        }
        let buffer = sample.buffer().ok_or_else(|| bad("sample without buffer".into()))?;
        let vframe = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
            .map_err(|e| bad(format!("cannot map buffer: {e}")))?;
        let stride = usize::try_from(vframe.plane_stride()[0]).map_err(|_| bad("negative stride".into()))?;
        let plane = vframe.plane_data(0).map_err(|e| bad(e.to_string()))?;
        let data =
            to_tight_rgb(info.format(), plane, stride, info.width(), info.height()).map_err(|e| bad(e.to_string()))?;
        Ok(Frame {
            seq,
            stamp: self.stamp_of(sample, buffer),
            frame_id: self.frame_id.clone(),
            width: info.width(),
            height: info.height(),
            data,
        })
    }

    /// Frames missing between this buffer and the previous one, judged by PTS and frame duration
    /// (a gap of more than 1.5 frame durations): the appsink dropped them or the source skipped them.
    fn count_gap(&mut self, sample: &gst::Sample) {
        let Some(buffer) = sample.buffer() else { return };
        let (Some(pts), Some(duration)) = (buffer.pts(), buffer.duration()) else { return };
        if let Some(last) = self.last_pts.replace(pts)
            && duration.nseconds() > 0
            && pts > last
        {
            let gap = (pts - last).nseconds() as f64 / duration.nseconds() as f64;
            if gap > 1.5 {
                self.lost += gap.round() as u64 - 1;
            }
        }
    }

    /// Frames lost before capture since the last call.
    pub fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }

    fn stamp_of(&self, sample: &gst::Sample, buffer: &gst::BufferRef) -> SystemTime {
        wall_stamp(&self.pipeline, sample, buffer)
    }

    /// Seeks back to the start after EOS (`--loop`).
    pub fn rewind(&mut self) -> Result<(), CaptureError> {
        self.last_pts = None;
        self.pipeline
            .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, gst::ClockTime::ZERO)
            .map_err(|e| CaptureError::Stream { name: self.label.clone(), message: format!("cannot loop: {e}") })
    }

    /// The first error waiting on the bus, formatted for people (warnings are logged and skipped).
    fn bus_error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Warning]) {
            match msg.view() {
                gst::MessageView::Error(err) => {
                    let from = err.src().map(|s| s.name().to_string()).unwrap_or_default();
                    let debug = err.debug().map(|d| format!(" ({d})")).unwrap_or_default();
                    return Some(format!("{from}: {}{debug}", err.error()));
                }
                gst::MessageView::Warning(w) => {
                    tracing::warn!(source = %self.label, "GStreamer warning: {}", w.error());
                }
                _ => {}
            }
        }
        None
    }

    /// Stops the pipeline (state NULL), releasing the device or file.
    pub fn stop(&mut self) {
        if let Err(e) = self.pipeline.set_state(gst::State::Null) {
            tracing::warn!(source = %self.label, "stopping the pipeline failed: {e}");
        }
    }
}

impl Drop for GstCapture {
    fn drop(&mut self) {
        self.stop();
    }
}

/// rtspsrc buffers 2 s by default, far too long for a robot: uridecodebin's RTSP sources get
/// [`RTSP_LATENCY_MS`] of jitter buffer and drop what arrives later than that.
fn lower_network_latency(pipeline: &gst::Pipeline) {
    for decodebin in pipeline.iterate_all_by_element_factory_name("uridecodebin").into_iter().filter_map(Result::ok) {
        decodebin.connect("source-setup", false, |args| {
            let source = args.get(1).and_then(|v| v.get::<gst::Element>().ok())?;
            if source.has_property_with_type("latency", u32::static_type()) && source.has_property("drop-on-latency") {
                source.set_property("latency", RTSP_LATENCY_MS);
                source.set_property("drop-on-latency", true);
                tracing::debug!(latency_ms = RTSP_LATENCY_MS, "network source latency lowered");
            }
            None
        });
    }
}

/// Jitter buffer for RTSP sources, in milliseconds.
pub const RTSP_LATENCY_MS: u32 = 200;

/// The appsink capture reads: ours by name, else the last appsink in the user's description.
/// Buffer PTS → running time (segment) → clock time (+ base time) → wall clock: when the source
/// delivered the buffer (now, when the buffer carries no time).
pub fn wall_stamp(pipeline: &gst::Pipeline, sample: &gst::Sample, buffer: &gst::BufferRef) -> SystemTime {
    let now_wall = SystemTime::now();
    let running = buffer.pts().and_then(|pts| {
        let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
        segment.to_running_time(pts)
    });
    let (Some(running), Some(base), Some(clock)) = (running, pipeline.base_time(), pipeline.clock()) else {
        return now_wall;
    };
    let frame_clock = Duration::from_nanos((base + running).nseconds());
    let now_clock = Duration::from_nanos(clock.time().nseconds());
    match now_clock.checked_sub(frame_clock) {
        Some(age) => now_wall.checked_sub(age).unwrap_or(now_wall),
        None => now_wall + (frame_clock - now_clock),
    }
}

/// The pipeline's appsink: the one named [`APPSINK_NAME`], else the last one.
pub fn find_appsink(pipeline: &gst::Pipeline) -> Option<gst_app::AppSink> {
    if let Some(sink) = pipeline.by_name(APPSINK_NAME).and_then(|e| e.downcast::<gst_app::AppSink>().ok()) {
        return Some(sink);
    }
    pipeline
        .iterate_all_by_element_factory_name("appsink")
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.downcast::<gst_app::AppSink>().ok())
        .last()
}
