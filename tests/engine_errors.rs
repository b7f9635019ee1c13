//! Faults the engine must turn into clear errors (DESIGN.md §7): contract mismatch, corrupt graph, missing
//! model, unavailable GPU providers, bad frames, and command limits. Real ONNX Runtime sessions throughout.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pixel_sail::config::{EngineConfig, ProviderKind, parse_provider_list};
use pixel_sail::frame::{Frame, Mask, VisualPrompt};
use pixel_sail::inference::{Engine, InferenceError};

fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/tiny")
}

/// A copy of models/tiny in a temp dir that a test may break.
fn copy_model() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(model_dir()).unwrap().flatten() {
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

fn load(dir: &Path) -> Result<Engine, InferenceError> {
    Engine::load(&EngineConfig::new(dir))
}

fn frame(w: u32, h: u32) -> Frame {
    let mut data = vec![0u8; (w * h * 3) as usize];
    for (i, v) in data.iter_mut().enumerate() {
        *v = (i * 37 % 251) as u8;
    }
    Frame { seq: 1, stamp: std::time::SystemTime::now(), frame_id: "cam".into(), width: w, height: h, data }
}

#[test]
fn swapped_graph_names_expected_and_found() {
    let dir = copy_model();
    std::fs::copy(model_dir().join("mask_head.onnx"), dir.path().join("text.onnx")).unwrap();
    let err = load(dir.path()).err().expect("contract mismatch must fail");
    let msg = err.to_string();
    assert!(matches!(err, InferenceError::ContractMismatch { .. }), "{msg}");
    assert!(msg.starts_with("text.onnx does not match the contract"), "{msg}");
    assert!(msg.contains("missing input `input_ids` i64 [B, T]"), "{msg}");
    assert!(msg.contains("found inputs `features` f32"), "{msg}");
}

#[test]
fn an_axis_the_graph_fixes_cannot_be_declared_dynamic() {
    // A vision graph exported before its batch axis `N` (fixed at 1) under a model.json that batches crops
    // would fail on the first batch; the same holds for any axis, here the text graph's layer axis.
    let dir = copy_model();
    let path = dir.path().join("model.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    meta["tensors"]["text"]["inputs"][3]["shape"][0] = serde_json::json!("L");
    std::fs::write(&path, serde_json::to_string(&meta).unwrap()).unwrap();
    let err = load(dir.path()).err().expect("a declared-dynamic fixed axis must fail");
    let msg = err.to_string();
    assert!(matches!(err, InferenceError::ContractMismatch { .. }), "{msg}");
    assert!(msg.contains("input `past_keys` f32 [L, B, 2, P, 32]"), "{msg}");
    assert!(msg.contains("axis 0 is fixed at 4 in the graph, model.json declares it `L`"), "{msg}");
}

#[test]
fn corrupt_graph_is_reported_with_its_path() {
    let dir = copy_model();
    std::fs::write(dir.path().join("vision.onnx"), b"this is not protobuf").unwrap();
    let err = load(dir.path()).err().expect("corrupt graph must fail");
    let msg = err.to_string();
    assert!(matches!(err, InferenceError::CorruptModel { .. }), "{msg}");
    assert!(msg.contains("vision.onnx") && msg.contains("corrupt"), "{msg}");
}

#[test]
fn missing_model_folder_and_file() {
    let err = load(Path::new("/nonexistent/model")).err().unwrap();
    assert!(err.to_string().contains("/nonexistent/model does not exist"), "{err}");
    let dir = copy_model();
    std::fs::remove_file(dir.path().join("mask_head.onnx")).unwrap();
    let err = load(dir.path()).err().unwrap();
    assert!(err.to_string().contains("mask_head.onnx") && err.to_string().contains("no such file"), "{err}");
    std::fs::write(dir.path().join("model.json"), "{ not json").unwrap();
    let err = load(dir.path()).err().unwrap();
    assert!(err.to_string().starts_with("bad model.json"), "{err}");
}

#[test]
fn gpu_providers_alone_are_errors_on_a_cpu_build() {
    for ep in ["tensorrt", "cuda", "tensorrt,cuda"] {
        let mut cfg = EngineConfig::new(model_dir());
        cfg.providers = parse_provider_list(ep).unwrap();
        cfg.tensorrt.cache_dir = Some(tempfile::tempdir().unwrap().keep());
        let err = Engine::load(&cfg).err().unwrap_or_else(|| panic!("--ep {ep} must fail without a GPU build"));
        let msg = err.to_string();
        assert!(matches!(err, InferenceError::ProviderUnavailable { .. }), "{msg}");
        assert!(msg.contains("is not available") && msg.contains(",cpu"), "{msg}");
    }
}

#[test]
fn gpu_provider_followed_by_cpu_falls_back_and_says_so() {
    let mut cfg = EngineConfig::new(model_dir());
    cfg.providers = vec![ProviderKind::TensorRt, ProviderKind::Cuda, ProviderKind::Cpu];
    cfg.tensorrt.cache_dir = Some(tempfile::tempdir().unwrap().keep());
    let engine = Engine::load(&cfg).unwrap();
    assert_eq!(engine.provider(), "cpu");
}

#[test]
fn bad_frames_and_prompts_are_errors_not_panics() {
    let engine = load(&model_dir()).unwrap();
    let mut f = frame(64, 48);
    f.data.truncate(100);
    let err = engine.encode(&f, None).err().unwrap();
    assert!(err.to_string().contains("expected 9216 for 64x48"), "{err}");
    let f = frame(0, 48);
    assert!(engine.encode(&f, None).is_err());
    let f = frame(64, 48);
    let err = engine.encode(&f, Some(&VisualPrompt::Point { x: 64.0, y: 10.0 })).err().unwrap();
    assert!(err.to_string().contains("outside the 64x48 frame"), "{err}");
    let empty = Arc::new(Mask { width: 64, height: 48, data: vec![0; 64 * 48] });
    assert!(engine.encode(&f, Some(&VisualPrompt::Mask(empty))).is_err());
    let state = engine.encode(&f, None).unwrap();
    assert!(matches!(engine.describe_region(&state), Err(InferenceError::NoVisualPrompt)));
}

#[test]
fn command_limits() {
    let engine = load(&model_dir()).unwrap();
    let state = engine.encode(&frame(96, 80), None).unwrap();
    let err = engine.segment(&state, &["pick up the red star".into(), "   ".into()]).err().unwrap();
    assert_eq!(err.to_string(), "empty command");
    assert!(matches!(engine.describe(&state, &[String::new()], 4), Err(InferenceError::EmptyCommand)));

    let long = format!("pick up the {}red star", "very ".repeat(60));
    let ids = engine.tokenize("segment", &long).unwrap();
    let cfg = &engine.model_info().config;
    assert!(ids.len() <= cfg.max_prompt_tokens + 3, "truncated to the command limit plus the template: {}", ids.len());
    let out = engine.segment(&state, &[long]).unwrap();
    assert_eq!(out.len(), 1);

    let too_many: Vec<String> = (0..engine.max_commands() + 1).map(|i| format!("find the object {i}")).collect();
    let err = engine.segment(&state, &too_many).err().unwrap();
    assert!(matches!(err, InferenceError::TooManyCommands { .. }), "{err}");
    assert!(err.to_string().contains("at most"), "{err}");
    assert!(engine.segment(&state, &[]).unwrap().is_empty());
}

#[test]
fn batched_commands_equal_one_by_one() {
    let engine = load(&model_dir()).unwrap();
    let state = engine.encode(&frame(200, 150), None).unwrap();
    let cmds: Vec<String> =
        ["find the red star", "grab the small blue ring on the left", "the cross"].map(String::from).to_vec();
    let batch = engine.segment(&state, &cmds).unwrap();
    let (bt, _) = engine.describe_tokens(&state, &cmds, 8).unwrap();
    for (k, c) in cmds.iter().enumerate() {
        let one = engine.segment(&state, std::slice::from_ref(c)).unwrap().pop().unwrap();
        assert!((one.score - batch[k].score).abs() < 1e-4, "{c}: {} vs {}", one.score, batch[k].score);
        assert_eq!(one.mask, batch[k].mask, "{c}");
        let (ot, _) = engine.describe_tokens(&state, std::slice::from_ref(c), 8).unwrap();
        assert_eq!(ot[0], bt[k], "{c}: padding must not change the decoded tokens");
    }
}
