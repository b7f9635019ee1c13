//! The 3-D estimate of one found object: where its visible surface is, from the depth under its mask.
//!
//! A mask's border mixes the object with what lies behind it (and depth cameras add "flying" pixels
//! there), so the object's depth is read from the mask's interior (the mask eroded by a few pixels):
//! the median of its valid readings, with a band of a few MADs (never narrower than the sensor's noise).
//! Every mask pixel whose depth falls in that band is then back-projected through the camera's rays;
//! their mean is the centroid, their range (less a few stray pixels at each end) the extent. No valid depth gives a reason, never a point.

use super::{DepthImage, RayTable};
use crate::decode::bbox_of;
use crate::frame::{Mask, Placement};

/// Tuning of the estimator; the defaults suit structured-light and stereo cameras at table range.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateConfig {
    /// Fewest depth readings that make a position.
    pub min_pixels: usize,
    /// Largest erosion radius in pixels (smaller objects erode less).
    pub max_erosion: usize,
    /// Half-width of the inlier band: at least `band_floor_m + band_relative × depth`.
    pub band_floor_m: f32,
    pub band_relative: f32,
    /// And at least this many robust standard deviations (1.4826 × MAD).
    pub band_sigmas: f32,
    /// Inliers ignored at each end of every axis when measuring the extent (a few stray pixels; more
    /// would cut the corners off rotated shapes).
    pub extent_trim_pixels: usize,
}

impl Default for EstimateConfig {
    fn default() -> Self {
        Self {
            min_pixels: 10,
            max_erosion: 3,
            band_floor_m: 0.004,
            band_relative: 0.005,
            band_sigmas: 3.0,
            extent_trim_pixels: 2,
        }
    }
}

/// The placement of the object under `mask` (at the rays' resolution), or why there is none.
pub fn estimate_placement(
    mask: &Mask,
    bbox: Option<[u32; 4]>,
    depth: &DepthImage,
    rays: &RayTable,
    cfg: &EstimateConfig,
) -> Result<Placement, String> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    if rays.width != mask.width || rays.height != mask.height || mask.data.len() != w * h {
        return Err(format!("mask of {w}x{h} does not fit the camera rays of {}x{}", rays.width, rays.height));
    }
    let Some([x0, y0, x1, y1]) = bbox.or_else(|| bbox_of(mask)).map(|b| b.map(|v| v as usize)) else {
        return Err("the mask is empty".into());
    };
    let (x1, y1) = (x1.min(w), y1.min(h));
    if x0 >= x1 || y0 >= y1 {
        return Err("the mask is empty".into());
    }
    let inside = |u: usize, v: usize| mask.data[v * w + u] != 0;
    let z_at = |u: usize, v: usize| depth.at_scaled(u, v, w, h);

    // The object's depth from the interior; a mask too thin to erode falls back to all of it.
    let radius = ((x1 - x0).min(y1 - y0) / 8).clamp(1, cfg.max_erosion.max(1));
    let interior = eroded(mask, [x0, y0, x1, y1], radius);
    let mut zs: Vec<f32> = interior.iter().map(|&(u, v)| z_at(u, v)).filter(|z| z.is_finite()).collect();
    if zs.len() < cfg.min_pixels {
        zs = (y0..y1)
            .flat_map(|v| (x0..x1).map(move |u| (u, v)))
            .filter(|&(u, v)| inside(u, v))
            .map(|(u, v)| z_at(u, v))
            .filter(|z| z.is_finite())
            .collect();
    }
    if zs.is_empty() {
        return Err("no valid depth inside the mask".into());
    }
    if zs.len() < cfg.min_pixels {
        return Err(format!(
            "only {} valid depth pixels inside the mask (at least {} needed)",
            zs.len(),
            cfg.min_pixels
        ));
    }
    let median = median_of(&mut zs);
    let mut deviations: Vec<f32> = zs.iter().map(|z| (z - median).abs()).collect();
    let sigma = 1.4826 * median_of(&mut deviations);
    let band = (cfg.band_sigmas * sigma).max(cfg.band_floor_m + cfg.band_relative * median);

    let mut points: [Vec<f32>; 3] = Default::default();
    let mut sum = [0f64; 3];
    for v in y0..y1 {
        for u in x0..x1 {
            if !inside(u, v) {
                continue;
            }
            let z = z_at(u, v);
            if !(z.is_finite() && (z - median).abs() <= band) {
                continue;
            }
            let [rx, ry] = rays.ray(u, v);
            if !(rx.is_finite() && ry.is_finite()) {
                continue; // outside where the lens model inverts
            }
            let p = [rx * z, ry * z, z];
            for axis in 0..3 {
                sum[axis] += p[axis] as f64;
                points[axis].push(p[axis]);
            }
        }
    }
    let n = points[2].len();
    if n < cfg.min_pixels {
        return Err(format!("only {n} consistent depth pixels inside the mask (at least {} needed)", cfg.min_pixels));
    }
    let centroid = sum.map(|s| s / n as f64);
    let trim = cfg.extent_trim_pixels.min((n - 1) / 2);
    let extent = points.map(|mut values| trimmed_range(&mut values, trim) as f64);
    Ok(Placement { centroid, extent, depth_pixels: n as u32 })
}

/// Mask pixels inside `bbox` whose whole (2r+1)² neighbourhood is in the mask.
fn eroded(mask: &Mask, [x0, y0, x1, y1]: [usize; 4], r: usize) -> Vec<(usize, usize)> {
    let w = mask.width as usize;
    let (bw, bh) = (x1 - x0, y1 - y0);
    // Integral image of the box, one row and column of zeros in front.
    let stride = bw + 1;
    let mut integral = vec![0u32; stride * (bh + 1)];
    for y in 0..bh {
        let mut row = 0u32;
        for x in 0..bw {
            row += u32::from(mask.data[(y0 + y) * w + x0 + x] != 0);
            integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row;
        }
    }
    let full = ((2 * r + 1) * (2 * r + 1)) as u32;
    let mut out = Vec::new();
    for y in r..bh.saturating_sub(r) {
        for x in r..bw.saturating_sub(r) {
            let (a, b) = (x - r, x + r + 1);
            let (c, d) = (y - r, y + r + 1);
            let s = integral[d * stride + b] + integral[c * stride + a]
                - integral[c * stride + b]
                - integral[d * stride + a];
            if s == full {
                out.push((x0 + x, y0 + y));
            }
        }
    }
    out
}

/// Median of finite values (the upper one of an even count); reorders the slice.
fn median_of(values: &mut [f32]) -> f32 {
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// Range between the `trim`-th smallest and the `trim`-th largest value; reorders the slice.
fn trimmed_range(values: &mut [f32], trim: usize) -> f32 {
    let n = values.len();
    let lo = *values.select_nth_unstable_by(trim, f32::total_cmp).1;
    let hi = *values.select_nth_unstable_by(n - 1 - trim, f32::total_cmp).1;
    hi - lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::CameraIntrinsics;
    use std::time::SystemTime;

    const W: u32 = 64;
    const H: u32 = 48;

    fn rays() -> RayTable {
        let k = [50.0, 0.0, 31.5, 0.0, 50.0, 23.5, 0.0, 0.0, 1.0];
        RayTable::new(&CameraIntrinsics::from_ros(W, H, "plumb_bob", &[], k, "cam").unwrap(), W, H)
    }

    /// A square object 0.70 m away over a table at 0.80 m; its mask one pixel too big all round.
    fn scene() -> (Mask, Vec<f32>) {
        let mut mask = Mask { width: W, height: H, data: vec![0; (W * H) as usize] };
        let mut z = vec![0.8f32; (W * H) as usize];
        for v in 10..30 {
            for u in 20..44 {
                let i = v * W as usize + u;
                mask.data[i] = 1;
                if (11..29).contains(&v) && (21..43).contains(&u) {
                    z[i] = 0.7;
                }
            }
        }
        (mask, z)
    }

    fn depth(z: Vec<f32>) -> DepthImage {
        DepthImage { width: W, height: H, stamp: SystemTime::UNIX_EPOCH, seq: 0, metres: z }
    }

    #[test]
    fn places_the_object_and_ignores_the_background_in_its_border() {
        let (mask, z) = scene();
        let p = estimate_placement(&mask, None, &depth(z), &rays(), &EstimateConfig::default()).unwrap();
        // Pixels 21..43 x 11..29 at 0.7 m: centre (31.5, 19.5) px.
        let expect = [0.0, (19.5 - 23.5) / 50.0 * 0.7, 0.7];
        for (got, want) in p.centroid.iter().zip(expect) {
            assert!((got - want).abs() < 1e-4, "{:?}", p.centroid);
        }
        assert_eq!(p.depth_pixels, 22 * 18);
        assert!((p.extent[0] - 21.0 / 50.0 * 0.7).abs() < 1e-3 && p.extent[2] < 1e-6, "{:?}", p.extent);
    }

    #[test]
    fn survives_holes_nan_zeros_and_flying_pixels() {
        let (mask, mut z) = scene();
        for (i, v) in z.iter_mut().enumerate() {
            match i % 7 {
                0 => *v = f32::NAN,
                3 => *v = 0.75, // a flying pixel half-way to the table
                _ => {}
            }
        }
        let p = estimate_placement(&mask, None, &depth(z), &rays(), &EstimateConfig::default()).unwrap();
        assert!((p.centroid[2] - 0.7).abs() < 1e-4 && p.centroid[0].abs() < 5e-3, "{:?}", p.centroid);
    }

    #[test]
    fn no_valid_depth_gives_a_reason_not_a_point() {
        let (mask, _) = scene();
        let cfg = EstimateConfig::default();
        let e = estimate_placement(&mask, None, &depth(vec![f32::NAN; (W * H) as usize]), &rays(), &cfg);
        assert_eq!(e.unwrap_err(), "no valid depth inside the mask");
        let empty = Mask { width: W, height: H, data: vec![0; (W * H) as usize] };
        assert!(estimate_placement(&empty, None, &depth(vec![0.7; (W * H) as usize]), &rays(), &cfg).is_err());
    }

    #[test]
    fn erosion_keeps_only_full_neighbourhoods() {
        let (mask, _) = scene();
        let inner = eroded(&mask, bbox_of(&mask).unwrap().map(|v| v as usize), 2);
        assert_eq!(inner.len(), (24 - 4) * (20 - 4));
        assert!(inner.contains(&(22, 12)) && !inner.contains(&(21, 12)));
    }
}
