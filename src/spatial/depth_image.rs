//! A depth image in metres, decoded from what depth cameras send: ROS `16UC1` (millimetres, 0 = no
//! reading), `32FC1` (metres, NaN/inf/≤0 = no reading) and 16-bit PNG files (millimetres). Every
//! decoder checks sizes against the data and refuses with what it expected and what it found.

use std::path::Path;
use std::time::SystemTime;

use super::SpatialError;

/// Largest side accepted: above any depth camera, below sizes whose products overflow.
const MAX_SIDE: u32 = 16_384;

/// One depth image, row-major, tightly packed. `NaN` marks pixels without a reading.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthImage {
    pub width: u32,
    pub height: u32,
    /// Capture time of the depth image (matched against colour frames' stamps).
    pub stamp: SystemTime,
    /// Frame number (file sequences match colour frames by it).
    pub seq: u64,
    pub metres: Vec<f32>,
}

fn refuse(reason: String) -> SpatialError {
    SpatialError::Depth(reason)
}

fn check_size(width: u32, height: u32) -> Result<(), SpatialError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(refuse(format!("size {width}x{height} (each side must be 1..={MAX_SIDE})")));
    }
    Ok(())
}

fn from_mm(mm: u16) -> f32 {
    if mm == 0 { f32::NAN } else { mm as f32 * 1e-3 }
}

fn from_m(m: f32) -> f32 {
    if m.is_finite() && m > 0.0 { m } else { f32::NAN }
}

impl DepthImage {
    /// Decodes a sensor_msgs/Image holding depth: `16UC1` (or `mono16`) in millimetres, `32FC1` in metres.
    #[allow(clippy::too_many_arguments)]
    pub fn from_ros(
        encoding: &str,
        width: u32,
        height: u32,
        step: u32,
        is_bigendian: bool,
        data: &[u8],
        stamp: SystemTime,
        seq: u64,
    ) -> Result<DepthImage, SpatialError> {
        let bytes_per_pixel: usize = match encoding {
            "16UC1" | "mono16" => 2,
            "32FC1" => 4,
            other => {
                return Err(refuse(format!("encoding '{other}' (expected 16UC1 in millimetres or 32FC1 in metres)")));
            }
        };
        check_size(width, height)?;
        let (w, h, step) = (width as usize, height as usize, step as usize);
        let row = w * bytes_per_pixel;
        if step < row {
            return Err(refuse(format!(
                "step {step} is shorter than a row ({width} px x {bytes_per_pixel} bytes = {row})"
            )));
        }
        // The last row may stop at its pixels: some drivers trim the padding there.
        let needed = step * (h - 1) + row;
        if data.len() < needed {
            return Err(refuse(format!(
                "{} bytes of data for {width}x{height} {encoding} with step {step} (expected at least {needed})",
                data.len()
            )));
        }
        let mut metres = Vec::with_capacity(w * h);
        for y in 0..h {
            let line = &data[y * step..y * step + row];
            match bytes_per_pixel {
                2 => metres.extend(line.chunks_exact(2).map(|b| {
                    let raw = [b[0], b[1]];
                    from_mm(if is_bigendian { u16::from_be_bytes(raw) } else { u16::from_le_bytes(raw) })
                })),
                _ => metres.extend(line.chunks_exact(4).map(|b| {
                    let raw = [b[0], b[1], b[2], b[3]];
                    from_m(if is_bigendian { f32::from_be_bytes(raw) } else { f32::from_le_bytes(raw) })
                })),
            }
        }
        Ok(DepthImage { width, height, stamp, seq, metres })
    }

    /// Depth from millimetre samples (a GStreamer GRAY16 buffer, a decoded PNG); 0 = no reading.
    pub fn from_millimetres(
        width: u32,
        height: u32,
        mm: &[u16],
        stamp: SystemTime,
        seq: u64,
    ) -> Result<DepthImage, SpatialError> {
        check_size(width, height)?;
        let expected = width as usize * height as usize;
        if mm.len() != expected {
            return Err(refuse(format!("{} samples for {width}x{height} (expected {expected})", mm.len())));
        }
        Ok(DepthImage { width, height, stamp, seq, metres: mm.iter().map(|&v| from_mm(v)).collect() })
    }

    /// Reads a 16-bit greyscale PNG of millimetres (what depth cameras and the sample's renderer write).
    pub fn from_png16(path: &Path, stamp: SystemTime, seq: u64) -> Result<DepthImage, SpatialError> {
        let read_err = |reason: String| SpatialError::Read { path: path.display().to_string(), reason };
        let reader = image::ImageReader::open(path).map_err(|e| read_err(e.to_string()))?;
        let decoded = reader.with_guessed_format().map_err(|e| read_err(e.to_string()))?;
        let img = decoded.decode().map_err(|e| read_err(e.to_string()))?;
        match img {
            image::DynamicImage::ImageLuma16(buf) => {
                let (w, h) = buf.dimensions();
                DepthImage::from_millimetres(w, h, buf.as_raw(), stamp, seq)
            }
            other => Err(read_err(format!(
                "a depth PNG must be 16-bit greyscale in millimetres, this one is {:?}",
                other.color()
            ))),
        }
    }

    /// Depth at the pixel of another image of `frame_w`×`frame_h` (the colour frame) that covers
    /// colour pixel (`u`, `v`): depth of another resolution is sampled at the scaled coordinates.
    #[inline]
    pub fn at_scaled(&self, u: usize, v: usize, frame_w: usize, frame_h: usize) -> f32 {
        let (w, h) = (self.width as usize, self.height as usize);
        // the depth pixel under the colour pixel's centre: floor((u + 0.5) * w / frame_w)
        let x = if w == frame_w { u } else { ((2 * u + 1) * w / (2 * frame_w).max(1)).min(w - 1) };
        let y = if h == frame_h { v } else { ((2 * v + 1) * h / (2 * frame_h).max(1)).min(h - 1) };
        self.metres.get(y * w + x).copied().unwrap_or(f32::NAN)
    }

    /// Pixels with a reading.
    pub fn valid_pixels(&self) -> usize {
        self.metres.iter().filter(|m| m.is_finite()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn decodes_16uc1_with_padding_and_both_byte_orders() {
        // 2x2, step 6 (2 bytes of padding per row); 0 = no reading.
        let le = [0xE8, 0x03, 0x00, 0x00, 0xFF, 0xFF, 0xD0, 0x07, 0x01, 0x00, 0xFF, 0xFF];
        let d = DepthImage::from_ros("16UC1", 2, 2, 6, false, &le, T, 3).unwrap();
        assert_eq!(d.metres[0], 1.0);
        assert!(d.metres[1].is_nan());
        assert_eq!(d.metres[2], 2.0);
        assert_eq!(d.metres[3], 0.001);
        let be = [0x03, 0xE8];
        assert_eq!(DepthImage::from_ros("16UC1", 1, 1, 2, true, &be, T, 0).unwrap().metres[0], 1.0);
    }

    #[test]
    fn decodes_32fc1_and_marks_invalid_readings() {
        let vals = [0.75f32, f32::NAN, f32::INFINITY, -1.0, 0.0];
        let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let d = DepthImage::from_ros("32FC1", 5, 1, 20, false, &data, T, 0).unwrap();
        assert_eq!(d.metres[0], 0.75);
        assert_eq!(d.valid_pixels(), 1);
    }

    #[test]
    fn refuses_short_data_bad_step_and_unknown_encodings_with_numbers() {
        let e = DepthImage::from_ros("16UC1", 4, 2, 8, false, &[0; 10], T, 0).unwrap_err().to_string();
        assert!(e.contains("10 bytes") && e.contains("at least 16"), "{e}");
        let e = DepthImage::from_ros("16UC1", 4, 2, 6, false, &[0; 64], T, 0).unwrap_err().to_string();
        assert!(e.contains("step 6") && e.contains("8"), "{e}");
        let e = DepthImage::from_ros("rgb8", 4, 2, 12, false, &[0; 64], T, 0).unwrap_err().to_string();
        assert!(e.contains("rgb8") && e.contains("16UC1"), "{e}");
        assert!(DepthImage::from_ros("16UC1", 0, 2, 0, false, &[], T, 0).is_err());
        assert!(DepthImage::from_ros("32FC1", u32::MAX, u32::MAX, u32::MAX, false, &[], T, 0).is_err());
    }

    #[test]
    fn samples_a_smaller_depth_at_scaled_coordinates() {
        let mm: Vec<u16> = (1..=4).collect();
        let d = DepthImage::from_millimetres(2, 2, &mm, T, 0).unwrap();
        // A 4x4 colour frame over a 2x2 depth image: each depth pixel covers 2x2 colour pixels.
        assert_eq!(d.at_scaled(0, 0, 4, 4), 0.001);
        assert_eq!(d.at_scaled(1, 1, 4, 4), 0.001);
        assert_eq!(d.at_scaled(2, 0, 4, 4), 0.002);
        assert_eq!(d.at_scaled(3, 3, 4, 4), 0.004);
        assert_eq!(d.at_scaled(1, 0, 2, 2), 0.002);
    }
}
