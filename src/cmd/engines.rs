//! `pixel-sail build-engines`: create the model's sessions once, ahead of time, so TensorRT builds and caches
//! its engines (and EP-context models) as a step of a robot's image build rather than at the robot's first
//! start. Prints each graph's step and time, and a JSON summary with `--json` (scripts/gpu_check.sh reads it).

use std::time::Instant;

use serde::Serialize;

use crate::cli::BuildEnginesArgs;
use crate::config::ProviderKind;
use crate::inference::{Engine, LoadAction, LoadStep};

#[derive(Debug, Serialize)]
struct GraphTime {
    graph: &'static str,
    /// `build_engine`, `load_engine` or `graph` (no TensorRT)
    action: &'static str,
    secs: f64,
}

#[derive(Debug, Serialize)]
struct Summary {
    provider: String,
    tensorrt_cache: Option<String>,
    graphs: Vec<GraphTime>,
    engines_built: usize,
    total_secs: f64,
}

fn action_name(a: LoadAction) -> &'static str {
    match a {
        LoadAction::Graph => "graph",
        LoadAction::BuildEngine => "build_engine",
        LoadAction::LoadEngine => "load_engine",
    }
}

pub fn run(args: &BuildEnginesArgs) -> anyhow::Result<()> {
    let cfg = args.engine.to_config()?;
    if !cfg.providers.contains(&ProviderKind::TensorRt) {
        tracing::warn!(
            "--ep {} has no tensorrt: there are no engines to build; the sessions are only created and checked",
            args.engine.ep
        );
    }
    let started = Instant::now();
    // Each step starts when the one before it ends; the last ends when the engine is loaded.
    let mut steps: Vec<(LoadStep, Instant)> = Vec::new();
    // Each step is logged as it starts (sessions.rs); here it is only timed.
    // One graph's session at a time: a full-size model's three sessions together may not fit in memory.
    let provider = Engine::build_each(&cfg, &mut |step| steps.push((step.clone(), Instant::now())))?;
    let end = Instant::now();
    let mut graphs = Vec::new();
    for (i, (step, t)) in steps.iter().enumerate() {
        let until = steps.get(i + 1).map_or(end, |(_, next)| *next);
        graphs.push(GraphTime {
            graph: step.graph,
            action: action_name(step.action),
            secs: until.duration_since(*t).as_secs_f64(),
        });
    }
    let uses_trt = provider == ProviderKind::TensorRt;
    let summary = Summary {
        provider: provider.as_str().to_string(),
        tensorrt_cache: uses_trt.then(|| cfg.tensorrt.resolved_cache_dir().display().to_string()),
        engines_built: steps.iter().filter(|(s, _)| s.action == LoadAction::BuildEngine).count(),
        graphs,
        total_secs: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        for g in &summary.graphs {
            println!("{:<10} {:<13} {:>8.1} s", g.graph, g.action, g.secs);
        }
        match &summary.tensorrt_cache {
            Some(dir) => {
                println!(
                    "{} TensorRT engine(s) built, cache {dir}; start-up took {:.1} s",
                    summary.engines_built, summary.total_secs
                )
            }
            None => println!(
                "sessions on {} created in {:.1} s (no TensorRT engines)",
                summary.provider, summary.total_secs
            ),
        }
    }
    Ok(())
}
