//! Serde mirrors of the `pixel_sail_msgs` interface package (`msgs/` in this repository).
//! Field for field the same as `msgs/msg/*.msg` and `msgs/srv/*.srv`; a test parses those files
//! and compares, and another compares our CDR bytes and the recorded RIHS01 hashes with rosbags.

use ros2_client::Message;
use serde::{Deserialize, Serialize};

use super::msgs_std::{Header, Image, Point, Time};

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
    pub mask: Image,
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
    pub mask: Image,
}
impl Message for DescribeResponse {}
