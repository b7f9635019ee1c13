//! Model outputs → things people and robots use: binary masks at frame resolution, boxes, COCO RLE,
//! PNG encoding, and an overlay image with masks, boxes and labels drawn on the frame.

mod font;
mod mask;
mod overlay;
mod rle;

pub use font::{GLYPH_H, GLYPH_W, draw_text, text_width};
pub use mask::{MaskPost, bbox_of, mask_area, mask_iou, upsample_threshold};
pub use overlay::{OverlayItem, draw_overlay, layout_labels, palette_colour};
pub use rle::{rle_decode, rle_encode};

use std::path::Path;

use crate::frame::Mask;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("mask logits have {got} values, expected {expected} ({h}x{w})")]
    LogitShape { expected: usize, got: usize, h: usize, w: usize },
    #[error("RLE {0}")]
    BadRle(String),
    #[error("cannot write image {path}: {source}")]
    WriteImage { path: String, source: image::ImageError },
    #[error("cannot read image {path}: {source}")]
    ReadImage { path: String, source: image::ImageError },
}

/// Write a mask as a mono8 PNG, 255 inside.
pub fn save_mask_png(mask: &Mask, path: &Path) -> Result<(), DecodeError> {
    let data: Vec<u8> = mask.data.iter().map(|&v| if v != 0 { 255 } else { 0 }).collect();
    image::save_buffer(path, &data, mask.width, mask.height, image::ExtendedColorType::L8)
        .map_err(|source| DecodeError::WriteImage { path: path.display().to_string(), source })
}

/// Read a mono8 (or any) PNG mask: non-zero luma = inside.
pub fn load_mask_png(path: &Path) -> Result<Mask, DecodeError> {
    let img = image::open(path)
        .map_err(|source| DecodeError::ReadImage { path: path.display().to_string(), source })?
        .into_luma8();
    let (width, height) = img.dimensions();
    let data = img.into_raw().into_iter().map(|v| u8::from(v >= 128)).collect();
    Ok(Mask { width, height, data })
}
