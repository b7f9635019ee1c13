//! The node's endpoints with their default QoS (DESIGN §5) and the rclcpp-style overrides
//! `qos_overrides.<topic>.<publisher|subscription>.<reliability|depth|durability>`.

use ros2_client::QosProfile;
use ros2_client::qos::{Durability, History, WhenFull};

use crate::config::params::NodeSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Publisher,
    Subscription,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Publisher => "publisher",
            Direction::Subscription => "subscription",
        }
    }
}

/// The QoS a user can set per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QosSpec {
    pub reliable: bool,
    pub depth: u32,
    pub transient_local: bool,
}

impl QosSpec {
    pub const fn best_effort(depth: u32) -> Self {
        Self { reliable: false, depth, transient_local: false }
    }
    pub const fn reliable(depth: u32) -> Self {
        Self { reliable: true, depth, transient_local: false }
    }

    pub fn profile(&self) -> QosProfile {
        let base = QosProfile::publisher_default().history(History::KeepLast { depth: self.depth.max(1) as usize });
        let base = if self.reliable {
            // Never block the publishing task for long: a slow reliable reader must not stall masks.
            base.reliability_reliable(WhenFull::Wait(std::time::Duration::from_millis(20)))
        } else {
            base.reliability_best_effort()
        };
        base.durability(if self.transient_local { Durability::TransientLocal } else { Durability::Volatile })
    }

    pub fn describe(&self) -> String {
        format!(
            "{}, {}, keep last {}",
            if self.reliable { "reliable" } else { "best effort" },
            if self.transient_local { "transient local" } else { "volatile" },
            self.depth
        )
    }
}

/// One topic of the node, by its unresolved name.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub name: &'static str,
    pub direction: Direction,
    pub default: QosSpec,
}

pub const IMAGE: Endpoint =
    Endpoint { name: "image", direction: Direction::Subscription, default: QosSpec::best_effort(1) };
pub const DEPTH: Endpoint =
    Endpoint { name: "depth", direction: Direction::Subscription, default: QosSpec::best_effort(2) };
pub const CAMERA_INFO: Endpoint =
    Endpoint { name: "camera_info", direction: Direction::Subscription, default: QosSpec::reliable(5) };
pub const PROMPT: Endpoint =
    Endpoint { name: "~/prompt", direction: Direction::Subscription, default: QosSpec::reliable(10) };
pub const POINT_PROMPT: Endpoint =
    Endpoint { name: "~/point_prompt", direction: Direction::Subscription, default: QosSpec::reliable(10) };
pub const DETECTIONS: Endpoint =
    Endpoint { name: "~/detections", direction: Direction::Publisher, default: QosSpec::reliable(5) };
pub const MASK: Endpoint =
    Endpoint { name: "~/mask", direction: Direction::Publisher, default: QosSpec::best_effort(2) };
pub const MASK_COMPRESSED: Endpoint =
    Endpoint { name: "~/mask/compressed", direction: Direction::Publisher, default: QosSpec::reliable(2) };
pub const OVERLAY: Endpoint =
    Endpoint { name: "~/overlay", direction: Direction::Publisher, default: QosSpec::best_effort(2) };
pub const OVERLAY_COMPRESSED: Endpoint =
    Endpoint { name: "~/overlay/compressed", direction: Direction::Publisher, default: QosSpec::reliable(2) };
pub const DESCRIPTION: Endpoint =
    Endpoint { name: "~/description", direction: Direction::Publisher, default: QosSpec::reliable(10) };
pub const DIAGNOSTICS: Endpoint =
    Endpoint { name: "/diagnostics", direction: Direction::Publisher, default: QosSpec::reliable(10) };

pub const DETECTIONS_2D: Endpoint =
    Endpoint { name: "~/detections_2d", direction: Direction::Publisher, default: QosSpec::reliable(5) };
pub const DETECTIONS_3D: Endpoint =
    Endpoint { name: "~/detections_3d", direction: Direction::Publisher, default: QosSpec::reliable(5) };
pub const MARKERS: Endpoint =
    Endpoint { name: "~/markers", direction: Direction::Publisher, default: QosSpec::reliable(2) };
/// tf2's own broadcasters use reliable, volatile, keep last 100.
pub const TF: Endpoint = Endpoint { name: "/tf", direction: Direction::Publisher, default: QosSpec::reliable(100) };

pub const ALL: [Endpoint; 16] = [
    IMAGE,
    DEPTH,
    CAMERA_INFO,
    PROMPT,
    POINT_PROMPT,
    DETECTIONS,
    MASK,
    MASK_COMPRESSED,
    OVERLAY,
    OVERLAY_COMPRESSED,
    DESCRIPTION,
    DIAGNOSTICS,
    DETECTIONS_2D,
    DETECTIONS_3D,
    MARKERS,
    TF,
];

/// The three override parameter names of a resolved topic, e.g.
/// `qos_overrides./robot1/pixel_sail/mask.publisher.reliability`.
pub fn override_keys(topic: &str, direction: Direction) -> [String; 3] {
    let p = format!("qos_overrides.{topic}.{}", direction.as_str());
    [format!("{p}.reliability"), format!("{p}.depth"), format!("{p}.durability")]
}

/// The QoS of an endpoint after the start-up overrides (`qos_overrides.<topic>.<direction>.<policy>`).
pub fn spec_for(settings: &NodeSettings, resolved_topic: &str, ep: &Endpoint) -> QosSpec {
    let mut spec = ep.default;
    for key in override_keys(resolved_topic, ep.direction) {
        if let Some(v) = settings.qos_overrides.get(&key) {
            apply_override(&mut spec, &key, v);
        }
    }
    spec
}

/// Applies one (already validated) override to a spec.
pub fn apply_override(spec: &mut QosSpec, key: &str, value: &ros2_client::parameters::ParameterValue) {
    use ros2_client::parameters::ParameterValue as P;
    match (key.rsplit('.').next().unwrap_or(""), value) {
        ("reliability", P::String(s)) if s != "system_default" => spec.reliable = s == "reliable",
        ("durability", P::String(s)) if s != "system_default" => spec.transient_local = s == "transient_local",
        ("depth", P::Integer(d)) => spec.depth = u32::try_from(*d).unwrap_or(1).max(1),
        _ => {}
    }
}

pub fn reliability_str(spec: &QosSpec) -> &'static str {
    if spec.reliable { "reliable" } else { "best_effort" }
}

pub fn durability_str(spec: &QosSpec) -> &'static str {
    if spec.transient_local { "transient_local" } else { "volatile" }
}
