//! Separable antialiased triangle (bilinear) resampling, PIL-style, in f32 on 0–255 values.
//! Per axis, with `s = out_len / in_len` (as `models/pixel_sail/preprocess.py`), for output pixel `i`:
//! centre `c = (i + 0.5) / s`, support `r = max(1/s, 1)`, weight
//! `w(x) = max(0, 1 − |x − c + 0.5| / r)` over source pixels `x ∈ [floor(c − r), ceil(c + r))` clipped to the
//! image, normalised to sum 1. Horizontal pass first, then vertical (models/README.md, Preprocessing 2).

/// Precomputed taps for one axis: output `i` reads `len[i]` sources from `start[i]` with `weights[i*taps..]`.
#[derive(Debug, Clone)]
pub struct AxisWeights {
    pub taps: usize,
    pub start: Vec<usize>,
    pub len: Vec<usize>,
    pub weights: Vec<f32>,
}

impl AxisWeights {
    pub fn new(in_len: usize, out_len: usize) -> AxisWeights {
        let scale = out_len as f64 / in_len as f64;
        let support = (1.0 / scale).max(1.0);
        let taps = (2.0 * support).ceil() as usize + 2;
        let mut start = Vec::with_capacity(out_len);
        let mut len = Vec::with_capacity(out_len);
        let mut weights = vec![0.0f32; out_len * taps];
        for i in 0..out_len {
            let centre = (i as f64 + 0.5) / scale;
            let lo = ((centre - support).floor().max(0.0)) as usize;
            let hi = ((centre + support).ceil() as usize).min(in_len);
            let mut w: Vec<f64> =
                (lo..hi).map(|x| (1.0 - ((x as f64 - centre + 0.5).abs() / support)).max(0.0)).collect();
            let total: f64 = w.iter().sum();
            if total > 0.0 {
                w.iter_mut().for_each(|v| *v /= total);
            }
            let n = w.len().min(taps);
            for (k, v) in w.iter().take(n).enumerate() {
                weights[i * taps + k] = *v as f32;
            }
            start.push(lo.min(in_len.saturating_sub(1)));
            len.push(n);
        }
        AxisWeights { taps, start, len, weights }
    }
}

/// Resample packed RGB8 `src` (`w × h`) to `out_w × out_h`, returning packed RGB f32 on 0–255.
pub fn resample_rgb(src: &[u8], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<f32> {
    let hx = AxisWeights::new(w, out_w);
    let vy = AxisWeights::new(h, out_h);
    // Horizontal pass: h rows × out_w columns.
    let mut tmp = vec![0.0f32; h * out_w * 3];
    for y in 0..h {
        let row = &src[y * w * 3..(y + 1) * w * 3];
        let out = &mut tmp[y * out_w * 3..(y + 1) * out_w * 3];
        for i in 0..out_w {
            let (s0, n) = (hx.start[i], hx.len[i]);
            let ws = &hx.weights[i * hx.taps..i * hx.taps + n];
            let mut acc = [0.0f32; 3];
            for (k, wt) in ws.iter().enumerate() {
                let p = (s0 + k) * 3;
                acc[0] += wt * row[p] as f32;
                acc[1] += wt * row[p + 1] as f32;
                acc[2] += wt * row[p + 2] as f32;
            }
            out[i * 3..i * 3 + 3].copy_from_slice(&acc);
        }
    }
    // Vertical pass.
    let stride = out_w * 3;
    let mut out = vec![0.0f32; out_h * stride];
    for j in 0..out_h {
        let (s0, n) = (vy.start[j], vy.len[j]);
        let ws = &vy.weights[j * vy.taps..j * vy.taps + n];
        let dst = &mut out[j * stride..(j + 1) * stride];
        for (k, wt) in ws.iter().enumerate() {
            let srow = &tmp[(s0 + k) * stride..(s0 + k + 1) * stride];
            for (d, s) in dst.iter_mut().zip(srow) {
                *d += wt * s;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_averages_pairs_with_triangle_weights() {
        // scale 0.5 → support 2, centre of out 0 is 1.0: sources 0..3 weights (0.75?,…) normalised.
        let w = AxisWeights::new(8, 4);
        let ws0: Vec<f32> = w.weights[..w.len[0]].to_vec();
        // x=0: 1-|0-1+0.5|/2 = 0.75 ; x=1: 0.75 ; x=2: 0.25 (x range [floor(-1)→0, ceil(3)=3))
        let total = 0.75 + 0.75 + 0.25;
        assert_eq!(w.start[0], 0);
        assert_eq!(ws0.len(), 3);
        assert!((ws0[0] - 0.75 / total).abs() < 1e-6 && (ws0[2] - 0.25 / total).abs() < 1e-6);
        for i in 0..4 {
            let s: f32 = w.weights[i * w.taps..i * w.taps + w.len[i]].iter().sum();
            assert!((s - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let src = vec![77u8; 37 * 23 * 3];
        let out = resample_rgb(&src, 37, 23, 20, 12);
        assert!(out.iter().all(|v| (v - 77.0).abs() < 1e-3));
    }

    #[test]
    fn upscaling_interpolates() {
        // 2 px → 4 px: support 1, the middle outputs mix both sources.
        let src = [0u8, 0, 0, 100, 100, 100];
        let out = resample_rgb(&src, 2, 1, 4, 1);
        let r: Vec<f32> = out.chunks(3).map(|c| c[0]).collect();
        assert!((r[0] - 0.0).abs() < 1e-4 && (r[3] - 100.0).abs() < 1e-4);
        assert!((r[1] - 25.0).abs() < 1e-3 && (r[2] - 75.0).abs() < 1e-3);
    }
}
