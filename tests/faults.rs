//! Faults `pixel-sail run` must survive, end to end with the real engine (models/tiny) and real
//! GStreamer: Ctrl-C or SIGTERM while recording (what launch systems and `docker stop` send) finalises the video and
//! leaves the JSONL on a whole line; a full disk under `--jsonl` or `--record` is one clear error while the
//! rest of the pipeline goes on.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{count_frames, jsonl_lines, wait_exit};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn pixel_sail() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixel-sail"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--no-ros", "--no-progress", "--model"])
        .arg(repo("models/tiny"))
        .args(["--prompt", "find the red circle"]);
    cmd
}

/// Stops a live recording run with `signal` once it has written a few results, and checks the stop was in
/// order: exit 0, the reason logged, the JSONL on a whole line, the video playable with every frame.
fn stop_a_recording_with(signal: &str, reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    // MP4 is only playable once the muxer wrote its index at EOS, so a killed recording would not decode.
    let (video, jsonl) = (dir.path().join("live.mp4"), dir.path().join("live.jsonl"));
    let mut child = pixel_sail()
        .args(["--source", "test:320x240@30"])
        .arg("--record")
        .arg(&video)
        .arg("--jsonl")
        .arg(&jsonl)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(120);
    while jsonl_lines(&jsonl).len() < 3 {
        assert!(Instant::now() < until, "no results from the live run");
        assert!(child.try_wait().unwrap().is_none(), "pixel-sail exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
    let status = wait_exit(&mut child, Duration::from_secs(60));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains(&format!("stopping: {reason}")), "{stderr}");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(text.ends_with('\n'), "the JSONL ends on a whole line");
    let lines = jsonl_lines(&jsonl);
    assert_eq!(count_frames(&video), lines.len(), "the video plays and holds every frame the JSONL names");
}

#[test]
fn ctrl_c_stops_in_order_and_finalises_the_files() {
    stop_a_recording_with("-INT", "interrupted");
}

#[test]
fn sigterm_while_recording_finalises_the_video_and_ends_the_jsonl_on_a_whole_line() {
    stop_a_recording_with("-TERM", "terminated");
}

/// Runs 40 frames of a test source with one output on a full disk (a link to /dev/full, where every write
/// fails with ENOSPC) and the other on a real file.
fn run_with_full_disk(full: &str) -> (Output, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (full_name, good_name, other) =
        if full == "--jsonl" { ("full.jsonl", "ok.webm", "--record") } else { ("full.webm", "ok.jsonl", "--jsonl") };
    let full_path = dir.path().join(full_name);
    std::os::unix::fs::symlink("/dev/full", &full_path).unwrap();
    let good = dir.path().join(good_name);
    let out = pixel_sail()
        .args(["--source", "test:320x240@30", "--max-frames", "40"])
        .arg(full)
        .arg(&full_path)
        .arg(other)
        .arg(&good)
        .output()
        .unwrap();
    (out, good, dir)
}

fn assert_one_clear_error(out: &Output, sink: &str, path: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failed output is reported in the exit status: {stderr}");
    let at_once: Vec<&str> = stderr.lines().filter(|l| l.contains("this output stops here")).collect();
    assert_eq!(at_once.len(), 1, "one error when the output fails, not one per frame: {stderr}");
    assert!(at_once[0].contains(path) && at_once[0].contains(sink), "{}", at_once[0]);
    assert!(at_once[0].to_lowercase().contains("no space left"), "the error says the disk is full: {}", at_once[0]);
}

#[test]
fn full_disk_under_jsonl_is_one_error_and_recording_goes_on() {
    let (out, video, _dir) = run_with_full_disk("--jsonl");
    assert_one_clear_error(&out, "jsonl", "full.jsonl");
    // `--max-frames` stops after at least 40 results (one may finish while the limit is seen).
    assert!(count_frames(&video) >= 40, "the video got every frame while the JSONL had failed");
}

#[test]
fn full_disk_under_record_is_one_error_and_the_jsonl_goes_on() {
    let (out, jsonl, _dir) = run_with_full_disk("--record");
    assert_one_clear_error(&out, "video", "full.webm");
    assert!(jsonl_lines(Path::new(&jsonl)).len() >= 40, "the JSONL got every frame while the video had failed");
}
