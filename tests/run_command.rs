//! `pixel-sail run` end to end with the real engine (models/tiny): the sample clip into an annotated
//! video and JSONL, commands that change while running, and a source that cannot start. Stopping on a
//! signal and a full disk are in tests/faults.rs.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{count_frames, jsonl_lines, make_clip, wait_exit};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn pixel_sail() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixel-sail"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--no-ros", "--no-progress", "--model"])
        .arg(repo("models/tiny"));
    cmd
}

#[test]
fn sample_clip_to_annotated_video_and_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo("models/sample/tabletop.webm");
    let source = if sample.is_file() {
        sample
    } else {
        let clip = dir.path().join("clip.webm");
        make_clip(&clip, 12, 320, 240);
        clip
    };
    let (video, jsonl) = (dir.path().join("out/annotated.webm"), dir.path().join("out/results.jsonl"));
    let out = pixel_sail()
        .arg("--source")
        .arg(&source)
        .args(["--prompts-file", "models/sample/commands.txt", "--max-frames", "4", "--describe-every-frames", "2"])
        .arg("--record")
        .arg(&video)
        .arg("--jsonl")
        .arg(&jsonl)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run failed: {stderr}");
    let lines = jsonl_lines(&jsonl);
    assert!(lines.len() >= 4, "{} lines", lines.len());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], i as u64, "a file is processed frame by frame");
        let results = line["results"].as_array().unwrap();
        assert_eq!(results.len(), 4, "one entry per command");
        for r in results {
            assert!(r["command"].is_string() && r["found"].is_boolean() && r["score"].is_number());
            assert_eq!(r["rle"]["size"], serde_json::json!([line["height"], line["width"]]));
        }
    }
    assert_eq!(count_frames(&video), lines.len(), "every result is a video frame");
}

/// The worker's descriptions, made between frames from each found command's published mask, say the place that
/// mask shows (model.json `wording.place_from_mask`) and are descriptions at all: the real model through the
/// whole node, checked against the masks of the frames the descriptions were made from.
#[test]
fn descriptions_name_the_place_of_the_mask_they_were_made_from() {
    use pixel_sail::grounding::{Vocabulary, place_of_mask};
    let vocab = Vocabulary::of_model(&repo("models/tiny")).unwrap().expect("the tiny model has a vocabulary");
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("results.jsonl");
    let out = pixel_sail()
        .arg("--source")
        .arg(repo("models/sample/tabletop.webm"))
        .args(["--prompts-file", "models/sample/commands.txt", "--max-frames", "16", "--describe-every-frames", "2"])
        .arg("--jsonl")
        .arg(&jsonl)
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    let lines = jsonl_lines(&jsonl);
    let mut checked = std::collections::BTreeSet::new();
    for line in &lines {
        for r in line["results"].as_array().unwrap() {
            let (Some(text), Some(seq)) = (r["description"].as_str(), r["description_seq"].as_u64()) else { continue };
            let command = r["command"].as_str().unwrap();
            let place = vocab.parse(text).unwrap_or_else(|| panic!("{command}: {text:?} is not a description")).place;
            let made_from = lines.iter().find(|l| l["seq"] == seq).expect("the described frame is in the JSONL");
            let published = made_from["results"].as_array().unwrap().iter().find(|x| x["command"] == command).unwrap();
            assert_eq!(published["found"], true, "{command}: only found objects are described");
            let rle: pixel_sail::frame::Rle = serde_json::from_value(published["rle"].clone()).unwrap();
            let mask = pixel_sail::decode::rle_decode(&rle).unwrap();
            assert_eq!(Some(place.as_str()), place_of_mask(&mask, &vocab), "{command} on frame {seq}: {text}");
            checked.insert((command.to_string(), seq));
        }
    }
    assert!(checked.len() >= 3, "descriptions were made and checked: {checked:?}");
}

#[test]
fn source_that_cannot_start_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.webm");
    std::fs::write(&bad, vec![0x1a; 4096]).unwrap();
    let out = pixel_sail().arg("--source").arg(&bad).args(["--prompt", "find the red circle"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(line.contains("corrupt.webm") && line.contains("cannot start"), "{line}");
}

#[test]
fn commands_change_while_running_from_the_file_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let (cmds, jsonl) = (dir.path().join("commands.txt"), dir.path().join("live.jsonl"));
    std::fs::write(&cmds, "# live commands\nfind the red circle\n").unwrap();
    let mut child = pixel_sail()
        .args(["--source", "test:160x120@30", "--stdin", "--no-describe", "--duration-secs", "600"])
        .arg("--prompts-file")
        .arg(&cmds)
        .arg("--jsonl")
        .arg(&jsonl)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let commands_of = |line: &serde_json::Value| -> Vec<String> {
        line["results"].as_array().unwrap().iter().map(|r| r["command"].as_str().unwrap().to_string()).collect()
    };
    let wait_for = |want: &[&str]| {
        let until = Instant::now() + Duration::from_secs(90);
        loop {
            if jsonl_lines(&jsonl).last().is_some_and(|l| commands_of(l) == want) {
                return;
            }
            assert!(Instant::now() < until, "commands never became {want:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(&["find the red circle"]);
    // The file is watched: rewriting it replaces the commands.
    std::thread::sleep(Duration::from_millis(1100)); // a new modification time on coarse clocks
    std::fs::write(&cmds, "grab the green cross\n").unwrap();
    wait_for(&["grab the green cross"]);
    // A stdin line replaces them again; `;` separates commands.
    let stdin = child.stdin.as_mut().unwrap();
    std::io::Write::write_all(stdin, b"find the blue square; where is the white triangle?\n").unwrap();
    wait_for(&["find the blue square", "where is the white triangle?"]);
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"\n").unwrap();
    wait_for(&[]);
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(wait_exit(&mut child, Duration::from_secs(60)).success());
}
