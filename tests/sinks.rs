//! The file sinks on their own: an odd-sized annotated recording finalises and decodes back, and the
//! JSONL lines carry each command's result and its description's own stamp.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::Collector;
use pixel_sail::capture::{CaptureConfig, CaptureEnd, CaptureRunner};
use pixel_sail::decode::{bbox_of, rle_encode};
use pixel_sail::frame::{Description, Frame, FrameResult, Grounding, Location, Mask};
use pixel_sail::sink::{AnnotatedRecorder, JsonlWriter};

fn result(seq: u64, t0: SystemTime, w: u32, h: u32) -> FrameResult {
    let stamp = t0 + Duration::from_millis(33 * seq);
    let frame = Frame { seq, stamp, frame_id: "cam".into(), width: w, height: h, data: vec![90; (w * h * 3) as usize] };
    let mut mask = Mask { width: w, height: h, data: vec![0; (w * h) as usize] };
    for y in 10..40 {
        for x in 20..60 {
            mask.data[(y * w + x) as usize] = 1;
        }
    }
    let g = Grounding {
        command: "find the red circle".into(),
        found: true,
        score: 0.9,
        bbox: bbox_of(&mask),
        rle: rle_encode(&mask),
        mask: Arc::new(mask),
        description: Some(Description { text: "a large red circle".into(), stamp: t0, seq: 0 }),
        track_id: 0,
        location: Location::NoDepthInput,
    };
    FrameResult {
        camera: "camera0".into(),
        seq,
        stamp,
        frame_id: "cam".into(),
        frame: Arc::new(frame),
        groundings: vec![g],
        latency: Duration::from_millis(5),
    }
}

#[test]
fn odd_sized_recording_and_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let (video, jsonl) = (dir.path().join("odd.mp4"), dir.path().join("odd.jsonl"));
    let mut rec = AnnotatedRecorder::new(&video).unwrap();
    let mut lines = JsonlWriter::create(&jsonl).unwrap();
    let t0 = SystemTime::now();
    for seq in 0..6 {
        let r = result(seq, t0, 643, 481);
        rec.write(&r).unwrap();
        lines.write(&r).unwrap();
    }
    assert_eq!(rec.finish().unwrap(), 6);
    lines.finish().unwrap();

    let frames = Arc::new(Collector::default());
    let runner =
        CaptureRunner::start(CaptureConfig::new(video.to_str().unwrap()), Default::default(), frames.clone()).unwrap();
    assert!(frames.wait(Duration::from_secs(30), |_, closed| closed));
    assert_eq!(runner.stop(), CaptureEnd::EndOfStream);
    let got = frames.frames.lock().unwrap();
    assert_eq!(got.len(), 6, "every frame, the last one included");
    assert_eq!((got[0].frame.width, got[0].frame.height), (644, 482), "padded to even for 4:2:0 H.264");

    let text = std::fs::read_to_string(&jsonl).unwrap();
    let parsed: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(parsed.len(), 6);
    let r = &parsed[3]["results"][0];
    assert_eq!(parsed[3]["seq"], 3);
    assert_eq!(r["bbox"], serde_json::json!([20, 10, 60, 40]));
    assert_eq!(r["description"], "a large red circle");
    assert_eq!(r["description_seq"], 0);
    let (stamp, dstamp) = (parsed[3]["stamp"].as_f64().unwrap(), r["description_stamp"].as_f64().unwrap());
    assert!((stamp - dstamp - 0.099).abs() < 1e-3, "the description keeps its own frame's stamp");
    assert_eq!(r["rle"]["size"], serde_json::json!([481, 643]));
}

#[test]
fn unknown_extension_is_refused_before_any_frame() {
    let err = AnnotatedRecorder::new(std::path::Path::new("out.avi")).err().unwrap().to_string();
    assert!(err.contains("out.avi") && err.contains(".webm"), "{err}");
}
