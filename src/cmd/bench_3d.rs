//! The 3-D row of `pixel-sail bench`: what the worker's locator (ids + 3-D from depth) adds to a frame
//! with four commands at 640×480, on the model's own masks of a rendered scene and that scene's depth.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use serde_json::{Value, json};

use super::load_frame;
use crate::frame::{Grounding, Location};
use crate::inference::Engine;
use crate::spatial::{CameraIntrinsics, DepthFeed, DepthImage, DepthStatus, Locator};

/// A rendered scene with aligned depth and its camera (tests/fixtures/depth, made by the tabletop renderer).
pub const DEPTH_SCENE: &str = "tests/fixtures/depth/six_objects";

/// Median milliseconds of locating four commands' masks, the first frame (which builds the camera's rays),
/// and how many of
/// the four the model found (and the locator placed).
pub fn bench_locator(engine: &Engine, iters: usize) -> anyhow::Result<Value> {
    let dir = Path::new(DEPTH_SCENE);
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("truth.json")).with_context(|| format!("cannot read {DEPTH_SCENE}"))?,
    )?;
    let commands: Vec<String> = truth["objects"]
        .as_array()
        .map(|objects| objects.iter().filter_map(|o| o["command"].as_str().map(String::from)).take(4).collect())
        .unwrap_or_default();
    let mut frame = load_frame(&dir.join("rgb.jpg"))?;
    frame.stamp = SystemTime::now();
    let state = engine.encode(&frame, None)?;
    let groundings: Vec<Grounding> = engine
        .segment(&state, &commands)?
        .into_iter()
        .zip(&commands)
        .map(|(s, command)| Grounding {
            command: command.clone(),
            found: s.found,
            score: s.score,
            bbox: s.bbox,
            mask: s.mask,
            rle: s.rle,
            description: None,
            track_id: 0,
            location: Location::NoDepthInput,
        })
        .collect();
    let camera = CameraIntrinsics::from_calibration_yaml(&std::fs::read_to_string(dir.join("camera_info.yaml"))?)?;
    let feed = DepthFeed::new(Duration::from_millis(20));
    feed.set_camera(camera);
    feed.push_depth(DepthImage::from_png16(&dir.join("depth.png"), frame.stamp, 0)?);
    let mut locator = Locator::new(Some(feed));

    let first = Instant::now();
    let mut warm = groundings.clone();
    anyhow::ensure!(locator.locate(&frame, &mut warm) == DepthStatus::Located, "the bench scene's depth did not match");
    let with_rays = first.elapsed().as_secs_f64() * 1e3;
    let mut times: Vec<f64> = (0..iters.max(1) * 5)
        .map(|_| {
            let mut gs = groundings.clone();
            let t = Instant::now();
            std::hint::black_box(locator.locate(&frame, &mut gs));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let placed = warm.iter().filter(|g| g.location.placement().is_some()).count();
    Ok(json!({
        "locate_4_commands_ms": times[times.len() / 2],
        "locate_4_commands_p99_ms": times[(times.len() * 99 / 100).min(times.len() - 1)],
        "first_frame_with_rays_ms": with_rays,
        "found": warm.iter().filter(|g| g.found).count(),
        "placed": placed,
    }))
}
