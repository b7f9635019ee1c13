//! The `pixel-sail` binary end to end: `infer` writes masks, overlay and JSON; start-up faults end with one
//! actionable line and a non-zero exit (missing ONNX Runtime, unloadable library, GPU provider, bad image).

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pixel-sail"));
    c.current_dir(root()).env_remove("ORT_DYLIB_PATH").env_remove("RUST_LOG").arg("-q");
    c
}

const FRAME: &str = "tests/fixtures/tabletop_640x480.jpg";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

/// Fails with exit code 1 and exactly one line on stderr that contains every `needle`.
fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
}

#[test]
fn infer_writes_masks_overlay_and_json() {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "infer",
            "--image",
            FRAME,
            "--prompt",
            "pick up the green triangle",
            "--prompt",
            "where is the yellow star?",
        ])
        .args(["--point", "50,225", "--describe", "--json", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json prints the result");
    assert_eq!(v["commands"].as_array().unwrap().len(), 2);
    assert_eq!(v["provider"], "cpu");
    assert_eq!(v["commands"][0]["rle"]["size"], serde_json::json!([480, 640]));
    assert!(v["region"]["description"].is_string());
    for f in ["mask_1.png", "mask_2.png", "region_mask.png", "overlay.png", "result.json"] {
        assert!(out.path().join(f).is_file(), "{f} written");
    }
    let mask = image::open(out.path().join("mask_1.png")).unwrap();
    assert_eq!(mask.color(), image::ColorType::L8);
    assert!(mask.to_luma8().pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
    let overlay = image::open(out.path().join("overlay.png")).unwrap();
    assert_eq!((overlay.width(), overlay.height()), (640, 480));
}

#[test]
fn sessions_get_the_cores_the_process_may_run_on() {
    // Confined to one CPU (taskset, a container's cpuset), each session runs one intra-op thread, not one per
    // core of the machine as ONNX Runtime's own default would.
    let o = Command::new("taskset")
        .args(["-c", "0"])
        .arg(env!("CARGO_BIN_EXE_pixel-sail"))
        .current_dir(root())
        .env_remove("ORT_DYLIB_PATH")
        .env("RUST_LOG", "pixel_sail=info")
        .env("NO_COLOR", "1")
        .args(["infer", "--image", FRAME, "--prompt", "find the red square"])
        .output()
        .expect("taskset (util-linux) runs");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let loads: Vec<&str> =
        err.lines().filter(|l| l.contains("loading model graph") && !l.contains("done in")).collect();
    assert_eq!(loads.len(), 3, "one line per graph: {err}");
    assert!(loads.iter().all(|l| l.ends_with("threads=1")), "{loads:#?}");
}

#[test]
fn ort_dylib_path_pointing_nowhere() {
    let o = bin()
        .env("ORT_DYLIB_PATH", "/nowhere/libonnxruntime.so.1.31.1")
        .args(["infer", "--image", FRAME, "--prompt", "x"])
        .output()
        .unwrap();
    assert_one_line_error(&o, &["/nowhere/libonnxruntime.so.1.31.1", "does not exist", "ORT_DYLIB_PATH", "1.31.1"]);
}

#[test]
fn library_that_is_not_onnx_runtime() {
    let o = bin().args(["infer", "--image", FRAME, "--prompt", "x", "--ort-lib", "Cargo.toml"]).output().unwrap();
    assert_one_line_error(&o, &["cannot load ONNX Runtime from", "Cargo.toml", ">= 1.17"]);
}

#[test]
fn no_library_anywhere_names_the_places_searched() {
    // A copy of the binary outside the repository finds no .venv next to it or in the working directory.
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("pixel-sail");
    std::fs::copy(env!("CARGO_BIN_EXE_pixel-sail"), &exe).unwrap();
    let image = root().join(FRAME);
    let model = root().join("models/tiny");
    let o = Command::new(&exe)
        .current_dir(dir.path())
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("VIRTUAL_ENV")
        .env("HOME", dir.path())
        .args(["-q", "infer", "--prompt", "x", "--image"])
        .arg(&image)
        .arg("--model")
        .arg(&model)
        .output()
        .unwrap();
    assert_one_line_error(
        &o,
        &[
            "ONNX Runtime library not found",
            &dir.path().join(".venv/lib").display().to_string(),
            "scripts/setup.sh",
            "ORT_DYLIB_PATH",
        ],
    );
}

#[test]
fn gpu_provider_without_a_gpu_build() {
    let o = bin().args(["infer", "--image", FRAME, "--prompt", "x", "--ep", "cuda"]).output().unwrap();
    assert_one_line_error(&o, &["execution provider `cuda` is not available", "--ep cuda,cpu"]);
    let o = bin().args(["infer", "--image", FRAME, "--prompt", "x", "--ep", "openvino"]).output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown execution provider `openvino`"), "{}", stderr(&o));
}

#[test]
fn bad_image_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("frame.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let o = bin().args(["infer", "--prompt", "x", "--image"]).arg(&bad).output().unwrap();
    assert_one_line_error(&o, &["cannot read image", &bad.display().to_string()]);
    let o = bin().args(["infer", "--prompt", "x", "--image", "/nonexistent.png"]).output().unwrap();
    assert_one_line_error(&o, &["cannot read image /nonexistent.png"]);
}

#[test]
fn empty_and_too_many_commands_are_refused() {
    let o = bin().args(["infer", "--image", FRAME, "--prompt", "  "]).output().unwrap();
    assert_one_line_error(&o, &["empty command"]);
    let mut c = bin();
    c.args(["infer", "--image", FRAME, "--max-commands", "2"]);
    for p in ["a", "b", "c"] {
        c.args(["--prompt", p]);
    }
    assert_one_line_error(&c.output().unwrap(), &["3 commands given, at most 2"]);
}

/// A clicked small object gets the region zoom's second, closer pass (its crop holds the click and keeps the
/// frame's 4:3); a large one is described from the whole frame alone. Both answers are descriptions.
#[test]
fn infer_takes_a_closer_look_at_small_regions_only() {
    let tiny = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/tiny");
    let vocab = pixel_sail::grounding::Vocabulary::of_model(&tiny).unwrap().expect("a vocabulary");
    let region = |x: u32, y: u32| {
        let out = tempfile::tempdir().unwrap();
        let o = bin()
            .args(["infer", "--image", FRAME, "--point", &format!("{x},{y}"), "--json", "--out"])
            .arg(out.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["region"].clone()
    };
    let small = region(337, 332); // the small red square
    let crop: Vec<u64> =
        serde_json::from_value(small["close_look"]["crop"].clone()).expect("a close look at the small object");
    assert!(crop[0] <= 337 && 337 < crop[2] && crop[1] <= 332 && 332 < crop[3], "crop {crop:?} holds the click");
    let (w, h) = ((crop[2] - crop[0]) as f64, (crop[3] - crop[1]) as f64);
    assert!((w / h - 4.0 / 3.0).abs() < 0.02 && w < 640.0 * 0.8, "crop {crop:?}");
    assert!(vocab.parse(small["description"].as_str().unwrap()).is_some(), "{small}");
    let large = region(460, 90); // the large blue triangle
    assert!(large["close_look"].is_null(), "{large}");
    assert!(vocab.parse(large["description"].as_str().unwrap()).is_some(), "{large}");
}
