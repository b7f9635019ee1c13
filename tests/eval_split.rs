//! `pixel-sail eval` on the project's test split must reproduce the model card's figures within 0.01.
//!
//! The split is written by the model tooling (`python -m models.pixel_sail.write_set --split test`) into
//! target/eval-sets/, keyed by a hash of the generator sources so it is only rebuilt when they change. The
//! expected figures are the model card's (`metrics.test` in model.json, or models/tiny/metrics.json); until the
//! card has them, the same queries are scored by the Python reference evaluator (onnxruntime backend) and the
//! Rust figures must match those instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use pixel_sail::cmd::eval::{evaluate, read_set};
use pixel_sail::cmd::metrics::Metrics;
use pixel_sail::config::EngineConfig;
use pixel_sail::grounding::Grounder;
use serde_json::Value;
use sha2::{Digest, Sha256};

const KEYS: [&str; 5] = ["cIoU", "gIoU", "N-acc", "description_acc", "vp_description_acc"];
/// Queries scored against the Python evaluator when the card has no figures (it is slow).
const PYTHON_QUERIES: usize = 200;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> Option<PathBuf> {
    let py = root().join(".venv/bin/python");
    let ok = py.is_file()
        && Command::new(&py)
            .args(["-c", "import numpy, PIL, onnxruntime, tokenizers"])
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(py)
}

/// The test split, generated once per version of the generator.
fn test_split(py: &Path) -> PathBuf {
    let mut h = Sha256::new();
    for f in ["tabletop.py", "expressions.py", "write_set.py", "vocab.py"] {
        h.update(std::fs::read(root().join("models/pixel_sail").join(f)).unwrap_or_default());
    }
    let dir = root().join("target/eval-sets").join(format!("test-{}", &hex::encode(h.finalize())[..12]));
    if !dir.join("set.jsonl").is_file() {
        let tmp = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&tmp);
        let status = Command::new(py)
            .args(["-m", "models.pixel_sail.write_set", "--split", "test", "--out"])
            .arg(&tmp)
            .current_dir(root())
            .status()
            .expect("run write_set");
        assert!(status.success(), "write_set failed");
        std::fs::rename(&tmp, &dir).expect("move the finished split into place");
    }
    dir
}

/// The model card's test-split figures, if it has them.
fn card_figures(model: &Path) -> Option<Value> {
    let info: Value = serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).ok()?).ok()?;
    let from_json = info.get("metrics").map(|m| m.get("test").unwrap_or(m).clone());
    let from_file = || -> Option<Value> {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(model.join("metrics.json")).ok()?).ok()?;
        Some(v.get("test").unwrap_or(&v).clone())
    };
    from_json.or_else(from_file).filter(|v| KEYS.iter().all(|k| v.get(k).and_then(Value::as_f64).is_some()))
}

fn python_figures(py: &Path, set: &Path, model: &Path, limit: usize) -> Value {
    let out = Command::new(py)
        .args(["-m", "models.pixel_sail.evaluate"])
        .arg(set)
        .arg("--model")
        .arg(model)
        .args(["--limit", &limit.to_string()])
        .current_dir(root())
        .output()
        .expect("run the Python evaluator");
    assert!(out.status.success(), "evaluate.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("evaluate.py prints JSON")
}

fn compare(rust: &Metrics, expected: &Value, what: &str) {
    let got = serde_json::to_value(rust).unwrap();
    for k in KEYS {
        let (g, e) = (got[k].as_f64().unwrap(), expected[k].as_f64().unwrap());
        assert!((g - e).abs() <= 0.01, "{k}: rust {g:.4} vs {what} {e:.4}");
    }
    // the named descriptions' split by grounding (the card has it since the seventeenth session)
    if let Some(by) = expected.get("named_by_grounding") {
        for part in ["right_object", "wrong_object", "not_found"] {
            let (g, e) =
                (got["named_by_grounding"][part]["share"].as_f64().unwrap(), by[part]["share"].as_f64().unwrap());
            assert!((g - e).abs() <= 0.01, "{part} share: rust {g:.4} vs {what} {e:.4}");
        }
        let (g, e) = (
            got["named_by_grounding"]["right_object"]["description_acc"].as_f64().unwrap(),
            by["right_object"]["description_acc"].as_f64().unwrap(),
        );
        assert!((g - e).abs() <= 0.01, "right-object descriptions: rust {g:.4} vs {what} {e:.4}");
    }
    println!("rust {got}\n{what} {expected}");
}

#[test]
fn eval_on_the_test_split_reproduces_the_reference_figures() {
    let Some(py) = python() else {
        eprintln!("skipped: .venv lacks numpy/pillow/onnxruntime/tokenizers (run scripts/setup.sh --all)");
        return;
    };
    let model = root().join("models/tiny");
    let set = test_split(&py);
    let mut queries = read_set(&set).unwrap();
    let grounder = Grounder::load(&EngineConfig::new(&model)).unwrap();
    match card_figures(&model) {
        Some(card) => {
            let rust = evaluate(&grounder, &set, &queries, |_, _| Ok(())).unwrap();
            compare(&rust, &card, "model card");
        }
        None => {
            queries.truncate(PYTHON_QUERIES);
            let rust = evaluate(&grounder, &set, &queries, |_, _| Ok(())).unwrap();
            let reference = python_figures(&py, &set, &model, PYTHON_QUERIES);
            assert_eq!(serde_json::to_value(&rust.counts).unwrap(), reference["counts"], "same queries scored");
            compare(&rust, &reference, "python reference");
        }
    }
}
