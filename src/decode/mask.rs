//! Mask logits → binary mask at frame resolution: crop to the valid (un-padded) region, bilinear resize with
//! half-pixel centres (`align_corners=False`, as torch `F.interpolate`), threshold, then box and area.

use super::DecodeError;
use crate::frame::Mask;

/// What the postprocessor needs to know about one logit map.
#[derive(Debug, Clone, Copy)]
pub struct MaskPost {
    /// Full logit map size (the padded stride-4 grid).
    pub logit_h: usize,
    pub logit_w: usize,
    /// Valid region `ceil(rh/4) × ceil(rw/4)` (top-left crop).
    pub valid_h: usize,
    pub valid_w: usize,
    pub frame_h: usize,
    pub frame_w: usize,
    /// Logit threshold; a pixel is inside when its interpolated logit is above it.
    pub threshold: f32,
}

/// Source index pairs and weights for half-pixel bilinear resize along one axis.
fn axis_taps(in_len: usize, out_len: usize) -> Vec<(usize, usize, f32)> {
    let scale = in_len as f64 / out_len as f64;
    (0..out_len)
        .map(|o| {
            let src = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(in_len - 1);
            let i1 = (i0 + 1).min(in_len - 1);
            let frac = (src - i0 as f64) as f32;
            (i0, i1, frac)
        })
        .collect()
}

/// Crop, resize and threshold one `logit_h × logit_w` map.
pub fn upsample_threshold(logits: &[f32], p: &MaskPost) -> Result<Mask, DecodeError> {
    let expected = p.logit_h * p.logit_w;
    if logits.len() != expected || p.valid_h == 0 || p.valid_w == 0 || p.valid_h > p.logit_h || p.valid_w > p.logit_w {
        return Err(DecodeError::LogitShape { expected, got: logits.len(), h: p.logit_h, w: p.logit_w });
    }
    let xs = axis_taps(p.valid_w, p.frame_w);
    let ys = axis_taps(p.valid_h, p.frame_h);
    let mut data = vec![0u8; p.frame_w * p.frame_h];
    // Interpolate each needed source row pair horizontally once per output row.
    let mut row0 = vec![0.0f32; p.frame_w];
    let mut row1 = vec![0.0f32; p.frame_w];
    let horiz = |src_row: usize, out: &mut [f32]| {
        let r = &logits[src_row * p.logit_w..src_row * p.logit_w + p.logit_w];
        for (o, &(i0, i1, f)) in out.iter_mut().zip(&xs) {
            *o = r[i0] * (1.0 - f) + r[i1] * f;
        }
    };
    let mut cached = (usize::MAX, usize::MAX);
    for (y, &(j0, j1, fy)) in ys.iter().enumerate() {
        if cached != (j0, j1) {
            horiz(j0, &mut row0);
            horiz(j1, &mut row1);
            cached = (j0, j1);
        }
        let out = &mut data[y * p.frame_w..(y + 1) * p.frame_w];
        for x in 0..p.frame_w {
            let v = row0[x] * (1.0 - fy) + row1[x] * fy;
            out[x] = u8::from(v > p.threshold);
        }
    }
    Ok(Mask { width: p.frame_w as u32, height: p.frame_h as u32, data })
}

/// Tight box `[x0, y0, x1, y1]` (end-exclusive) around the set pixels, None when empty.
pub fn bbox_of(mask: &Mask) -> Option<[u32; 4]> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0usize, 0usize);
    for y in 0..h {
        let row = &mask.data[y * w..(y + 1) * w];
        if let (Some(a), Some(b)) = (row.iter().position(|&v| v != 0), row.iter().rposition(|&v| v != 0)) {
            x0 = x0.min(a);
            x1 = x1.max(b + 1);
            y0 = y0.min(y);
            y1 = y + 1;
        }
    }
    (x0 != usize::MAX).then_some([x0 as u32, y0 as u32, x1 as u32, y1 as u32])
}

pub fn mask_area(mask: &Mask) -> usize {
    mask.data.iter().filter(|&&v| v != 0).count()
}

/// Intersection and union pixel counts of two same-size masks (None when sizes differ).
pub fn mask_iou(a: &Mask, b: &Mask) -> Option<(usize, usize)> {
    if a.width != b.width || a.height != b.height {
        return None;
    }
    let (mut i, mut u) = (0, 0);
    for (&x, &y) in a.data.iter().zip(&b.data) {
        let (x, y) = (x != 0, y != 0);
        i += usize::from(x && y);
        u += usize::from(x || y);
    }
    Some((i, u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_size_thresholds_directly_and_crops_padding() {
        // 2x3 logits, valid 2x2, frame 2x2: the padded column must be ignored.
        let logits = [1.0, -1.0, 9.0, -1.0, 1.0, 9.0];
        let p = MaskPost { logit_h: 2, logit_w: 3, valid_h: 2, valid_w: 2, frame_h: 2, frame_w: 2, threshold: 0.0 };
        let m = upsample_threshold(&logits, &p).unwrap();
        assert_eq!(m.data, vec![1, 0, 0, 1]);
        assert_eq!(bbox_of(&m), Some([0, 0, 2, 2]));
    }

    #[test]
    fn upsampling_matches_torch_half_pixel_rule() {
        // 1x2 → 1x4, align_corners=False: src = (o+0.5)/2-0.5 → -0.25(→0), 0.25, 0.75, 1.25(→i0=1)
        let logits = [-1.0, 1.0];
        let p = MaskPost { logit_h: 1, logit_w: 2, valid_h: 1, valid_w: 2, frame_h: 1, frame_w: 4, threshold: 0.0 };
        let m = upsample_threshold(&logits, &p).unwrap();
        // values: -1, -0.5, 0.5, 1
        assert_eq!(m.data, vec![0, 0, 1, 1]);
    }

    #[test]
    fn empty_mask_has_no_box() {
        let m = Mask { width: 3, height: 2, data: vec![0; 6] };
        assert_eq!(bbox_of(&m), None);
        assert_eq!(mask_iou(&m, &m), Some((0, 0)));
    }
}
