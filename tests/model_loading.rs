//! Start-up while the model loads (a TensorRT engine build, simulated on CPU by
//! `PIXEL_SAIL_SIMULATE_SLOW_LOAD_MS`): the pipeline runs and says what loading is doing, graph by graph
//! (what `/diagnostics` publishes), and no result comes out before the model is ready; `pixel-sail run`
//! logs each graph with its time, `build-engines` creates the sessions ahead of time, and an ONNX Runtime
//! older than the build's minimum is refused in one line.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pixel_sail::app::{DescribePolicy, EngineModel, Pipeline, PipelineConfig, WorkerConfig};
use pixel_sail::capture::CaptureConfig;
use pixel_sail::config::EngineConfig;
use pixel_sail::inference::sessions::SLOW_LOAD_ENV;
use pixel_sail::link::{CommandLimits, ModelState};

const DELAY_MS: &str = "400";

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pixel-sail"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env(SLOW_LOAD_ENV, DELAY_MS).env("RUST_LOG", "info");
    c
}

fn config() -> PipelineConfig {
    PipelineConfig {
        capture: CaptureConfig::new("test:320x240@30"),
        worker: WorkerConfig {
            describe: DescribePolicy { enabled: false, ..DescribePolicy::default() },
            limits: CommandLimits { max_commands: 2, max_chars: 64 },
            initial_commands: vec!["red circle".into()],
            latency_from_stamp: true,
            depth: None,
        },
    }
}

#[test]
fn the_pipeline_says_what_loading_does_and_publishes_nothing_before_ready() {
    // Only this test in this binary creates sessions in-process, so the variable is set before any reader.
    unsafe { std::env::set_var(SLOW_LOAD_ENV, DELAY_MS) };
    let cfg = EngineConfig::new(repo("models/tiny"));
    let pipeline = Pipeline::start_loading(
        Box::new(move |status: &dyn Fn(String)| EngineModel::load_reporting(&cfg, status).map_err(|e| e.to_string())),
        config(),
    )
    .expect("the pipeline starts before the model");
    let handles = pipeline.handles();
    let mut results = handles.subscribe_results();
    let mut states: Vec<ModelState> = Vec::new();
    let mut early = 0;
    let until = Instant::now() + Duration::from_secs(60);
    let mut after_ready = 0;
    while after_ready < 3 && Instant::now() < until {
        let state = handles.stats.model_state();
        if states.last() != Some(&state) {
            states.push(state);
        }
        // Ready is set before the first frame is taken, so the state read after a result arrives is the truth.
        while results.try_recv().is_ok() {
            match handles.stats.model_state() {
                ModelState::Ready(_) => after_ready += 1,
                _ => early += 1,
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    pipeline.shutdown();
    let loading: Vec<String> = states
        .iter()
        .filter_map(|s| match s {
            ModelState::Loading(step) if step != "loading model" => Some(step.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        loading,
        [
            "loading model graph 1 of 3 (vision.onnx)",
            "loading model graph 2 of 3 (text.onnx)",
            "loading model graph 3 of 3 (mask_head.onnx)"
        ],
        "states seen: {states:?}"
    );
    assert!(matches!(states.last(), Some(ModelState::Ready(label)) if label.contains("on cpu")), "{states:?}");
    assert_eq!(early, 0, "results came out before the model was ready");
    assert!(after_ready >= 3, "no results after the model was ready: {states:?}");
}

#[test]
fn a_model_that_fails_to_load_ends_the_pipeline_with_its_reason() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let load = Box::new(move |status: &dyn Fn(String)| {
        status("building TensorRT engine 1 of 3 (vision.onnx)".into());
        s.lock().unwrap().push(());
        Err::<EngineModel, _>("TensorRT ran out of workspace".to_string())
    });
    let pipeline = Pipeline::start_loading(load, config()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), pipeline.finished()).await })
        .expect("the pipeline ends");
    assert_eq!(pipeline.load_error().as_deref(), Some("TensorRT ran out of workspace"));
    assert_eq!(seen.lock().unwrap().len(), 1);
    pipeline.shutdown();
}

#[test]
fn run_logs_each_graph_with_its_time_before_the_model_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let out = bin()
        .args([
            "run",
            "--no-ros",
            "--no-progress",
            "--source",
            "test:320x240@30",
            "--prompt",
            "red circle",
            "--max-frames",
            "2",
            "--model",
        ])
        .arg(repo("models/tiny"))
        .arg("--jsonl")
        .arg(&jsonl)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let mut last = 0;
    for (k, graph) in ["vision", "text", "mask_head"].iter().enumerate() {
        let line = format!("loading model graph {} of 3 ({graph}.onnx) … done in ", k + 1);
        let at = log.find(&line).unwrap_or_else(|| panic!("no `{line}` in:\n{log}"));
        let secs: f64 = log[at + line.len()..].split_whitespace().next().unwrap().parse().unwrap();
        assert!(secs >= 0.4, "{graph}: the simulated build took {secs} s");
        assert!(at > last, "graphs out of order:\n{log}");
        last = at;
    }
    let ready = log.find("model ready in").unwrap_or_else(|| panic!("no `model ready` in:\n{log}"));
    assert!(ready > last);
    assert!(std::fs::read_to_string(&jsonl).unwrap().lines().count() >= 2, "results after the model was ready");
}

#[test]
fn build_engines_creates_every_session_and_times_it() {
    let out =
        bin().args(["build-engines", "--ep", "cpu", "--json", "--model"]).arg(repo("models/tiny")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON summary");
    let graphs = v["graphs"].as_array().unwrap();
    let names: Vec<&str> = graphs.iter().map(|g| g["graph"].as_str().unwrap()).collect();
    assert_eq!(names, ["vision", "text", "mask_head"]);
    assert!(graphs.iter().all(|g| g["action"] == "graph" && g["secs"].as_f64().unwrap() >= 0.4), "{v}");
    assert_eq!((v["provider"].as_str(), v["engines_built"].as_u64()), (Some("cpu"), Some(0)));
}

/// A library that reports ONNX Runtime 1.16.3 the way ONNX Runtime does (`OrtGetApiBase()->GetVersionString`),
/// built with the system C compiler.
const OLD_ORT_C: &str = r#"
typedef struct { const void* (*get_api)(unsigned); const char* (*version)(void); } Base;
static const void* get_api(unsigned v) { (void)v; return 0; }
static const char* version(void) { return "1.16.3"; }
static const Base base = { get_api, version };
const Base* OrtGetApiBase(void) { return &base; }
"#;

#[test]
fn an_onnx_runtime_older_than_the_minimum_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("old_ort.c");
    let lib = dir.path().join("libonnxruntime.so.1.16.3");
    std::fs::write(&src, OLD_ORT_C).unwrap();
    let cc =
        Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status().expect("a C compiler (cc)");
    assert!(cc.success());
    let out = bin()
        .args(["build-engines", "--ep", "cpu", "--model"])
        .arg(repo("models/tiny"))
        .arg("--ort-lib")
        .arg(&lib)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("1.16.3")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("ONNX Runtime >= 1.17") && lines[0].contains("got '1.16.3'"), "{err}");
}
