//! Turns a mapped GStreamer video plane into a tightly packed RGB8 buffer.
//!
//! GStreamer rounds RGB rows up to a multiple of 4 bytes (a 643-pixel row is 1929 bytes of pixels
//! in a 1932-byte stride), so rows are always copied one by one; packed 4-byte formats are
//! accepted too so that hand-written launch descriptions (e.g. `nvvidconv ! video/x-raw,format=BGRx`)
//! work without an extra `videoconvert`.

use gst_video::VideoFormat;

/// Pixel layouts capture accepts at the appsink.
pub const ACCEPTED_FORMATS: &[VideoFormat] = &[
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgbx,
    VideoFormat::Rgba,
    VideoFormat::Bgrx,
    VideoFormat::Bgra,
    VideoFormat::Xrgb,
    VideoFormat::Argb,
    VideoFormat::Xbgr,
    VideoFormat::Abgr,
];

/// Why a plane could not be converted (a per-frame fault: counted, the stream goes on).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    #[error("unsupported pixel format {0:?} (end the pipeline with `videoconvert ! video/x-raw,format=RGB`)")]
    Format(VideoFormat),
    #[error("plane of {len} bytes is too small for {width}x{height} with stride {stride}")]
    ShortPlane { len: usize, width: u32, height: u32, stride: usize },
}

/// Byte offsets of R, G, B inside one pixel, and the pixel size.
fn layout(format: VideoFormat) -> Option<([usize; 3], usize)> {
    Some(match format {
        VideoFormat::Rgb => ([0, 1, 2], 3),
        VideoFormat::Bgr => ([2, 1, 0], 3),
        VideoFormat::Rgbx | VideoFormat::Rgba => ([0, 1, 2], 4),
        VideoFormat::Bgrx | VideoFormat::Bgra => ([2, 1, 0], 4),
        VideoFormat::Xrgb | VideoFormat::Argb => ([1, 2, 3], 4),
        VideoFormat::Xbgr | VideoFormat::Abgr => ([3, 2, 1], 4),
        _ => return None,
    })
}

/// Copies `height` rows of `width` pixels from a plane with the given stride into tight RGB8.
pub fn to_tight_rgb(
    format: VideoFormat,
    plane: &[u8],
    stride: usize,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, ConvertError> {
    let ([r, g, b], px) = layout(format).ok_or(ConvertError::Format(format))?;
    let (w, h) = (width as usize, height as usize);
    let row_bytes = w * px;
    let needed = if h == 0 { 0 } else { stride * (h - 1) + row_bytes };
    if stride < row_bytes || plane.len() < needed {
        return Err(ConvertError::ShortPlane { len: plane.len(), width, height, stride });
    }
    let mut out = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        let src = &plane[row * stride..row * stride + row_bytes];
        if px == 3 && (r, g, b) == (0, 1, 2) {
            out.extend_from_slice(src);
        } else {
            for p in src.chunks_exact(px) {
                out.extend_from_slice(&[p[r], p[g], p[b]]);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_row_padding() {
        // 3x2 RGB with a 12-byte stride: 9 bytes of pixels + 3 bytes of padding per row.
        let plane: Vec<u8> = vec![
            1, 2, 3, 4, 5, 6, 7, 8, 9, 0xEE, 0xEE, 0xEE, //
            10, 11, 12, 13, 14, 15, 16, 17, 18, 0xEE, 0xEE, 0xEE,
        ];
        let out = to_tight_rgb(VideoFormat::Rgb, &plane, 12, 3, 2).unwrap();
        assert_eq!(out, (1..=18).collect::<Vec<u8>>());
    }

    #[test]
    fn last_row_may_be_short() {
        // Some producers do not pad the final row.
        let plane: Vec<u8> = vec![1, 2, 3, 0, 4, 5, 6];
        assert_eq!(to_tight_rgb(VideoFormat::Rgb, &plane, 4, 1, 2).unwrap(), vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn swizzles_bgrx() {
        let plane = vec![3, 2, 1, 0xFF, 6, 5, 4, 0xFF];
        assert_eq!(to_tight_rgb(VideoFormat::Bgrx, &plane, 8, 2, 1).unwrap(), vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rejects_short_plane_and_unknown_format() {
        assert!(matches!(to_tight_rgb(VideoFormat::Rgb, &[0; 8], 3, 3, 1), Err(ConvertError::ShortPlane { .. })));
        assert_eq!(to_tight_rgb(VideoFormat::I420, &[0; 8], 3, 1, 1), Err(ConvertError::Format(VideoFormat::I420)));
    }
}
