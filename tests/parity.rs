//! Parity with the Python reference: the fixtures in tests/fixtures/parity/ come from
//! `python -m models.pixel_sail.make_fixtures` (PyTorch backend, models/tiny's checkpoint). The Rust engine,
//! running the exported ONNX graphs through ONNX Runtime, must give the same found flags, masks with
//! IoU >= 0.99, the same description token ids, and the same visual-prompt answers.

use std::path::{Path, PathBuf};

use pixel_sail::cmd::load_frame;
use pixel_sail::config::EngineConfig;
use pixel_sail::decode::{load_mask_png, mask_iou};
use pixel_sail::frame::VisualPrompt;
use pixel_sail::grounding::{Grounder, Vocabulary};
use pixel_sail::inference::Engine;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    frame: String,
    width: u32,
    height: u32,
    segment: Vec<SegmentCase>,
    describe: Vec<DescribeCase>,
    visual_prompts: Vec<VpCase>,
}

#[derive(Deserialize)]
struct SegmentCase {
    command: String,
    found: bool,
    score: f32,
    mask: String,
    logits_sum: f64,
    /// The second, closer segmentation (model.json `mask_refine`): its crop and the mask the node publishes.
    refined: Option<RefinedCase>,
    /// The closer check against the command (model.json `confirm_found`; None: none ran), and what the node
    /// publishes after it.
    confirm: Option<ConfirmCase>,
    published_found: bool,
    published_mask: String,
}

#[derive(Deserialize)]
struct ConfirmCase {
    rect: [u32; 4],
    text: String,
    /// Per word the command names: the log-odds the closer look's own word beats it by.
    against: std::collections::BTreeMap<String, f32>,
    agrees: bool,
}

#[derive(Deserialize)]
struct RefinedCase {
    rect: [u32; 4],
    mask: String,
}

#[derive(Deserialize)]
struct DescribeCase {
    command: String,
    /// The description from the command's words (what `infer` answers for an object not found), and its ids.
    text: String,
    ids: Vec<i64>,
    /// The command's mask (PyTorch's), and what the node says about the object it shows (None: not found).
    mask: String,
    object: Option<ObjectCase>,
}

#[derive(Deserialize)]
struct ObjectCase {
    /// The first pass's token ids and words (the mask as the visual prompt), the answer after the closer look
    /// and the wording (model.json `wording`), that look.
    ids: Vec<i64>,
    first: String,
    answer: String,
    close_look: Option<CloseLookCase>,
}

#[derive(Deserialize)]
struct VpCase {
    point: [f32; 2],
    /// What the node answers (merged with the close look's colour and shape when one ran).
    text: String,
    /// The first pass's token ids.
    ids: Vec<i64>,
    found: bool,
    mask: String,
    close_look: Option<CloseLookCase>,
}

#[derive(Deserialize)]
struct CloseLookCase {
    rect: [u32; 4],
    text: String,
    ids: Vec<i64>,
    /// Both looks' summed log-probabilities per shape word (the joint shape's), when they were weighed.
    shape_scores: Option<Vec<f64>>,
}

/// The joint shape's scores agree with PyTorch's (logits agree within ~1e-3, so their sums within a few of that).
fn assert_shape_scores(at: &str, got: Option<&Vec<f64>>, want: Option<&Vec<f64>>) {
    match (got, want) {
        (Some(g), Some(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: shape words");
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() < 5e-3, "{at}: joint shape scores {g:?}, PyTorch {w:?}");
            }
        }
        (None, None) => {}
        (g, w) => panic!("{at}: joint shape scores {g:?}, PyTorch {w:?}"),
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `PIXEL_SAIL_PARITY_FIXTURES` / `PIXEL_SAIL_PARITY_MODEL` point the tests at another export and its fixtures
/// (e.g. a checkpoint exported to /tmp while training runs).
fn fixtures() -> (PathBuf, Fixtures) {
    let dir = std::env::var_os("PIXEL_SAIL_PARITY_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/fixtures/parity"));
    let text = std::fs::read_to_string(dir.join("cases.json")).expect("tests/fixtures/parity/cases.json");
    (dir, serde_json::from_str(&text).expect("cases.json parses"))
}

fn model_dir() -> PathBuf {
    std::env::var_os("PIXEL_SAIL_PARITY_MODEL").map(PathBuf::from).unwrap_or_else(|| root().join("models/tiny"))
}

fn engine() -> Engine {
    Engine::load(&EngineConfig::new(model_dir())).expect("the model loads")
}

/// The model with the published policy: the seam every caller goes through.
fn grounder() -> Grounder {
    Grounder::load(&EngineConfig::new(model_dir())).expect("the model loads")
}

fn vocabulary(g: &Grounder) -> Vocabulary {
    g.policy().vocabulary.clone().expect("model.json has a vocabulary")
}

fn iou(a: &Path, b: &pixel_sail::frame::Mask) -> f64 {
    let gt = load_mask_png(a).expect("fixture mask");
    let (i, u) = mask_iou(&gt, b).expect("same size");
    if u == 0 { 1.0 } else { i as f64 / u as f64 }
}

#[test]
fn masks_and_decisions_match_pytorch() {
    let (dir, fx) = fixtures();
    let engine = engine();
    let max_prompt = engine.model_info().config.max_prompt_tokens;
    for case in &fx.cases {
        let frame = load_frame(&dir.join(&case.frame)).unwrap();
        assert_eq!((frame.width, frame.height), (case.width, case.height));
        let state = engine.encode(&frame, None).unwrap();
        // Over-long commands are cut to max_prompt_tokens by both sides (model card, "Prompt ids").
        let exact: Vec<&SegmentCase> = case.segment.iter().collect();
        let commands: Vec<String> = exact.iter().map(|s| s.command.clone()).collect();
        let out = engine.segment(&state, &commands).unwrap();
        let prompts: Vec<Vec<i64>> = commands.iter().map(|c| engine.tokenize("segment", c).unwrap()).collect();
        let (shape, logits) = engine.segment_logits(&state, &prompts).unwrap();
        let (vh, vw) = state.geometry.valid_logit_size();
        let plane = shape[1] * shape[2];
        for (k, (want, got)) in exact.iter().zip(&out).enumerate() {
            assert_eq!(got.found, want.found, "{}: found", want.command);
            assert!(
                (got.score - want.score).abs() < 2e-3 + 0.01 * want.score,
                "{}: score {} vs {}",
                want.command,
                got.score,
                want.score
            );
            let m = iou(&dir.join(&want.mask), &got.mask);
            assert!(m >= 0.99, "{}: mask IoU {m}", want.command);
            // The cropped stride-4 logits must agree too (meaningful even when both masks are empty).
            let crop: f64 = (0..vh)
                .flat_map(|y| (0..vw).map(move |x| (y, x)))
                .map(|(y, x)| logits[k * plane + y * shape[2] + x] as f64)
                .sum();
            let tol = 1e-3 * want.logits_sum.abs().max(1.0) + 0.5;
            assert!((crop - want.logits_sum).abs() < tol, "{}: logit sum {crop} vs {}", want.command, want.logits_sum);
        }
        let longest = case.segment.iter().map(|s| engine.tokenize("segment", &s.command).unwrap().len()).max().unwrap();
        assert!(longest <= max_prompt + 3, "prompts stay within the command limit plus the template");
    }
}

#[test]
fn descriptions_match_pytorch_token_for_token() {
    let (dir, fx) = fixtures();
    let engine = engine();
    for case in &fx.cases {
        let frame = load_frame(&dir.join(&case.frame)).unwrap();
        let state = engine.encode(&frame, None).unwrap();
        let commands: Vec<String> = case.describe.iter().map(|d| d.command.clone()).collect();
        let (ids, _) = engine.describe_tokens(&state, &commands, 64).unwrap();
        let texts = engine.describe(&state, &commands, 64).unwrap();
        for ((want, got), text) in case.describe.iter().zip(&ids).zip(&texts) {
            assert_eq!(got, &want.ids, "{}: token ids", want.command);
            assert_eq!(text.trim(), want.text.trim(), "{}: text", want.command);
        }
    }
}

#[test]
fn visual_prompts_match_pytorch() {
    let (dir, fx) = fixtures();
    let g = grounder();
    let max = g.engine().model_info().config.max_new_tokens;
    let (mut close_looks, mut overruled) = (0, 0);
    let vocab = vocabulary(&g);
    let shape = |text: &str| vocab.parse(text).map(|d| d.shape);
    for case in &fx.cases {
        let frame = load_frame(&dir.join(&case.frame)).unwrap();
        for want in &case.visual_prompts {
            let at = format!("{} point {:?}", case.frame, want.point);
            let vp = VisualPrompt::Point { x: want.point[0], y: want.point[1] };
            let got = g.describe_region(&frame, &vp, max).unwrap();
            assert_eq!(got.ids, want.ids, "{at}: VP token ids");
            assert_eq!(got.text.trim(), want.text.trim(), "{at}: the answer");
            assert_eq!(got.segment.found, want.found, "{at}: VP found");
            let m = iou(&dir.join(&want.mask), &got.segment.mask);
            assert!(m >= 0.99, "{at}: VP mask IoU {m}");
            match (&got.close_look, &want.close_look) {
                (Some(c), Some(w)) => {
                    assert_eq!(c.rect, w.rect, "{at}: where the second pass looked");
                    assert_eq!(c.ids, w.ids, "{at}: the second pass's token ids");
                    assert_eq!(c.text.trim(), w.text.trim());
                    assert_shape_scores(&at, c.shape_scores.as_ref(), w.shape_scores.as_ref());
                    close_looks += 1;
                    overruled += usize::from(shape(&got.text) != shape(&c.text));
                }
                (None, None) => {}
                (g, w) => panic!(
                    "{at}: close look {:?}, PyTorch {:?}",
                    g.as_ref().map(|c| c.rect),
                    w.as_ref().map(|c| c.rect)
                ),
            }
        }
    }
    assert!(close_looks > 0, "the fixtures exercise the region zoom's second pass");
    assert!(overruled > 0, "the fixtures hold a closer look whose shape both looks together overrule");
}

/// The closer look at a named object, from PyTorch's mask of it: the same crop, token ids and merged answer.
#[test]
fn found_masks_segmented_again_on_a_crop_match_pytorch() {
    let (dir, fx) = fixtures();
    let g = grounder();
    let engine = g.engine();
    let mut refined = 0;
    for case in &fx.cases {
        let frame = load_frame(&dir.join(&case.frame)).unwrap();
        let state = engine.encode(&frame, None).unwrap();
        let commands: Vec<String> = case.segment.iter().map(|s| s.command.clone()).collect();
        let mut out = engine.segment(&state, &commands).unwrap();
        let rects: Vec<_> = out.iter_mut().map(|s| g.refine_mask(&frame, s).unwrap()).collect();
        for ((want, got), rect) in case.segment.iter().zip(&out).zip(&rects) {
            assert_eq!(*rect, want.refined.as_ref().map(|r| r.rect), "{}: the crop", want.command);
            let published = want.refined.as_ref().map_or(&want.mask, |r| &r.mask);
            let m = iou(&dir.join(published), &got.mask);
            assert!(m >= 0.99, "{}: published mask IoU {m}", want.command);
            assert_eq!(got.bbox, pixel_sail::decode::bbox_of(&got.mask), "{}: the box follows the mask", want.command);
            refined += usize::from(rect.is_some());
        }
    }
    assert!(refined > 0, "the fixtures exercise the closer segmentation");
    // `--no-mask-refine` publishes the first pass's masks
    let off = Grounder::load(&EngineConfig { mask_refine: false, ..EngineConfig::new(model_dir()) }).unwrap();
    let case = &fx.cases[0];
    let frame = load_frame(&dir.join(&case.frame)).unwrap();
    let out = off.segment_frame(&frame, &[case.segment[0].command.clone()]).unwrap();
    assert_eq!(out.refined, vec![None]);
    let out = out.segments;
    assert!(iou(&dir.join(&case.segment[0].mask), &out[0].mask) >= 0.99);
}

/// The closer check of found objects against their commands: the same crop, words and log-odds as PyTorch's,
/// and the same published found flags and masks — including a near miss ("the purple star" on the purple
/// triangle) that the first pass finds and the check overrules.
#[test]
fn found_objects_checked_against_their_commands_match_pytorch() {
    let (dir, fx) = fixtures();
    let g = grounder();
    let min_log_odds = g.engine().model_info().confirm_found.expect("model.json has confirm_found").min_log_odds;
    let (mut checked, mut overruled) = (0, 0);
    for case in &fx.cases {
        let frame = load_frame(&dir.join(&case.frame)).unwrap();
        let commands: Vec<String> = case.segment.iter().map(|s| s.command.clone()).collect();
        // the whole published answer through the seam: first pass, closer segmentation, closer check
        let out = g.segment_frame(&frame, &commands).unwrap();
        for ((want, got), check) in case.segment.iter().zip(&out.segments).zip(&out.checks) {
            let at = &want.command;
            assert_eq!(got.found, want.published_found, "{at}: published found");
            let m = iou(&dir.join(&want.published_mask), &got.mask);
            assert!(m >= 0.99, "{at}: published mask IoU {m}");
            assert_eq!(got.bbox, pixel_sail::decode::bbox_of(&got.mask), "{at}: the box follows the mask");
            match (check, &want.confirm) {
                (None, None) => {}
                (Some(c), Some(w)) => {
                    assert_eq!((c.rect, c.text.as_str()), (w.rect, w.text.as_str()), "{at}: the closer look");
                    let words: Vec<&str> = c.against.iter().map(|(k, _)| k.as_str()).collect();
                    assert_eq!(
                        words.iter().copied().collect::<std::collections::BTreeSet<_>>(),
                        w.against.keys().map(String::as_str).collect(),
                        "{at}"
                    );
                    for (word, v) in &c.against {
                        assert!(
                            (v - w.against[word]).abs() < 2e-3,
                            "{at}: {word} log-odds {v} vs PyTorch {}",
                            w.against[word]
                        );
                    }
                    assert_eq!(!c.contradicts(min_log_odds), w.agrees, "{at}: the verdict");
                    checked += 1;
                }
                (g, w) => {
                    panic!("{at}: check {:?}, PyTorch {:?}", g.as_ref().map(|c| c.rect), w.as_ref().map(|c| c.rect))
                }
            }
            overruled += usize::from(want.found && !want.published_found);
        }
    }
    assert!(
        checked > 0 && overruled > 0,
        "the fixtures exercise the check ({checked}) and an overruled find ({overruled})"
    );
    // `--no-confirm-found` publishes what the first pass found
    let off = Grounder::load(&EngineConfig { confirm_found: false, ..EngineConfig::new(model_dir()) }).unwrap();
    let case = &fx.cases[0];
    let frame = load_frame(&dir.join(&case.frame)).unwrap();
    let commands: Vec<String> = case.segment.iter().map(|s| s.command.clone()).collect();
    let out = off.segment_frame(&frame, &commands).unwrap();
    assert!(out.checks.iter().all(Option::is_none));
    assert_eq!(
        out.segments.iter().map(|s| s.found).collect::<Vec<_>>(),
        case.segment.iter().map(|s| s.found).collect::<Vec<_>>()
    );
}

/// The shipped model with model.json's `postprocess.presence_margin` set to `margin` (the graphs linked, not copied).
fn engine_with_presence_margin(margin: f32) -> (tempfile::TempDir, Engine) {
    let model = root().join("models/tiny");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&model).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "model.json" {
            std::os::unix::fs::symlink(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    let mut info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    info["postprocess"]["presence_margin"] = serde_json::json!(margin);
    std::fs::write(dir.path().join("model.json"), info.to_string()).unwrap();
    let engine = Engine::load(&EngineConfig::new(dir.path().to_path_buf())).expect("the model loads");
    (dir, engine)
}

/// model.json's `postprocess.presence_margin` (what models/pixel_sail/calibrate.py sets) moves the line between
/// found and not there: a command is found once the line drops below its margin logit([SEG]) − logit(<none>),
/// and lost once the line rises above it; its score stays the model's.
#[test]
fn the_presence_margin_in_model_json_moves_the_found_decision() {
    let (dir, fx) = fixtures();
    let (mut gained, mut lost) = (0, 0);
    for case in &fx.cases {
        let frame = load_frame(&dir.join(&case.frame)).unwrap();
        for want in case.segment.iter().filter(|w| w.score > 0.05 && w.score < 0.95) {
            let margin = (want.score / (1.0 - want.score)).ln();
            for (line, should_find) in [(margin - 0.3, true), (margin + 0.3, false)] {
                let (_dir, engine) = engine_with_presence_margin(line);
                let state = engine.encode(&frame, None).unwrap();
                let got = engine.segment(&state, std::slice::from_ref(&want.command)).unwrap().pop().unwrap();
                assert!(
                    (got.score - want.score).abs() < 2e-3 + 0.01 * want.score,
                    "{}: score {} vs {}",
                    want.command,
                    got.score,
                    want.score
                );
                if should_find {
                    assert!(
                        got.found && got.bbox.is_some(),
                        "{}: margin {margin:.2} over the line {line:.2}, yet not found",
                        want.command
                    );
                    gained += usize::from(!want.found);
                } else {
                    assert!(
                        !got.found && got.mask.data.iter().all(|&v| v == 0),
                        "{}: margin {margin:.2} under the line {line:.2}, yet found",
                        want.command
                    );
                    lost += usize::from(want.found);
                }
            }
        }
    }
    assert!(
        gained > 0 && lost > 0,
        "the fixtures hold a command found only below its line ({gained}) and one lost above ({lost})"
    );
}

#[test]
fn found_objects_are_described_from_their_masks_as_in_pytorch() {
    let (dir, fx) = fixtures();
    let g = grounder();
    let max = g.engine().model_info().config.max_new_tokens;
    let (mut described, mut looks, mut placed) = (0, 0, 0);
    let vocab = vocabulary(&g);
    let place = |text: &str| vocab.parse(text).map(|d| d.place);
    for case in &fx.cases {
        let frame = load_frame(&dir.join(&case.frame)).unwrap();
        for want in &case.describe {
            let mask = load_mask_png(&dir.join(&want.mask)).unwrap();
            let at = format!("{}: {}", case.frame, want.command);
            let Some(obj) = &want.object else {
                assert!(mask.data.iter().all(|&v| v == 0), "{at}: PyTorch found nothing, yet its mask is not empty");
                continue;
            };
            let got = g.describe_object(&frame, &std::sync::Arc::new(mask), max).unwrap();
            assert_eq!(got.ids, obj.ids, "{at}: the pass with the mask as the visual prompt");
            match (&got.close_look, &obj.close_look) {
                (Some(c), Some(w)) => {
                    assert_eq!((c.rect, &c.ids), (w.rect, &w.ids), "{at}: the closer look");
                    assert!(c.shape_scores.is_some(), "{at}: model.json's wording weighs both looks' shape");
                    assert_shape_scores(&at, c.shape_scores.as_ref(), w.shape_scores.as_ref());
                    looks += 1;
                }
                (None, None) => {}
                (g, w) => panic!(
                    "{at}: close look {:?}, PyTorch {:?}",
                    g.as_ref().map(|c| c.rect),
                    w.as_ref().map(|c| c.rect)
                ),
            }
            assert_eq!(got.text.trim(), obj.answer.trim(), "{at}");
            described += 1;
            placed += usize::from(place(&obj.answer) != place(&obj.first));
        }
    }
    assert!(
        described > 0 && looks > 0,
        "the fixtures describe found objects ({described}), some with a closer look ({looks})"
    );
    assert!(placed > 0, "the fixtures hold an object whose mask puts it in another place than the first pass said");
}

/// Preprocessing and visual-prompt rasterisation against models/pixel_sail/preprocess.py itself, on the odd-size
/// fixture frame (333x251), through the venv's numpy. Skipped when the venv lacks numpy/pillow.
#[test]
fn preprocess_and_visual_prompts_match_the_python_code() {
    use pixel_sail::preprocess::{Geometry, preprocess, rasterize_visual_prompt};
    let py = root().join(".venv/bin/python");
    let tmp = tempfile::tempdir().unwrap();
    let frame_path = root().join("tests/fixtures/parity/frame_1.png");
    let script = r#"
import sys, numpy as np
from PIL import Image
from models.pixel_sail.preprocess import preprocess, vp_grid
img = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
h, w = img.shape[:2]
long_side, patch = int(sys.argv[3]), int(sys.argv[4])
px, (rw, rh) = preprocess(img, long_side, patch)
px.astype(np.float32).tofile(sys.argv[2] + "/pixels.f32")
for name, p in [("point", {"point": [63, 207]}), ("box", {"box": [10.4, 20.5, 200.5, 131.0]})]:
    vp_grid(p, None, w, h, rw, rh, patch).astype(np.float32).tofile(sys.argv[2] + f"/{name}.f32")
print(rw, rh)
"#;
    // the shipped model's long side and patch size (model.json), on both sides
    let engine = engine();
    let params = engine.model_info().preprocess_params();
    let out = std::process::Command::new(&py)
        .args(["-c", script])
        .arg(&frame_path)
        .arg(tmp.path())
        .args([params.long_side.to_string(), params.patch.to_string()])
        .current_dir(root())
        .output();
    let Ok(out) = out.map_err(|e| eprintln!("skipped: {e}")) else { return };
    if !out.status.success() {
        eprintln!("skipped: python preprocessing unavailable: {}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    let read = |name: &str| -> Vec<f32> {
        std::fs::read(tmp.path().join(name))
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let frame = load_frame(&frame_path).unwrap();
    let input = preprocess(&frame, &params).unwrap();
    let reference = read("pixels.f32");
    assert_eq!(input.pixels.len(), reference.len(), "padded input size");
    let worst = input.pixels.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "max |rust - python| = {worst}");
    let g = Geometry::new(333, 251, &params);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{} {}", g.resized_w, g.resized_h));
    let prompts = [
        ("point.f32", VisualPrompt::Point { x: 63.0, y: 207.0 }),
        ("box.f32", VisualPrompt::Box { x0: 10.4, y0: 20.5, x1: 200.5, y1: 131.0 }),
    ];
    for (file, vp) in prompts {
        let ours = rasterize_visual_prompt(&vp, &g, params.patch).unwrap();
        let theirs = read(file);
        assert_eq!(ours.len(), theirs.len(), "{file}");
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() < 1e-6, "{file}: {a} vs {b}\nrust {ours:?}\npython {theirs:?}");
        }
    }
}

/// `pixel-sail parity` (what scripts/gpu_check.sh runs on CUDA and TensorRT) passes on CPU, and its checks bite:
/// the same answers held to an IoU no mask can reach fail.
#[test]
fn the_parity_command_checks_hold_on_cpu() {
    use pixel_sail::cmd::parity::{Tolerance, check};
    let (dir, _) = fixtures();
    let g = grounder();
    let report = check(&g, &dir, Tolerance::FP32, "fp32").unwrap();
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.ok).collect();
    assert!(report.passed, "failed checks: {failed:?}");
    assert!(
        report.checks_total >= 60 && report.words_differ == 0,
        "{} checks, {} descriptions differ",
        report.checks_total,
        report.words_differ
    );
    let strict = check(&g, &dir, Tolerance { min_iou: 1.01, exact_words: true }, "fp32").unwrap();
    assert!(!strict.passed && strict.checks_failed > 0);
}
