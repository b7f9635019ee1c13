//! Visual prompt → per-patch coverage on the model's patch grid (the `vp_masks` input of vision.onnx),
//! mirroring `vp_grid` in `models/pixel_sail/preprocess.py`. Frame pixels map to model pixels by the
//! per-axis scales `rw/W`, `rh/H`.
//! - point: 1.0 on the patch holding model pixel `(int((x+0.5)·sx), int((y+0.5)·sy))`;
//! - box: model pixels `[round(x0·sx), round(x1·sx)) × [round(y0·sy), round(y1·sy))` (Python's round, half to
//!   even), then the covered fraction of each patch;
//! - mask: nearest sample of the frame mask at each model pixel centre, then the covered fraction.

use super::{Geometry, PreprocessError};
use crate::frame::VisualPrompt;

/// Coverage grid `[grid_h, grid_w]`, row-major, values in 0..=1.
pub fn rasterize_visual_prompt(vp: &VisualPrompt, g: &Geometry, patch: usize) -> Result<Vec<f32>, PreprocessError> {
    let (sx, sy) = (g.scale_x, g.scale_y);
    match vp {
        VisualPrompt::Point { x, y } => {
            let (x, y) = (*x as f64, *y as f64);
            if !(x.is_finite() && y.is_finite()) || x < 0.0 || y < 0.0 || x >= g.frame_w as f64 || y >= g.frame_h as f64
            {
                return Err(PreprocessError::BadVisualPrompt(format!(
                    "point ({x}, {y}) is outside the {}x{} frame",
                    g.frame_w, g.frame_h
                )));
            }
            let mut cov = vec![0.0f32; g.grid_h * g.grid_w];
            let c = (((x + 0.5) * sx) as usize / patch).min(g.grid_w - 1);
            let r = (((y + 0.5) * sy) as usize / patch).min(g.grid_h - 1);
            cov[r * g.grid_w + c] = 1.0;
            Ok(cov)
        }
        VisualPrompt::Box { x0, y0, x1, y1 } => {
            let b = [*x0 as f64, *y0 as f64, *x1 as f64, *y1 as f64];
            if b.iter().any(|v| !v.is_finite()) || b[2] <= b[0] || b[3] <= b[1] {
                return Err(PreprocessError::BadVisualPrompt(format!("box {b:?} is empty or not finite")));
            }
            let clip = |v: f64, n: usize| (v.round_ties_even().max(0.0) as usize).min(n);
            let (c0, c1) = (clip(b[0] * sx, g.resized_w), clip(b[2] * sx, g.resized_w));
            let (r0, r1) = (clip(b[1] * sy, g.resized_h), clip(b[3] * sy, g.resized_h));
            if c0 >= c1 || r0 >= r1 {
                return Err(PreprocessError::BadVisualPrompt(format!(
                    "box {b:?} covers no pixel of the {}x{} frame",
                    g.frame_w, g.frame_h
                )));
            }
            Ok(coverage(g, patch, |px, py| px >= c0 && px < c1 && py >= r0 && py < r1))
        }
        VisualPrompt::Mask(mask) => {
            if mask.width as usize != g.frame_w || mask.height as usize != g.frame_h {
                return Err(PreprocessError::BadVisualPrompt(format!(
                    "mask is {}x{}, frame is {}x{}",
                    mask.width, mask.height, g.frame_w, g.frame_h
                )));
            }
            let xs: Vec<usize> =
                (0..g.resized_w).map(|px| (((px as f64 + 0.5) / sx) as usize).min(g.frame_w - 1)).collect();
            let ys: Vec<usize> =
                (0..g.resized_h).map(|py| (((py as f64 + 0.5) / sy) as usize).min(g.frame_h - 1)).collect();
            let cov = coverage(g, patch, |px, py| mask.data[ys[py] * g.frame_w + xs[px]] != 0);
            if cov.iter().all(|&c| c == 0.0) {
                return Err(PreprocessError::BadVisualPrompt("mask is empty".into()));
            }
            Ok(cov)
        }
    }
}

/// Mean of `inside(px, py)` over each patch (padding pixels count as outside).
fn coverage(g: &Geometry, patch: usize, inside: impl Fn(usize, usize) -> bool) -> Vec<f32> {
    let mut cov = vec![0.0f32; g.grid_h * g.grid_w];
    for py in 0..g.resized_h {
        for px in 0..g.resized_w {
            if inside(px, py) {
                cov[(py / patch) * g.grid_w + px / patch] += 1.0;
            }
        }
    }
    let area = (patch * patch) as f32;
    cov.iter_mut().for_each(|c| *c /= area);
    cov
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::PreprocessParams;

    fn geom() -> Geometry {
        let p = PreprocessParams { long_side: 320, pad_multiple: 32, patch: 32, mean: [0.0; 3], std: [1.0; 3] };
        Geometry::new(640, 480, &p)
    }

    #[test]
    fn point_marks_one_patch() {
        let g = geom();
        let c = rasterize_visual_prompt(&VisualPrompt::Point { x: 100.0, y: 300.0 }, &g, 32).unwrap();
        // model (50, 150) → patch column 1, row 4
        assert_eq!(c[4 * 10 + 1], 1.0);
        assert_eq!(c.iter().sum::<f32>(), 1.0);
        assert!(rasterize_visual_prompt(&VisualPrompt::Point { x: 640.0, y: 0.0 }, &g, 32).is_err());
    }

    #[test]
    fn box_covering_one_patch_exactly_is_one() {
        let g = geom();
        let c =
            rasterize_visual_prompt(&VisualPrompt::Box { x0: 64.0, y0: 64.0, x1: 128.0, y1: 128.0 }, &g, 32).unwrap();
        assert!((c[10 + 1] - 1.0).abs() < 1e-6);
        assert!((c.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
