//! Annotated video file: appsrc → videoconvert → I420 → encoder → muxer → filesink, chosen by the
//! file extension (.webm: VP8/WebM, .mp4: H.264/MP4, .mkv: H.264/Matroska).
//!
//! I420 is forced before the encoder because x264enc otherwise picks 4:4:4 10-bit, which most
//! players cannot decode; frames are padded to even sizes because 4:2:0 H.264 needs them. Buffer
//! times are the capture stamps relative to the first frame, so dropped frames show as held frames.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use gst::prelude::*;

use super::SinkError;
use crate::frame::FrameResult;

pub struct VideoWriter {
    path: PathBuf,
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    width: u32,
    height: u32,
    /// Size the encoder gets (even).
    out_width: u32,
    out_height: u32,
    first_stamp: SystemTime,
    last_pts: Option<Duration>,
    /// The newest frame, waiting for its successor to fix its duration.
    held: Option<(Vec<u8>, Duration)>,
    last_duration: Duration,
    frames: u64,
}

/// Encoder + muxer for a file name.
fn encoder_for(path: &Path) -> Result<&'static str, SinkError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("webm") => Ok("vp8enc deadline=1 cpu-used=8 target-bitrate=2000000 keyframe-max-dist=60 ! webmmux"),
        Some("mp4") => {
            Ok("x264enc speed-preset=ultrafast tune=zerolatency bitrate=2000 key-int-max=60 ! h264parse ! mp4mux")
        }
        Some("mkv") => {
            Ok("x264enc speed-preset=ultrafast tune=zerolatency bitrate=2000 key-int-max=60 ! h264parse ! matroskamux")
        }
        _ => Err(SinkError::Unsupported(format!("{}: use .webm (VP8), .mp4 or .mkv (H.264)", path.display()))),
    }
}

impl VideoWriter {
    /// Checks the extension early (before any frame), so a bad `--record` is a startup error.
    pub fn check_path(path: &Path) -> Result<(), SinkError> {
        encoder_for(path).map(|_| ())
    }

    /// Starts the encoding pipeline for frames of this size.
    pub fn create(path: &Path, width: u32, height: u32, first_stamp: SystemTime) -> Result<Self, SinkError> {
        gst::init().map_err(|e| SinkError::Gst(e.to_string()))?;
        super::ensure_parent(path)?;
        let encoder = encoder_for(path)?;
        let (out_width, out_height) = (width + width % 2, height + height % 2);
        // Buffers carry their real capture times; the caps' 30/1 is only nominal (with 0/1,
        // mp4mux lost the final sample). An unbuffered filesink writes as the muxer produces, so a full
        // disk shows at the frame it happens rather than at the end.
        let location = path.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
        let launch = format!(
            "appsrc name=src format=time is-live=false block=true max-bytes={} \
             caps=video/x-raw,format=RGB,width={out_width},height={out_height},framerate=30/1 \
             ! videoconvert ! video/x-raw,format=I420 ! {encoder} ! filesink buffer-mode=unbuffered location=\"{location}\"",
            out_width as u64 * out_height as u64 * 3 * 4,
        );
        let gst_err = |e: String| SinkError::Gst(format!("{}: {e}", path.display()));
        let pipeline = gst::parse::launch(&launch)
            .map_err(|e| gst_err(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| gst_err("not a pipeline".into()))?;
        let appsrc = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| gst_err("no appsrc".into()))?;
        pipeline.set_state(gst::State::Playing).map_err(|e| gst_err(e.to_string()))?;
        tracing::info!(path = %path.display(), width, height, "recording annotated video");
        Ok(Self {
            path: path.to_path_buf(),
            pipeline,
            appsrc,
            width,
            height,
            out_width,
            out_height,
            first_stamp,
            last_pts: None,
            held: None,
            last_duration: Duration::from_millis(33),
            frames: 0,
        })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Encodes one annotated RGB frame (exactly `size()`), stamped with its capture time.
    pub fn write(&mut self, rgb: &[u8], stamp: SystemTime) -> Result<(), SinkError> {
        let mut pts = stamp.duration_since(self.first_stamp).unwrap_or_default();
        // Keep times strictly increasing (a loop or a reopened source may step back).
        if let Some(last) = self.last_pts.filter(|last| pts <= *last) {
            pts = last + Duration::from_millis(1);
        }
        self.last_pts = Some(pts);
        let data = pad_even(rgb, self.width, self.height, self.out_width, self.out_height);
        // Each frame is held until the next one arrives so its duration is known: MP4 drops a
        // final sample that has no duration.
        if let Some((prev, prev_pts)) = self.held.replace((data, pts)) {
            self.push(prev, prev_pts, pts - prev_pts)?;
        }
        Ok(())
    }

    fn push(&mut self, data: Vec<u8>, pts: Duration, duration: Duration) -> Result<(), SinkError> {
        let mut buffer = gst::Buffer::from_mut_slice(data);
        let b = buffer.make_mut();
        b.set_pts(gst::ClockTime::from_nseconds(pts.as_nanos() as u64));
        b.set_duration(gst::ClockTime::from_nseconds(duration.as_nanos() as u64));
        self.appsrc.push_buffer(buffer).map_err(|e| {
            SinkError::Gst(format!("{}: encoder refused a frame ({e:?}){}", self.path.display(), self.bus_error()))
        })?;
        // A failed write downstream (a full disk) shows on the bus, not in push_buffer: stop at the first.
        let failed = self.bus_error();
        if !failed.is_empty() {
            return Err(SinkError::Gst(format!("{}{failed}", self.path.display())));
        }
        self.last_duration = duration;
        self.frames += 1;
        Ok(())
    }

    /// Sends EOS and waits until the muxer has finalised the file.
    pub fn finish(mut self) -> Result<u64, SinkError> {
        if let Some((data, pts)) = self.held.take() {
            let duration = self.last_duration;
            self.push(data, pts, duration)?;
        }
        let _ = self.appsrc.end_of_stream();
        let bus = self.pipeline.bus().ok_or_else(|| SinkError::Gst("pipeline without bus".into()))?;
        let outcome = match bus
            .timed_pop_filtered(gst::ClockTime::from_seconds(30), &[gst::MessageType::Eos, gst::MessageType::Error])
        {
            Some(msg) => match msg.view() {
                gst::MessageView::Error(e) => Err(SinkError::Gst(format!("{}: {}", self.path.display(), e.error()))),
                _ => Ok(self.frames),
            },
            None => Err(SinkError::Gst(format!("{}: the encoder did not finish within 30 s", self.path.display()))),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        if outcome.is_ok() {
            tracing::info!(path = %self.path.display(), frames = self.frames, "annotated video written");
        }
        outcome
    }

    fn bus_error(&self) -> String {
        self.pipeline
            .bus()
            .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]))
            .and_then(|msg| match msg.view() {
                gst::MessageView::Error(e) => Some(format!(": {}", e.error())),
                _ => None,
            })
            .unwrap_or_default()
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Copies a WxH RGB image into an even-sized one, repeating the last column/row.
fn pad_even(rgb: &[u8], w: u32, h: u32, ow: u32, oh: u32) -> Vec<u8> {
    if (w, h) == (ow, oh) || w == 0 || h == 0 {
        return rgb.to_vec();
    }
    let (w, h, ow, oh) = (w as usize, h as usize, ow as usize, oh as usize);
    let mut out = Vec::with_capacity(ow * oh * 3);
    for y in 0..oh {
        let row = &rgb[y.min(h - 1) * w * 3..][..w * 3];
        out.extend_from_slice(row);
        for _ in w..ow {
            out.extend_from_slice(&row[(w - 1) * 3..]);
        }
    }
    out
}

/// Writes annotated results into a video, creating the encoder on the first frame.
pub struct AnnotatedRecorder {
    path: PathBuf,
    writer: Option<VideoWriter>,
    skipped: u64,
}

impl AnnotatedRecorder {
    pub fn new(path: &Path) -> Result<Self, SinkError> {
        VideoWriter::check_path(path)?;
        Ok(Self { path: path.to_path_buf(), writer: None, skipped: 0 })
    }

    pub fn write(&mut self, result: &FrameResult) -> Result<(), SinkError> {
        let (w, h) = (result.frame.width, result.frame.height);
        if self.writer.is_none() {
            self.writer = Some(VideoWriter::create(&self.path, w, h, result.stamp)?);
        }
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        if writer.size() != (w, h) {
            // A source reopened at another size: the file keeps its first size.
            self.skipped += 1;
            tracing::debug!(seq = result.seq, "frame of another size not recorded");
            return Ok(());
        }
        writer.write(&super::annotate(result), result.stamp)
    }

    /// Finalises the file; returns the frames written.
    pub fn finish(self) -> Result<u64, SinkError> {
        if self.skipped > 0 {
            tracing::warn!(skipped = self.skipped, "frames of a different size were not recorded");
        }
        match self.writer {
            Some(w) => w.finish(),
            None => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_odd_sizes_by_repeating_edges() {
        let rgb: Vec<u8> = (0..9).map(|v| v as u8).collect(); // 3x1 RGB
        let out = pad_even(&rgb, 3, 1, 4, 2);
        assert_eq!(out.len(), 4 * 2 * 3);
        assert_eq!(&out[9..12], &rgb[6..9]);
        assert_eq!(&out[12..24], &out[0..12]);
    }

    #[test]
    fn extension_picks_the_encoder() {
        assert!(VideoWriter::check_path(Path::new("a.webm")).is_ok());
        assert!(VideoWriter::check_path(Path::new("a.MP4")).is_ok());
        assert!(VideoWriter::check_path(Path::new("a.avi")).is_err());
    }
}
