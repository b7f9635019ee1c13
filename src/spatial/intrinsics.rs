//! The colour camera's intrinsics: a pinhole K and plumb_bob (or rational_polynomial) distortion, from
//! a sensor_msgs/CameraInfo or the YAML file that ROS `camera_calibration` writes. Anything that is not
//! a usable pinhole is refused here, once, with the reason.

use serde::Deserialize;

use super::SpatialError;

/// A calibrated pinhole camera with lens distortion (the ROS CameraInfo model).
#[derive(Debug, Clone, PartialEq)]
pub struct CameraIntrinsics {
    /// Resolution the calibration was made at (K scales with it).
    pub width: u32,
    pub height: u32,
    /// Row-major 3×3: [fx, s, cx, 0, fy, cy, 0, 0, 1].
    pub k: [f64; 9],
    /// Distortion as OpenCV orders it: k1, k2, p1, p2, k3 (plumb_bob), then k4, k5, k6
    /// (rational_polynomial). Always 8 long; missing terms are 0.
    pub d: Vec<f64>,
    /// The optical frame positions are expressed in (CameraInfo's header frame_id, or the YAML's
    /// camera_name).
    pub frame_id: String,
}

fn refuse(reason: String) -> SpatialError {
    SpatialError::Camera(reason)
}

/// The distortion coefficients as 8 OpenCV terms, or why the model is not supported.
fn distortion_terms(model: &str, d: &[f64]) -> Result<Vec<f64>, SpatialError> {
    if let Some(bad) = d.iter().find(|v| !v.is_finite()) {
        return Err(refuse(format!("distortion coefficient {bad} is not a number")));
    }
    let all_zero = d.iter().all(|v| *v == 0.0);
    let usable = match model {
        "plumb_bob" => d.len() <= 5,
        "rational_polynomial" => d.len() <= 8,
        // Drivers of rectified streams often leave the model empty with no or zero coefficients.
        "" | "none" => all_zero,
        _ => false,
    };
    if !usable {
        return Err(refuse(format!(
            "distortion model '{model}' with {} coefficients (supported: plumb_bob with up to 5, \
             rational_polynomial with up to 8; rectify the image first for other models)",
            d.len()
        )));
    }
    let mut terms = d.to_vec();
    terms.resize(8, 0.0);
    Ok(terms)
}

impl CameraIntrinsics {
    /// From the fields of a sensor_msgs/CameraInfo.
    pub fn from_ros(
        width: u32,
        height: u32,
        distortion_model: &str,
        d: &[f64],
        k: [f64; 9],
        frame_id: &str,
    ) -> Result<CameraIntrinsics, SpatialError> {
        if width == 0 || height == 0 {
            return Err(refuse(format!("size {width}x{height}: the camera is not calibrated")));
        }
        if k.iter().any(|v| !v.is_finite()) {
            return Err(refuse(format!("K {k:?} holds a value that is not a number")));
        }
        let [fx, _, cx, k3, fy, cy, k6, k7, k8] = k;
        if k.iter().all(|v| *v == 0.0) {
            return Err(refuse("K is all zeros: the camera is not calibrated".into()));
        }
        if fx <= 0.0 || fy <= 0.0 {
            return Err(refuse(format!("K has fx {fx}, fy {fy} (a pinhole needs both > 0)")));
        }
        if k3 != 0.0 || k6 != 0.0 || k7 != 0.0 || k8 != 1.0 {
            return Err(refuse(format!("K {k:?} is not a pinhole matrix (expected [fx s cx; 0 fy cy; 0 0 1])")));
        }
        if !(cx.abs() < 4.0 * width as f64 && cy.abs() < 4.0 * height as f64) {
            return Err(refuse(format!("principal point ({cx}, {cy}) lies far outside the {width}x{height} image")));
        }
        let d = distortion_terms(distortion_model, d)?;
        Ok(CameraIntrinsics { width, height, k, d, frame_id: frame_id.to_string() })
    }

    /// From the YAML that ROS `camera_calibration` (and camera_info_manager) writes.
    pub fn from_calibration_yaml(text: &str) -> Result<CameraIntrinsics, SpatialError> {
        let y: CalibrationYaml =
            serde_yaml::from_str(text).map_err(|e| refuse(format!("not a camera_calibration YAML: {e}")))?;
        let k = y.camera_matrix.values("camera_matrix", 3, 3)?;
        let d = match &y.distortion_coefficients {
            Some(m) => m.values("distortion_coefficients", 1, m.data.len())?,
            None => Vec::new(),
        };
        let k: [f64; 9] = k.try_into().map_err(|_| refuse("camera_matrix must hold 9 values".into()))?;
        let model = y.distortion_model.as_deref().unwrap_or(if d.is_empty() { "" } else { "plumb_bob" });
        Self::from_ros(y.image_width, y.image_height, model, &d, k, y.camera_name.as_deref().unwrap_or(""))
    }

    pub fn fx(&self) -> f64 {
        self.k[0]
    }

    pub fn fy(&self) -> f64 {
        self.k[4]
    }

    /// Whether any distortion term is non-zero.
    pub fn is_distorted(&self) -> bool {
        self.d.iter().any(|v| *v != 0.0)
    }

    /// The same camera at another resolution (K scaled about pixel centres; distortion is unchanged).
    pub fn scaled_to(&self, width: u32, height: u32) -> CameraIntrinsics {
        if width == self.width && height == self.height {
            return self.clone();
        }
        let (sx, sy) = (width as f64 / self.width as f64, height as f64 / self.height as f64);
        let mut k = self.k;
        k[0] *= sx;
        k[1] *= sx;
        k[2] = (k[2] + 0.5) * sx - 0.5;
        k[4] *= sy;
        k[5] = (k[5] + 0.5) * sy - 0.5;
        CameraIntrinsics { width, height, k, d: self.d.clone(), frame_id: self.frame_id.clone() }
    }
}

#[derive(Debug, Deserialize)]
struct CalibrationYaml {
    image_width: u32,
    image_height: u32,
    camera_name: Option<String>,
    camera_matrix: YamlMatrix,
    distortion_model: Option<String>,
    distortion_coefficients: Option<YamlMatrix>,
}

#[derive(Debug, Deserialize)]
struct YamlMatrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl YamlMatrix {
    fn values(&self, name: &str, rows: usize, cols: usize) -> Result<Vec<f64>, SpatialError> {
        if self.rows * self.cols != self.data.len() {
            return Err(refuse(format!(
                "{name} says {}x{} but holds {} values",
                self.rows,
                self.cols,
                self.data.len()
            )));
        }
        if self.rows != rows || self.cols != cols {
            return Err(refuse(format!("{name} is {}x{} (expected {rows}x{cols})", self.rows, self.cols)));
        }
        Ok(self.data.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "image_width: 640
image_height: 480
camera_name: tabletop
camera_matrix:
  rows: 3
  cols: 3
  data: [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.1, -0.05, 0.0, 0.0, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [525, 0, 319.5, 0, 0, 525, 239.5, 0, 0, 0, 1, 0]
";

    #[test]
    fn reads_camera_calibration_yaml() {
        let c = CameraIntrinsics::from_calibration_yaml(YAML).unwrap();
        assert_eq!((c.width, c.height, c.fx(), c.fy()), (640, 480, 525.0, 525.0));
        assert_eq!(c.d, vec![0.1, -0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(c.frame_id, "tabletop");
        assert!(c.is_distorted());
    }

    #[test]
    fn malformed_yaml_gives_one_clear_reason() {
        let e = CameraIntrinsics::from_calibration_yaml("image_width: [").unwrap_err().to_string();
        assert!(e.contains("not a camera_calibration YAML"), "{e}");
        let short = YAML.replace("data: [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]", "data: [525.0]");
        let e = CameraIntrinsics::from_calibration_yaml(&short).unwrap_err().to_string();
        assert!(e.contains("camera_matrix says 3x3 but holds 1 values"), "{e}");
        let fisheye = YAML.replace("plumb_bob", "equidistant");
        let e = CameraIntrinsics::from_calibration_yaml(&fisheye).unwrap_err().to_string();
        assert!(e.contains("'equidistant'"), "{e}");
    }

    #[test]
    fn refuses_matrices_that_are_not_pinholes() {
        let k = [525.0, 0.0, 320.0, 0.0, 525.0, 240.0, 0.0, 0.0, 1.0];
        assert!(CameraIntrinsics::from_ros(640, 480, "plumb_bob", &[0.0; 5], k, "cam").is_ok());
        assert!(CameraIntrinsics::from_ros(640, 480, "plumb_bob", &[], [0.0; 9], "cam").is_err());
        let mut neg = k;
        neg[4] = -1.0;
        assert!(
            CameraIntrinsics::from_ros(640, 480, "plumb_bob", &[], neg, "cam")
                .unwrap_err()
                .to_string()
                .contains("fy -1")
        );
        let mut nan = k;
        nan[2] = f64::NAN;
        assert!(CameraIntrinsics::from_ros(640, 480, "plumb_bob", &[], nan, "cam").is_err());
        assert!(CameraIntrinsics::from_ros(0, 480, "plumb_bob", &[], k, "cam").is_err());
        assert!(CameraIntrinsics::from_ros(640, 480, "plumb_bob", &[0.0; 6], k, "cam").is_err());
        assert!(CameraIntrinsics::from_ros(640, 480, "rational_polynomial", &[0.0; 8], k, "cam").is_ok());
    }

    #[test]
    fn scaling_keeps_the_field_of_view() {
        let k = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0];
        let c = CameraIntrinsics::from_ros(640, 480, "plumb_bob", &[], k, "cam").unwrap().scaled_to(320, 240);
        assert_eq!((c.fx(), c.k[2], c.k[5]), (262.5, 159.5, 119.5));
    }
}
