//! What `--source` names, and the GStreamer launch description that opens it.
//!
//! Every description ends in an appsink named [`APPSINK_NAME`] (or, for a user-written one, in
//! whatever appsink the user put last). Capture sets that appsink's queueing itself, so the
//! descriptions here never mention `max-buffers`/`drop`/`sync`.

use std::path::Path;

use super::CaptureError;

/// Name of the appsink that capture appends to the pipelines it builds.
pub const APPSINK_NAME: &str = "pixelsail_sink";

/// The tail that turns any decoded video into RGB at the appsink.
const RGB_TAIL: &str = "videoconvert ! video/x-raw,format=RGB ! appsink name=pixelsail_sink";

/// How frames are paced out of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A camera or network stream: it does not wait for us, the newest frame wins.
    Live,
    /// A file: decoded as fast as the consumer takes frames (or at its own rate with `realtime`).
    File,
}

/// A parsed `--source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// What the user wrote, for messages.
    pub label: String,
    pub kind: SourceKind,
    /// GStreamer launch description ending in an appsink.
    pub launch: String,
    /// Deliver frames at their timestamps (appsink `sync`): an `http(s)://` URI may name a file,
    /// which would otherwise decode as fast as the CPU allows and drop nearly every frame.
    pub sync: bool,
}

impl SourceSpec {
    /// Recognises, in order: `test[:WxH[@FPS]]`, a V4L2 device, a launch description (has `!`),
    /// a URI (`file://`, `rtsp://`, `http(s)://` …), and finally a file path, which must exist.
    pub fn parse(source: &str) -> Result<Self, CaptureError> {
        let label = source.to_string();
        let bad = |reason: String| CaptureError::BadSource { name: label.clone(), reason };
        let source = source.trim();
        if source.is_empty() {
            return Err(bad("empty source".into()));
        }
        if source == "test" || source.starts_with("test:") {
            let (w, h, fps) =
                parse_test_geometry(source.strip_prefix("test:").unwrap_or("")).map_err(|reason| bad(reason.into()))?;
            let launch = format!(
                "videotestsrc is-live=true pattern=ball ! video/x-raw,width={w},height={h},framerate={fps}/1 ! {RGB_TAIL}"
            );
            return Ok(Self { label, kind: SourceKind::Live, launch, sync: false });
        }
        if source.starts_with("/dev/video") {
            // decodebin passes raw formats through and decodes MJPEG webcams.
            let launch = format!("v4l2src device={} ! decodebin ! {RGB_TAIL}", quote(source));
            return Ok(Self { label, kind: SourceKind::Live, launch, sync: false });
        }
        if source.contains('!') {
            let launch = if source.contains("appsink") { source.to_string() } else { format!("{source} ! {RGB_TAIL}") };
            return Ok(Self { label, kind: SourceKind::Live, launch, sync: false });
        }
        if let Some((scheme, _)) = source.split_once("://") {
            let kind = if scheme.eq_ignore_ascii_case("file") { SourceKind::File } else { SourceKind::Live };
            let sync = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
            let launch = format!("uridecodebin uri={} ! {RGB_TAIL}", quote(source));
            return Ok(Self { label, kind, launch, sync });
        }
        let path = Path::new(source);
        if !path.is_file() {
            return Err(bad("no such file (expected test, /dev/videoN, a URI, a file or a launch description)".into()));
        }
        let abs = std::fs::canonicalize(path).map_err(|e| bad(format!("cannot resolve path: {e}")))?;
        let uri = gst::glib::filename_to_uri(&abs, None).map_err(|e| bad(format!("cannot make a URI: {e}")))?;
        let launch = format!("uridecodebin uri={} ! {RGB_TAIL}", quote(&uri));
        Ok(Self { label, kind: SourceKind::File, launch, sync: false })
    }
}

/// `WxH@FPS`, `WxH`, or empty → 640×480 at 30 fps.
fn parse_test_geometry(spec: &str) -> Result<(u32, u32, u32), &'static str> {
    if spec.is_empty() {
        return Ok((640, 480, 30));
    }
    let (size, fps) = spec.split_once('@').unwrap_or((spec, "30"));
    let (w, h) = size.split_once('x').ok_or("test source geometry must look like test:640x480@30")?;
    let num = |s: &str| s.trim().parse::<u32>().ok().filter(|v| *v > 0);
    match (num(w), num(h), num(fps)) {
        (Some(w), Some(h), Some(fps)) => Ok((w, h, fps)),
        _ => Err("test source geometry must look like test:640x480@30 (positive integers)"),
    }
}

/// Quotes a property value for gst-launch syntax so spaces and `!` in paths survive.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_kind() {
        let t = SourceSpec::parse("test").unwrap();
        assert_eq!(t.kind, SourceKind::Live);
        assert!(t.launch.contains("width=640,height=480,framerate=30/1"));
        assert!(SourceSpec::parse("test:643x481@60").unwrap().launch.contains("width=643,height=481,framerate=60/1"));
        assert!(SourceSpec::parse("test:0x1").is_err());
        let v = SourceSpec::parse("/dev/video3").unwrap();
        assert!(v.launch.starts_with("v4l2src device=\"/dev/video3\""));
        let r = SourceSpec::parse("rtsp://cam.local/stream").unwrap();
        assert_eq!(r.kind, SourceKind::Live);
        assert!(r.launch.starts_with("uridecodebin uri=\"rtsp://cam.local/stream\""));
        assert_eq!(SourceSpec::parse("file:///tmp/x.webm").unwrap().kind, SourceKind::File);
    }

    #[test]
    fn launch_descriptions_keep_or_get_an_appsink() {
        let own = "videotestsrc ! videoconvert ! video/x-raw,format=RGB ! appsink name=mine";
        assert_eq!(SourceSpec::parse(own).unwrap().launch, own);
        let bare = SourceSpec::parse("videotestsrc ! identity").unwrap();
        assert!(bare.launch.ends_with("appsink name=pixelsail_sink"));
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = SourceSpec::parse("/nonexistent/clip.webm").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/clip.webm") && err.contains("no such file"), "{err}");
    }
}
