//! Overlay for humans: the frame with each mask tinted in its own colour, its box, and a label
//! ("1 red cup 0.93" / the description) on a dark strip above the box.

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
    let mut listed = 0usize;
    for item in items {
        let (lx, ly) = match item.bbox {
            Some([x0, y0, x1, y1]) => {
                draw_rect(&mut out, width, height, [x0, y0, x1, y1], item.colour, 2);
                let strip = (GLYPH_H + 2) * scale;
                let ly = if y0 as usize >= strip { y0 as i64 - strip as i64 } else { y1 as i64 };
                (x0 as i64, ly)
            }
            // Not found: list it in the top-left corner instead.
            None => {
                listed += 1;
                (2, ((listed - 1) * (GLYPH_H + 3) * scale) as i64 + 2)
            }
        };
        label(&mut out, width, height, lx, ly, &item.label, scale, item.colour);
    }
    out
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
}
