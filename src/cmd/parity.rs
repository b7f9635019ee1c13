//! `pixel-sail parity`: the engine on any execution provider against the parity fixtures (PyTorch's answers,
//! tests/fixtures/parity): the same found flags, masks within an IoU, the same description token ids and
//! visual-prompt answers. tests/parity.rs runs [`check`] on CPU; scripts/gpu_check.sh runs this command on
//! CUDA and TensorRT. FP16 TensorRT engines are held to a lower IoU and their words are stated, not required.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::load_frame;
use crate::cli::ParityArgs;
use crate::config::ProviderKind;
use crate::decode::{load_mask_png, mask_iou};
use crate::frame::{Mask, VisualPrompt};
use crate::grounding::Grounder;

/// The fields of cases.json these checks read (the file holds more; tests/parity.rs reads it all).
#[derive(Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    frame: String,
    segment: Vec<SegmentCase>,
    describe: Vec<DescribeCase>,
    visual_prompts: Vec<VpCase>,
}

#[derive(Deserialize)]
struct SegmentCase {
    command: String,
    found: bool,
    mask: String,
}

#[derive(Deserialize)]
struct DescribeCase {
    command: String,
    text: String,
    ids: Vec<i64>,
}

#[derive(Deserialize)]
struct VpCase {
    point: [f32; 2],
    text: String,
    ids: Vec<i64>,
    found: bool,
    mask: String,
}

/// What must hold. FP32 everywhere: IoU >= 0.99 and identical token ids; FP16: IoU >= 0.97, words stated.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Tolerance {
    pub min_iou: f64,
    pub exact_words: bool,
}

impl Tolerance {
    pub const FP32: Tolerance = Tolerance { min_iou: 0.99, exact_words: true };
    pub const FP16: Tolerance = Tolerance { min_iou: 0.97, exact_words: false };
}

/// One comparison with PyTorch's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// e.g. `frame_0.png "red circle" mask`
    pub what: String,
    pub ok: bool,
    /// e.g. `IoU 0.9981`, or both texts when words differ
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParityReport {
    pub provider: String,
    pub precision: &'static str,
    pub tolerance: Tolerance,
    pub passed: bool,
    pub checks_total: usize,
    pub checks_failed: usize,
    pub min_mask_iou: f64,
    /// Descriptions whose token ids differ from PyTorch's (allowed, and listed, under FP16).
    pub words_differ: usize,
    pub checks: Vec<Check>,
}

fn iou(path: &Path, got: &Mask) -> anyhow::Result<f64> {
    let want = load_mask_png(path)?;
    let (i, u) = mask_iou(&want, got).with_context(|| format!("{}: mask sizes differ", path.display()))?;
    Ok(if u == 0 { 1.0 } else { i as f64 / u as f64 })
}

struct Checker {
    tol: Tolerance,
    checks: Vec<Check>,
    min_iou: f64,
    words_differ: usize,
}

impl Checker {
    fn push(&mut self, what: String, ok: bool, detail: String) {
        self.checks.push(Check { what, ok, detail });
    }
    fn mask(&mut self, what: String, iou: f64) {
        self.min_iou = self.min_iou.min(iou);
        self.push(what, iou >= self.tol.min_iou, format!("IoU {iou:.4}"));
    }
    fn words(&mut self, what: String, got_ids: &[i64], want_ids: &[i64], got: &str, want: &str) {
        let same = got_ids == want_ids;
        self.words_differ += usize::from(!same);
        let detail = if same {
            format!("same ids: {}", got.trim())
        } else {
            format!("ours {:?}, PyTorch {:?}", got.trim(), want.trim())
        };
        self.push(what, same || !self.tol.exact_words, detail);
    }
}

/// Run every case of `fixtures_dir/cases.json` on `grounder` (its engine for masks and words, its
/// `describe_region` for visual prompts, as the node answers them).
pub fn check(
    grounder: &Grounder,
    fixtures_dir: &Path,
    tol: Tolerance,
    precision: &'static str,
) -> anyhow::Result<ParityReport> {
    let path = fixtures_dir.join("cases.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let fx: Fixtures =
        serde_json::from_str(&text).with_context(|| format!("{} is not parity fixtures", path.display()))?;
    let mut c = Checker { tol, checks: Vec::new(), min_iou: 1.0, words_differ: 0 };
    let engine = grounder.engine();
    let max = engine.model_info().config.max_new_tokens;
    for case in &fx.cases {
        let frame = load_frame(&fixtures_dir.join(&case.frame))?;
        let state = engine.encode(&frame, None)?;
        let commands: Vec<String> = case.segment.iter().map(|s| s.command.clone()).collect();
        let out = engine.segment(&state, &commands)?;
        for (want, got) in case.segment.iter().zip(&out) {
            let at = format!("{} {:?}", case.frame, want.command);
            c.push(
                format!("{at} found"),
                got.found == want.found,
                format!("ours {}, PyTorch {}", got.found, want.found),
            );
            c.mask(format!("{at} mask"), iou(&fixtures_dir.join(&want.mask), &got.mask)?);
        }
        let commands: Vec<String> = case.describe.iter().map(|d| d.command.clone()).collect();
        let (ids, _) = engine.describe_tokens(&state, &commands, 64)?;
        let texts = engine.describe(&state, &commands, 64)?;
        for ((want, got), text) in case.describe.iter().zip(&ids).zip(&texts) {
            c.words(format!("{} {:?} description", case.frame, want.command), got, &want.ids, text, &want.text);
        }
        for want in &case.visual_prompts {
            let at = format!("{} point {:?}", case.frame, want.point);
            let got =
                grounder.describe_region(&frame, &VisualPrompt::Point { x: want.point[0], y: want.point[1] }, max)?;
            c.words(format!("{at} description"), &got.ids, &want.ids, &got.text, &want.text);
            let found = got.segment.found == want.found;
            c.push(format!("{at} found"), found, format!("ours {}, PyTorch {}", got.segment.found, want.found));
            c.mask(format!("{at} mask"), iou(&fixtures_dir.join(&want.mask), &got.segment.mask)?);
        }
    }
    let failed = c.checks.iter().filter(|k| !k.ok).count();
    Ok(ParityReport {
        provider: engine.provider().to_string(),
        precision,
        tolerance: tol,
        passed: failed == 0 && !c.checks.is_empty(),
        checks_total: c.checks.len(),
        checks_failed: failed,
        min_mask_iou: c.min_iou,
        words_differ: c.words_differ,
        checks: c.checks,
    })
}

pub fn run(args: &ParityArgs) -> anyhow::Result<()> {
    let cfg = args.engine.to_config()?;
    let grounder = Grounder::load(&cfg)?;
    let engine = grounder.engine();
    let fp16 = engine.provider() == ProviderKind::TensorRt.as_str() && cfg.tensorrt.fp16;
    let (tol, precision) = if fp16 { (Tolerance::FP16, "fp16") } else { (Tolerance::FP32, "fp32") };
    let dir: PathBuf = args.fixtures.clone();
    let report = check(&grounder, &dir, tol, precision)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for k in report.checks.iter().filter(|k| !k.ok || args.verbose_checks) {
            println!("{} {}: {}", if k.ok { "ok  " } else { "FAIL" }, k.what, k.detail);
        }
        println!(
            "parity on {} ({}): {} of {} checks passed, lowest mask IoU {:.4}, {} descriptions differ",
            report.provider,
            report.precision,
            report.checks_total - report.checks_failed,
            report.checks_total,
            report.min_mask_iou,
            report.words_differ
        );
    }
    if !report.passed {
        anyhow::bail!(
            "parity failed on {}: {} of {} checks",
            report.provider,
            report.checks_failed,
            report.checks_total
        );
    }
    Ok(())
}
