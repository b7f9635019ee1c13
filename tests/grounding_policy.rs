//! The grounding seam's policies on the real model: `--policy model` runs one vision pass per frame and nothing
//! around it, the published policy runs model.json's extra passes, and a model.json without a `vocabulary`
//! section runs the model alone and says so once. Vision passes are counted by the Grounder, not timed.

use std::path::{Path, PathBuf};
use std::process::Command;

use pixel_sail::cmd::load_frame;
use pixel_sail::config::{EngineConfig, PolicyKind};
use pixel_sail::grounding::Grounder;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const FRAME: &str = "tests/fixtures/tabletop_640x480.jpg";
/// Objects in the sample frame, small ones among them (the published policy looks closer at those).
const COMMANDS: [&str; 4] =
    ["pick up the green triangle", "grab the blue triangle", "find the red square", "where is the white circle?"];

fn grounder(policy: PolicyKind) -> Grounder {
    Grounder::load(&EngineConfig { policy, ..EngineConfig::new(root().join("models/tiny")) }).expect("the model loads")
}

#[test]
fn the_model_alone_runs_one_vision_pass_per_frame() {
    let frame = load_frame(&root().join(FRAME)).unwrap();
    let commands: Vec<String> = COMMANDS.iter().map(|c| c.to_string()).collect();
    let alone = grounder(PolicyKind::Model);
    assert_eq!(alone.policy().kind, PolicyKind::Model);
    for n in 1..=3 {
        let out = alone.segment_frame(&frame, &commands).unwrap();
        assert!(out.segments.iter().any(|s| s.found), "the sample frame's objects are found");
        assert!(out.refined.iter().all(Option::is_none));
        assert!(out.checks.iter().all(Option::is_none));
        assert_eq!(alone.vision_passes(), n, "one vision pass per frame");
    }
    // the published policy on the same frame: the closer passes run, each one counted
    let published = grounder(PolicyKind::Published);
    let out = published.segment_frame(&frame, &commands).unwrap();
    let extra = out.refined.iter().flatten().count() + out.checks.iter().flatten().count();
    assert!(extra > 0, "the sample frame has small found objects to look at closer");
    assert_eq!(published.vision_passes(), 1 + extra as u64, "first pass + one per closer pass");
    assert_eq!(published.extra_pass_failures(), 0);
}

#[test]
fn the_model_alone_describes_from_its_first_pass() {
    let frame = load_frame(&root().join(FRAME)).unwrap();
    let alone = grounder(PolicyKind::Model);
    let vp = pixel_sail::frame::VisualPrompt::Point { x: 337.0, y: 332.0 }; // the small red square
    let answer = alone.describe_region(&frame, &vp, 16).unwrap();
    assert!(answer.close_look.is_none(), "no closer look");
    assert_eq!(alone.vision_passes(), 1);
    let published = grounder(PolicyKind::Published);
    let answer = published.describe_region(&frame, &vp, 16).unwrap();
    assert!(answer.close_look.is_some(), "the published policy looks closer at a small region");
    assert_eq!(published.vision_passes(), 2);
}

/// The shipped model with model.json's `vocabulary` section removed (the graphs linked, not copied).
fn model_without_vocabulary(dir: &Path) {
    let model = root().join("models/tiny");
    for e in std::fs::read_dir(&model).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "model.json" {
            std::os::unix::fs::symlink(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    let mut info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    info.as_object_mut().unwrap().remove("vocabulary").expect("the shipped model.json has a vocabulary");
    std::fs::write(dir.join("model.json"), info.to_string()).unwrap();
}

#[test]
fn a_model_json_without_vocabulary_runs_the_model_alone_and_says_so_once() {
    let model = tempfile::tempdir().unwrap();
    model_without_vocabulary(model.path());
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pixel-sail"))
        .current_dir(root())
        .env_remove("RUST_LOG")
        .args(["infer", "--image", FRAME, "--json", "--describe", "--model"])
        .arg(model.path())
        .args(COMMANDS.iter().flat_map(|c| ["--prompt", c]))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("no `vocabulary` section").count(), 1, "said once: {err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["policy"], "model", "{v}");
    let found = v["commands"].as_array().unwrap().iter().filter(|c| c["found"] == true).count() as u64;
    assert!(found > 0);
    assert_eq!(v["vision_passes"], 1 + found, "one pass for the frame, one per described object: {v}");
}

#[test]
fn the_node_runs_the_policy_its_parameter_names() {
    let run = |policy: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_pixel-sail"))
            .current_dir(root())
            .env("RUST_LOG", "info,ros2_client=error,rustdds=error")
            .env("ROS_DOMAIN_ID", (200 + std::process::id() % 30).to_string())
            .args(["run", "--no-progress", "--source", "test:64x48@10", "--max-frames", "2", "--prompt", "red star"])
            .args(["--ros-args", "-p", &format!("policy:={policy}")])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        err
    };
    let alone = run("model");
    assert!(alone.contains("policy model (one pass)"), "-p policy:=model runs the model alone: {alone}");
    let published = run("published");
    assert!(published.contains("policy published (mask_refine"), "the shipped policy's parts: {published}");
}
