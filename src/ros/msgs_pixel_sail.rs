//! Serde mirrors of the `pixel_sail_msgs` interface package (`msgs/` in this repository).
//! Field for field the same as `msgs/msg/*.msg` and `msgs/srv/*.srv`; a test parses those files
//! and compares, and another compares our CDR bytes and the recorded RIHS01 hashes with rosbags.

use ros2_client::Message;
use serde::{Deserialize, Serialize};

use super::msgs_std::{Header, Point, Time, Vector3};

/// pixel_sail_msgs/msg/Grounding: one active command's result on one frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Grounding {
    pub command: String,
    pub found: bool,
    pub score: f32,
    pub label: u8,
    pub bbox: [u32; 4],
    pub mask_height: u32,
    pub mask_width: u32,
    pub mask_rle_counts: Vec<u32>,
    pub description: String,
    pub description_stamp: Time,
    pub track_id: u64,
    pub position_valid: bool,
    pub position: Point,
    pub extent: Vector3,
    pub depth_pixels: u32,
    pub position_note: String,
}
impl Message for Grounding {}

/// pixel_sail_msgs/msg/GroundingArray: all commands on one frame, stamped with the frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroundingArray {
    pub header: Header,
    pub groundings: Vec<Grounding>,
}
impl Message for GroundingArray {}

/// pixel_sail_msgs/srv/SetPrompts request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetPromptsRequest {
    pub prompts: Vec<String>,
}
impl Message for SetPromptsRequest {}

/// pixel_sail_msgs/srv/SetPrompts response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetPromptsResponse {
    pub accepted: bool,
    pub message: String,
}
impl Message for SetPromptsResponse {}

/// `kind` values of the Describe request (constants in Describe.srv).
pub mod describe_kind {
    pub const POINT: u8 = 0;
    pub const BOX: u8 = 1;
    pub const MASK: u8 = 2;
}

/// pixel_sail_msgs/srv/Describe request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DescribeRequest {
    pub kind: u8,
    pub point: Point,
    pub r#box: [f32; 4],
    pub mask_height: u32,
    pub mask_width: u32,
    pub mask_rle_counts: Vec<u32>,
}
impl Message for DescribeRequest {}

/// pixel_sail_msgs/srv/Describe response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DescribeResponse {
    pub success: bool,
    pub message: String,
    pub description: String,
    pub header: Header,
    pub bbox: [u32; 4],
    pub mask_height: u32,
    pub mask_width: u32,
    pub mask_rle_counts: Vec<u32>,
}
impl Message for DescribeResponse {}

/// RIHS01 type hashes of the interfaces (REP-2016), as rosidl generates them for `msgs/`
/// (checked equal to rosidl's `share/pixel_sail_msgs/**/*.json` and, in every test run, to
/// rosbags' `hash_rihs01`). Change a `.msg`/`.srv` and the wire test tells you the new value.
pub const TYPE_HASHES: [(&str, &str); 6] = [
    ("pixel_sail_msgs/msg/Grounding", "RIHS01_74c449633bfbde19806b63e094661166d330a198f1a55147946db27129087de6"),
    ("pixel_sail_msgs/msg/GroundingArray", "RIHS01_2bb3a367a32c7ad8931bacbac30e2cff8e3478fd34c9df423aa08585c468d1bd"),
    ("pixel_sail_msgs/srv/Describe_Request", "RIHS01_38a1f1610f116e9d8f424226be85248c4e59f651569c26306c64e3aef2d81bbb"),
    (
        "pixel_sail_msgs/srv/Describe_Response",
        "RIHS01_8cb3e8fa84962a15bc5eaece7d13b6f2e69a7f0a38ec7726fca183f3d9197f58",
    ),
    (
        "pixel_sail_msgs/srv/SetPrompts_Request",
        "RIHS01_1134343354c8cf2a40f5e7d9c12101668572e44de586e7c0b73a2b32183552bd",
    ),
    (
        "pixel_sail_msgs/srv/SetPrompts_Response",
        "RIHS01_3a22d53779b6cf699b6c0ff19fc06524d005b99887630638ea7169f56bf089be",
    ),
];

/// The recorded RIHS01 hash of a `pixel_sail_msgs` type (`pkg/msg/Name` or `pkg/srv/Name_Request`).
pub fn type_hash(ros_type: &str) -> Option<&'static str> {
    TYPE_HASHES.iter().find(|(t, _)| *t == ros_type).map(|(_, h)| *h)
}
