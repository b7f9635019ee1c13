//! Serde mirrors of the standard ROS 2 messages the node speaks. Field order and types follow the
//! `.msg` definitions exactly (CDR has no field names); `uint8[]` uses `serde_bytes` (one memcpy
//! instead of a per-byte loop), fixed arrays are `[T; N]` (no length prefix on the wire).
//! `tests/ros_msgs_schema.rs` compares these against the `.msg` text and rosbags' bytes.

use std::time::{SystemTime, UNIX_EPOCH};

use ros2_client::Message;
use serde::{Deserialize, Serialize};

/// builtin_interfaces/Time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}

impl Time {
    /// Wall-clock (epoch) time as ROS writes it; saturates outside the i32 seconds range.
    pub fn from_system(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Self { sec: i32::try_from(d.as_secs()).unwrap_or(i32::MAX), nanosec: d.subsec_nanos() },
            Err(_) => Self::default(),
        }
    }

    /// Back to `SystemTime`; negative stamps clamp to the epoch.
    pub fn to_system(self) -> SystemTime {
        let secs = u64::try_from(self.sec).unwrap_or(0);
        UNIX_EPOCH + std::time::Duration::new(secs, self.nanosec.min(999_999_999))
    }

    pub fn is_zero(self) -> bool {
        self.sec == 0 && self.nanosec == 0
    }
}

/// builtin_interfaces/Duration (marker lifetimes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duration {
    pub sec: i32,
    pub nanosec: u32,
}

impl Duration {
    pub fn from_std(d: std::time::Duration) -> Self {
        Self { sec: i32::try_from(d.as_secs()).unwrap_or(i32::MAX), nanosec: d.subsec_nanos() }
    }
}

/// std_msgs/Header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub stamp: Time,
    pub frame_id: String,
}
impl Message for Header {}

/// std_msgs/String.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StringMsg {
    pub data: String,
}
impl Message for StringMsg {}

/// sensor_msgs/Image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub encoding: String,
    pub is_bigendian: u8,
    pub step: u32,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}
impl Message for Image {}

/// sensor_msgs/CompressedImage (`format` is "png" / "jpeg", the image_transport convention).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompressedImage {
    pub header: Header,
    pub format: String,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}
impl Message for CompressedImage {}

/// geometry_msgs/Point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}
impl Message for Point {}

/// geometry_msgs/Vector3.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Vector3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}
impl Message for Vector3 {}

/// geometry_msgs/Quaternion (x, y, z, w).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quaternion {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub w: f64,
}
impl Message for Quaternion {}

impl Default for Quaternion {
    /// The identity rotation (the .msg's default, w = 1).
    fn default() -> Self {
        Self { x: 0.0, y: 0.0, z: 0.0, w: 1.0 }
    }
}

/// geometry_msgs/Pose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub position: Point,
    pub orientation: Quaternion,
}
impl Message for Pose {}

/// geometry_msgs/Transform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    pub translation: Vector3,
    pub rotation: Quaternion,
}
impl Message for Transform {}

/// geometry_msgs/TransformStamped: `child_frame_id` placed by `transform` in `header.frame_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformStamped {
    pub header: Header,
    pub child_frame_id: String,
    pub transform: Transform,
}
impl Message for TransformStamped {}

/// std_msgs/ColorRGBA (0..1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ColorRGBA {
    pub r: f32,
    pub g: f32,
    pub b: f32,
    pub a: f32,
}
impl Message for ColorRGBA {}

/// sensor_msgs/RegionOfInterest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionOfInterest {
    pub x_offset: u32,
    pub y_offset: u32,
    pub height: u32,
    pub width: u32,
    pub do_rectify: bool,
}
impl Message for RegionOfInterest {}

/// sensor_msgs/CameraInfo: the intrinsics (`k`, row-major 3×3), distortion (`d`, per `distortion_model`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraInfo {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub distortion_model: String,
    pub d: Vec<f64>,
    pub k: [f64; 9],
    pub r: [f64; 9],
    pub p: [f64; 12],
    pub binning_x: u32,
    pub binning_y: u32,
    pub roi: RegionOfInterest,
}
impl Message for CameraInfo {}

/// geometry_msgs/PointStamped (what rqt_image_view's mouse-click publisher sends).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PointStamped {
    pub header: Header,
    pub point: Point,
}
impl Message for PointStamped {}

/// diagnostic_msgs/KeyValue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}
impl Message for KeyValue {}

/// diagnostic_msgs/DiagnosticStatus level values (`byte` on the wire).
pub mod level {
    pub const OK: u8 = 0;
    pub const WARN: u8 = 1;
    pub const ERROR: u8 = 2;
    pub const STALE: u8 = 3;
}

/// diagnostic_msgs/DiagnosticStatus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticStatus {
    pub level: u8,
    pub name: String,
    pub message: String,
    pub hardware_id: String,
    pub values: Vec<KeyValue>,
}
impl Message for DiagnosticStatus {}

/// diagnostic_msgs/DiagnosticArray.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticArray {
    pub header: Header,
    pub status: Vec<DiagnosticStatus>,
}
impl Message for DiagnosticArray {}
