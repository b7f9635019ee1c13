//! `pixel-sail run`: load the model, start the pipeline, attach the standalone inputs and outputs
//! (command file / stdin, JSONL, annotated video, progress line), and shut down in order on
//! Ctrl-C or SIGTERM, end of file, `--max-frames` or `--duration-secs`.

use std::sync::Arc;
use std::time::Instant;

use super::command_input::{fan_out, read_stdin_commands, watch_command_file};
use super::sinks::{SinkThread, spawn_jsonl, spawn_video};
use super::start::{capture_config, depth_feed, describe_policy, start_depth_stream, start_inputs};
use super::stop::{stop_condition, stop_signal};
use super::{AppError, CameraPlan, EngineModel, ModelLoader, Pipeline, WorkerConfig, progress};
use crate::capture::CaptureEnd;
use crate::config::run::RunConfig;
use crate::inference::Engine;
use crate::link::{CommandLimits, Stats};
use crate::ros::CameraHandles;

/// Runs the live node until the source ends or the user stops it.
pub fn run(run_cfg: RunConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("pixel-sail-rt")
        .build()?;
    let outcome = runtime.block_on(run_async(run_cfg));
    // A blocking stdin read (`--stdin`) cannot be cancelled; do not wait for it.
    runtime.shutdown_background();
    outcome
}

async fn run_async(run_cfg: RunConfig) -> anyhow::Result<()> {
    // The ROS node's parameters (params files, `-p`, remapping `image`) resolve the configuration first.
    let (run_cfg, ros) = if run_cfg.no_ros {
        (run_cfg, None)
    } else {
        let (run_cfg, plan) = crate::ros::RosPlan::prepare(run_cfg)?;
        (run_cfg, Some(plan))
    };
    let ros = match ros {
        Some(plan) if run_cfg.params.managed => return super::managed::run_managed(run_cfg, plan).await,
        other => other,
    };
    let o = &run_cfg.options;
    let inputs = start_inputs(&run_cfg)?;
    let several = inputs.cameras.len() > 1;
    if several && o.depth.is_some() {
        return Err(AppError::Setup(
            "--depth and --camera-info serve one camera; with several, give each ROS camera its NAME/depth topic"
                .into(),
        )
        .into());
    }
    let engine_cfg = inputs.engine.clone();
    // The quick start-up faults (model.json, the ONNX Runtime library) stop us here; the sessions (a TensorRT
    // engine build can take minutes) load on the worker thread while capture and the ROS node already run.
    let prepare_cfg = engine_cfg.clone();
    tokio::task::spawn_blocking(move || Engine::prepare(&prepare_cfg)).await??;
    let model_name = format!("{} on {}", engine_cfg.model_dir.display(), run_cfg.providers());
    let load: ModelLoader<EngineModel> = Box::new(move |status: &dyn Fn(String)| {
        let started = Instant::now();
        let model = EngineModel::load_reporting(&engine_cfg, status).map_err(|e| e.to_string())?;
        tracing::info!(model = %model.describe(), "model ready in {:.1} s", started.elapsed().as_secs_f64());
        Ok(model)
    });

    let limits = CommandLimits { max_commands: run_cfg.max_commands(), max_chars: o.max_command_chars };
    let worker = WorkerConfig {
        describe: describe_policy(&run_cfg),
        limits,
        initial_commands: inputs.commands.clone(),
        latency_from_stamp: true,
        depth: None,
    };
    // A ROS camera brings its depth on its `depth` and `camera_info` topics; otherwise --depth/--camera-info.
    let mut plans = Vec::with_capacity(inputs.cameras.len());
    let mut ros_depths = Vec::with_capacity(inputs.cameras.len());
    for camera in &inputs.cameras {
        let from_ros = camera.source == "ros";
        let ros_depth = if from_ros { ros.as_ref().and_then(|r| r.depth_feed()) } else { None };
        let depth = if ros_depth.is_some() { ros_depth.clone() } else { depth_feed(&run_cfg)? };
        let mut capture = (!from_ros).then(|| capture_config(&run_cfg, &camera.source));
        if let Some(c) = capture.as_mut().filter(|_| several && run_cfg.params.frame_id.is_empty()) {
            c.frame_id.clone_from(&camera.name);
        }
        let plan = CameraPlan { name: camera.name.clone(), capture, worker: WorkerConfig { depth, ..worker.clone() } };
        plans.push((plan, Arc::new(Stats::default())));
        ros_depths.push(ros_depth);
    }
    // A GStreamer depth source pushes into the first camera's feed from its own thread.
    let depth_stream = match &plans[0].0.worker.depth {
        Some(feed) if ros_depths[0].is_none() => start_depth_stream(&run_cfg, feed)?,
        _ => None,
    };
    let pipeline = Pipeline::start_cameras(load, plans)?;
    let cameras = pipeline.camera_handles();
    let handles = pipeline.handles();
    let mut ros = ros.map(|r| {
        let outlets = pipeline.frame_outlets();
        let links = cameras
            .iter()
            .zip(outlets)
            .zip(ros_depths)
            .zip(&inputs.cameras)
            .map(|((((name, h), outlet), depth), spec)| CameraHandles {
                name: name.clone(),
                handles: h.clone(),
                frames: (spec.source == "ros").then_some(outlet),
                depth,
            })
            .collect();
        r.spawn(links, model_name)
    });

    let mut sinks: Vec<SinkThread> = Vec::new();
    if let Some(path) = &o.jsonl {
        sinks.push(spawn_jsonl(path.clone(), pipeline.subscribe_all_results(), handles.stats.clone())?);
    }
    for (name, path) in &inputs.records {
        let Some((_, h)) = cameras.iter().find(|(n, _)| n == name) else { continue };
        sinks.push(spawn_video(path.clone(), h.subscribe_results(), h.stats.clone())?);
    }
    let all_commands: Vec<_> = cameras.iter().map(|(_, h)| h.commands_tx.clone()).collect();
    let mut tasks = Vec::new();
    if let Some(path) = o.prompts_file.clone() {
        let tx = fan_out(&all_commands);
        tasks.push(tokio::spawn(watch_command_file(path, run_cfg.params.prompts.clone(), tx)));
    }
    if o.stdin {
        tasks.push(tokio::spawn(read_stdin_commands(fan_out(&all_commands))));
    }
    let all_stats: Vec<(String, Arc<Stats>)> = cameras.iter().map(|(n, h)| (n.clone(), h.stats.clone())).collect();
    if !o.no_progress {
        tasks.push(tokio::spawn(progress::report_progress(all_stats.clone())));
    }

    let limit = stop_condition(all_stats.iter().map(|(_, s)| s.clone()).collect(), o.max_frames, o.duration_secs);
    let ros_ended = async {
        match ros.as_mut() {
            Some(r) => Some((&mut r.task).await),
            None => std::future::pending().await,
        }
    };
    let mut ros_error = None;
    let reason = tokio::select! {
        _ = pipeline.finished() => if pipeline.load_error().is_some() { "the model failed to load" } else { "the source ended" },
        signal = stop_signal() => signal,
        _ = limit => "limit reached",
        ended = ros_ended => {
            ros_error = Some(match ended {
                Some(Ok(Ok(()))) => anyhow::anyhow!("the ROS 2 node stopped"),
                Some(Ok(Err(e))) => e.into(),
                Some(Err(e)) => anyhow::anyhow!("the ROS 2 node task failed: {e}"),
                None => anyhow::anyhow!("the ROS 2 node stopped"),
            });
            "the ROS 2 node stopped"
        }
    };
    tracing::info!("stopping: {reason}");
    if let Some(r) = ros.take().filter(|_| ros_error.is_none()) {
        let _ = r.stop.send(());
        let _ = r.task.await;
    }
    // A second signal while flushing exits at once.
    tokio::spawn(async {
        let signal = stop_signal().await;
        eprintln!("\n{signal} again: exiting without flushing");
        std::process::exit(130);
    });
    for task in &tasks {
        task.abort();
    }
    let latest: Vec<_> = cameras.iter().map(|(_, h)| h.latest.clone()).collect();
    let load_error = pipeline.load_error();
    drop(handles);
    drop(cameras);
    let end = tokio::task::spawn_blocking(move || {
        let end = pipeline.shutdown();
        if let Some(stream) = depth_stream {
            stream.stop();
        }
        let outcomes: Vec<_> = sinks.into_iter().map(SinkThread::join).collect();
        (end, outcomes)
    })
    .await?;
    let (end, outcomes) = end;
    for (name, stats) in &all_stats {
        let line = progress::format_progress(&stats.snapshot(), 0.0).replace(" | 0.0 fps", "");
        if several { eprintln!("\n{name}: {line}") } else { eprintln!("\n{line}") }
    }
    for latest in &latest {
        if let Some(last) = latest.borrow().clone() {
            for line in progress::format_positions(&last) {
                eprintln!("{line}");
            }
        }
    }
    let mut first_error = None;
    for (name, written, outcome) in outcomes {
        match outcome {
            Ok(()) => tracing::info!(sink = name, written, "sink finished"),
            Err(e) => {
                tracing::error!(sink = name, "sink failed: {e}");
                first_error.get_or_insert(AppError::Sink(e));
            }
        }
    }
    if let Some(e) = load_error {
        return Err(anyhow::anyhow!(e));
    }
    if let Some(e) = ros_error {
        return Err(e);
    }
    if let CaptureEnd::GaveUp(message) = end {
        return Err(AppError::Setup(format!("capture gave up: {message}")).into());
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
