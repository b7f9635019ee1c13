//! The annotated frame people look at: masks, boxes and "k command score" labels, with the object's
//! distance from the camera when depth placed it (drawn by [`crate::decode::draw_overlay`], which keeps
//! labels from covering each other), plus a band at the bottom listing each command's latest
//! description and the frame it came from. Also used for the ROS `~/overlay` topic.

use crate::decode::{GLYPH_H, OverlayItem, draw_overlay, draw_text, palette_colour};
use crate::frame::FrameResult;

/// Renders the result onto a copy of its frame (packed RGB8, same size).
pub fn annotate(result: &FrameResult) -> Vec<u8> {
    let frame = &result.frame;
    let (w, h) = (frame.width as usize, frame.height as usize);
    let items: Vec<OverlayItem<'_>> = result
        .groundings
        .iter()
        .enumerate()
        .map(|(k, g)| OverlayItem {
            mask: g.found.then_some(g.mask.as_ref()),
            bbox: if g.found { g.bbox } else { None },
            label: if g.found {
                let distance = g.location.placement().map(|p| format!(" {:.2} m", distance_m(p.centroid)));
                format!("{} {} {:.2}{}", k + 1, g.command, g.score, distance.unwrap_or_default())
            } else {
                format!("{} {} - not found", k + 1, g.command)
            },
            colour: palette_colour(k),
        })
        .collect();
    let mut out = draw_overlay(&frame.data, w, h, &items);
    let lines: Vec<(String, [u8; 3])> = result
        .groundings
        .iter()
        .enumerate()
        .filter_map(|(k, g)| {
            let d = g.description.as_ref()?;
            let text = if d.text.trim().is_empty() { "(empty description)" } else { d.text.as_str() };
            Some((format!("{}: {text} (frame {})", k + 1, d.seq), palette_colour(k)))
        })
        .collect();
    draw_band(&mut out, w, h, &lines);
    out
}

/// Straight-line distance from the camera to a point in its optical frame.
pub fn distance_m([x, y, z]: [f64; 3]) -> f64 {
    (x * x + y * y + z * z).sqrt()
}

/// Description lines on a darkened strip along the bottom edge.
fn draw_band(out: &mut [u8], w: usize, h: usize, lines: &[(String, [u8; 3])]) {
    if lines.is_empty() {
        return;
    }
    let scale = if w >= 480 { 2 } else { 1 };
    let line_h = (GLYPH_H + 3) * scale;
    let band = (lines.len() * line_h + 2 * scale).min(h);
    for py in h - band..h {
        for o in out[py * w * 3..(py + 1) * w * 3].iter_mut() {
            *o /= 3;
        }
    }
    for (i, (text, colour)) in lines.iter().enumerate() {
        let y = (h - band + scale + i * line_h) as i64;
        draw_text(out, w, h, 2 * scale as i64, y, text, scale, *colour);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::rle_encode;
    use crate::frame::{Description, Frame, Grounding, Location, Mask};
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    #[test]
    fn draws_mask_and_description_band() {
        let (w, h) = (64u32, 48u32);
        let frame = Frame {
            seq: 7,
            stamp: SystemTime::now(),
            frame_id: "cam".into(),
            width: w,
            height: h,
            data: vec![128; (w * h * 3) as usize],
        };
        let mut mask = Mask { width: w, height: h, data: vec![0; (w * h) as usize] };
        mask.data[20 * w as usize + 20] = 1;
        let g = Grounding {
            command: "red star".into(),
            found: true,
            score: 0.9,
            bbox: Some([18, 18, 24, 24]),
            rle: rle_encode(&mask),
            mask: Arc::new(mask),
            description: Some(Description { text: "a small red star".into(), stamp: frame.stamp, seq: 5 }),
            track_id: 0,
            location: Location::NoDepthInput,
        };
        let r = FrameResult {
            camera: "camera0".into(),
            seq: 7,
            stamp: frame.stamp,
            frame_id: "cam".into(),
            frame: Arc::new(frame),
            groundings: vec![g],
            latency: Duration::ZERO,
        };
        let out = annotate(&r);
        assert_eq!(out.len(), (w * h * 3) as usize);
        assert_ne!(out[(20 * w as usize + 20) * 3..][..3], [128, 128, 128]);
        // The bottom row is darkened by the description band.
        assert!(out[((h - 1) * w * 3) as usize] < 128);
    }
}
