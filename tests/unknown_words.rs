//! Words a command uses that the model's vocabulary does not have are reported, not silently read as
//! "unknown": in the commands' acknowledgement (what `~/set_prompts` answers) through the live pipeline with
//! the real model, and per command in `infer --json`.

use std::path::PathBuf;
use std::process::Command;

use pixel_sail::app::{DescribePolicy, EngineModel, Pipeline, PipelineConfig, WorkerConfig};
use pixel_sail::capture::CaptureConfig;
use pixel_sail::config::EngineConfig;
use pixel_sail::link::{CommandLimits, SetCommands};
use tokio::sync::oneshot;

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acknowledgement_names_the_unknown_words() {
    let model = EngineModel::load(&EngineConfig::new(repo("models/tiny"))).expect("the tiny model loads");
    let config = PipelineConfig {
        capture: CaptureConfig::new("test:160x120@10"),
        worker: WorkerConfig {
            describe: DescribePolicy { enabled: false, ..DescribePolicy::default() },
            limits: CommandLimits { max_commands: 4, max_chars: 64 },
            initial_commands: Vec::new(),
            latency_from_stamp: true,
            depth: None,
        },
    };
    let pipeline = Pipeline::start(model, config).expect("the pipeline starts");
    let h = pipeline.handles();
    let (tx, rx) = oneshot::channel();
    let commands = vec!["pick up the crimson mug".to_string(), "the red circle".to_string()];
    h.commands_tx.send(SetCommands { commands: commands.clone(), reply: Some(tx) }).await.unwrap();
    let ack = rx.await.unwrap();
    pipeline.shutdown();
    assert!(ack.accepted && ack.active == commands, "{ack:?}");
    assert!(ack.message.contains("'pick up the crimson mug': unknown words: crimson, mug"), "{ack:?}");
    assert!(!ack.message.contains("red circle"), "every word of 'the red circle' is known: {ack:?}");
}

#[test]
fn infer_reports_unknown_words_and_describes_only_what_it_found() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pixel-sail"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .args(["infer", "--image", "tests/fixtures/tabletop_640x480.jpg", "--describe", "--json"])
        .args(["--prompt", "pick up the green triangle", "--prompt", "the purple cross"])
        .args(["--prompt", "grab the crimson mug", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json prints the result");
    let c = &v["commands"];
    assert_eq!(c[0]["found"], true);
    assert!(c[0]["description"].as_str().is_some_and(|d| d.contains("triangle")), "{}", c[0]);
    assert_eq!(c[0]["unknown_words"], serde_json::json!([]));
    // Not on the table: no description (the node never describes what it did not find).
    assert_eq!(c[1]["found"], false);
    assert!(c[1]["description"].is_null(), "{}", c[1]);
    assert_eq!(c[2]["unknown_words"], serde_json::json!(["crimson", "mug"]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("unknown words: crimson, mug"), "a log line names them: {stderr}");
}
