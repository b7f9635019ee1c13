//! `/diagnostics` (1 Hz): while the model loads, what it is doing ("building TensorRT engine 1 of 3");
//! then frame rates in/out, capture-to-publish latency p50/p99, drops, faults, the execution provider and
//! model, and — because ros2-client cannot report QoS
//! incompatibility — for each endpoint whether it has a matched peer, and whether a peer exists
//! on the topic that did *not* match (the QoS-incompatible case, pain point 3 of ros_peers.md).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::msgs_std::{DiagnosticArray, DiagnosticStatus, Header, KeyValue, Time, level};
use super::qos::{Direction, QosSpec};
use crate::link::PipelineStats;

/// Capture-to-publish latencies of the last few seconds.
#[derive(Debug, Default)]
pub struct LatencyWindow {
    samples: VecDeque<(Instant, f64)>,
}

impl LatencyWindow {
    const SPAN: Duration = Duration::from_secs(10);

    pub fn push(&mut self, now: Instant, latency_ms: f64) {
        self.samples.push_back((now, latency_ms));
        while self.samples.front().is_some_and(|(t, _)| now.duration_since(*t) > Self::SPAN) {
            self.samples.pop_front();
        }
    }

    /// (p50, p99) in milliseconds, None when empty.
    pub fn percentiles(&self) -> Option<(f64, f64)> {
        let mut v: Vec<f64> = self.samples.iter().map(|(_, l)| *l).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.99)))
    }
}

/// One endpoint's match state, read from the DDS graph each second.
#[derive(Debug, Clone)]
pub struct EndpointState {
    pub topic: String,
    pub direction: Direction,
    pub qos: QosSpec,
    /// Peers DDS matched with us (QoS-compatible).
    pub matched: usize,
    /// Peers discovered on the topic name, compatible or not.
    pub discovered: usize,
    /// Messages that arrived on a subscription but did not decode (0 for publishers).
    pub undecodable: u64,
}

/// The `depth` and `camera_info` inputs' counters (present while the node subscribes them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DepthInputStats {
    /// Depth images taken in.
    pub frames_in: u64,
    /// Depth images refused (encoding, step, size).
    pub refused: u64,
    pub camera_info_refused: u64,
    /// Whether a usable camera_info has arrived.
    pub camera_info_received: bool,
    /// Published frames whose found objects had no 3-D for want of depth (none matched, or no camera_info).
    pub frames_without_depth: u64,
}

/// Everything one diagnostics message is made of.
pub struct DiagnosticsInput<'a> {
    pub node: &'a str,
    pub source: &'a str,
    pub stats: &'a PipelineStats,
    pub previous: &'a PipelineStats,
    pub elapsed: Duration,
    pub frames_published: u64,
    pub previous_published: u64,
    pub latency: Option<(f64, f64)>,
    pub endpoints: &'a [EndpointState],
    pub input_errors: u64,
    pub active_commands: usize,
    pub depth: Option<DepthInputStats>,
    pub stamp: Time,
}

pub fn build(d: &DiagnosticsInput<'_>) -> DiagnosticArray {
    let secs = d.elapsed.as_secs_f64().max(1e-3);
    let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
    let kv = |k: &str, v: String| KeyValue { key: k.to_owned(), value: v };
    let mut values = vec![
        kv("frame_rate_in", format!("{:.2}", rate(d.stats.frames_in, d.previous.frames_in))),
        kv("frame_rate_out", format!("{:.2}", rate(d.frames_published, d.previous_published))),
        kv("frame_rate_model", format!("{:.2}", rate(d.stats.frames_out, d.previous.frames_out))),
        kv("latency_p50_ms", d.latency.map_or("n/a".into(), |l| format!("{:.1}", l.0))),
        kv("latency_p99_ms", d.latency.map_or("n/a".into(), |l| format!("{:.1}", l.1))),
        kv("total_dropped_frames", d.stats.dropped.to_string()),
        kv("frame_errors", (d.stats.errors + d.input_errors).to_string()),
        kv("execution_provider", d.stats.execution_provider.clone()),
        kv("model", d.stats.model.clone()),
        kv("active_commands", d.active_commands.to_string()),
        kv("model_state", model_state(d.stats).to_owned()),
    ];
    if let Some(state) = &d.stats.lifecycle_state {
        values.push(kv("lifecycle_state", state.clone()));
    }
    if let Some(depth) = &d.depth {
        values.push(kv("depth_frames_in", depth.frames_in.to_string()));
        values.push(kv("depth_frames_refused", depth.refused.to_string()));
        values.push(kv("frames_without_depth", depth.frames_without_depth.to_string()));
        values.push(kv(
            "camera_info",
            if depth.camera_info_received { "received" } else { "none yet: no 3-D without it" }.to_owned(),
        ));
        values.push(kv("camera_info_refused", depth.camera_info_refused.to_string()));
    }
    if let Some(e) = &d.stats.last_error {
        values.push(kv("last_error", e.clone()));
    }
    let mut unmatched = Vec::new();
    let mut incompatible = Vec::new();
    for e in d.endpoints {
        let peer = if e.direction == Direction::Publisher { "subscribers" } else { "publishers" };
        values.push(kv(
            &format!("{peer}.{}", e.topic),
            format!("{} matched, {} on topic ({})", e.matched, e.discovered, e.qos.describe()),
        ));
        if e.direction == Direction::Subscription {
            values.push(kv(&super::undecodable::diagnostics_key(&e.topic), e.undecodable.to_string()));
        }
        if e.discovered > e.matched {
            incompatible.push(format!(
                "{}: {} {peer} did not match our {} — QoS incompatible?",
                e.topic,
                e.discovered - e.matched,
                e.qos.describe()
            ));
        } else if e.matched == 0 && e.direction == Direction::Publisher {
            unmatched.push(e.topic.clone());
        }
    }
    if !unmatched.is_empty() {
        values.push(kv("outputs_without_subscriber", unmatched.join(", ")));
    }
    let (lvl, message) = if let Some(step) = &d.stats.starting {
        // Nothing is published yet: say why, rather than "no output has a matched subscriber".
        (level::OK, step.clone())
    } else if !incompatible.is_empty() {
        (level::WARN, incompatible.join("; "))
    } else if d.stats.errors + d.input_errors > 0 && d.stats.last_error.is_some() {
        (level::WARN, format!("per-frame faults: {}", d.stats.errors + d.input_errors))
    } else if unmatched.len() == d.endpoints.iter().filter(|e| e.direction == Direction::Publisher).count() {
        (level::OK, "running; no output has a matched subscriber".to_owned())
    } else {
        (level::OK, "running".to_owned())
    };
    DiagnosticArray {
        header: Header { stamp: d.stamp, frame_id: String::new() },
        status: vec![DiagnosticStatus {
            level: lvl,
            name: format!("{}: pipeline", d.node.trim_start_matches('/')),
            message,
            hardware_id: d.source.to_owned(),
            values,
        }],
    }
}

/// `loading`, `ready`, or (a managed node without its model) `unloaded`.
fn model_state(s: &PipelineStats) -> &'static str {
    match s.lifecycle_state.as_deref() {
        Some("unconfigured" | "finalized") => "unloaded",
        Some("configuring") => "loading",
        Some(_) => "ready",
        None if s.starting.is_some() => "loading",
        None => "ready",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_window() {
        let mut w = LatencyWindow::default();
        let t = Instant::now();
        for i in 1..=100 {
            w.push(t, i as f64);
        }
        assert_eq!(w.percentiles(), Some((51.0, 99.0)));
    }

    #[test]
    fn an_unmatched_peer_on_the_topic_is_a_warning() {
        let stats = PipelineStats { frames_in: 30, frames_out: 10, ..Default::default() };
        let ep = |matched, discovered| EndpointState {
            topic: "/n/mask".into(),
            direction: Direction::Publisher,
            qos: QosSpec::best_effort(2),
            matched,
            discovered,
            undecodable: 0,
        };
        let prompt = EndpointState {
            topic: "/n/prompt".into(),
            direction: Direction::Subscription,
            qos: QosSpec::reliable(10),
            matched: 1,
            discovered: 1,
            undecodable: 3,
        };
        let eps = [ep(0, 1), prompt];
        let input = DiagnosticsInput {
            node: "/n",
            source: "test",
            stats: &stats,
            previous: &PipelineStats::default(),
            elapsed: Duration::from_secs(1),
            frames_published: 10,
            previous_published: 0,
            latency: Some((5.0, 9.0)),
            endpoints: &eps,
            input_errors: 0,
            active_commands: 1,
            depth: Some(DepthInputStats { frames_in: 12, refused: 2, ..Default::default() }),
            stamp: Time::default(),
        };
        let a = build(&input);
        assert_eq!(a.status[0].level, level::WARN);
        assert!(a.status[0].message.contains("QoS incompatible"), "{}", a.status[0].message);
        let v = |k: &str| a.status[0].values.iter().find(|kv| kv.key == k).unwrap().value.clone();
        assert_eq!(v("frame_rate_in"), "30.00");
        assert_eq!(v("latency_p99_ms"), "9.0");
        assert_eq!(v("model_state"), "ready");
        assert_eq!((v("depth_frames_in"), v("depth_frames_refused")), ("12".into(), "2".into()));
        assert!(v("camera_info").starts_with("none yet"));
        assert_eq!(v("undecodable_messages./n/prompt"), "3");
        assert!(!a.status[0].values.iter().any(|kv| kv.key == "undecodable_messages./n/mask"), "inputs only");
    }

    #[test]
    fn a_loading_model_is_the_status() {
        let step = "building TensorRT engine 2 of 3 (text.onnx)";
        let stats = PipelineStats { starting: Some(step.into()), ..Default::default() };
        let input = DiagnosticsInput {
            node: "/n",
            source: "test",
            stats: &stats,
            previous: &PipelineStats::default(),
            elapsed: Duration::from_secs(1),
            frames_published: 0,
            previous_published: 0,
            latency: None,
            endpoints: &[],
            input_errors: 0,
            active_commands: 0,
            depth: None,
            stamp: Time::default(),
        };
        let a = build(&input);
        assert_eq!((a.status[0].level, a.status[0].message.as_str()), (level::OK, step));
        assert!(a.status[0].values.iter().any(|kv| kv.key == "model_state" && kv.value == "loading"));
        assert!(!a.status[0].values.iter().any(|kv| kv.key == "lifecycle_state"), "a plain node has none");
    }

    #[test]
    fn a_managed_node_reports_its_lifecycle_state() {
        let value = |state: &str, key: &str| {
            let stats = PipelineStats {
                starting: Some(format!("{state} (lifecycle)")),
                lifecycle_state: Some(state.into()),
                ..Default::default()
            };
            let input = DiagnosticsInput {
                node: "/n",
                source: "test",
                stats: &stats,
                previous: &PipelineStats::default(),
                elapsed: Duration::from_secs(1),
                frames_published: 0,
                previous_published: 0,
                latency: None,
                endpoints: &[],
                input_errors: 0,
                active_commands: 0,
                stamp: Time::default(),
                depth: None,
            };
            let a = build(&input);
            a.status[0].values.iter().find(|kv| kv.key == key).map(|kv| kv.value.clone()).unwrap_or_default()
        };
        assert_eq!(value("unconfigured", "model_state"), "unloaded");
        assert_eq!(value("configuring", "model_state"), "loading");
        assert_eq!(value("inactive", "model_state"), "ready");
        assert_eq!(value("inactive", "lifecycle_state"), "inactive");
    }
}
