//! `pixel-sail eval SET_DIR`: score a labelled set (DESIGN.md §4 `set.jsonl`) the way
//! `models/pixel_sail/evaluate.py` does, print cIoU, gIoU, N-acc, description accuracy and
//! visual-prompt description accuracy, and optionally write one prediction a line.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::json;

use super::load_frame;
use super::metrics::{Accumulator, Grounding, GroundingPart, Metrics, descriptions_match};
use crate::cli::EvalArgs;
use crate::decode::{load_mask_png, mask_iou};
use crate::frame::{Frame, VisualPrompt};
use crate::inference::{Engine, ImageState, SegmentOutput};

/// One line of set.jsonl.
#[derive(Debug, Clone, Deserialize)]
pub struct Query {
    pub image: String,
    pub task: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub mask: Option<String>,
    #[serde(default)]
    pub point: Option<[f32; 2]>,
    #[serde(rename = "box", default)]
    pub bbox: Option<[f32; 4]>,
    #[serde(default)]
    pub description: Option<String>,
}

pub fn read_set(set_dir: &Path) -> anyhow::Result<Vec<Query>> {
    let path = set_dir.join("set.jsonl");
    let file = std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let q: Query =
            serde_json::from_str(&line).with_context(|| format!("{}:{}: bad query", path.display(), i + 1))?;
        out.push(q);
    }
    Ok(out)
}

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let mut queries = read_set(&args.set_dir)?;
    if let Some(n) = args.limit {
        queries.truncate(n);
    }
    let cfg = args.engine.to_config()?;
    let engine = Engine::load(&cfg)?;
    let mut predictions = match &args.predictions {
        Some(p) => {
            Some(BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?))
        }
        None => None,
    };
    let bar = ProgressBar::new(queries.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} queries  {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let t0 = std::time::Instant::now();
    let metrics = evaluate(&engine, &args.set_dir, &queries, |index, pred| {
        bar.inc(1);
        if let Some(w) = predictions.as_mut() {
            let mut line = pred;
            line["index"] = json!(index);
            writeln!(w, "{line}").context("cannot write a prediction")?;
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if let Some(mut w) = predictions {
        w.flush()?;
    }
    print_metrics(&metrics, queries.len(), t0.elapsed().as_secs_f64());
    if args.json {
        println!("{}", serde_json::to_string(&metrics)?);
    }
    Ok(())
}

pub fn print_metrics(m: &Metrics, n: usize, secs: f64) {
    println!("queries                          {n} ({:.1} s)", secs);
    println!(
        "cIoU                             {:.4}  ({} commands, {} no-target)",
        m.ciou, m.counts.segment, m.counts.no_target
    );
    println!("gIoU                             {:.4}", m.giou);
    println!("N-acc                            {:.4}", m.n_acc);
    println!("description accuracy             {:.4}  ({} named objects)", m.description_acc, m.counts.describe);
    println!("VP description accuracy          {:.4}  ({} visual prompts)", m.vp_description_acc, m.counts.vp_describe);
    let part = |p: &GroundingPart| match p.description_acc {
        Some(acc) => format!("{:.1} % ({acc:.3} right)", 100.0 * p.share),
        None => "none".to_string(),
    };
    let by = &m.named_by_grounding;
    println!(
        "named objects, by grounding      right object {} · wrong object {} · not found {}",
        part(&by.right_object),
        part(&by.wrong_object),
        part(&by.not_found)
    );
}

/// Score `queries`; `on_prediction(index, json)` sees every prediction in order.
pub fn evaluate(
    engine: &Engine,
    set_dir: &Path,
    queries: &[Query],
    mut on_prediction: impl FnMut(usize, serde_json::Value) -> anyhow::Result<()>,
) -> anyhow::Result<Metrics> {
    let mut acc = Accumulator::default();
    let mut cached: Option<(String, Frame, ImageState)> = None;
    let max_tokens = engine.model_info().config.max_new_tokens;
    for (index, q) in queries.iter().enumerate() {
        if cached.as_ref().is_none_or(|(name, _, _)| *name != q.image) {
            let frame = load_frame(&set_dir.join(&q.image))?;
            let state = engine.encode(&frame, None)?;
            cached = Some((q.image.clone(), frame, state));
        }
        let Some((_, frame, state)) = cached.as_ref() else { continue };
        let pred = match q.task.as_str() {
            "segment" => {
                let text = q.text.clone().unwrap_or_default();
                let seg = segment_as_published(engine, frame, state, &text)?;
                match &q.mask {
                    None => acc.add_no_target(seg.found),
                    Some(rel) => {
                        let gt = load_mask_png(&set_dir.join(rel))?;
                        let (i, u) = mask_iou(&gt, &seg.mask).with_context(|| {
                            format!("{rel} is {}x{}, the image {}x{}", gt.width, gt.height, frame.width, frame.height)
                        })?;
                        acc.add_present(i as u64, u as u64);
                    }
                }
                json!({ "found": seg.found, "score": seg.score, "bbox": seg.bbox, "rle": seg.rle, "description": null })
            }
            "describe" => {
                let expected = q.description.clone().unwrap_or_default();
                if let Some(text) = &q.text {
                    let one = std::slice::from_ref(text);
                    // as the node does: describe what the command's mask shows (a closer look when it is small);
                    // the node describes nothing it did not find, so then the command's own reading counts
                    let seg = segment_as_published(engine, frame, state, text)?;
                    let got = if seg.found {
                        engine.describe_object_on(frame, &seg.mask, max_tokens)?.text
                    } else {
                        engine.describe(state, one, max_tokens)?.pop().unwrap_or_default()
                    };
                    let grounding = match &q.mask {
                        Some(rel) => {
                            let gt = load_mask_png(&set_dir.join(rel))?;
                            let (i, u) =
                                mask_iou(&gt, &seg.mask).with_context(|| format!("{rel} is not the image's size"))?;
                            Some(Grounding::of(seg.found, i, u))
                        }
                        None => None,
                    };
                    acc.add_description(descriptions_match(&got, &expected), grounding);
                    json!({ "found": null, "score": null, "bbox": null, "rle": null, "description": got })
                } else {
                    let vp = match (q.point, q.bbox, &q.mask) {
                        (Some([x, y]), _, _) => VisualPrompt::Point { x, y },
                        (_, Some([x0, y0, x1, y1]), _) => VisualPrompt::Box { x0, y0, x1, y1 },
                        (_, _, Some(rel)) => VisualPrompt::Mask(Arc::new(load_mask_png(&set_dir.join(rel))?)),
                        _ => anyhow::bail!("query {index}: describe needs text, point, box or mask"),
                    };
                    let got = engine.describe_region_on(frame, &vp, max_tokens)?.text;
                    acc.add_vp_description(descriptions_match(&got, &expected));
                    json!({ "found": null, "score": null, "bbox": null, "rle": null, "description": got })
                }
            }
            other => anyhow::bail!("query {index}: unknown task {other:?} (segment or describe)"),
        };
        on_prediction(index, pred)?;
    }
    Ok(acc.metrics())
}

/// A command's mask as the node publishes it: the first pass, then the closer segmentation when it is due, then
/// the closer check against the command's colour and shape.
fn segment_as_published(
    engine: &Engine,
    frame: &Frame,
    state: &ImageState,
    command: &str,
) -> anyhow::Result<SegmentOutput> {
    let commands = [command.to_string()];
    let mut segs = engine.segment(state, &commands)?;
    engine.refine_masks(frame, &mut segs)?;
    engine.confirm_found(frame, &commands, &mut segs)?;
    segs.pop().context("no segmentation returned")
}
