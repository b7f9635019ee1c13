//! 3-D positions from depth, end to end: the renderer's scenes (true masks → locator) within a centimetre
//! of its truth; the real model through the live pipeline with depth that has holes, zeros and NaN,
//! depth at another resolution, a missing camera_info and depth too far in time (each counted, each a
//! reason, never a point); and `pixel-sail run --depth --camera-info` on the sample clip against
//! truth_3d.jsonl, with a malformed camera file refused at start.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pixel_sail::app::{DescribePolicy, EngineModel, Pipeline, WorkerConfig};
use pixel_sail::capture::CapturedFrame;
use pixel_sail::config::EngineConfig;
use pixel_sail::decode::{bbox_of, rle_encode};
use pixel_sail::frame::{Frame, FrameResult, Grounding, Location, Mask};
use pixel_sail::link::{CommandLimits, SetCommands};
use pixel_sail::spatial::{CameraIntrinsics, DepthFeed, DepthImage, DepthStatus, Locator};
use serde_json::Value;

const SCENES: [&str; 4] = ["six_objects", "occluded", "depth_320x240", "distorted"];

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn scene(name: &str) -> PathBuf {
    repo("tests/fixtures/depth").join(name)
}

fn load_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn camera(dir: &Path) -> CameraIntrinsics {
    CameraIntrinsics::from_calibration_yaml(&std::fs::read_to_string(dir.join("camera_info.yaml")).unwrap()).unwrap()
}

fn rgb_frame(dir: &Path, seq: u64, stamp: SystemTime) -> Frame {
    let img = image::open(dir.join("rgb.jpg")).unwrap().into_rgb8();
    let (width, height) = img.dimensions();
    Frame { seq, stamp, frame_id: "camera".into(), width, height, data: img.into_raw() }
}

fn vec3(v: &Value) -> [f64; 3] {
    let a = v.as_array().expect("a 3-vector");
    [0, 1, 2].map(|i| a[i].as_f64().unwrap())
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt()
}

/// Within 1 cm, or 2 % of the range for far objects (the bound).
fn close_enough(got: [f64; 3], truth: [f64; 3]) -> bool {
    distance(got, truth) <= 0.01f64.max(0.02 * distance(truth, [0.0; 3]))
}

fn true_mask(labels: &image::GrayImage, label: u8) -> Mask {
    let (width, height) = labels.dimensions();
    Mask { width, height, data: labels.as_raw().iter().map(|&v| u8::from(v == label)).collect() }
}

fn grounding(command: &str, mask: Mask) -> Grounding {
    Grounding {
        command: command.into(),
        found: bbox_of(&mask).is_some(),
        score: 1.0,
        bbox: bbox_of(&mask),
        rle: rle_encode(&mask),
        mask: Arc::new(mask),
        description: None,
        track_id: 0,
        location: Location::NoDepthInput,
    }
}

#[test]
fn rendered_scenes_are_placed_within_a_centimetre_of_the_truth() {
    let mut worst = 0f64;
    for name in SCENES {
        let dir = scene(name);
        let truth = load_json(&dir.join("truth.json"));
        let labels = image::open(dir.join("labels.png")).unwrap().into_luma8();
        let stamp = SystemTime::now();
        let frame = rgb_frame(&dir, 0, stamp);
        let feed = DepthFeed::new(Duration::from_millis(20));
        feed.set_camera(camera(&dir));
        feed.push_depth(DepthImage::from_png16(&dir.join("depth.png"), stamp, 0).unwrap());
        let objects: Vec<&Value> =
            truth["objects"].as_array().unwrap().iter().filter(|o| !o["centroid"].is_null()).collect();
        let mut groundings: Vec<Grounding> = objects
            .iter()
            .map(|o| grounding(o["command"].as_str().unwrap(), true_mask(&labels, o["label"].as_u64().unwrap() as u8)))
            .collect();
        let mut locator = Locator::new(Some(feed));
        assert_eq!(locator.locate(&frame, &mut groundings), DepthStatus::Located, "{name}");
        for (o, g) in objects.iter().zip(&groundings) {
            let case = format!("{name}: {} ({:?})", g.command, g.location);
            let p = g.location.placement().unwrap_or_else(|| panic!("{case}: not placed"));
            let (c, e) = (vec3(&o["centroid"]), vec3(&o["extent"]));
            assert!(close_enough(p.centroid, c), "{case}: truth {c:?}");
            worst = worst.max(distance(p.centroid, c));
            for axis in 0..2 {
                assert!((p.extent[axis] - e[axis]).abs() <= 0.01, "{case}: extent, truth {e:?}");
            }
            assert!(p.extent[2] <= 0.01 && p.depth_pixels > 0, "{case}: a flat top");
            assert!(g.track_id > 0, "{case}");
        }
    }
    eprintln!("largest centroid error over the rendered scenes: {:.2} mm", worst * 1e3);
}

/// The real model in the live pipeline, frames pushed one at a time like a ROS image subscription.
struct Live {
    pipeline: Pipeline,
    results: tokio::sync::broadcast::Receiver<Arc<FrameResult>>,
    feed: DepthFeed,
    frame: Frame,
    seq: u64,
}

impl Live {
    fn start(dir: &Path, commands: &[String]) -> Live {
        let model = EngineModel::load(&EngineConfig::new(repo("models/tiny"))).expect("the tiny model loads");
        let feed = DepthFeed::new(Duration::from_millis(20));
        let worker = WorkerConfig {
            describe: DescribePolicy { enabled: false, ..DescribePolicy::default() },
            limits: CommandLimits { max_commands: 4, max_chars: 64 },
            initial_commands: commands.to_vec(),
            latency_from_stamp: true,
            depth: Some(feed.clone()),
        };
        let pipeline = Pipeline::start_external(model, worker).unwrap();
        let results = pipeline.handles().subscribe_results();
        Live { pipeline, results, feed, frame: rgb_frame(dir, 0, SystemTime::now()), seq: 0 }
    }

    /// Pushes the frame stamped `stamp` and waits for its result.
    fn frame_at(&mut self, stamp: SystemTime) -> Arc<FrameResult> {
        self.seq += 1;
        let frame = Frame { seq: self.seq, stamp, ..self.frame.clone() };
        self.pipeline.frame_outlet().push(CapturedFrame { frame, pulled_at: Instant::now() });
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            match self.results.try_recv() {
                Ok(r) if r.seq == self.seq => return r,
                Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            assert!(Instant::now() < until, "no result for frame {}", self.seq);
        }
    }
}

fn notes(r: &FrameResult) -> Vec<String> {
    r.groundings
        .iter()
        .map(|g| match &g.location {
            Location::Unplaced(why) => why.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn faulty_depth_is_counted_and_gives_reasons_never_points() {
    let dir = scene("six_objects");
    let truth = load_json(&dir.join("truth.json"));
    let objects = truth["objects"].as_array().unwrap();
    let commands: Vec<String> = objects.iter().take(2).map(|o| o["command"].as_str().unwrap().to_string()).collect();
    let mut live = Live::start(&dir, &commands);
    let stats = live.pipeline.handles().stats.clone();
    let depth_png = DepthImage::from_png16(&dir.join("depth.png"), SystemTime::now(), 0).unwrap();
    let at = |stamp: SystemTime| DepthImage { stamp, ..depth_png.clone() };

    // Before any depth: no depth input, nothing counted; ids run anyway.
    let r = live.frame_at(SystemTime::now());
    assert!(r.groundings.iter().all(|g| g.location == Location::NoDepthInput), "{:?}", notes(&r));
    assert!(r.groundings.iter().all(|g| g.found == (g.track_id > 0)));
    let first_ids: Vec<u64> = r.groundings.iter().map(|g| g.track_id).collect();

    // Depth but no camera_info yet.
    let now = SystemTime::now();
    live.feed.push_depth(at(now));
    let r = live.frame_at(now);
    assert!(notes(&r).iter().all(|n| n == "no camera_info received"), "{:?}", notes(&r));
    live.feed.set_camera(camera(&dir));

    // The matched depth places what the model found, near the truth.
    let now = SystemTime::now();
    live.feed.push_depth(at(now));
    let r = live.frame_at(now);
    let placed: Vec<_> = r.groundings.iter().filter_map(|g| g.location.placement().map(|p| (g, p))).collect();
    assert!(!placed.is_empty(), "{:?}", notes(&r));
    for (g, p) in &placed {
        let o = objects.iter().find(|o| o["command"] == g.command.as_str()).unwrap();
        assert!(close_enough(p.centroid, vec3(&o["centroid"])), "{}: {:?} vs {}", g.command, p, o["centroid"]);
    }
    assert_eq!(r.groundings.iter().map(|g| g.track_id).collect::<Vec<_>>(), first_ids, "same objects, same ids");

    // Holes (NaN), zeros and infinities over two thirds of the image, as a 32FC1 message: what is left
    // still places, robustly.
    let now = SystemTime::now();
    let bytes: Vec<u8> = depth_png
        .metres
        .iter()
        .enumerate()
        .map(|(i, &m)| match i % 6 {
            1 | 4 => f32::NAN,
            2 => 0.0,
            5 => f32::INFINITY,
            _ => m,
        })
        .flat_map(f32::to_le_bytes)
        .collect();
    let holed = DepthImage::from_ros("32FC1", 640, 480, 640 * 4, false, &bytes, now, 0).unwrap();
    live.feed.push_depth(holed);
    let r = live.frame_at(now);
    for (g, p) in r.groundings.iter().filter_map(|g| g.location.placement().map(|p| (g, p))) {
        let o = objects.iter().find(|o| o["command"] == g.command.as_str()).unwrap();
        assert!(close_enough(p.centroid, vec3(&o["centroid"])), "{}: {:?}", g.command, p);
    }
    assert_eq!(r.groundings.iter().filter(|g| g.location.placement().is_some()).count(), placed.len());

    // No valid reading at all: a reason, never a point.
    let now = SystemTime::now();
    live.feed.push_depth(DepthImage { metres: vec![f32::NAN; 640 * 480], ..at(now) });
    let r = live.frame_at(now);
    for (g, n) in r.groundings.iter().zip(notes(&r)) {
        let expect = if g.found { "no valid depth inside the mask" } else { "not found" };
        assert_eq!(n, expect);
    }

    // Depth at half the resolution is sampled at the scaled coordinates.
    let half = scene("depth_320x240");
    let now = SystemTime::now();
    live.feed.push_depth(DepthImage::from_png16(&half.join("depth.png"), now, 0).unwrap());
    let mut other = Live { frame: rgb_frame(&half, 0, now), ..live };
    let half_truth = load_json(&half.join("truth.json"));
    let half_commands = half_truth["objects"].as_array().unwrap().iter().map(|o| o["command"].as_str().unwrap());
    let (reply, ack) = tokio::sync::oneshot::channel();
    let set = SetCommands { commands: half_commands.map(String::from).collect(), reply: Some(reply) };
    other.pipeline.handles().commands_tx.blocking_send(set).unwrap();
    assert!(ack.blocking_recv().unwrap().accepted);
    let r = other.frame_at(now);
    let mut placed_half = 0;
    for (g, p) in r.groundings.iter().filter_map(|g| g.location.placement().map(|p| (g, p))) {
        let o = half_truth["objects"].as_array().unwrap().iter().find(|o| o["command"] == g.command.as_str()).unwrap();
        assert!(close_enough(p.centroid, vec3(&o["centroid"])), "{}: {:?}", g.command, p);
        placed_half += 1;
    }
    assert!(placed_half > 0, "{:?}", notes(&r));

    // Depth from another moment: unmatched, counted, published without 3-D.
    let r = other.frame_at(now + Duration::from_millis(500));
    assert!(notes(&r).iter().all(|n| n.starts_with("no depth within 20 ms of the frame")), "{:?}", notes(&r));

    let snap = stats.snapshot();
    assert_eq!((snap.depth_no_camera, snap.depth_unmatched, snap.depth_located), (1, 1, 4), "{snap:?}");
    assert_eq!(snap.depth_frames, 5);
    other.pipeline.shutdown();
}

fn pixel_sail() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixel-sail"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("RUST_LOG");
    cmd.args(["run", "--no-ros", "--no-progress", "--model"]).arg(repo("models/tiny"));
    cmd
}

/// The truth object a sample command names (its colour, shape and, when said, size).
fn named_object<'a>(command: &str, objects: &'a [Value]) -> Option<&'a Value> {
    let words: Vec<&str> = command.split(|c: char| !c.is_alphanumeric()).collect();
    let mut matching = objects.iter().filter(|o| {
        ["colour", "shape"].iter().all(|k| words.contains(&o[k].as_str().unwrap_or("?")))
            && (!(words.contains(&"small") || words.contains(&"large")) || words.contains(&o["size"].as_str().unwrap()))
    });
    let first = matching.next();
    if matching.next().is_some() { None } else { first }
}

#[test]
fn sample_clip_positions_match_the_renderer() {
    let out = tempfile::tempdir().unwrap();
    let jsonl = out.path().join("results.jsonl");
    let o = pixel_sail()
        .args(["--source", "models/sample/tabletop.webm", "--prompts-file", "models/sample/commands.txt"])
        .args(["--depth", "models/sample/depth/%04d.png", "--camera-info", "models/sample/camera_info.yaml"])
        .args(["--no-describe", "--max-frames", "12", "--jsonl"])
        .arg(&jsonl)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let truth: Vec<Value> = std::fs::read_to_string(repo("models/sample/truth_3d.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (mut placed, mut errors) = (0, Vec::new());
    let mut ids: std::collections::HashMap<String, std::collections::BTreeSet<u64>> = Default::default();
    for line in std::fs::read_to_string(&jsonl).unwrap().lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        let frame = line["seq"].as_u64().unwrap() as usize;
        let objects = truth[frame]["objects"].as_array().unwrap();
        for r in line["results"].as_array().unwrap() {
            let command = r["command"].as_str().unwrap();
            if r["found"] != true {
                assert_eq!(r["track_id"], 0);
                continue;
            }
            assert!(r["track_id"].as_u64().unwrap() > 0);
            ids.entry(command.to_string()).or_default().insert(r["track_id"].as_u64().unwrap());
            let (Some(o), Some(pos)) = (named_object(command, objects), r.get("position")) else {
                assert!(r.get("position").is_some() || r.get("position_note").is_some(), "{r}");
                continue;
            };
            let got = [&pos["x"], &pos["y"], &pos["z"]].map(|v| v.as_f64().unwrap());
            let want = vec3(&o["centroid"]);
            assert!(close_enough(got, want), "frame {frame} '{command}': {got:?} vs truth {want:?}");
            assert!(r["depth_pixels"].as_u64().unwrap() > 0);
            errors.push(distance(got, want));
            placed += 1;
        }
    }
    assert!(placed >= 12, "only {placed} positions in 12 frames of four commands");
    // The objects move a little from frame to frame: each command keeps its one id.
    assert!(ids.values().all(|set| set.len() == 1), "{ids:?}");
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    let max = errors.iter().cloned().fold(0.0, f64::max);
    eprintln!("sample clip: {placed} positions, error mean {:.1} mm, max {:.1} mm", mean * 1e3, max * 1e3);
}

#[test]
fn a_malformed_camera_file_stops_the_start_with_one_line() {
    let out = tempfile::tempdir().unwrap();
    let bad = out.path().join("camera_info.yaml");
    std::fs::write(&bad, "image_width: 640\nimage_height: 480\ncamera_matrix:\n  rows: 3\n  cols: 3\n  data: [1, 2]\n")
        .unwrap();
    let o = pixel_sail()
        .args(["--source", "models/sample/tabletop.webm", "--prompt", "the red circle"])
        .args(["--depth", "models/sample/depth"])
        .arg("--camera-info")
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("camera_matrix says 3x3 but holds 2 values"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A depth source that cannot start: one line naming it.
    let o = pixel_sail()
        .args(["--source", "test", "--prompt", "the red circle", "--depth", "nosuchdepthcamera ! pngdec"])
        .args(["--camera-info", "models/sample/camera_info.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("--depth 'nosuchdepthcamera ! pngdec' cannot start"), "{stderr}");
    // --depth without --camera-info is refused by the command line itself.
    let o = pixel_sail().args(["--source", "test", "--depth", "models/sample/depth"]).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--camera-info"));
}

#[test]
fn infer_places_what_it_finds_on_one_image() {
    let dir = scene("distorted");
    let truth = load_json(&dir.join("truth.json"));
    let objects = truth["objects"].as_array().unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixel-sail"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("RUST_LOG").args(["infer", "--json", "--image"]);
    cmd.arg(dir.join("rgb.jpg")).arg("--depth").arg(dir.join("depth.png"));
    cmd.arg("--camera-info").arg(dir.join("camera_info.yaml")).arg("--out").arg(out.path());
    for o in objects.iter().take(4) {
        cmd.args(["--prompt", o["command"].as_str().unwrap()]);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut placed = 0;
    for (c, o) in v["commands"].as_array().unwrap().iter().zip(objects) {
        if c["found"] != true {
            assert_eq!(c["position_note"], "not found", "{c}");
            continue;
        }
        let p = &c["position"];
        let got = [&p["x"], &p["y"], &p["z"]].map(|v| v.as_f64().unwrap());
        assert!(close_enough(got, vec3(&o["centroid"])), "{}: {got:?} vs {}", c["command"], o["centroid"]);
        placed += 1;
    }
    assert!(placed >= 2, "{v}");
}

#[test]
fn a_gstreamer_depth_source_is_matched_by_stamp() {
    // A live colour camera and a depth camera, both paced by the clock: the sample's depth PNGs played at
    // 10 fps stand for the depth camera (slow enough for a loaded machine; any two frames of the two
    // streams are then at most 50 ms apart).
    let out = tempfile::tempdir().unwrap();
    let jsonl = out.path().join("results.jsonl");
    let depth = "multifilesrc location=models/sample/depth/%04d.png index=0 stop-index=359 \
                 caps=image/png,framerate=10/1 ! pngdec";
    let o = pixel_sail()
        .args(["--source", "test:640x480@10", "--prompt", "the red circle", "--no-describe"])
        .args([
            "--depth",
            depth,
            "--camera-info",
            "models/sample/camera_info.yaml",
            "--max-frames",
            "6",
            "--depth-tolerance-ms",
            "60",
            "--jsonl",
        ])
        .arg(&jsonl)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let notes: Vec<String> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["results"][0]["position_note"].as_str().unwrap().to_string())
        .collect();
    // The test pattern holds no red circle: matched frames say so, unmatched ones say why.
    assert!(notes.iter().all(|n| n == "not found" || n.starts_with("no depth within 60 ms")), "{notes:?}");
    assert!(notes.iter().filter(|n| *n == "not found").count() >= 3, "{notes:?}");
    assert!(stderr.contains("3-D frames"), "{stderr}");
}
