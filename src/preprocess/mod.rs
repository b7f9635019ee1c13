//! Frame → model input, exactly as the Python reference (`models/pixel_sail/preprocess.py`) does it:
//! keep aspect ratio so the long side is `long_side`, antialiased triangle resample (PIL-style, in f32),
//! ImageNet normalisation, zero padding right/bottom to a multiple of the patch size.

mod resize;
mod visual_prompt;

pub use resize::{AxisWeights, resample_rgb};
pub use visual_prompt::rasterize_visual_prompt;

use crate::frame::Frame;

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("frame is empty ({width}x{height})")]
    EmptyFrame { width: u32, height: u32 },
    #[error("frame data is {got} bytes, expected {expected} for {width}x{height} RGB8")]
    BadFrameSize { width: u32, height: u32, expected: usize, got: usize },
    #[error(
        "frame {width}x{height} resizes to {rw}x{rh}, padded {in_w}x{in_h}, outside the model's range {min_w}x{min_h} .. {max_w}x{max_h}"
    )]
    OutOfRange {
        width: u32,
        height: u32,
        rw: usize,
        rh: usize,
        in_w: usize,
        in_h: usize,
        min_w: usize,
        min_h: usize,
        max_w: usize,
        max_h: usize,
    },
    #[error("visual prompt {0}")]
    BadVisualPrompt(String),
}

/// The numbers that preprocessing needs from model.json.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessParams {
    pub long_side: usize,
    pub pad_multiple: usize,
    pub patch: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// How a frame maps onto the model input: scale, resized size, padded size and the patch grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    pub frame_w: usize,
    pub frame_h: usize,
    /// `long_side / max(W, H)`, in f64 like Python.
    pub scale: f64,
    /// Per-axis scales `rw / W` and `rh / H` (what the resampler and the visual prompts use).
    pub scale_x: f64,
    pub scale_y: f64,
    pub resized_w: usize,
    pub resized_h: usize,
    pub input_w: usize,
    pub input_h: usize,
    pub grid_w: usize,
    pub grid_h: usize,
}

impl Geometry {
    pub fn new(frame_w: usize, frame_h: usize, p: &PreprocessParams) -> Geometry {
        let scale = p.long_side as f64 / frame_w.max(frame_h) as f64;
        // The reference rounds with floor(x + 0.5) in f64; keep it bit-identical.
        let resized_w = ((frame_w as f64 * scale + 0.5).floor() as usize).max(1);
        let resized_h = ((frame_h as f64 * scale + 0.5).floor() as usize).max(1);
        let pad = p.pad_multiple.max(1);
        let input_w = resized_w.div_ceil(pad) * pad;
        let input_h = resized_h.div_ceil(pad) * pad;
        Geometry {
            frame_w,
            frame_h,
            scale,
            scale_x: resized_w as f64 / frame_w as f64,
            scale_y: resized_h as f64 / frame_h as f64,
            resized_w,
            resized_h,
            input_w,
            input_h,
            grid_w: input_w / p.patch.max(1),
            grid_h: input_h / p.patch.max(1),
        }
    }

    /// Valid (un-padded) part of the stride-4 feature / mask-logit map: `ceil(rh/4) × ceil(rw/4)`.
    pub fn valid_logit_size(&self) -> (usize, usize) {
        (self.resized_h.div_ceil(4), self.resized_w.div_ceil(4))
    }
}

/// A normalised, padded model input: `[3, input_h, input_w]` planar f32.
#[derive(Debug, Clone)]
pub struct ModelInput {
    pub geometry: Geometry,
    pub pixels: Vec<f32>,
}

/// Validate a frame's buffer before touching it.
pub fn check_frame(frame: &Frame) -> Result<(), PreprocessError> {
    if frame.width == 0 || frame.height == 0 {
        return Err(PreprocessError::EmptyFrame { width: frame.width, height: frame.height });
    }
    let expected = frame.pixel_count() * 3;
    if frame.data.len() != expected {
        return Err(PreprocessError::BadFrameSize {
            width: frame.width,
            height: frame.height,
            expected,
            got: frame.data.len(),
        });
    }
    Ok(())
}

/// Resize, normalise and pad one frame.
pub fn preprocess(frame: &Frame, p: &PreprocessParams) -> Result<ModelInput, PreprocessError> {
    check_frame(frame)?;
    let g = Geometry::new(frame.width as usize, frame.height as usize, p);
    let resized = resample_rgb(&frame.data, g.frame_w, g.frame_h, g.resized_w, g.resized_h);
    let plane = g.input_w * g.input_h;
    // Padding is 0 *after* normalisation, so start from zeros and write the valid region only.
    let mut pixels = vec![0.0f32; 3 * plane];
    for y in 0..g.resized_h {
        for x in 0..g.resized_w {
            let src = (y * g.resized_w + x) * 3;
            for c in 0..3 {
                let v = resized[src + c] / 255.0;
                pixels[c * plane + y * g.input_w + x] = (v - p.mean[c]) / p.std[c];
            }
        }
    }
    Ok(ModelInput { geometry: g, pixels })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny_params() -> PreprocessParams {
        PreprocessParams {
            long_side: 320,
            pad_multiple: 32,
            patch: 32,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }

    #[test]
    fn geometry_matches_the_contract_example() {
        let g = Geometry::new(640, 480, &tiny_params());
        assert_eq!((g.resized_w, g.resized_h, g.input_w, g.input_h, g.grid_w, g.grid_h), (320, 240, 320, 256, 10, 8));
        assert_eq!(g.valid_logit_size(), (60, 80));
    }

    #[test]
    fn rounding_is_half_up_like_the_reference() {
        // 425 * 320/640 = 212.5 → floor(212.5 + 0.5) = 213
        let g = Geometry::new(640, 425, &tiny_params());
        assert_eq!(g.resized_h, 213);
        let g = Geometry::new(640, 427, &tiny_params());
        assert_eq!(g.resized_h, 214);
    }

    #[test]
    fn bad_frames_are_rejected() {
        let p = tiny_params();
        let mut f = Frame {
            seq: 0,
            stamp: std::time::SystemTime::UNIX_EPOCH,
            frame_id: String::new(),
            width: 4,
            height: 4,
            data: vec![0; 47],
        };
        assert!(matches!(preprocess(&f, &p), Err(PreprocessError::BadFrameSize { .. })));
        f.width = 0;
        assert!(matches!(preprocess(&f, &p), Err(PreprocessError::EmptyFrame { .. })));
    }

    #[test]
    fn padding_is_zero_and_constant_colour_normalises() {
        let p = tiny_params();
        let f = Frame {
            seq: 0,
            stamp: std::time::SystemTime::UNIX_EPOCH,
            frame_id: String::new(),
            width: 640,
            height: 480,
            data: vec![128; 640 * 480 * 3],
        };
        let m = preprocess(&f, &p).unwrap();
        let plane = 320 * 256;
        let expect0 = (128.0 / 255.0 - 0.485) / 0.229;
        assert!((m.pixels[0] - expect0).abs() < 1e-5);
        assert_eq!(m.pixels[plane - 1], 0.0); // bottom-right is padding
        assert!((m.pixels[239 * 320 + 319] - expect0).abs() < 1e-5);
    }
}
