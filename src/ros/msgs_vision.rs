//! Serde mirrors of the detection, visualization and transform messages the node publishes for 3-D:
//! `vision_msgs` 4.x (Humble and later: Detection2D/3D and their parts), `visualization_msgs`
//! (Marker, MarkerArray) and `tf2_msgs/TFMessage`, plus geometry_msgs/PoseWithCovariance (its
//! `float64[36]` is longer than serde's derived arrays). Field for field the same as the `.msg`
//! files; `tests/ros_msgs.rs` compares them with those files and with rosbags' CDR bytes and hashes.

use ros2_client::Message;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::msgs_std::{ColorRGBA, CompressedImage, Duration, Header, Point, Pose, TransformStamped, Vector3};

/// The 6×6 row-major covariance of a PoseWithCovariance (`float64[36]`: fixed, no length on the wire).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Covariance(pub [f64; 36]);

impl Default for Covariance {
    fn default() -> Self {
        Self([0.0; 36])
    }
}

impl Serialize for Covariance {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(36)?;
        for v in &self.0 {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Covariance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Covariance;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("36 float64")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Covariance, A::Error> {
                let mut out = [0.0; 36];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Covariance(out))
            }
        }
        d.deserialize_tuple(36, V)
    }
}

/// geometry_msgs/PoseWithCovariance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PoseWithCovariance {
    pub pose: Pose,
    pub covariance: Covariance,
}
impl Message for PoseWithCovariance {}

/// vision_msgs/Point2D (pixels).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Point2D {
    pub x: f64,
    pub y: f64,
}
impl Message for Point2D {}

/// vision_msgs/Pose2D.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose2D {
    pub position: Point2D,
    pub theta: f64,
}
impl Message for Pose2D {}

/// vision_msgs/BoundingBox2D: centre and full size, pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox2D {
    pub center: Pose2D,
    pub size_x: f64,
    pub size_y: f64,
}
impl Message for BoundingBox2D {}

/// vision_msgs/BoundingBox3D: centre pose and full size, metres.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox3D {
    pub center: Pose,
    pub size: Vector3,
}
impl Message for BoundingBox3D {}

/// vision_msgs/ObjectHypothesis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectHypothesis {
    pub class_id: String,
    pub score: f64,
}
impl Message for ObjectHypothesis {}

/// vision_msgs/ObjectHypothesisWithPose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectHypothesisWithPose {
    pub hypothesis: ObjectHypothesis,
    pub pose: PoseWithCovariance,
}
impl Message for ObjectHypothesisWithPose {}

/// vision_msgs/Detection2D.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection2D {
    pub header: Header,
    pub results: Vec<ObjectHypothesisWithPose>,
    pub bbox: BoundingBox2D,
    pub id: String,
}
impl Message for Detection2D {}

/// vision_msgs/Detection2DArray.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection2DArray {
    pub header: Header,
    pub detections: Vec<Detection2D>,
}
impl Message for Detection2DArray {}

/// vision_msgs/Detection3D.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection3D {
    pub header: Header,
    pub results: Vec<ObjectHypothesisWithPose>,
    pub bbox: BoundingBox3D,
    pub id: String,
}
impl Message for Detection3D {}

/// vision_msgs/Detection3DArray.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection3DArray {
    pub header: Header,
    pub detections: Vec<Detection3D>,
}
impl Message for Detection3DArray {}

/// visualization_msgs/UVCoordinate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UVCoordinate {
    pub u: f32,
    pub v: f32,
}
impl Message for UVCoordinate {}

/// visualization_msgs/MeshFile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeshFile {
    pub filename: String,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}
impl Message for MeshFile {}

/// `type` and `action` values of a Marker (constants in Marker.msg).
pub mod marker {
    pub const SPHERE: i32 = 2;
    pub const TEXT_VIEW_FACING: i32 = 9;
    pub const ADD: i32 = 0;
    pub const DELETEALL: i32 = 3;
}

/// visualization_msgs/Marker (the Jazzy/Kilted definition, with textures and mesh files).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub header: Header,
    pub ns: String,
    pub id: i32,
    pub r#type: i32,
    pub action: i32,
    pub pose: Pose,
    pub scale: Vector3,
    pub color: ColorRGBA,
    pub lifetime: Duration,
    pub frame_locked: bool,
    pub points: Vec<Point>,
    pub colors: Vec<ColorRGBA>,
    pub texture_resource: String,
    pub texture: CompressedImage,
    pub uv_coordinates: Vec<UVCoordinate>,
    pub text: String,
    pub mesh_resource: String,
    pub mesh_file: MeshFile,
    pub mesh_use_embedded_materials: bool,
}
impl Message for Marker {}

/// visualization_msgs/MarkerArray.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarkerArray {
    pub markers: Vec<Marker>,
}
impl Message for MarkerArray {}

/// tf2_msgs/TFMessage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TFMessage {
    pub transforms: Vec<TransformStamped>,
}
impl Message for TFMessage {}

/// RIHS01 type hashes of the published types (REP-2016). Each test run checks them against rosbags'
/// `hash_rihs01` of the `.msg` files; Detection2DArray's (which covers Detection2D, the hypotheses,
/// BoundingBox2D, Pose2D and Point2D) equals the hash rosidl generates for upstream vision_msgs 4.x,
/// and MarkerArray's and TFMessage's equal those of the installed ROS packages.
pub const TYPE_HASHES: [(&str, &str); 5] = [
    ("vision_msgs/msg/Detection2DArray", "RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968"),
    ("vision_msgs/msg/Detection3DArray", "RIHS01_793f5eab9595ac1c0da07873cc859db42eae51f0ee76056db8562515d830e018"),
    ("vision_msgs/msg/BoundingBox3D", "RIHS01_bbb73a65c163d7f9bb29009c7bde9f7faa576bd2d23299c4511d19230dab4698"),
    ("visualization_msgs/msg/MarkerArray", "RIHS01_86cb8800b6fb05b5eff1abd7a56f62a5641d3ae9a1c29e78e67e704f1d067dcf"),
    ("tf2_msgs/msg/TFMessage", "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087"),
];

/// The recorded RIHS01 hash of a published 3-D type (`pkg/msg/Name`).
pub fn type_hash(ros_type: &str) -> Option<&'static str> {
    TYPE_HASHES.iter().find(|(t, _)| *t == ros_type).map(|(_, h)| *h)
}
