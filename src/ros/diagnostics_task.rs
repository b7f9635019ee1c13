//! The node's 1 Hz `/diagnostics` task: reads the pipeline's counters, the node's own counters and
//! every endpoint's match state, and publishes what [`super::diagnostics::build`] makes of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ros2_client::Node;
use tracing::warn;

use super::diagnostics::{self, DepthInputStats, DiagnosticsInput, EndpointState};
use super::endpoints::{Endpoints, In, Out, SettingsRx, Shared};
use super::msgs_std::Time;
use super::qos::{self, QosSpec};
use crate::link::PipelineStats;

/// Input topics as diagnostics sees them: name, QoS, a matched-publisher counter and the count of
/// messages that did not decode.
pub type MatchCount = Box<dyn Fn(&Node) -> usize + Send + Sync>;
pub struct InputTopic {
    pub topic: String,
    pub qos: QosSpec,
    pub matched: MatchCount,
    pub undecodable: Arc<AtomicU64>,
}

pub struct InputTopics {
    pub prompt: InputTopic,
    pub point: InputTopic,
    pub image: Option<InputTopic>,
    pub depth: Option<InputTopic>,
    pub camera_info: Option<InputTopic>,
}

impl InputTopics {
    pub fn all(&self) -> impl Iterator<Item = &InputTopic> {
        [Some(&self.prompt), Some(&self.point), self.image.as_ref(), self.depth.as_ref(), self.camera_info.as_ref()]
            .into_iter()
            .flatten()
    }

    /// (topic, undecodable messages so far) for each input.
    pub fn undecodable_counts(&self) -> Vec<(String, u64)> {
        self.all().map(|i| (i.topic.clone(), i.undecodable.load(Ordering::Relaxed))).collect()
    }
}

pub fn match_count<M: 'static + Send + Sync>(i: &In<M>) -> InputTopic {
    let (sub, ever) = (i.subscription.clone(), i.ever_matched.clone());
    InputTopic {
        topic: i.topic.clone(),
        qos: i.qos,
        matched: Box::new(
            move |node: &Node| if ever.load(Ordering::Relaxed) { sub.get_publisher_count(node) } else { 0 },
        ),
        undecodable: i.undecodable.clone(),
    }
}

pub async fn diagnostics_loop(
    fqn: String,
    out: Arc<Endpoints>,
    inputs: Arc<InputTopics>,
    node: Arc<Node>,
    stats: Arc<dyn Fn() -> PipelineStats + Send + Sync>,
    settings: SettingsRx,
    shared: Arc<Shared>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut previous, mut previous_published, mut last) = (stats(), 0u64, Instant::now());
    loop {
        tick.tick().await;
        let mut now_stats = stats();
        if inputs.image.is_some() {
            // The ROS source bypasses capture: count what the `image` subscription delivered.
            now_stats.frames_in = shared.input_frames.load(Ordering::Relaxed);
            now_stats.dropped += shared.rate_skipped.load(Ordering::Relaxed);
        }
        let published = shared.frames_published.load(Ordering::Relaxed);
        let pub_state = |topic: &str, qos: QosSpec, matched: usize| EndpointState {
            topic: topic.to_owned(),
            direction: qos::Direction::Publisher,
            qos,
            matched,
            discovered: node.subscription_count(topic).max(matched),
            undecodable: 0,
        };
        let out_state = |o: &dyn OutView| pub_state(o.topic(), o.qos(), o.matched_now(&node));
        let sub_state = |i: &InputTopic| {
            let matched = (i.matched)(&node);
            EndpointState {
                topic: i.topic.clone(),
                direction: qos::Direction::Subscription,
                qos: i.qos,
                matched,
                discovered: node.publisher_count(&i.topic).max(matched),
                undecodable: i.undecodable.load(Ordering::Relaxed),
            }
        };
        let s = settings.borrow().clone();
        let mut endpoints = vec![
            out_state(&out.detections),
            out_state(&out.mask),
            out_state(&out.mask_compressed),
            out_state(&out.description),
            out_state(&out.detections_2d),
            out_state(&out.detections_3d),
            out_state(&out.markers),
        ];
        if s.overlay {
            endpoints.push(out_state(&out.overlay));
            endpoints.push(out_state(&out.overlay_compressed));
        }
        if s.publish_tf {
            endpoints.push(out_state(&out.tf));
        }
        endpoints.extend(inputs.all().map(sub_state));
        let depth = inputs.depth.is_some().then(|| DepthInputStats {
            frames_in: shared.depth_frames.load(Ordering::Relaxed),
            refused: shared.depth_refused.load(Ordering::Relaxed),
            camera_info_refused: shared.camera_info_refused.load(Ordering::Relaxed),
            camera_info_received: shared.camera_info_received.load(Ordering::Relaxed),
            frames_without_depth: now_stats.frames_without_depth,
        });
        let latency = shared.latency.lock().ok().and_then(|l| l.percentiles());
        let input = DiagnosticsInput {
            node: &fqn,
            source: &s.source,
            stats: &now_stats,
            previous: &previous,
            elapsed: last.elapsed(),
            frames_published: published,
            previous_published,
            latency,
            endpoints: &endpoints,
            input_errors: shared.input_errors.load(Ordering::Relaxed),
            active_commands: shared.active_commands.load(Ordering::Relaxed) as usize,
            depth,
            stamp: Time::from_system(SystemTime::now()),
        };
        let msg = diagnostics::build(&input);
        if let Err(e) = out.diagnostics.publisher.publish(msg) {
            warn!("publishing /diagnostics failed: {e:?}");
        }
        (previous, previous_published, last) = (now_stats, published, Instant::now());
    }
}

/// What diagnostics reads off any publisher, whatever its message type.
trait OutView {
    fn topic(&self) -> &str;
    fn qos(&self) -> QosSpec;
    fn matched_now(&self, node: &Node) -> usize;
}

impl<M: serde::Serialize> OutView for Out<M> {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn qos(&self) -> QosSpec {
        self.qos
    }
    fn matched_now(&self, node: &Node) -> usize {
        self.matched(node)
    }
}
