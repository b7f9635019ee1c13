//! The node's subscriptions: `~/prompt` (commands, one per line; empty clears), `~/point_prompt`
//! (a click → describe the object there → `~/description`), and `image` when the source is ROS. A message
//! that does not decode is counted and skipped ([`super::undecodable`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::endpoints::{Endpoints, In, SettingsRx, Shared};
use super::images::frame_from_image;
use super::msgs_std::{Image, PointStamped, StringMsg};
use super::services::Commands;
use crate::capture::{CapturedFrame, FrameOutlet};
use crate::frame::VisualPrompt;
use crate::link::DescribeRequest;
use crate::link::describe as ask;

pub async fn prompts(input: In<StringMsg>, commands_tx: Commands) {
    let stream = input.subscription.async_stream();
    futures::pin_mut!(stream);
    let mut drops = input.drop_counter();
    while let Some(msg) = stream.next().await {
        let Some((msg, _info)) = drops.take(msg) else { continue };
        let commands: Vec<String> =
            msg.data.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let n = commands.len();
        match commands_tx.apply(commands).await {
            Ok(note) => {
                info!(topic = %input.topic, "{n} command(s) set{}", if note.is_empty() { String::new() } else { format!(": {note}") });
            }
            Err(reason) => warn!(topic = %input.topic, "commands refused: {reason}"),
        }
    }
}

pub async fn point_prompts(input: In<PointStamped>, describe: mpsc::Sender<DescribeRequest>, out: Arc<Endpoints>) {
    let stream = input.subscription.async_stream();
    futures::pin_mut!(stream);
    let mut drops = input.drop_counter();
    while let Some(msg) = stream.next().await {
        let Some((msg, _info)) = drops.take(msg) else { continue };
        let prompt = VisualPrompt::Point { x: msg.point.x as f32, y: msg.point.y as f32 };
        match ask(&describe, prompt).await {
            Ok(region) if region.description.text.trim().is_empty() => {
                warn!(x = msg.point.x, y = msg.point.y, "clicked: the model gave an empty description");
            }
            Ok(region) => {
                info!(x = msg.point.x, y = msg.point.y, "clicked: {}", region.description.text);
                if let Err(e) = out.description.publisher.publish(StringMsg { data: region.description.text }) {
                    warn!("publishing {} failed: {e:?}", out.description.topic);
                }
            }
            Err(reason) => warn!(x = msg.point.x, y = msg.point.y, "point prompt not described: {reason}"),
        }
    }
}

/// `image` → frames for the pipeline's newest-frame slot, at most `max_rate` per second.
pub async fn images(input: In<Image>, frames: Arc<dyn FrameOutlet>, settings: SettingsRx, shared: Arc<Shared>) {
    let stream = input.subscription.async_stream();
    futures::pin_mut!(stream);
    let mut last_warn: Option<Instant> = None;
    let mut seq = 0u64;
    let mut last_taken: Option<Instant> = None;
    let mut drops = input.drop_counter();
    while let Some(msg) = stream.next().await {
        let Some((img, _info)) = drops.take(msg) else { continue };
        shared.input_frames.fetch_add(1, Ordering::Relaxed);
        let (frame_id, max_rate) = {
            let s = settings.borrow();
            (s.frame_id.clone(), s.max_rate)
        };
        let now = Instant::now();
        if max_rate > 0.0 && last_taken.is_some_and(|t| now.duration_since(t).as_secs_f64() < 1.0 / max_rate) {
            shared.rate_skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        match frame_from_image(&img, seq, &frame_id) {
            Ok(frame) => {
                seq += 1;
                last_taken = Some(now);
                frames.push(CapturedFrame { frame, pulled_at: now });
            }
            Err(e) => {
                shared.input_errors.fetch_add(1, Ordering::Relaxed);
                if last_warn.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                    warn!(topic = %input.topic, "image dropped: {e}");
                    last_warn = Some(Instant::now());
                }
            }
        }
    }
}
