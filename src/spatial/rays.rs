//! Per-pixel viewing rays of a camera: the undistorted normalised coordinates (x/z, y/z) of every pixel,
//! computed once per camera and resolution so the per-frame estimate is a multiply per depth pixel.

use nalgebra::{Matrix3, Vector3};

use super::CameraIntrinsics;

/// Fixed-point iterations of the inverse distortion; converges to well under 0.01 px for lenses whose
/// distortion stays monotonic across the image.
const UNDISTORT_ITERATIONS: usize = 30;

/// Rays for every pixel of a `width`×`height` image: point = z · (rx, ry, 1); NaN for a pixel the lens
/// model cannot invert.
#[derive(Debug, Clone)]
pub struct RayTable {
    pub width: u32,
    pub height: u32,
    rays: Vec<[f32; 2]>,
    /// The intrinsics the table was built from (at its own resolution).
    camera: CameraIntrinsics,
}

impl RayTable {
    /// Builds the table for images of `width`×`height`; intrinsics calibrated at another resolution are
    /// scaled to it.
    pub fn new(intrinsics: &CameraIntrinsics, width: u32, height: u32) -> RayTable {
        let camera = intrinsics.scaled_to(width, height);
        let k = Matrix3::from_row_slice(&camera.k);
        // K is upper triangular with fx, fy > 0 (checked when it was accepted), so it always inverts.
        let k_inv = k.try_inverse().unwrap_or_else(Matrix3::identity);
        let d = &camera.d;
        let mut rays = Vec::with_capacity(width as usize * height as usize);
        for v in 0..height {
            for u in 0..width {
                let n = k_inv * Vector3::new(u as f64, v as f64, 1.0);
                let (xd, yd) = (n.x / n.z, n.y / n.z);
                let (x, y) = if camera.is_distorted() { undistort(xd, yd, d) } else { (xd, yd) };
                rays.push([x as f32, y as f32]);
            }
        }
        RayTable { width, height, rays, camera }
    }

    /// Whether this table serves images of this size from these intrinsics.
    pub fn serves(&self, intrinsics: &CameraIntrinsics, width: u32, height: u32) -> bool {
        self.width == width && self.height == height && self.camera == intrinsics.scaled_to(width, height)
    }

    /// The ray of pixel (`u`, `v`); callers index inside the image.
    #[inline]
    pub fn ray(&self, u: usize, v: usize) -> [f32; 2] {
        self.rays[v * self.width as usize + u]
    }

    pub fn camera(&self) -> &CameraIntrinsics {
        &self.camera
    }
}

/// Applies the plumb_bob / rational_polynomial model to undistorted normalised coordinates.
pub fn distort(x: f64, y: f64, d: &[f64]) -> (f64, f64) {
    let [k1, k2, p1, p2, k3, k4, k5, k6] = terms(d);
    let r2 = x * x + y * y;
    let radial = (1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1.0 + r2 * (k4 + r2 * (k5 + r2 * k6)));
    let xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
    let yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
    (xd, yd)
}

/// Inverts [`distort`] by fixed-point iteration from the distorted point; NaN where it does not converge
/// (far outside the calibrated field, where the polynomial folds back).
fn undistort(xd: f64, yd: f64, d: &[f64]) -> (f64, f64) {
    let [k1, k2, p1, p2, k3, k4, k5, k6] = terms(d);
    let (mut x, mut y) = (xd, yd);
    for _ in 0..UNDISTORT_ITERATIONS {
        let r2 = x * x + y * y;
        let inv_radial = (1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))) / (1.0 + r2 * (k1 + r2 * (k2 + r2 * k3)));
        if !inv_radial.is_finite() {
            break;
        }
        let dx = 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
        let dy = p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
        x = (xd - dx) * inv_radial;
        y = (yd - dy) * inv_radial;
    }
    let (cx, cy) = distort(x, y, d);
    if (cx - xd).hypot(cy - yd) <= 1e-5 { (x, y) } else { (f64::NAN, f64::NAN) }
}

fn terms(d: &[f64]) -> [f64; 8] {
    let mut t = [0.0; 8];
    for (slot, v) in t.iter_mut().zip(d) {
        *slot = *v;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(d: &[f64]) -> CameraIntrinsics {
        let k = [500.0, 0.0, 31.5, 0.0, 520.0, 23.5, 0.0, 0.0, 1.0];
        CameraIntrinsics::from_ros(64, 48, "plumb_bob", d, k, "cam").unwrap()
    }

    #[test]
    fn pinhole_rays_are_k_inverse() {
        let t = RayTable::new(&camera(&[]), 64, 48);
        let [x, y] = t.ray(31, 23);
        assert!((x + 0.5 / 500.0).abs() < 1e-7 && (y + 0.5 / 520.0).abs() < 1e-7, "{x} {y}");
        let [x, y] = t.ray(0, 47);
        assert!((x as f64 - (-31.5 / 500.0)).abs() < 1e-6 && (y as f64 - 23.5 / 520.0).abs() < 1e-6);
    }

    #[test]
    fn undistortion_inverts_the_distortion_model() {
        let d = [-0.28, 0.07, 0.001, -0.002, 0.0];
        let cam = camera(&d);
        let t = RayTable::new(&cam, 64, 48);
        for (u, v) in [(0usize, 0usize), (63, 47), (10, 40), (31, 23)] {
            let [x, y] = t.ray(u, v);
            let (xd, yd) = distort(x as f64, y as f64, &cam.d);
            let (pu, pv) = (xd * 500.0 + 31.5, yd * 520.0 + 23.5);
            assert!((pu - u as f64).abs() < 1e-3 && (pv - v as f64).abs() < 1e-3, "({u},{v}) -> ({pu},{pv})");
        }
    }

    #[test]
    fn a_table_knows_which_camera_it_serves() {
        let t = RayTable::new(&camera(&[]), 32, 24);
        assert!(t.serves(&camera(&[]), 32, 24));
        assert!(!t.serves(&camera(&[0.1]), 32, 24));
        assert!(!t.serves(&camera(&[]), 64, 48));
    }
}
