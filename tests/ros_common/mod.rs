//! The harness of the rclpy tests: finds the ROS test environment (`tests/ros/setup_ros_env.sh`),
//! starts the node on a pipeline the test builds (a scripted stand-in for the model), runs a checker
//! script from `tests/ros/` in the ROS venv on the same domain, and stops the node.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use pixel_sail::config::params::NodeSettings;
use pixel_sail::link::PipelineLink;
use pixel_sail::ros::configure;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ROS venv's python and the built message packages, or why they are missing.
pub fn ros_env() -> Result<(PathBuf, PathBuf), String> {
    let py = std::env::var_os("PIXEL_SAIL_ROS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-ros/bin/python"));
    let msgs = std::env::var_os("PIXEL_SAIL_ROS_MSGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/ros_msgs/install"));
    if !py.exists() || !msgs.join("lib").exists() {
        return Err(format!("{} or {} missing: run tests/ros/setup_ros_env.sh", py.display(), msgs.display()));
    }
    Ok((py, msgs))
}

/// Starts the node (`ros_args` on default settings, DDS `domain`) on the pipeline `start` builds inside
/// the runtime, runs `tests/ros/<script> <script_args>` against it and reports the checker's verdict.
/// Without the ROS environment the test says so and passes, except under CI, where it fails.
pub fn run_checker(
    ros_args: &[&str],
    script: &str,
    script_args: &[&str],
    domain: u16,
    start: impl FnOnce() -> PipelineLink + Send + 'static,
) -> Result<(), String> {
    let (py, msgs) = match ros_env() {
        Ok(v) => v,
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "CI must prepare the ROS test environment: {why}");
            eprintln!("SKIPPED: {why}");
            return Ok(());
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rustdds=warn,ros2_client=warn".into()),
        )
        .with_test_writer()
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let script_args: Vec<String> = script_args.iter().map(|s| s.to_string()).collect();
    let script = script.to_owned();
    rt.block_on(async move {
        let block: Vec<String> = ros_args.iter().map(|s| s.to_string()).collect();
        let mut startup = configure(&block, NodeSettings { source: "test".into(), ..Default::default() })
            .map_err(|e| e.to_string())?;
        startup.domain_id = domain;
        let link = start();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let node = tokio::spawn(pixel_sail::ros::run(startup, link, async move {
            let _ = stop_rx.await;
        }));
        let site = msgs.join("lib/python3.11/site-packages");
        let venv = py.parent().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or_default();
        let mut cmd = Command::new(&py);
        cmd.arg(root().join("tests/ros").join(&script))
            .args(&script_args)
            .env("ROS_DOMAIN_ID", domain.to_string())
            .env("PYTHONPATH", &site)
            .env("LD_LIBRARY_PATH", msgs.join("lib"))
            .env("AMENT_PREFIX_PATH", format!("{}:{}", msgs.display(), venv.display()))
            .env("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp");
        // Fast DDS 2.x (Jazzy) reads FASTRTPS_…, 3.x (Kilted) FASTDDS_…. PIXEL_SAIL_NO_FASTDDS_PROFILE=1
        // shows what a stock subscriber gets.
        if std::env::var_os("PIXEL_SAIL_NO_FASTDDS_PROFILE").is_none() {
            cmd.env("FASTRTPS_DEFAULT_PROFILES_FILE", root().join("launch/fastdds_bigbuf.xml"))
                .env("FASTDDS_DEFAULT_PROFILES_FILE", root().join("launch/fastdds_bigbuf.xml"));
        }
        // The checker bounds its own waits.
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .map_err(|e| format!("checker task: {e}"))?
            .map_err(|e| format!("cannot run the checker: {e}"))?;
        let _ = stop_tx.send(());
        let _ = node.await;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        eprintln!("{text}");
        if out.status.success() { Ok(()) } else { Err("the rclpy checker reported failures (see above)".into()) }
    })
}
