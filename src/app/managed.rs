//! `pixel-sail run --lifecycle` (parameter `managed`): the node comes up unconfigured and the
//! lifecycle transitions do the work: configure loads the model, activate starts capture and the
//! worker on it, deactivate stops both and keeps the model, cleanup drops the model, shutdown ends
//! the process after the recordings are finalised. The ROS side and the file sinks hold run-long
//! channels ([`super::managed_routes`]) that follow whichever pipeline is active.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::info;

use super::command_input::{read_stdin_commands, watch_command_file};
use super::managed_routes::{RoutedFrames, Routes, forward_results, route_commands, route_describe};
use super::sinks::{SinkThread, spawn_jsonl, spawn_video};
use super::start::{capture_config, depth_feed, describe_policy, start_inputs};
use super::{AppError, EngineModel, Pipeline, PipelineConfig, WorkerConfig};
use crate::capture::FrameOutlet;
use crate::config::EngineConfig;
use crate::config::run::RunConfig;
use crate::frame::FrameResult;
use crate::inference::Engine;
use crate::link::CommandLimits;
use crate::link::{CameraLink, LifecycleCall, ModelState, Outcome, PipelineLink, PipelineStats, Stats, Step};
use crate::ros::RosPlan;
use crate::ros::lifecycle;

/// Time for the last `change_state` answer and transition event to leave before the node goes.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Runs the managed node until `shutdown` (or Ctrl-C / SIGTERM), then finalises the sinks. `--max-frames` and
/// `--duration-secs` do not apply: the lifecycle decides when capture runs and when the process ends.
pub async fn run_managed(run_cfg: RunConfig, ros: RosPlan) -> anyhow::Result<()> {
    let o = &run_cfg.options;
    let inputs = start_inputs(&run_cfg)?;
    if inputs.cameras.len() > 1 {
        return Err(AppError::Setup(format!(
            "a managed node (--lifecycle) serves one camera; {} were given: run one node per camera group without --lifecycle",
            inputs.cameras.len()
        ))
        .into());
    }
    let (source, commands, engine_cfg) = (inputs.cameras[0].source.clone(), inputs.commands, inputs.engine);
    let limits = CommandLimits { max_commands: run_cfg.max_commands(), max_chars: o.max_command_chars };
    // As the plain run: a ROS camera's depth comes on `depth` and `camera_info`, otherwise --depth/--camera-info.
    // One feed serves every activation.
    let ros_depth = ros.depth_feed();
    let depth = if ros_depth.is_some() { ros_depth.clone() } else { depth_feed(&run_cfg)? };
    let config = PipelineConfig {
        capture: capture_config(&run_cfg, &source),
        worker: WorkerConfig {
            describe: describe_policy(&run_cfg),
            limits,
            initial_commands: Vec::new(),
            latency_from_stamp: true,
            depth,
        },
    };

    let stats = Arc::new(Stats::default());
    stats.set_model_state(ModelState::Loading(UNCONFIGURED.into()));
    let (results_tx, results_rx) = broadcast::channel(super::RESULTS_CAPACITY);
    let mut sinks: Vec<SinkThread> = Vec::new();
    if let Some(path) = &o.jsonl {
        sinks.push(spawn_jsonl(path.clone(), results_tx.subscribe(), stats.clone())?);
    }
    for (_, path) in &inputs.records {
        sinks.push(spawn_video(path.clone(), results_tx.subscribe(), stats.clone())?);
    }
    let routes = Arc::new(Routes::new(commands));
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let (describe_tx, describe_rx) = mpsc::channel(4);
    let (calls_tx, calls_rx) = mpsc::channel(1);
    let mut tasks = vec![
        tokio::spawn(route_commands(commands_rx, routes.clone(), limits)),
        tokio::spawn(route_describe(describe_rx, routes.clone())),
    ];
    if let Some(path) = o.prompts_file.clone() {
        tasks.push(tokio::spawn(watch_command_file(path, run_cfg.params.prompts.clone(), commands_tx.clone())));
    }
    if o.stdin {
        tasks.push(tokio::spawn(read_stdin_commands(commands_tx.clone())));
    }
    if !o.no_progress {
        tasks.push(tokio::spawn(super::progress::report_progress(vec![(
            super::FIRST_CAMERA.to_owned(),
            stats.clone(),
        )])));
    }
    let ros_source = ros.ros_source();
    let model_name = format!("{} on {}", engine_cfg.model_dir.display(), run_cfg.providers());
    let state = Arc::new(Mutex::new(lifecycle::state_label(lifecycle::state::UNCONFIGURED)));
    let view = ros.stats_view(stats.clone(), model_name);
    let shown = state.clone();
    let link = PipelineLink {
        cameras: vec![CameraLink {
            name: super::FIRST_CAMERA.into(),
            commands: commands_tx,
            describe: describe_tx,
            results: results_rx,
            stats: Arc::new(move || PipelineStats {
                lifecycle_state: shown.lock().ok().map(|s| (*s).to_owned()),
                ..view()
            }),
            frames: ros_source.then(|| Arc::new(RoutedFrames(routes.clone())) as Arc<dyn FrameOutlet>),
            depth: ros_depth,
        }],
        lifecycle: Some(calls_tx),
    };
    let mut node = ros.spawn_link(link);
    let owner = Owner {
        engine_cfg,
        config,
        ros_source,
        stats,
        results_tx,
        routes,
        state,
        model: None,
        running: None,
        loads: 0,
    };
    let (finished_tx, finished_rx) = oneshot::channel();
    let owner_task = tokio::spawn(owner.serve(calls_rx, finished_tx));

    let (mut node_error, mut finalized_by_error) = (None, None);
    let reason = tokio::select! {
        finished = finished_rx => match finished {
            Ok(Err(why)) => {
                finalized_by_error = Some(anyhow::anyhow!("lifecycle error processing failed, node finalized: {why}"));
                "lifecycle error processing failed"
            }
            _ => "lifecycle shutdown",
        },
        signal = super::stop::stop_signal() => signal,
        ended = &mut node.task => {
            node_error = Some(match ended {
                Ok(Ok(())) => anyhow::anyhow!("the ROS 2 node stopped"),
                Ok(Err(e)) => e.into(),
                Err(e) => anyhow::anyhow!("the ROS 2 node task failed: {e}"),
            });
            "the ROS 2 node stopped"
        }
    };
    info!("stopping: {reason}");
    if node_error.is_none() {
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        let _ = node.stop.send(());
        let _ = (&mut node.task).await;
    }
    for t in &tasks {
        t.abort();
    }
    // The owner ends with the node's lifecycle channel; it stops a pipeline still running and drops the
    // last results sender, so the sinks drain and finalise their files.
    let _ = owner_task.await;
    let outcomes =
        tokio::task::spawn_blocking(move || sinks.into_iter().map(SinkThread::join).collect::<Vec<_>>()).await?;
    for (name, written, outcome) in outcomes {
        match outcome {
            Ok(()) => info!(sink = name, written, "sink finished"),
            Err(e) => return Err(AppError::Sink(e).into()),
        }
    }
    node_error.or(finalized_by_error).map_or(Ok(()), Err)
}

const UNCONFIGURED: &str = "unconfigured (lifecycle): configure loads the model";

/// Owns the model and the pipeline; does each lifecycle step the node asks for.
struct Owner {
    engine_cfg: EngineConfig,
    config: PipelineConfig,
    ros_source: bool,
    stats: Arc<Stats>,
    results_tx: broadcast::Sender<Arc<FrameResult>>,
    routes: Arc<Routes>,
    /// The lifecycle state as `/diagnostics` shows it.
    state: Arc<Mutex<&'static str>>,
    model: Option<EngineModel>,
    running: Option<(Pipeline, JoinHandle<()>)>,
    /// Times the model was loaded, for the logs that show activate reuses it.
    loads: u64,
}

impl Owner {
    async fn serve(mut self, mut calls: mpsc::Receiver<LifecycleCall>, finished: oneshot::Sender<Result<(), String>>) {
        while let Some(call) = calls.recv().await {
            let via = match call.step {
                Step::Configure => lifecycle::state::CONFIGURING,
                Step::Activate => lifecycle::state::ACTIVATING,
                Step::Deactivate => lifecycle::state::DEACTIVATING,
                Step::Cleanup => lifecycle::state::CLEANINGUP,
                Step::Shutdown => lifecycle::state::SHUTTINGDOWN,
                Step::Error => lifecycle::state::ERRORPROCESSING,
            };
            self.show(via);
            let outcome = match call.step {
                Step::Configure => self.configure().await,
                Step::Activate => self.activate(),
                Step::Deactivate => self.deactivate().await,
                Step::Cleanup => self.cleanup(),
                Step::Shutdown | Step::Error => {
                    self.deactivate().await;
                    self.cleanup()
                }
            };
            let landed = lifecycle::finish(via, &outcome).1;
            self.show(landed);
            let _ = call.reply.send(outcome.clone());
            if landed == lifecycle::state::FINALIZED {
                // Shutdown, or error processing that could not tear down: rcl's finalized, the process ends.
                let _ = finished.send(match outcome {
                    Outcome::Failure(why) | Outcome::Error(why) if call.step == Step::Error => Err(why),
                    _ => Ok(()),
                });
                break;
            }
        }
        self.deactivate().await;
    }

    fn show(&self, state: u8) {
        if let Ok(mut s) = self.state.lock() {
            *s = lifecycle::state_label(state);
        }
    }

    async fn configure(&mut self) -> Outcome {
        let cfg = self.engine_cfg.clone();
        let stats = self.stats.clone();
        let started = Instant::now();
        let loaded = tokio::task::spawn_blocking(move || {
            Engine::prepare(&cfg)?;
            EngineModel::load_reporting(&cfg, &|step| stats.set_model_state(ModelState::Loading(step)))
        })
        .await;
        let dir = self.engine_cfg.model_dir.display();
        match loaded {
            Ok(Ok(model)) => {
                self.loads += 1;
                info!(
                    "configure: model loaded (load #{}) in {:.1} s: {}; resident memory {}",
                    self.loads,
                    started.elapsed().as_secs_f64(),
                    model.describe(),
                    resident_text()
                );
                self.model = Some(model);
                self.stats.set_model_state(ModelState::Loading(INACTIVE.into()));
                Outcome::Success
            }
            // An error, not a failure: rcl's error processing then tears down whatever loading left behind.
            Ok(Err(e)) => Outcome::Error(format!("cannot load the model from {dir}: {e}")),
            Err(e) => Outcome::Error(format!("the model loader failed: {e}")),
        }
    }

    fn activate(&mut self) -> Outcome {
        let Some(model) = self.model.clone() else {
            return Outcome::Failure("no model loaded (configure first)".into());
        };
        info!("activate: reusing the loaded model (load #{}), not reloading", self.loads);
        let mut config = self.config.clone();
        config.worker.initial_commands = self.routes.active_commands();
        let load: super::ModelLoader<EngineModel> = Box::new(move |_: &dyn Fn(String)| Ok(model));
        let started = if self.ros_source {
            Pipeline::start_external_counting(load, config.worker, self.stats.clone())
        } else {
            Pipeline::start_counting(load, config, self.stats.clone())
        };
        let pipeline = match started {
            Ok(p) => p,
            Err(e) => return Outcome::Error(format!("cannot start the pipeline: {e}")),
        };
        let handles = pipeline.handles();
        let frames = self.ros_source.then(|| pipeline.frame_outlet());
        self.routes.attach(Some((&handles, frames)));
        let forward = tokio::spawn(forward_results(handles.subscribe_results(), self.results_tx.clone()));
        self.running = Some((pipeline, forward));
        Outcome::Success
    }

    async fn deactivate(&mut self) -> Outcome {
        self.routes.attach(None);
        let Some((pipeline, forward)) = self.running.take() else { return Outcome::Success };
        // Joins capture and the worker (it finishes its frame); the forwarder ends with the results channel.
        let end = tokio::task::spawn_blocking(move || pipeline.shutdown()).await;
        let _ = forward.await;
        if self.model.is_some() {
            self.stats.set_model_state(ModelState::Loading(INACTIVE.into()));
        }
        match end {
            Ok(end) => {
                info!("deactivate: capture and publishing stopped ({end:?}); the model stays loaded");
                Outcome::Success
            }
            Err(e) => Outcome::Error(format!("stopping the pipeline failed: {e}")),
        }
    }

    fn cleanup(&mut self) -> Outcome {
        let before = resident_mib();
        if self.model.take().is_some() {
            release_freed_memory();
            let after = resident_mib();
            let show = |m: Option<f64>| m.map_or("n/a".to_owned(), |m| format!("{m:.1} MiB"));
            info!("cleanup: model unloaded; resident memory {} -> {}", show(before), show(after));
        }
        self.stats.set_model_state(ModelState::Loading(UNCONFIGURED.into()));
        Outcome::Success
    }
}

const INACTIVE: &str = "inactive (lifecycle): model loaded; activate starts capture and publishing";

/// This process's resident memory (VmRSS), in MiB.
pub fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn resident_text() -> String {
    resident_mib().map_or("n/a".to_owned(), |m| format!("{m:.1} MiB"))
}

/// Hands memory freed by the unloaded model back to the OS: glibc keeps freed heap pages in its
/// per-thread arenas otherwise, and resident memory would not show the unload.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only returns free heap memory to the kernel; it has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn resident_memory_is_read_on_linux() {
        let m = super::resident_mib().expect("VmRSS in /proc/self/status");
        assert!(m > 1.0 && m < 1_000_000.0, "{m}");
    }
}
