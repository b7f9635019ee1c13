//! `pixel-sail bench --pipeline`: the live pipeline's own benchmarks (DESIGN.md §6), each measured in
//! one run on the same engine: end-to-end throughput against a bare loop over the same decoded frames,
//! capture-to-output latency and resident memory under a live 30 fps source, and the mask rate with
//! and without descriptions running.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::app::{DescribePolicy, EngineModel, FrameModel, Pipeline, PipelineConfig, WorkerConfig, read_command_file};
use crate::capture::{CaptureConfig, CaptureRunner, CapturedFrame, FrameOutlet};
use crate::cli::{EngineArgs, PipelineBenchArgs};
use crate::frame::Frame;
use crate::link::{CommandLimits, quantile};
use crate::sink::JsonlWriter;

struct VecOutlet(Mutex<(Vec<Frame>, bool)>, usize, Mutex<Vec<Instant>>);

impl FrameOutlet for VecOutlet {
    fn push(&self, f: CapturedFrame) {
        if let Ok(mut g) = self.0.lock()
            && g.0.len() < self.1
        {
            g.0.push(f.frame);
            if let Ok(mut t) = self.2.lock() {
                t.push(Instant::now());
            }
        }
    }
    fn close(&self) {
        if let Ok(mut g) = self.0.lock() {
            g.1 = true;
        }
    }
}

/// Decodes the first `n` frames of a clip into memory with the capture stage itself; also returns
/// capture's steady-state time per frame (first to last frame, start-up excluded).
fn decode_frames(clip: &Path, n: usize) -> anyhow::Result<(Vec<Frame>, f64)> {
    let outlet = Arc::new(VecOutlet(Mutex::new((Vec::new(), false)), n, Mutex::new(Vec::new())));
    let runner =
        CaptureRunner::start(CaptureConfig::new(clip.display().to_string()), Default::default(), outlet.clone())?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let done = outlet.0.lock().map(|g| g.0.len() >= n || g.1).unwrap_or(true);
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.stop();
    let frames = outlet.0.lock().map(|g| g.0.clone()).unwrap_or_default();
    anyhow::ensure!(frames.len() >= 3, "{} gave only {} frames", clip.display(), frames.len());
    let per_frame_ms = outlet.2.lock().map(|t| 1e3 / steady_fps(&t)).unwrap_or(f64::NAN);
    Ok((frames, per_frame_ms))
}

/// Frames per second between the first and the last of `n` completions.
fn steady_fps(done: &[Instant]) -> f64 {
    match (done.first(), done.last()) {
        (Some(a), Some(b)) if done.len() > 1 => (done.len() - 1) as f64 / (*b - *a).as_secs_f64(),
        _ => f64::NAN,
    }
}

fn bare_loop(model: &mut EngineModel, frames: &[Frame], commands: &[String]) -> anyhow::Result<f64> {
    let mut done = Vec::with_capacity(frames.len());
    for f in frames {
        model.segment(f, commands)?;
        done.push(Instant::now());
    }
    Ok(steady_fps(&done))
}

fn worker_config(commands: &[String], describe: DescribePolicy) -> WorkerConfig {
    WorkerConfig {
        describe,
        limits: CommandLimits { max_commands: commands.len().max(1), max_chars: 200 },
        initial_commands: commands.to_vec(),
        latency_from_stamp: true,
        depth: None,
    }
}

fn off() -> DescribePolicy {
    DescribePolicy { enabled: false, ..DescribePolicy::default() }
}

/// The pipeline on the clip, frame by frame, with the JSONL sink attached; fps over `n` results.
fn pipeline_throughput(model: &EngineModel, clip: &Path, commands: &[String], n: usize) -> anyhow::Result<f64> {
    let cfg = PipelineConfig {
        capture: CaptureConfig::new(clip.display().to_string()),
        worker: worker_config(commands, off()),
    };
    let pipeline = Pipeline::start(model.clone(), cfg)?;
    let mut rx = pipeline.handles().subscribe_results();
    let dir = tempfile_dir()?;
    let mut jsonl = JsonlWriter::create(&dir.join("bench.jsonl"))?;
    let mut done = Vec::with_capacity(n);
    while done.len() < n {
        match rx.blocking_recv() {
            Ok(r) => {
                jsonl.write(&r)?;
                done.push(Instant::now());
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    pipeline.shutdown();
    jsonl.finish()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(steady_fps(&done))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("pixel-sail-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Resident set size in MiB (Linux /proc).
fn rss_mib() -> f64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        .unwrap_or(f64::NAN);
    pages * 4096.0 / (1024.0 * 1024.0)
}

struct LiveRun {
    results: usize,
    latencies: Vec<Duration>,
    model_p50: Option<Duration>,
    model_p99: Option<Duration>,
    dropped: u64,
    descriptions: u64,
    elapsed: f64,
    /// (seconds since start, RSS MiB), once a second.
    rss: Vec<(f64, f64)>,
}

fn live_run(
    model: &EngineModel,
    source: &str,
    commands: &[String],
    describe: DescribePolicy,
    secs: f64,
) -> anyhow::Result<LiveRun> {
    let cfg = PipelineConfig { capture: CaptureConfig::new(source), worker: worker_config(commands, describe) };
    let pipeline = Pipeline::start(model.clone(), cfg)?;
    let h = pipeline.handles();
    let mut rx = h.subscribe_results();
    let start = Instant::now();
    let (mut latencies, mut rss) = (Vec::new(), vec![(0.0, rss_mib())]);
    let mut next_sample = 1.0;
    loop {
        let t = start.elapsed().as_secs_f64();
        if t >= secs {
            break;
        }
        if t >= next_sample {
            rss.push((t, rss_mib()));
            next_sample += 1.0;
        }
        match rx.try_recv() {
            Ok(r) => latencies.push(r.latency),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(2)),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(e) => anyhow::bail!("live run ended early: {e}"),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let snap = h.stats.snapshot();
    pipeline.shutdown();
    Ok(LiveRun {
        results: latencies.len(),
        latencies,
        model_p50: snap.model_p50,
        model_p99: snap.model_p99,
        dropped: snap.dropped,
        descriptions: snap.descriptions,
        elapsed,
        rss,
    })
}

fn ms(d: Option<Duration>) -> f64 {
    d.map(|d| d.as_secs_f64() * 1e3).unwrap_or(f64::NAN)
}

/// Least-squares slope of RSS over time, in MiB per minute (after the first 10 % of the run).
fn rss_slope(rss: &[(f64, f64)]) -> f64 {
    let skip = rss.len() / 10;
    let pts = &rss[skip..];
    let n = pts.len() as f64;
    if n < 3.0 {
        return f64::NAN;
    }
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let cov: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    cov / var * 60.0
}

pub fn run(engine: &EngineArgs, args: &PipelineBenchArgs) -> anyhow::Result<()> {
    let commands = read_command_file(&args.commands_file)?;
    let mut model = EngineModel::load(&engine.to_config()?)?;
    println!(
        "pipeline benchmarks: model {}, {} commands, clip {}",
        model.describe(),
        commands.len(),
        args.clip.display()
    );
    let wants = |name: &str| args.sections.split(',').any(|s| s.trim() == name);
    let mut report = serde_json::Map::new();
    report.insert("model".into(), json!(model.describe()));
    report.insert("commands".into(), json!(commands.len()));
    if wants("throughput") {
        report.insert("throughput".into(), throughput(&mut model, args, &commands)?);
    }
    if wants("live") {
        report.insert("live".into(), live(&model, args, &commands)?);
    }
    if wants("rate") {
        report.insert("mask_rate".into(), mask_rate(&model, args, &commands)?);
    }
    if let Some(path) = &args.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}

fn throughput(
    model: &mut EngineModel,
    args: &PipelineBenchArgs,
    commands: &[String],
) -> anyhow::Result<serde_json::Value> {
    let (frames, decode_ms) = decode_frames(&args.clip, args.frames.max(3))?;
    let first = frames[0].clone();
    for _ in 0..2 {
        model.segment(&first, commands)?;
    }
    // Alternating rounds (bare, pipeline | pipeline, bare | …) so that neither side always runs on a
    // warmer or busier machine; each round gives one pipeline/bare ratio.
    let (mut bare_runs, mut pipe_runs) = (Vec::new(), Vec::new());
    for round in 0..args.rounds.max(1) {
        if round % 2 == 0 {
            bare_runs.push(bare_loop(model, &frames, commands)?);
            pipe_runs.push(pipeline_throughput(model, &args.clip, commands, frames.len())?);
        } else {
            pipe_runs.push(pipeline_throughput(model, &args.clip, commands, frames.len())?);
            bare_runs.push(bare_loop(model, &frames, commands)?);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (bare, pipe) = (mean(&bare_runs), mean(&pipe_runs));
    let mut ratios: Vec<f64> = pipe_runs.iter().zip(&bare_runs).map(|(p, b)| p / b).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", ");
    println!(
        "throughput over {} frames of the clip ({}x{}), masks only, {} rounds:",
        frames.len(),
        first.width,
        first.height,
        bare_runs.len()
    );
    println!("  bare loop (encode + segment)    {bare:.2} fps  (runs {})", fmt(&bare_runs));
    println!("  pipeline (capture→worker→JSONL) {pipe:.2} fps  (runs {})", fmt(&pipe_runs));
    println!(
        "  ratio pipeline / bare           {:.3} of the means, {median:.3} median per round  (target ≥ 0.95)",
        pipe / bare
    );
    println!("  capture alone (decode + RGB)    {decode_ms:.1} ms per frame (the bare loop's frames come pre-decoded)");
    Ok(json!({"frames": frames.len(), "bare_fps": bare, "pipeline_fps": pipe, "ratio": pipe / bare,
              "median_round_ratio": median, "capture_ms_per_frame": decode_ms, "runs_bare": bare_runs, "runs_pipeline": pipe_runs}))
}

fn live(model: &EngineModel, args: &PipelineBenchArgs, commands: &[String]) -> anyhow::Result<serde_json::Value> {
    let live = live_run(model, &args.live_source, commands, DescribePolicy::default(), args.live_secs)?;
    let (p50, p99) = (quantile(&live.latencies, 0.5), quantile(&live.latencies, 0.99));
    let (model_ms, model_p99) = (ms(live.model_p50), ms(live.model_p99));
    let rss_vals: Vec<f64> = live.rss.iter().map(|p| p.1).collect();
    let rss_max = rss_vals.iter().copied().fold(f64::NAN, f64::max);
    let rss_first = rss_vals.get(rss_vals.len() / 10).copied().unwrap_or(f64::NAN);
    let rss_last = rss_vals.last().copied().unwrap_or(f64::NAN);
    let slope = rss_slope(&live.rss);
    println!("live {} for {:.0} s (descriptions on the default policy, every 2 s):", args.live_source, live.elapsed);
    println!(
        "  results {} ({:.2}/s), dropped frames {}, descriptions {}",
        live.results,
        live.results as f64 / live.elapsed,
        live.dropped,
        live.descriptions
    );
    println!(
        "  capture→output latency p50 {:.0} ms, p99 {:.0} ms; model time p50 {model_ms:.0} ms, p99 {model_p99:.0} ms",
        ms(p50),
        ms(p99)
    );
    println!("  latency p99 / model time p50    {:.2}  (target ≤ 2)", ms(p99) / model_ms);
    println!(
        "  RSS {rss_first:.1} MiB at 10 % of the run → {rss_last:.1} MiB at the end, max {rss_max:.1}; slope {slope:.3} MiB/min"
    );
    Ok(json!({"source": args.live_source, "secs": live.elapsed, "results": live.results, "dropped": live.dropped,
              "descriptions": live.descriptions, "latency_p50_ms": ms(p50), "latency_p99_ms": ms(p99),
              "model_p50_ms": model_ms, "model_p99_ms": model_p99, "rss_mib": live.rss, "rss_slope_mib_per_min": slope}))
}

fn mask_rate(model: &EngineModel, args: &PipelineBenchArgs, commands: &[String]) -> anyhow::Result<serde_json::Value> {
    let continuous = DescribePolicy { enabled: true, every_frames: Some(1), every: None, ..DescribePolicy::default() };
    let policies = [
        ("without descriptions", off()),
        ("descriptions every 2 s", DescribePolicy::default()),
        ("descriptions back to back", continuous),
    ];
    // Rounds rotate the order (off, periodic, continuous | periodic, continuous, off | …) so load
    // changes on the machine spread over all three.
    let rounds = args.rounds.max(1);
    let (mut masks, mut descs) = ([vec![], vec![], vec![]], [vec![], vec![], vec![]]);
    for round in 0..rounds {
        for k in 0..3 {
            let which = (round + k) % 3;
            let run = live_run(model, &args.live_source, commands, policies[which].1.clone(), args.rate_secs)?;
            masks[which].push(run.results as f64 / run.elapsed);
            descs[which].push(run.descriptions as f64 / run.elapsed);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", ");
    let base = mean(&masks[0]);
    println!(
        "mask rate on {} ({rounds} rounds of {:.0} s per policy; descriptions counted per command):",
        args.live_source, args.rate_secs
    );
    let mut out = serde_json::Map::new();
    for (k, (name, _)) in policies.iter().enumerate() {
        let (m, d) = (mean(&masks[k]), mean(&descs[k]));
        println!("  {name:<28} {m:.2} frames/s ({:.3}×), {d:.2} descriptions/s  (runs {})", m / base, fmt(&masks[k]));
        out.insert(
            name.to_string(),
            json!({"frames_per_s": m, "ratio": m / base, "descriptions_per_s": d, "runs": masks[k]}),
        );
    }
    Ok(serde_json::Value::Object(out))
}
