//! 3-D from depth, end to end over ROS (issue #26): an rclpy depth camera (`tests/ros/check_3d.py`)
//! publishes a rendered fixture's colour frame, its aligned depth (16UC1) and camera_info; the node
//! subscribes them and feeds the pipeline's [`DepthFeed`]; a scripted stand-in for the model gives the
//! renderer's true mask for each command naming a fixture object, and the real locator
//! (`spatial::Locator`) places it. The checker reads `~/detections`, `~/detections_2d`,
//! `~/detections_3d`, `~/markers`, `/tf` and `/diagnostics` and compares positions with the renderer's
//! truth (within 1 cm). A second run: the same camera without depth places nothing and says why.

mod ros_common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pixel_sail::capture::{CapturedFrame, FrameOutlet};
use pixel_sail::decode::{bbox_of, rle_encode};
use pixel_sail::frame::{Frame, FrameResult, Grounding, Location, Mask};
use pixel_sail::link::{CameraLink, PipelineLink, PipelineStats};
use pixel_sail::link::{CommandsAck, DescribeRequest, SetCommands};
use pixel_sail::spatial::{DepthFeed, Locator};
use tokio::sync::{broadcast, mpsc};

const FIXTURE: &str = "tests/fixtures/depth/six_objects";

/// The fixture's true masks by the command that names each object (truth.json `command`).
fn fixture_masks() -> HashMap<String, Mask> {
    let dir = ros_common::root().join(FIXTURE);
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json")).expect("truth.json")).expect("json");
    let labels = image::open(dir.join("labels.png")).expect("labels.png").to_luma8();
    let (w, h) = labels.dimensions();
    truth["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            let label = o["label"].as_u64().expect("label") as u8;
            let data = labels.pixels().map(|p| u8::from(p.0[0] == label)).collect();
            (o["command"].as_str().expect("command").to_owned(), Mask { width: w, height: h, data })
        })
        .collect()
}

/// Forwards frames the node takes from `image` to the worker.
struct Outlet(mpsc::Sender<Frame>);
impl FrameOutlet for Outlet {
    fn push(&self, f: CapturedFrame) {
        let _ = self.0.try_send(f.frame);
    }
    fn close(&self) {}
}

/// A stand-in for the inference worker: true masks for the fixture's commands, then the real locator.
async fn fixture_worker(
    mut commands_rx: mpsc::Receiver<SetCommands>,
    mut describe_rx: mpsc::Receiver<DescribeRequest>,
    results: broadcast::Sender<Arc<FrameResult>>,
    mut frames: mpsc::Receiver<Frame>,
    feed: DepthFeed,
    counters: Arc<(AtomicU64, AtomicU64)>,
) {
    let masks = fixture_masks();
    let mut locator = Locator::new(Some(feed));
    let mut commands: Vec<String> = Vec::new();
    loop {
        tokio::select! {
            Some(req) = commands_rx.recv() => {
                commands = req.commands.clone();
                if let Some(reply) = req.reply {
                    let _ = reply.send(CommandsAck { accepted: true, message: String::new(), active: commands.clone() });
                }
            }
            Some(req) = describe_rx.recv() => {
                let _ = req.reply.send(Err("this scripted model does not describe regions".into()));
            }
            Some(f) = frames.recv() => {
                counters.0.fetch_add(1, Ordering::Relaxed);
                let mut groundings: Vec<Grounding> = commands
                    .iter()
                    .map(|c| {
                        let mask = masks.get(c).cloned().unwrap_or(Mask {
                            width: f.width,
                            height: f.height,
                            data: vec![0; f.pixel_count()],
                        });
                        let found = masks.contains_key(c);
                        Grounding {
                            command: c.clone(),
                            found,
                            score: if found { 0.9 } else { 0.1 },
                            bbox: if found { bbox_of(&mask) } else { None },
                            rle: rle_encode(&mask),
                            mask: Arc::new(mask),
                            description: None,
                            track_id: 0,
                            location: Location::NoDepthInput,
                        }
                    })
                    .collect();
                let f = Arc::new(f);
                locator.locate(&f, &mut groundings);
                let r = FrameResult {
                    camera: "camera0".into(),
                    seq: f.seq,
                    stamp: f.stamp,
                    frame_id: f.frame_id.clone(),
                    frame: f.clone(),
                    groundings,
                    latency: Duration::from_millis(5),
                };
                counters.1.fetch_add(1, Ordering::Relaxed);
                let _ = results.send(Arc::new(r));
            }
            else => break,
        }
    }
}

/// Starts the node on the fixture worker with the ROS camera topics under `/itest3d` and runs check_3d.py.
fn run_case(extra_ros_args: &[&str], checker_args: &[&str], domain: u16) -> Result<(), String> {
    let mut ros_args = vec![
        "--ros-args",
        "-r",
        "image:=/itest3d/color/image_raw",
        "-r",
        "depth:=/itest3d/aligned_depth/image_raw",
        "-r",
        "camera_info:=/itest3d/color/camera_info",
    ];
    ros_args.extend_from_slice(extra_ros_args);
    let fixture = ros_common::root().join(FIXTURE).display().to_string();
    let mut args = vec![
        "--fixture",
        &fixture,
        "--camera",
        "/itest3d/color/image_raw",
        "--depth",
        "/itest3d/aligned_depth/image_raw",
        "--camera-info",
        "/itest3d/color/camera_info",
        "--frame-id",
        "itest3d_optical",
    ];
    args.extend_from_slice(checker_args);
    ros_common::run_checker(&ros_args, "check_3d.py", &args, domain, || {
        let (commands_tx, commands_rx) = mpsc::channel(16);
        let (describe_tx, describe_rx) = mpsc::channel(4);
        let (results_tx, results_rx) = broadcast::channel(4);
        let (frames_tx, frames_rx) = mpsc::channel(2);
        let feed = DepthFeed::new(Duration::from_millis(20));
        let counters = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let c = counters.clone();
        let stats = Arc::new(move || PipelineStats {
            frames_in: c.0.load(Ordering::Relaxed),
            frames_out: c.1.load(Ordering::Relaxed),
            execution_provider: "cpu".into(),
            model: "scripted stand-in (fixture masks)".into(),
            ..Default::default()
        });
        tokio::spawn(fixture_worker(commands_rx, describe_rx, results_tx, frames_rx, feed.clone(), counters));
        PipelineLink {
            cameras: vec![CameraLink {
                name: "camera0".into(),
                commands: commands_tx,
                describe: describe_tx,
                results: results_rx,
                stats,
                frames: Some(Arc::new(Outlet(frames_tx))),
                depth: Some(feed),
            }],
            lifecycle: None,
        }
    })
}

#[test]
fn rclpy_depth_camera_places_the_commanded_objects() {
    let domain = 165 + (std::process::id() % 30) as u16;
    run_case(&["-p", "publish_tf:=true"], &["--labels", "2,3", "--tf"], domain).unwrap();
}

#[test]
fn rclpy_camera_without_depth_places_nothing() {
    let domain = 195 + (std::process::id() % 30) as u16;
    run_case(&[], &["--labels", "2,3", "--no-depth"], domain).unwrap();
}
