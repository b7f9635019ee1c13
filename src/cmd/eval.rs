//! `pixel-sail eval SET_DIR`: score a labelled set (DESIGN.md §4 `set.jsonl`) the way
//! `models/pixel_sail/evaluate.py` does, print cIoU, gIoU, N-acc, description accuracy and
//! visual-prompt description accuracy for both grounding policies (or the one `--policy` names) in one
//! table, and optionally write one prediction a line.
//!
//! Every query is answered as the node answers it, through the [`Grounder`]: a named object the node did not
//! find gets no description, which counts as a wrong description (and is counted apart, `not_described`).

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::json;

use super::load_frame;
use super::metrics::{Accumulator, Grounding, GroundingPart, Metrics};
use crate::cli::EvalArgs;
use crate::config::PolicyKind;
use crate::decode::{load_mask_png, mask_iou};
use crate::frame::{Frame, VisualPrompt};
use crate::grounding::{Grounder, Vocabulary};
use crate::inference::ImageState;

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
    let policies = match args.engine.policy {
        Some(one) => vec![one],
        None => vec![PolicyKind::Published, PolicyKind::Model],
    };
    let mut predictions = match &args.predictions {
        Some(p) => {
            Some(BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?))
        }
        None => None,
    };
    let mut rows = Vec::new();
    for policy in policies {
        let cfg = crate::config::EngineConfig { policy, ..args.engine.to_config()? };
        let grounder = Grounder::load(&cfg)?;
        let bar = ProgressBar::new(queries.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg:9} {bar:40} {pos}/{len} queries  {elapsed_precise} (eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(policy.as_str());
        let t0 = std::time::Instant::now();
        let metrics = evaluate(&grounder, &args.set_dir, &queries, |index, pred| {
            bar.inc(1);
            if let Some(w) = predictions.as_mut() {
                let mut line = pred;
                line["index"] = json!(index);
                line["policy"] = json!(policy.as_str());
                writeln!(w, "{line}").context("cannot write a prediction")?;
            }
            Ok(())
        })?;
        bar.finish_and_clear();
        rows.push(Row {
            policy: grounder.policy().summary(),
            kind: policy,
            metrics,
            secs: t0.elapsed().as_secs_f64(),
            vision_passes: grounder.vision_passes(),
        });
    }
    if let Some(mut w) = predictions {
        w.flush()?;
    }
    print_table(&rows, queries.len());
    if args.json {
        let all: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|r| Ok((r.kind.as_str().to_string(), serde_json::to_value(&r.metrics)?)))
            .collect::<anyhow::Result<_>>()?;
        println!("{}", serde_json::Value::Object(all));
    }
    Ok(())
}

/// One policy's figures on the set.
pub struct Row {
    pub kind: PolicyKind,
    /// The policy and the parts that ran.
    pub policy: String,
    pub metrics: Metrics,
    pub secs: f64,
    pub vision_passes: u64,
}

/// Both policies on the same set: one table, a row each, then what each row's description figures rest on.
pub fn print_table(rows: &[Row], n: usize) {
    println!("{n} queries");
    println!(
        "{:<10} {:>7} {:>7} {:>7} {:>12} {:>15} {:>14} {:>14}",
        "policy", "cIoU", "gIoU", "N-acc", "description", "VP description", "not described", "vision passes"
    );
    for r in rows {
        let m = &r.metrics;
        println!(
            "{:<10} {:>7.4} {:>7.4} {:>7.4} {:>12.4} {:>15.4} {:>14} {:>14}",
            r.kind.as_str(),
            m.ciou,
            m.giou,
            m.n_acc,
            m.description_acc,
            m.vp_description_acc,
            m.counts.not_described,
            r.vision_passes
        );
    }
    for r in rows {
        let m = &r.metrics;
        println!("{:<10} {} · {:.1} s", r.kind.as_str(), r.policy, r.secs);
        println!(
            "           {} commands ({} no-target), {} named objects ({} not found, so not described: counted wrong), {} visual prompts",
            m.counts.segment, m.counts.no_target, m.counts.describe, m.counts.not_described, m.counts.vp_describe
        );
        let part = |p: &GroundingPart| match p.description_acc {
            Some(acc) => format!("{:.1} % ({acc:.3} right)", 100.0 * p.share),
            None => "none".to_string(),
        };
        let by = &m.named_by_grounding;
        println!(
            "           named objects, by grounding: right object {} · wrong object {} · not found {}",
            part(&by.right_object),
            part(&by.wrong_object),
            part(&by.not_found)
        );
    }
}

/// Score `queries` as `grounder`'s policy answers them; `on_prediction(index, json)` sees every prediction in
/// order. Descriptions are scored with model.json's vocabulary (without one: the same text, in lower case).
pub fn evaluate(
    grounder: &Grounder,
    set_dir: &Path,
    queries: &[Query],
    mut on_prediction: impl FnMut(usize, serde_json::Value) -> anyhow::Result<()>,
) -> anyhow::Result<Metrics> {
    let mut acc = Accumulator::default();
    let mut cached: Option<(String, Frame, ImageState)> = None;
    let max_tokens = grounder.engine().model_info().config.max_new_tokens;
    let vocabulary = grounder.policy().vocabulary.as_ref();
    let right = |got: &str, expected: &str| matches(vocabulary, got, expected);
    for (index, q) in queries.iter().enumerate() {
        if cached.as_ref().is_none_or(|(name, _, _)| *name != q.image) {
            let frame = load_frame(&set_dir.join(&q.image))?;
            let state = grounder.encode(&frame, None)?;
            cached = Some((q.image.clone(), frame, state));
        }
        let Some((_, frame, state)) = cached.as_ref() else { continue };
        let pred = match q.task.as_str() {
            "segment" => {
                let text = q.text.clone().unwrap_or_default();
                let seg = first_segment(grounder.segment_encoded(frame, state, std::slice::from_ref(&text))?)?;
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
                    // as the node does: describe what the command's mask shows; nothing when it found nothing
                    let seg = first_segment(grounder.segment_encoded(frame, state, std::slice::from_ref(text))?)?;
                    // a found object whose description fails gets none, as in the node (the round goes on)
                    let got = match seg.found {
                        true => match grounder.describe_object(frame, &seg.mask, max_tokens) {
                            Ok(d) => Some(d.text),
                            Err(e) => {
                                tracing::warn!(
                                    "query {index}: no description of the found object ({e}); not described"
                                );
                                None
                            }
                        },
                        false => None,
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
                    match &got {
                        Some(got) => acc.add_description(right(got, &expected), grounding),
                        None => acc.add_not_described(grounding),
                    }
                    json!({ "found": seg.found, "score": null, "bbox": null, "rle": null, "description": got })
                } else {
                    let vp = match (q.point, q.bbox, &q.mask) {
                        (Some([x, y]), _, _) => VisualPrompt::Point { x, y },
                        (_, Some([x0, y0, x1, y1]), _) => VisualPrompt::Box { x0, y0, x1, y1 },
                        (_, _, Some(rel)) => VisualPrompt::Mask(Arc::new(load_mask_png(&set_dir.join(rel))?)),
                        _ => anyhow::bail!("query {index}: describe needs text, point, box or mask"),
                    };
                    let got = grounder.describe_region(frame, &vp, max_tokens)?.text;
                    acc.add_vp_description(right(&got, &expected));
                    json!({ "found": null, "score": null, "bbox": null, "rle": null, "description": got })
                }
            }
            other => anyhow::bail!("query {index}: unknown task {other:?} (segment or describe)"),
        };
        on_prediction(index, pred)?;
    }
    Ok(acc.metrics())
}

/// A description is right when it says the expected size, colour, shape and place (model.json's vocabulary),
/// or, for a model without one, when it is the expected text.
fn matches(vocabulary: Option<&Vocabulary>, got: &str, expected: &str) -> bool {
    match vocabulary {
        Some(v) => v.matches(got, expected),
        None => got.trim().eq_ignore_ascii_case(expected.trim()),
    }
}

fn first_segment(mut out: crate::grounding::FrameSegments) -> anyhow::Result<crate::inference::SegmentOutput> {
    out.segments.pop().context("no segmentation returned")
}
