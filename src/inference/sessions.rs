//! Creating the model's three ONNX Runtime sessions one by one, each announced before it starts: with
//! TensorRT and no cached engine, session creation is the engine build, which can take minutes on a
//! Jetson, so every graph gets a log line (and a [`LoadStep`] for `/diagnostics`) with its elapsed time.

use std::time::{Duration, Instant};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use super::model_info::ModelInfo;
use super::providers::{self, GraphProviders};
use super::{InferenceError, contract, threads};
use crate::config::{EngineConfig, ProviderKind};

/// The graphs in load order.
pub const GRAPHS: [&str; 3] = ["vision", "text", "mask_head"];

/// Milliseconds to sleep inside each graph's session creation: makes a slow TensorRT build reproducible on
/// a CPU-only machine, for the tests of the start-up status. Unset in production.
pub const SLOW_LOAD_ENV: &str = "PIXEL_SAIL_SIMULATE_SLOW_LOAD_MS";

/// What creating one graph's session involves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadAction {
    /// No TensorRT: ONNX Runtime parses and optimises the graph (seconds).
    Graph,
    /// TensorRT has no cached engine for this graph, precision and shape ranges: it builds one (minutes).
    BuildEngine,
    /// TensorRT loads a cached engine.
    LoadEngine,
}

/// One step of [`crate::inference::Engine::load_reporting`]: graph `index + 1` of `total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadStep {
    pub index: usize,
    pub total: usize,
    pub graph: &'static str,
    pub action: LoadAction,
}

impl std::fmt::Display for LoadStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.action {
            LoadAction::Graph => "loading model graph",
            LoadAction::BuildEngine => "building TensorRT engine",
            LoadAction::LoadEngine => "loading TensorRT engine",
        };
        write!(f, "{what} {} of {} ({}.onnx)", self.index + 1, self.total, self.graph)
    }
}

fn simulated_delay() -> Option<Duration> {
    let ms: u64 = std::env::var(SLOW_LOAD_ENV).ok()?.trim().parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Create graph `GRAPHS[index]`'s session with the configured providers and check it against model.json.
pub(crate) fn load_session(
    env: &Environment,
    cfg: &EngineConfig,
    info: &ModelInfo,
    index: usize,
    progress: &mut dyn FnMut(&LoadStep),
) -> Result<(Session, Vec<ProviderKind>), InferenceError> {
    let graph = GRAPHS[index];
    let path = cfg.model_dir.join(info.file_of(graph));
    if !path.is_file() {
        return Err(InferenceError::ModelFile { path, reason: "no such file".into() });
    }
    let opt = |e: ort::Error<ort::session::builder::SessionBuilder>| InferenceError::SessionOptions(e.to_string());
    // `All` (99), not `Level3`: ort maps Level3 to ORT_ENABLE_LAYOUT (3), which ONNX Runtime before 1.2x
    // rejects ("graph_optimization_level is not valid"); on newer ones both enable every level.
    let mut builder = Session::builder(env)
        .map_err(|e| InferenceError::SessionOptions(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(opt)?;
    let threads = cfg.intra_threads.unwrap_or_else(threads::default_intra_threads);
    builder = builder.with_intra_threads(threads).map_err(opt)?;
    builder = builder.with_intra_op_spinning(cfg.spin_wait).map_err(opt)?;
    // Every graph has dynamic axes (commands, prompt length, crops per frame): a memory pattern is planned and
    // kept per input-shape combination, so with it on a long run's memory creeps as new combinations appear.
    builder = builder.with_memory_pattern(false).map_err(opt)?;
    let ranges = info.shape_ranges(graph);
    let registered =
        providers::register(&mut builder, cfg, &GraphProviders { graph, onnx_path: &path, shape_ranges: &ranges })?;
    let action = match &registered.engine {
        Some(e) if e.cached => LoadAction::LoadEngine,
        Some(_) => LoadAction::BuildEngine,
        None => LoadAction::Graph,
    };
    let step = LoadStep { index, total: GRAPHS.len(), graph, action };
    match &registered.engine {
        Some(e) if action == LoadAction::BuildEngine => tracing::info!(cache = %e.dir.display(), threads,
            "{step} … (no cached engine for this model, TensorRT version, precision and shapes; minutes on a Jetson)"),
        Some(e) => tracing::info!(cache = %e.dir.display(), threads, "{step} …"),
        None => tracing::info!(threads, "{step} …"),
    }
    progress(&step);
    let started = Instant::now();
    if let Some(d) = simulated_delay() {
        std::thread::sleep(d);
    }
    // A saved EP-context model holds the built engine: loading it skips TensorRT's parser and builder.
    let source = registered.engine.as_ref().and_then(|e| e.ep_context.clone()).unwrap_or_else(|| path.clone());
    let session = builder
        .commit_from_file(&source)
        .map_err(|e| InferenceError::CorruptModel { path: source.clone(), reason: e.to_string() })?;
    tracing::info!("{step} … done in {:.1} s", started.elapsed().as_secs_f64());
    let sig = info.tensors.get(graph).ok_or_else(|| InferenceError::ContractMismatch {
        graph: graph.into(),
        detail: "model.json has no signature for it".into(),
    })?;
    contract::check_session(&session, sig)
        .map_err(|detail| InferenceError::ContractMismatch { graph: graph.into(), detail })?;
    Ok((session, registered.used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_the_status_line() {
        let step = LoadStep { index: 0, total: 3, graph: "vision", action: LoadAction::BuildEngine };
        assert_eq!(step.to_string(), "building TensorRT engine 1 of 3 (vision.onnx)");
        let step = LoadStep { index: 2, total: 3, graph: "mask_head", action: LoadAction::Graph };
        assert_eq!(step.to_string(), "loading model graph 3 of 3 (mask_head.onnx)");
    }
}
