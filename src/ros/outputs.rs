//! Turns each [`FrameResult`] into the node's outputs. Every header copies the frame's capture
//! stamp and frame_id (never "now"); image outputs are only built when someone is subscribed.
//! The vision_msgs detections, markers and TF frames are built in [`super::vision_outputs`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use ros2_client::Node;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::broadcast::{self, error::RecvError};
use tracing::{debug, warn};

use super::endpoints::{Endpoints, SettingsRx, Shared};
use super::images::{encode_jpeg_rgb8, encode_png_mono8, label_image};
use super::msgs_pixel_sail::{Grounding as GroundingMsg, GroundingArray};
use super::msgs_std::{CompressedImage, Header, Image, StringMsg, Time};
use super::vision_outputs;
use crate::frame::FrameResult;

/// JPEG quality of `~/overlay/compressed`.
const JPEG_QUALITY: u8 = 80;

pub async fn publish_results(
    mut results: broadcast::Receiver<Arc<FrameResult>>,
    out: Arc<Endpoints>,
    node: Arc<Node>,
    settings: SettingsRx,
    shared: Arc<Shared>,
) {
    // Last description published per command, so each new one goes out once.
    let mut described: HashMap<String, (u64, String)> = HashMap::new();
    loop {
        let result = match results.recv().await {
            Ok(r) => r,
            Err(RecvError::Lagged(n)) => {
                debug!("ROS output fell {n} results behind; publishing the latest");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        let (overlay_on, publish_tf, frame_id_override) = {
            let s = settings.borrow();
            (s.overlay, s.publish_tf, s.frame_id.clone())
        };
        let header = Header {
            stamp: Time::from_system(result.stamp),
            frame_id: if frame_id_override.is_empty() { result.frame_id.clone() } else { frame_id_override },
        };
        shared.active_commands.store(result.groundings.len() as u64, Ordering::Relaxed);
        // PNG/JPEG encoding and DDS writes are CPU work: off the runtime's one worker, so the diagnostics
        // tick and the services keep time on a loaded machine (a loaded CI run once saw /diagnostics at 0.3 Hz)
        let mut publish = || {
            publish_vision(&result, &header, publish_tf, &out);
            publish_one(&result, &header, overlay_on, &out, &node, &mut described)
        };
        if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
            tokio::task::block_in_place(publish);
        } else {
            publish();
        }
        shared.frames_published.fetch_add(1, Ordering::Relaxed);
        if let Ok(age) = SystemTime::now().duration_since(result.stamp)
            && let Ok(mut w) = shared.latency.lock()
        {
            w.push(Instant::now(), age.as_secs_f64() * 1e3);
        }
    }
}

/// `~/detections_2d`, `~/detections_3d`, `~/markers`, and `/tf` when `publish_tf` (only with something placed).
fn publish_vision(r: &FrameResult, header: &Header, publish_tf: bool, out: &Endpoints) {
    let warn_err = |topic: &str, e: &dyn std::fmt::Debug| warn!(topic, "publish failed: {e:?}");
    if let Err(e) = out.detections_2d.publisher.publish(vision_outputs::detections_2d(r, header)) {
        warn_err(&out.detections_2d.topic, &e);
    }
    if let Err(e) = out.detections_3d.publisher.publish(vision_outputs::detections_3d(r, header)) {
        warn_err(&out.detections_3d.topic, &e);
    }
    if let Err(e) = out.markers.publisher.publish(vision_outputs::markers(r, header)) {
        warn_err(&out.markers.topic, &e);
    }
    if publish_tf {
        let tf = vision_outputs::transforms(r, header, &out.fqn);
        if !tf.transforms.is_empty()
            && let Err(e) = out.tf.publisher.publish(tf)
        {
            warn_err(&out.tf.topic, &e);
        }
    }
}

fn publish_one(
    r: &FrameResult,
    header: &Header,
    overlay_on: bool,
    out: &Endpoints,
    node: &Node,
    described: &mut HashMap<String, (u64, String)>,
) {
    let warn_err = |topic: &str, e: &dyn std::fmt::Debug| warn!(topic, "publish failed: {e:?}");
    if let Err(e) = out.detections.publisher.publish(detections(r, header)) {
        warn_err(&out.detections.topic, &e);
    }
    for g in &r.groundings {
        let Some(d) = &g.description else { continue };
        let fresh = described.get(&g.command).is_none_or(|(seq, text)| *seq != d.seq || *text != d.text);
        if fresh && !d.text.is_empty() {
            described.insert(g.command.clone(), (d.seq, d.text.clone()));
            if let Err(e) = out.description.publisher.publish(StringMsg { data: d.text.clone() }) {
                warn_err(&out.description.topic, &e);
            }
        }
    }
    let (mask_raw, mask_png) = (out.mask.matched(node) > 0, out.mask_compressed.matched(node) > 0);
    let (ov_raw, ov_jpeg) =
        (overlay_on && out.overlay.matched(node) > 0, overlay_on && out.overlay_compressed.matched(node) > 0);
    if !(mask_raw || mask_png || ov_raw || ov_jpeg) {
        return;
    }
    let (w, h) = (r.frame.width, r.frame.height);
    let labels = label_image(r);
    if mask_png {
        match encode_png_mono8(&labels, w, h) {
            Ok(data) => {
                let msg = CompressedImage { header: header.clone(), format: "mono8; png compressed".into(), data };
                if let Err(e) = out.mask_compressed.publisher.publish(msg) {
                    warn_err(&out.mask_compressed.topic, &e);
                }
            }
            Err(e) => warn!("{e}"),
        }
    }
    // The same picture as the recorded video: tinted masks, boxes, "k command score", descriptions.
    let overlay = (ov_raw || ov_jpeg).then(|| crate::sink::annotate(r));
    if mask_raw {
        let msg = Image {
            header: header.clone(),
            height: h,
            width: w,
            encoding: "mono8".into(),
            is_bigendian: 0,
            step: w,
            data: labels,
        };
        if let Err(e) = out.mask.publisher.publish(msg) {
            warn_err(&out.mask.topic, &e);
        }
    }
    let Some(rgb) = overlay else { return };
    if ov_jpeg {
        match encode_jpeg_rgb8(&rgb, w, h, JPEG_QUALITY) {
            Ok(data) => {
                let msg = CompressedImage { header: header.clone(), format: "rgb8; jpeg compressed bgr8".into(), data };
                if let Err(e) = out.overlay_compressed.publisher.publish(msg) {
                    warn_err(&out.overlay_compressed.topic, &e);
                }
            }
            Err(e) => warn!("{e}"),
        }
    }
    if ov_raw {
        let msg = Image {
            header: header.clone(),
            height: h,
            width: w,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: w * 3,
            data: rgb,
        };
        if let Err(e) = out.overlay.publisher.publish(msg) {
            warn_err(&out.overlay.topic, &e);
        }
    }
}

/// The `~/detections` message of one frame.
pub fn detections(r: &FrameResult, header: &Header) -> GroundingArray {
    let groundings = r
        .groundings
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let (position_valid, position, extent, depth_pixels, position_note) = vision_outputs::position_fields(g);
            GroundingMsg {
                command: g.command.clone(),
                found: g.found,
                score: g.score,
                label: u8::try_from(k + 1).unwrap_or(u8::MAX),
                bbox: if g.found { g.bbox.unwrap_or_default() } else { [0; 4] },
                mask_height: g.rle.size[0],
                mask_width: g.rle.size[1],
                mask_rle_counts: g.rle.counts.clone(),
                description: g.description.as_ref().map(|d| d.text.clone()).unwrap_or_default(),
                description_stamp: g.description.as_ref().map(|d| Time::from_system(d.stamp)).unwrap_or_default(),
                track_id: if g.found { g.track_id } else { 0 },
                position_valid,
                position,
                extent,
                depth_pixels,
                position_note,
            }
        })
        .collect();
    GroundingArray { header: header.clone(), groundings }
}
