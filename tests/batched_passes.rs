//! The extra passes of one frame run batched (every crop in one vision.onnx call along its batch axis `N`,
//! every prompt in one text.onnx call) give what one crop at a time gives: the same crops, masks, closer
//! looks and verdicts. Real ONNX Runtime sessions on the shipped graphs and the sample frame.

use std::path::PathBuf;

use pixel_sail::cmd::load_frame;
use pixel_sail::config::EngineConfig;
use pixel_sail::decode::mask_iou;
use pixel_sail::frame::{Frame, Mask, VisualPrompt};
use pixel_sail::grounding::Grounder;
use pixel_sail::inference::{Engine, SegmentOutput};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn grounder_at(dir: PathBuf) -> Grounder {
    Grounder::load(&EngineConfig::new(dir)).expect("the model loads")
}

fn scene() -> (Frame, Vec<String>) {
    let frame = load_frame(&root().join("models/sample/still.jpg")).unwrap();
    let text = std::fs::read_to_string(root().join("models/sample/commands.txt")).unwrap();
    (frame, text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
}

fn first_pass(engine: &Engine, frame: &Frame, commands: &[String]) -> Vec<SegmentOutput> {
    engine.segment(&engine.encode(frame, None).unwrap(), commands).unwrap()
}

fn same_mask(a: &Mask, b: &Mask) -> bool {
    let (i, u) = mask_iou(a, b).expect("same size");
    u == 0 || i as f64 / u as f64 >= 0.999
}

#[test]
fn closer_segmentations_in_one_batch_equal_one_by_one() {
    let grounder = grounder_at(root().join("models/tiny"));
    let engine = grounder.engine();
    assert_eq!(engine.vision_batch_limit(), 16, "model.json's profile maximum for the batch axis");
    let (frame, commands) = scene();
    let mut batched = first_pass(engine, &frame, &commands);
    let mut single = batched.clone();
    let rects = grounder.refine_masks(&frame, &mut batched).unwrap();
    assert!(rects.iter().flatten().count() >= 2, "the sample frame has several objects to look at closer");
    for ((seg, b), rect) in single.iter_mut().zip(&batched).zip(&rects) {
        assert_eq!(grounder.refine_mask(&frame, seg).unwrap(), *rect);
        assert!(same_mask(&seg.mask, &b.mask));
        assert_eq!(seg.bbox, b.bbox);
    }
}

#[test]
fn closer_checks_in_one_batch_equal_one_by_one() {
    let grounder = grounder_at(root().join("models/tiny"));
    let (frame, commands) = scene();
    let segs = first_pass(grounder.engine(), &frame, &commands);
    let found: Vec<usize> = (0..segs.len()).filter(|&i| segs[i].found).collect();
    // The sample's objects are mostly large (no crop); a small square at each one's corner gets a closer look.
    let squares: Vec<Mask> = found
        .iter()
        .map(|&i| {
            let [x0, y0, ..] = segs[i].bbox.unwrap();
            let mut m = Mask { width: frame.width, height: frame.height, data: vec![0; segs[i].mask.data.len()] };
            for y in y0..(y0 + 40).min(frame.height) {
                for x in x0..(x0 + 40).min(frame.width) {
                    m.data[(y * frame.width + x) as usize] = 1;
                }
            }
            m
        })
        .collect();
    let masks: Vec<&Mask> = found.iter().map(|&i| segs[i].mask.as_ref()).chain(&squares).collect();
    let cmds: Vec<&str> = found.iter().chain(&found).map(|&i| commands[i].as_str()).collect();
    let looks = grounder.confirm_batch(&frame, &masks, &cmds).unwrap();
    assert!(looks.iter().flatten().count() >= 2, "several closer looks ran");
    for ((mask, cmd), look) in masks.iter().zip(&cmds).zip(&looks) {
        let one = grounder.confirm(&frame, mask, cmd).unwrap();
        assert_eq!(one.as_ref().map(|c| (c.rect, c.text.clone())), look.as_ref().map(|c| (c.rect, c.text.clone())));
        for ((w1, v1), (w2, v2)) in one.iter().flat_map(|c| &c.against).zip(look.iter().flat_map(|c| &c.against)) {
            assert_eq!(w1, w2);
            assert!((v1 - v2).abs() < 1e-3, "{cmd}: {w1} {v1} vs {v2}");
        }
    }
}

#[test]
fn images_of_different_sizes_come_back_in_order_from_their_own_calls() {
    let grounder = grounder_at(root().join("models/tiny"));
    let engine = grounder.engine();
    let (frame, _) = scene();
    let crop =
        |x0: u32, y0: u32, w: u32, h: u32| pixel_sail::grounding::crop::crop_frame(&frame, [x0, y0, x0 + w, y0 + h]);
    // 4:3 crops share the frame's 320×240 input; the 1:1 crop is 320×320 and needs its own call.
    let crops = [crop(0, 0, 320, 240), crop(100, 100, 300, 300), crop(300, 200, 320, 240)];
    let boxes: Vec<VisualPrompt> = crops
        .iter()
        .map(|c| {
            let (w, h) = (c.width as f32, c.height as f32);
            VisualPrompt::Box { x0: w * 0.3, y0: h * 0.3, x1: w * 0.7, y1: h * 0.7 }
        })
        .collect();
    let images: Vec<(&Frame, Option<&VisualPrompt>)> = crops.iter().zip(&boxes).map(|(c, b)| (c, Some(b))).collect();
    let states = engine.encode_batch(&images).unwrap();
    let ids = engine.tokenize("segment_vp", "").unwrap();
    let rows: Vec<_> = states.iter().map(|s| (s, ids.as_slice())).collect();
    let batched = engine.segment_batch(&rows).unwrap();
    let describe = engine.tokenize("describe_vp", "").unwrap();
    let looks: Vec<_> = states.iter().map(|s| (s, describe.as_slice())).collect();
    let described = engine.describe_batch(&looks, 6).unwrap();
    assert_ne!(states[0].geometry, states[1].geometry);
    for (i, (((c, b), seg), words)) in crops.iter().zip(&boxes).zip(&batched).zip(&described).enumerate() {
        let state = engine.encode(c, Some(b)).unwrap();
        assert_eq!(state.geometry, states[i].geometry);
        let one = engine.segment_batch(&[(&state, ids.as_slice())]).unwrap().remove(0);
        assert_eq!((seg.mask.width, seg.mask.height), (c.width, c.height));
        assert_eq!(seg.found, one.found);
        assert!((seg.score - one.score).abs() < 1e-4);
        assert!(same_mask(&seg.mask, &one.mask));
        let alone = engine.describe_visual_prompt(&state, 6).unwrap();
        assert_eq!(words.ids, alone.ids);
    }
}

#[test]
fn a_graph_declared_with_batch_one_gets_one_call_per_image() {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(root().join("models/tiny")).unwrap().flatten() {
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let path = dir.path().join("model.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    meta["tensors"]["vision"]["inputs"][0]["shape"][0] = serde_json::json!(1);
    std::fs::write(&path, serde_json::to_string(&meta).unwrap()).unwrap();
    let grounder = grounder_at(dir.path().to_path_buf());
    assert_eq!(grounder.engine().vision_batch_limit(), 1);
    let shipped = grounder_at(root().join("models/tiny"));
    let (frame, commands) = scene();
    let mut one = first_pass(grounder.engine(), &frame, &commands);
    let mut many = one.clone();
    assert_eq!(grounder.refine_masks(&frame, &mut one).unwrap(), shipped.refine_masks(&frame, &mut many).unwrap());
    for (a, b) in one.iter().zip(&many) {
        assert!(same_mask(&a.mask, &b.mask));
    }
}

#[test]
fn crops_encoded_smaller_still_find_the_objects_in_the_same_crops() {
    let (frame, commands) = scene();
    let full = grounder_at(root().join("models/tiny"));
    let small =
        Grounder::load(&EngineConfig { crop_long_side: Some(160), ..EngineConfig::new(root().join("models/tiny")) })
            .expect("the model loads");
    let mut a = first_pass(full.engine(), &frame, &commands);
    let mut b = a.clone();
    let rects = full.refine_masks(&frame, &mut a).unwrap();
    assert_eq!(small.refine_masks(&frame, &mut b).unwrap(), rects, "the crops are chosen on the frame, as before");
    for (x, y) in a.iter().zip(&b).filter(|(x, _)| x.found) {
        let (i, u) = mask_iou(&x.mask, &y.mask).unwrap();
        assert!(i as f64 / u as f64 >= 0.8, "a 160-px crop's mask is coarser, not elsewhere: IoU {i}/{u}");
    }
    let bad = Engine::load(&EngineConfig { crop_long_side: Some(8), ..EngineConfig::new(root().join("models/tiny")) });
    let msg = bad.err().expect("below one patch is refused").to_string();
    assert!(msg.contains("crop_long_side") && msg.contains("at least 16"), "{msg}");
}
