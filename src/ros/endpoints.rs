//! The node's endpoints and the state its tasks share: every publisher and subscription with its resolved
//! topic, QoS and "matched once" flag ([`Endpoints`], [`Out`], [`In`]), the counters the input, output and
//! diagnostics tasks keep ([`Shared`]), and the parameter values as they change at run time ([`SettingsRx`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ros2_client::{Node, Publisher, Subscription};
use tokio::sync::watch;

use super::diagnostics::LatencyWindow;
use super::msgs_pixel_sail::GroundingArray;
use super::msgs_std::{CompressedImage, DiagnosticArray, Image, StringMsg};
use super::msgs_vision::{Detection2DArray, Detection3DArray, MarkerArray, TFMessage};
use super::qos::QosSpec;
use crate::config::params::NodeSettings;

/// One publisher and what diagnostics needs to know about it.
pub struct Out<M: serde::Serialize> {
    pub publisher: Publisher<M>,
    pub topic: String,
    pub qos: QosSpec,
    /// Set once a subscriber has matched: before that, ros2-client's match count logs an error
    /// on every call, so it is not asked.
    pub ever_matched: Arc<AtomicBool>,
}

impl<M: serde::Serialize> Out<M> {
    /// QoS-compatible subscribers matched now.
    pub fn matched(&self, node: &Node) -> usize {
        if self.ever_matched.load(Ordering::Relaxed) { self.publisher.get_subscription_count(node) } else { 0 }
    }
}

/// One subscription and what diagnostics needs to know about it.
pub struct In<M> {
    pub subscription: Arc<Subscription<M>>,
    pub topic: String,
    pub qos: QosSpec,
    pub ever_matched: Arc<AtomicBool>,
    /// Messages that arrived but did not decode ([`super::undecodable`]).
    pub undecodable: Arc<AtomicU64>,
}

impl<M> In<M> {
    /// The counter that drops this input's undecodable messages.
    pub fn drop_counter(&self) -> super::undecodable::Undecodable {
        super::undecodable::Undecodable::new(&self.topic, self.undecodable.clone())
    }
}

/// Every topic endpoint of the node.
pub struct Endpoints {
    pub detections: Out<GroundingArray>,
    pub mask: Out<Image>,
    pub mask_compressed: Out<CompressedImage>,
    pub overlay: Out<Image>,
    pub overlay_compressed: Out<CompressedImage>,
    pub description: Out<StringMsg>,
    pub diagnostics: Out<DiagnosticArray>,
    pub detections_2d: Out<Detection2DArray>,
    pub detections_3d: Out<Detection3DArray>,
    pub markers: Out<MarkerArray>,
    pub tf: Out<TFMessage>,
    /// The node's fully qualified name (the TF child frames live under it).
    pub fqn: String,
}

/// Counters and state shared by the node's tasks.
#[derive(Default)]
pub struct Shared {
    pub frames_published: AtomicU64,
    pub input_frames: AtomicU64,
    pub input_errors: AtomicU64,
    pub latency: Mutex<LatencyWindow>,
    pub active_commands: AtomicU64,
    /// ROS input frames skipped to honour `max_rate`.
    pub rate_skipped: AtomicU64,
    /// The commands the worker last accepted.
    pub commands: Mutex<Vec<String>>,
    /// `depth` images taken in / refused; `camera_info` messages refused / whether one was taken.
    pub depth_frames: AtomicU64,
    pub depth_refused: AtomicU64,
    pub camera_info_refused: AtomicU64,
    pub camera_info_received: AtomicBool,
}

/// The settings as they change at run time (parameter sets).
pub type SettingsRx = watch::Receiver<NodeSettings>;
