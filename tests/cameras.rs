//! Several cameras served by one model, end to end with the real engine (models/tiny) and real GStreamer
//! sources: each camera's results stay its own (content, size, frame numbers, frame_id, recorded video), and
//! a camera that dies leaves the others running.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use common::{count_frames, jsonl_lines};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn pixel_sail() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixel-sail"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--no-ros", "--no-progress", "--no-describe", "--model"])
        .arg(repo("models/tiny"));
    cmd
}

/// A live camera looking at a plain grey wall: nothing any command names is there.
const GREY_WALL: &str = "videotestsrc is-live=true pattern=solid-color foreground-color=0xff808080 \
                         ! video/x-raw,width=320,height=240,framerate=30/1";

fn by_camera(lines: &[serde_json::Value]) -> HashMap<String, Vec<&serde_json::Value>> {
    let mut out: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
    for line in lines {
        out.entry(line["camera"].as_str().expect("each line names its camera").to_owned()).or_default().push(line);
    }
    out
}

fn found(line: &serde_json::Value) -> usize {
    line["results"].as_array().unwrap().iter().filter(|r| r["found"] == true).count()
}

#[test]
fn two_cameras_with_different_content_get_their_own_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (jsonl, video) = (dir.path().join("all.jsonl"), dir.path().join("wall.webm"));
    let out = pixel_sail()
        .arg("--source")
        .arg(format!("table={}", repo("models/sample/tabletop.webm").display()))
        .arg("--source")
        .arg(format!("wall={GREY_WALL}"))
        .args(["--prompts-file", "models/sample/commands.txt", "--max-frames", "6"])
        .arg("--jsonl")
        .arg(&jsonl)
        .arg("--record")
        .arg(format!("wall={}", video.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run failed: {stderr}");
    let lines = jsonl_lines(&jsonl);
    let cameras = by_camera(&lines);
    let (table, wall) = (&cameras["table"], &cameras["wall"]);
    assert_eq!(cameras.len(), 2, "{:?}", cameras.keys());
    assert!(table.len() >= 3 && wall.len() >= 3, "both cameras are served: table {}, wall {}", table.len(), wall.len());
    for (k, line) in table.iter().enumerate() {
        assert_eq!((line["width"].as_u64(), line["height"].as_u64()), (Some(640), Some(480)), "the clip's size");
        assert_eq!(line["seq"], k as u64, "the file is read frame by frame, its own numbering");
        assert_eq!(line["frame_id"], "table", "several cameras: frame_id is the camera's name");
        assert_eq!(line["results"].as_array().unwrap().len(), 4, "one entry per command");
    }
    for line in wall {
        assert_eq!((line["width"].as_u64(), line["height"].as_u64()), (Some(320), Some(240)), "the wall's size");
        assert_eq!(line["frame_id"], "wall");
        assert_eq!(found(line), 0, "nothing is found on a grey wall: {line}");
    }
    assert!(table.iter().all(|l| found(l) >= 2), "the table's objects are found on every frame of its clip");
    assert_eq!(count_frames(&video), wall.len(), "--record wall=FILE records the wall camera, every result");
}

#[test]
fn a_camera_that_dies_leaves_the_others_running() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("all.jsonl");
    // `dying` delivers 10 frames, then its stream ends; with no retry left, capture gives up on it.
    let out = pixel_sail()
        .args(["--source", "live=test:160x120@15"])
        .arg("--source")
        .arg("dying=videotestsrc is-live=true num-buffers=10 ! video/x-raw,width=160,height=120,framerate=15/1")
        .args(["--prompt", "the red circle", "--retry-attempts", "0", "--duration-secs", "5"])
        .arg("--jsonl")
        .arg(&jsonl)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a camera that gave up is reported in the exit status");
    assert!(stderr.contains("camera dying") && stderr.contains("gave up"), "the failed camera is named: {stderr}");
    let lines = jsonl_lines(&jsonl);
    let cameras = by_camera(&lines);
    let (live, dying) = (&cameras["live"], &cameras["dying"]);
    assert!(!dying.is_empty() && dying.len() <= 10, "dying: {} results", dying.len());
    let died_at = dying.iter().map(|l| l["stamp"].as_f64().unwrap()).fold(0.0, f64::max);
    let after = live.iter().filter(|l| l["stamp"].as_f64().unwrap() > died_at + 1.0).count();
    assert!(after >= 5, "the live camera goes on after the other died: {after} results more than 1 s later");
    let seqs: Vec<u64> = live.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "the live camera's own numbering, increasing: {seqs:?}");
}
