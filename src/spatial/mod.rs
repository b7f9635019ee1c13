//! 3-D from aligned depth: where each found object is in the camera's optical frame (x right, y down,
//! z forward, metres), and which object each command follows from frame to frame.
//!
//! Inputs push into a [`DepthFeed`] (depth images and the camera's intrinsics, from ROS topics or the
//! standalone `--depth` / `--camera-info` flags); the worker's [`Locator`] matches each colour frame to a
//! depth image, runs the [`estimate`](estimate_placement) on every found mask and fills
//! [`crate::frame::Grounding::location`] and `track_id`. Nothing here knows about the app, ROS or the
//! command line: they sit above it.

mod depth_image;
mod depth_sequence;
mod estimate;
mod feed;
mod intrinsics;
mod locator;
mod rays;
mod tracker;

pub use depth_image::DepthImage;
pub use depth_sequence::DepthSequence;
pub use estimate::{EstimateConfig, estimate_placement};
pub use feed::{DepthFeed, DepthMatch};
pub use intrinsics::CameraIntrinsics;
pub use locator::{DepthStatus, Locator};
pub use rays::RayTable;
pub use tracker::{Tracker, TrackerConfig};

/// Why a depth image or camera description was refused (one clear reason each).
#[derive(Debug, thiserror::Error)]
pub enum SpatialError {
    #[error("depth image refused: {0}")]
    Depth(String),
    #[error("camera_info refused: {0}")]
    Camera(String),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
}
