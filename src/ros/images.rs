//! Pixel work at the ROS boundary: the mono8 label image of all masks, the PNG/JPEG encodings of
//! the compressed topics, and the conversion of an incoming `sensor_msgs/Image` into a [`Frame`].
//! (The overlay itself is `crate::sink::annotate`, the same picture as the recorded video.)

use image::ImageEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use super::error::PublishError;
use super::msgs_std::Image;
use crate::frame::{Frame, FrameResult};

/// Label image at frame resolution: 0 background, k for the k-th command (1-based, found ones
/// only); where masks overlap, the later command wins.
pub fn label_image(result: &FrameResult) -> Vec<u8> {
    let (w, h) = (result.frame.width as usize, result.frame.height as usize);
    let mut labels = vec![0u8; w * h];
    for (k, g) in result.groundings.iter().enumerate() {
        let label = u8::try_from(k + 1).unwrap_or(u8::MAX);
        if !g.found || g.mask.width as usize != w || g.mask.height as usize != h {
            continue;
        }
        for (dst, &m) in labels.iter_mut().zip(g.mask.data.iter()) {
            if m != 0 {
                *dst = label;
            }
        }
    }
    labels
}

/// PNG of a mono8 image (fast compression: label images are mostly runs of zeros).
pub fn encode_png_mono8(data: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PublishError> {
    let mut out = Vec::with_capacity(data.len() / 16);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
        .write_image(data, width, height, image::ExtendedColorType::L8)
        .map_err(|e| PublishError::Encode { what: "mask PNG", reason: e.to_string() })?;
    Ok(out)
}

/// JPEG of an rgb8 image.
pub fn encode_jpeg_rgb8(data: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, PublishError> {
    let mut out = Vec::with_capacity(data.len() / 10);
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(data, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| PublishError::Encode { what: "overlay JPEG", reason: e.to_string() })?;
    Ok(out)
}

/// Why an incoming image was not turned into a frame (counted and logged at a limited rate).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImageInputError {
    #[error("unsupported encoding `{0}` (supported: rgb8, bgr8, rgba8, bgra8, mono8)")]
    Encoding(String),
    #[error("{width}x{height} {encoding} with step {step} needs {need} bytes, got {got}")]
    Size { width: u32, height: u32, encoding: String, step: u32, need: usize, got: usize },
    #[error("empty image ({0}x{1})")]
    Empty(u32, u32),
}

/// Converts a `sensor_msgs/Image` to a packed RGB8 [`Frame`], honouring `step` (row padding).
pub fn frame_from_image(img: &Image, seq: u64, frame_id_override: &str) -> Result<Frame, ImageInputError> {
    let (w, h) = (img.width as usize, img.height as usize);
    if w == 0 || h == 0 {
        return Err(ImageInputError::Empty(img.width, img.height));
    }
    let (channels, order): (usize, [usize; 3]) = match img.encoding.as_str() {
        "rgb8" => (3, [0, 1, 2]),
        "bgr8" => (3, [2, 1, 0]),
        "rgba8" => (4, [0, 1, 2]),
        "bgra8" => (4, [2, 1, 0]),
        "mono8" | "8UC1" => (1, [0, 0, 0]),
        other => return Err(ImageInputError::Encoding(other.to_owned())),
    };
    let step = img.step as usize;
    // Checked: width, height and step come off the wire, and their product can pass usize.
    let need = step.checked_mul(h - 1).and_then(|n| n.checked_add(w * channels)).unwrap_or(usize::MAX);
    if step < w * channels || img.data.len() < need {
        return Err(ImageInputError::Size {
            width: img.width,
            height: img.height,
            encoding: img.encoding.clone(),
            step: img.step,
            need: need.max(w.saturating_mul(channels).saturating_mul(h)),
            got: img.data.len(),
        });
    }
    let mut data = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        let line = &img.data[row * step..row * step + w * channels];
        if channels == 3 && order == [0, 1, 2] {
            data.extend_from_slice(line);
        } else {
            for px in line.chunks_exact(channels) {
                data.extend_from_slice(&[px[order[0]], px[order[1]], px[order[2]]]);
            }
        }
    }
    let frame_id =
        if frame_id_override.is_empty() { img.header.frame_id.clone() } else { frame_id_override.to_owned() };
    Ok(Frame { seq, stamp: img.header.stamp.to_system(), frame_id, width: img.width, height: img.height, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros::msgs_std::{Header, Time};

    fn image(encoding: &str, w: u32, h: u32, step: u32, data: Vec<u8>) -> Image {
        Image {
            header: Header { stamp: Time { sec: 5, nanosec: 7 }, frame_id: "cam".into() },
            height: h,
            width: w,
            encoding: encoding.into(),
            is_bigendian: 0,
            step,
            data,
        }
    }

    #[test]
    fn bgr_with_row_padding_becomes_packed_rgb() {
        let img = image("bgr8", 2, 2, 8, vec![1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0]);
        let f = frame_from_image(&img, 3, "").unwrap();
        assert_eq!(f.data, vec![3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
        assert_eq!((f.frame_id.as_str(), f.seq), ("cam", 3));
        assert_eq!(super::super::msgs_std::Time::from_system(f.stamp), Time { sec: 5, nanosec: 7 });
    }

    #[test]
    fn short_buffers_and_unknown_encodings_are_refused() {
        assert!(matches!(
            frame_from_image(&image("rgb8", 4, 4, 12, vec![0; 10]), 0, ""),
            Err(ImageInputError::Size { .. })
        ));
        assert!(matches!(
            frame_from_image(&image("yuv422", 2, 2, 4, vec![0; 8]), 0, ""),
            Err(ImageInputError::Encoding(_))
        ));
        assert!(matches!(frame_from_image(&image("rgb8", 0, 2, 0, vec![]), 0, ""), Err(ImageInputError::Empty(0, 2))));
    }

    #[test]
    fn png_round_trips_labels() {
        let labels: Vec<u8> = (0..64u32 * 48).map(|i| (i % 3) as u8).collect();
        let png = encode_png_mono8(&labels, 64, 48).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(back.into_raw(), labels);
    }
}
