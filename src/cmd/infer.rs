//! `pixel-sail infer`: one image, any number of commands and at most one visual prompt. Writes a mono8 mask
//! PNG per command (255 inside), `overlay.png` (masks, boxes, labels) and `result.json` into `--out`.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};

use super::load_frame;
use crate::cli::InferArgs;
use crate::decode::{OverlayItem, draw_overlay, palette_colour, save_mask_png};
use crate::frame::{Frame, Placement, VisualPrompt};
use crate::grounding::{Grounder, RegionAnswer};
use crate::inference::SegmentOutput;
use crate::spatial::{CameraIntrinsics, DepthImage, EstimateConfig, RayTable, estimate_placement};

pub fn run(args: &InferArgs) -> anyhow::Result<()> {
    if args.prompts.is_empty() && args.point.is_none() && args.bbox.is_none() {
        anyhow::bail!("nothing to do: give at least one --prompt, or a --point / --box to describe");
    }
    if args.point.is_some() && args.bbox.is_some() {
        anyhow::bail!("give either --point or --box, not both");
    }
    let cfg = args.engine.to_config()?;
    let frame = load_frame(&args.image)?;
    let depth = load_depth(args, &frame)?;
    let grounder = Grounder::load(&cfg)?;
    let engine = grounder.engine();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output folder {}", args.out.display()))?;
    let t0 = Instant::now();

    // as the node does: the first pass, then the policy's closer segmentation and check of found objects
    let segments = grounder.segment_frame(&frame, &args.prompts)?.segments;
    let max_tokens = engine.model_info().config.max_new_tokens;
    // as the node does: a found object is described from its mask (and looked at closer when small); one the
    // model says is not there gets no description
    let mut descriptions: Vec<Option<String>> = Vec::new();
    if args.describe {
        for (seg, command) in segments.iter().zip(&args.prompts) {
            // a found object whose description fails gets none, as in the node
            descriptions.push(match seg.found {
                true => match grounder.describe_object(&frame, &seg.mask, max_tokens) {
                    Ok(d) => Some(d.text),
                    Err(e) => {
                        tracing::warn!("'{command}': no description of the found object: {e}");
                        None
                    }
                },
                false => None,
            });
        }
    }
    let vp = match (args.point, args.bbox) {
        (Some([x, y]), _) => Some(VisualPrompt::Point { x, y }),
        (_, Some([x0, y0, x1, y1])) => Some(VisualPrompt::Box { x0, y0, x1, y1 }),
        _ => None,
    };
    let region = match &vp {
        Some(vp) => Some(grounder.describe_region(&frame, vp, max_tokens)?),
        None => None,
    };
    let elapsed = t0.elapsed();

    let mut commands = Vec::new();
    let mut items = Vec::new();
    for (k, (cmd, seg)) in args.prompts.iter().zip(&segments).enumerate() {
        let file = format!("mask_{}.png", k + 1);
        save_mask_png(&seg.mask, &args.out.join(&file))?;
        let description = descriptions.get(k).cloned().flatten();
        let unknown = engine.unknown_words(cmd);
        if !unknown.is_empty() {
            tracing::warn!("command {cmd:?}: unknown words: {} (the model does not know them)", unknown.join(", "));
        }
        let mut entry = segment_json(seg);
        entry["index"] = json!(k);
        entry["command"] = json!(cmd);
        entry["unknown_words"] = json!(unknown);
        entry["mask_png"] = json!(file);
        entry["description"] = json!(description);
        let mut away = String::new();
        if let Some((image, rays)) = &depth {
            match seg.found.then(|| estimate_placement(&seg.mask, seg.bbox, image, rays, &EstimateConfig::default())) {
                Some(Ok(p)) => {
                    away = format!(" {:.2} m", crate::sink::distance_m(p.centroid));
                    place_json(&mut entry, &p);
                }
                Some(Err(why)) => entry["position_note"] = json!(why),
                None => entry["position_note"] = json!("not found"),
            }
        }
        commands.push(entry);
        let label = match (&description, seg.found) {
            (Some(d), true) => format!("{} {cmd}: {d}{away}", k + 1),
            (_, true) => format!("{} {cmd} {:.2}{away}", k + 1, seg.score),
            (_, false) => format!("{} {cmd}: not found", k + 1),
        };
        items.push(OverlayItem {
            mask: seg.found.then_some(seg.mask.as_ref()),
            bbox: seg.bbox,
            label,
            colour: palette_colour(k),
        });
    }
    let region_json = match (&vp, &region) {
        (Some(vp), Some(RegionAnswer { text, segment: seg, close_look, .. })) => {
            save_mask_png(&seg.mask, &args.out.join("region_mask.png"))?;
            let mut entry = segment_json(seg);
            entry["prompt"] = prompt_json(vp);
            entry["description"] = json!(text);
            // where the second, closer pass looked and what it said (null: the object was big enough)
            entry["close_look"] = json!(close_look.as_ref().map(|c| json!({ "crop": c.rect, "description": c.text })));
            entry["mask_png"] = json!("region_mask.png");
            let said = if text.is_empty() { "(no description)" } else { text.as_str() };
            // The prompt itself (a small square around a point, or the box), then what the model made of it.
            items.push(OverlayItem {
                mask: None,
                bbox: Some(prompt_box(vp, &frame)),
                label: "?".into(),
                colour: [255, 255, 255],
            });
            items.push(OverlayItem {
                mask: seg.found.then_some(seg.mask.as_ref()),
                bbox: seg.bbox,
                label: format!("? {said}"),
                colour: [255, 255, 255],
            });
            entry
        }
        _ => Value::Null,
    };
    let overlay = draw_overlay(&frame.data, frame.width as usize, frame.height as usize, &items);
    let overlay_path = args.out.join("overlay.png");
    image::save_buffer(&overlay_path, &overlay, frame.width, frame.height, image::ExtendedColorType::Rgb8)
        .with_context(|| format!("cannot write {}", overlay_path.display()))?;

    let result = json!({
        "image": args.image.display().to_string(),
        "width": frame.width,
        "height": frame.height,
        "model": engine.model_dir().display().to_string(),
        "provider": engine.provider(),
        "policy": grounder.policy().kind.as_str(),
        "vision_passes": grounder.vision_passes(),
        "commands": commands,
        "region": region_json,
        "milliseconds": elapsed.as_secs_f64() * 1e3,
    });
    let text = serde_json::to_string_pretty(&result)?;
    write_file(&args.out.join("result.json"), &text)?;
    if args.json {
        println!("{text}");
    } else {
        print_summary(
            args,
            &segments,
            &descriptions,
            region.as_ref().map(|r| r.text.as_str()),
            engine.provider(),
            elapsed,
        );
    }
    Ok(())
}

/// `--depth` and `--camera-info`, read and checked against the image, with the camera's rays for it.
fn load_depth(args: &InferArgs, frame: &Frame) -> anyhow::Result<Option<(DepthImage, RayTable)>> {
    let (Some(path), Some(camera)) = (&args.depth, &args.camera_info) else { return Ok(None) };
    let text = std::fs::read_to_string(camera).with_context(|| format!("cannot read {}", camera.display()))?;
    let camera = CameraIntrinsics::from_calibration_yaml(&text).with_context(|| format!("{}", camera.display()))?;
    let image = DepthImage::from_png16(path, frame.stamp, 0)?;
    let aspect = |w: u32, h: u32| w as f64 / h as f64;
    for (what, w, h) in [("the depth image", image.width, image.height), ("camera_info", camera.width, camera.height)] {
        if (aspect(w, h) / aspect(frame.width, frame.height) - 1.0).abs() > 0.01 {
            anyhow::bail!("{what} is {w}x{h}, the image {}x{}: not the same camera", frame.width, frame.height);
        }
    }
    Ok(Some((image, RayTable::new(&camera, frame.width, frame.height))))
}

fn place_json(entry: &mut Value, p: &Placement) {
    let xyz = |[x, y, z]: [f64; 3]| json!({ "x": x, "y": y, "z": z });
    entry["position"] = xyz(p.centroid);
    entry["extent"] = xyz(p.extent);
    entry["depth_pixels"] = json!(p.depth_pixels);
}

fn segment_json(seg: &SegmentOutput) -> Value {
    json!({ "found": seg.found, "score": seg.score, "bbox": seg.bbox, "rle": seg.rle })
}

/// Where to draw the visual prompt: the box itself, or 9×9 pixels around a point.
fn prompt_box(vp: &VisualPrompt, frame: &crate::frame::Frame) -> [u32; 4] {
    let clamp = |v: f32, hi: u32| (v.max(0.0) as u32).min(hi);
    match vp {
        VisualPrompt::Point { x, y } => [
            clamp(x - 4.0, frame.width),
            clamp(y - 4.0, frame.height),
            clamp(x + 5.0, frame.width),
            clamp(y + 5.0, frame.height),
        ],
        VisualPrompt::Box { x0, y0, x1, y1 } => {
            [clamp(*x0, frame.width), clamp(*y0, frame.height), clamp(*x1, frame.width), clamp(*y1, frame.height)]
        }
        VisualPrompt::Mask(m) => crate::decode::bbox_of(m).unwrap_or([0, 0, 0, 0]),
    }
}

fn prompt_json(vp: &VisualPrompt) -> Value {
    match vp {
        VisualPrompt::Point { x, y } => json!({ "point": [x, y] }),
        VisualPrompt::Box { x0, y0, x1, y1 } => json!({ "box": [x0, y0, x1, y1] }),
        VisualPrompt::Mask(_) => json!({ "mask": true }),
    }
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn print_summary(
    args: &InferArgs,
    segs: &[SegmentOutput],
    descs: &[Option<String>],
    region: Option<&str>,
    provider: &str,
    elapsed: std::time::Duration,
) {
    for (k, (cmd, seg)) in args.prompts.iter().zip(segs).enumerate() {
        let what = match seg.bbox {
            Some(b) if seg.found => format!("found (score {:.2}), box {:?}", seg.score, b),
            _ => format!("not found (score {:.2})", seg.score),
        };
        let desc = descs.get(k).cloned().flatten().map(|d| format!(" — {d}")).unwrap_or_default();
        println!("{}. {cmd:?}: {what}{desc}", k + 1);
    }
    if let Some(text) = region {
        println!("region: {text}");
    }
    println!("wrote {} ({provider}, {:.0} ms)", args.out.join("overlay.png").display(), elapsed.as_secs_f64() * 1e3);
}
