//! Overlay for humans: the frame with each mask tinted in its own colour, its box, and a label
//! ("1 red cup 0.93 0.74 m") on a dark strip by the box. Labels are laid out so that none covers
//! another: each takes the first free place above its box, below it, then further out.

use super::font::{GLYPH_H, draw_text, text_width};
use crate::frame::Mask;

/// One thing to draw.
#[derive(Debug, Clone)]
pub struct OverlayItem<'a> {
    pub mask: Option<&'a Mask>,
    pub bbox: Option<[u32; 4]>,
    pub label: String,
    pub colour: [u8; 3],
}

/// Distinct, saturated colours for the k-th command.
pub fn palette_colour(k: usize) -> [u8; 3] {
    const P: [[u8; 3]; 8] = [
        [255, 64, 64],
        [64, 160, 255],
        [64, 220, 96],
        [255, 200, 40],
        [200, 80, 255],
        [0, 220, 220],
        [255, 128, 0],
        [255, 96, 200],
    ];
    P[k % P.len()]
}

/// Draw the items onto a copy of the packed RGB8 frame.
pub fn draw_overlay(rgb: &[u8], width: usize, height: usize, items: &[OverlayItem<'_>]) -> Vec<u8> {
    let mut out = rgb.to_vec();
    let alpha = 0.45f32;
    for item in items {
        if let Some(m) = item.mask.filter(|m| m.width as usize == width && m.height as usize == height) {
            for (i, &v) in m.data.iter().enumerate() {
                if v != 0 {
                    for c in 0..3 {
                        let o = &mut out[i * 3 + c];
                        *o = (*o as f32 * (1.0 - alpha) + item.colour[c] as f32 * alpha).round() as u8;
                    }
                }
            }
        }
    }
    let scale = if width >= 480 { 2 } else { 1 };
    for item in items {
        if let Some(b) = item.bbox {
            draw_rect(&mut out, width, height, b, item.colour, 2);
        }
    }
    let places = layout_labels(items, width, height, scale);
    for (item, (lx, ly)) in items.iter().zip(places) {
        label(&mut out, width, height, lx, ly, &item.label, scale, item.colour);
    }
    out
}

/// A label's strip: x, y, width, height in pixels.
type Strip = [i64; 4];

fn strips_overlap(a: Strip, b: Strip) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

/// Top-left corner of each item's label. Labels of items without a box are listed in the top-left
/// corner; each boxed label takes the first place, from just above its box, just below it, then
/// alternately further up and down, that stays in the frame and covers no label placed before it.
/// Only when the frame has no free place left does a label go above its box regardless.
pub fn layout_labels(items: &[OverlayItem<'_>], width: usize, height: usize, scale: usize) -> Vec<(i64, i64)> {
    let th = ((GLYPH_H + 2) * scale) as i64;
    let (w, h) = (width as i64, height as i64);
    let mut placed: Vec<Strip> = Vec::with_capacity(items.len());
    let mut places = vec![(0, 0); items.len()];
    let unboxed = items.iter().enumerate().filter(|(_, it)| it.bbox.is_none());
    for (listed, (i, item)) in unboxed.enumerate() {
        let y = listed as i64 * (GLYPH_H as i64 + 3) * scale as i64 + 2;
        places[i] = (2, y);
        placed.push([2, y, strip_width(&item.label, scale), th]);
    }
    for (i, item) in items.iter().enumerate() {
        let Some([x0, y0, _, y1]) = item.bbox.map(|b| b.map(i64::from)) else { continue };
        let tw = strip_width(&item.label, scale);
        let x = x0.min(w - tw).max(0);
        let above = y0 - th;
        let fits = |y: i64| y >= 0 && y + th <= h;
        let free = |y: i64| placed.iter().all(|p| !strips_overlap(*p, [x, y, tw, th]));
        let rows = h / th.max(1) + 2;
        let candidates = std::iter::once(above)
            .chain(std::iter::once(y1))
            .chain((1..rows).flat_map(|k| [above - k * th, y1 + k * th]));
        let y = candidates.filter(|&y| fits(y)).find(|&y| free(y)).unwrap_or(if above >= 0 {
            above
        } else {
            y1.min(h - th).max(0)
        });
        places[i] = (x, y);
        placed.push([x, y, tw, th]);
    }
    places
}

fn strip_width(text: &str, scale: usize) -> i64 {
    (text_width(text, scale) + 2 * scale) as i64
}

#[allow(clippy::too_many_arguments)]
fn label(out: &mut [u8], w: usize, h: usize, x: i64, y: i64, text: &str, scale: usize, colour: [u8; 3]) {
    let tw = text_width(text, scale) + 2 * scale;
    let th = (GLYPH_H + 2) * scale;
    // Darken a strip behind the text so it reads on any background.
    for py in y.max(0)..(y + th as i64).min(h as i64) {
        for px in x.max(0)..(x + tw as i64).min(w as i64) {
            let o = (py as usize * w + px as usize) * 3;
            for c in 0..3 {
                out[o + c] /= 4;
            }
        }
    }
    draw_text(out, w, h, x + scale as i64, y + scale as i64, text, scale, colour);
}

fn draw_rect(out: &mut [u8], w: usize, h: usize, b: [u32; 4], colour: [u8; 3], thick: usize) {
    let [x0, y0, x1, y1] = b.map(|v| v as usize);
    let (x1, y1) = (x1.min(w), y1.min(h));
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let mut put = |x: usize, y: usize| {
        let o = (y * w + x) * 3;
        out[o..o + 3].copy_from_slice(&colour);
    };
    for t in 0..thick {
        for x in x0..x1 {
            if y0 + t < y1 {
                put(x, y0 + t);
            }
            if y1 > t + 1 && y1 - 1 - t >= y0 {
                put(x, y1 - 1 - t);
            }
        }
        for y in y0..y1 {
            if x0 + t < x1 {
                put(x0 + t, y);
            }
            if x1 > t + 1 && x1 - 1 - t >= x0 {
                put(x1 - 1 - t, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tints_mask_and_draws_box_without_panicking_at_edges() {
        let (w, h) = (32, 24);
        let rgb = vec![100u8; w * h * 3];
        let mut m = Mask { width: w as u32, height: h as u32, data: vec![0; w * h] };
        m.data[5 * w + 5] = 1;
        let items = [
            OverlayItem { mask: Some(&m), bbox: Some([0, 0, 32, 24]), label: "edge".into(), colour: [255, 0, 0] },
            OverlayItem { mask: None, bbox: None, label: "absent thing".into(), colour: [0, 255, 0] },
        ];
        let out = draw_overlay(&rgb, w, h, &items);
        assert_eq!(out.len(), rgb.len());
        assert_ne!(out[(5 * w + 5) * 3], 100);
    }

    #[test]
    fn labels_of_neighbouring_objects_never_overlap() {
        let (w, h) = (640, 480);
        let boxed =
            |b: [u32; 4], label: &str| OverlayItem { mask: None, bbox: Some(b), label: label.into(), colour: [0; 3] };
        // Side by side, one a little higher (the sample clip's first two commands), a third under
        // both, one at the top edge, and one not found.
        let items = [
            boxed([300, 200, 360, 260], "1 pick up the red circle 0.91 0.74 m"),
            boxed([330, 190, 400, 250], "2 grab the blue square 0.88 0.72 m"),
            boxed([310, 262, 380, 320], "3 the green star 0.80 0.75 m"),
            boxed([0, 0, 80, 60], "4 yellow ring 0.70 0.78 m"),
            OverlayItem { mask: None, bbox: None, label: "5 purple cross - not found".into(), colour: [0; 3] },
        ];
        let places = layout_labels(&items, w, h, 2);
        let th = ((GLYPH_H + 2) * 2) as i64;
        let strips: Vec<Strip> =
            items.iter().zip(&places).map(|(it, &(x, y))| [x, y, strip_width(&it.label, 2), th]).collect();
        for (i, a) in strips.iter().enumerate() {
            assert!(a[0] >= 0 && a[1] >= 0 && a[0] + a[2] <= w as i64 && a[1] + a[3] <= h as i64, "{i}: {a:?}");
            for (j, b) in strips.iter().enumerate().skip(i + 1) {
                assert!(!strips_overlap(*a, *b), "labels {i} and {j} overlap: {a:?} {b:?}");
            }
        }
        // The first label keeps its usual place just above its box (moved left to stay in the frame).
        assert_eq!(places[0], (w as i64 - strips[0][2], 200 - th));
    }
}
