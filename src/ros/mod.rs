//! The ROS 2 face of pixel-sail (DESIGN §5) on ros2-client — pure Rust DDS, no ROS install.
//!
//! * [`startup`]: `--ros-args` (names, remaps, `-p`, `--params-file`) and `ROS_DOMAIN_ID`.
//! * [`node`]: the node and its tasks, on the endpoints and shared counters of [`endpoints`]; [`outputs`] (with
//!   [`vision_outputs`]), [`inputs`] (and [`depth_inputs`]), [`services`], [`diagnostics`] (and its task) hold the
//!   per-endpoint logic. What the pipeline hands over is [`crate::link::PipelineLink`]: the node imports `link`,
//!   never `app`.
//!   [`undecodable`] counts messages off the wire that do not decode.
//! * [`lifecycle`], [`lifecycle_node`]: the managed-node state machine and its services (`--lifecycle`).
//! * [`msgs_std`], [`msgs_pixel_sail`], [`msgs_vision`], [`msgs_lifecycle`]: serde mirrors of the messages,
//!   checked against the `.msg` files ([`msg_schema`]) and against rosbags' CDR bytes and RIHS01 hashes.

pub mod app_glue;
pub mod depth_inputs;
pub mod diagnostics;
pub mod diagnostics_task;
pub mod endpoints;
pub mod error;
pub mod images;
pub mod inputs;
pub mod lifecycle;
pub mod lifecycle_node;
pub mod msg_schema;
pub mod msgs_lifecycle;
pub mod msgs_pixel_sail;
pub mod msgs_std;
pub mod msgs_vision;
pub mod names;
pub mod node;
pub mod outputs;
pub mod qos;
pub mod ros_args;
pub mod security;
pub mod services;
pub mod startup;
pub mod undecodable;
pub mod vision_outputs;

pub use app_glue::{CameraHandles, RosPlan, RosRunning};
pub use error::PublishError;
pub use node::run;
pub use startup::{RosStartup, configure};
