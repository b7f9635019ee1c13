//! The node's subscriptions: `~/prompt` (commands, one per line; empty clears), `~/point_prompt`
//! (a click → describe the object there → `~/description`), and `image` when the source is ROS.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::images::frame_from_image;
use super::link::RegionRequest;
use super::msgs_std::{Image, PointStamped, StringMsg};
use super::node::{Endpoints, In, SettingsRx, Shared};
use super::services::check_count;
use crate::frame::{Frame, VisualPrompt};

/// How long a click waits for its description.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn prompts(
    input: In<StringMsg>,
    set_commands: Arc<dyn Fn(Vec<String>) -> Result<String, String> + Send + Sync>,
    settings: SettingsRx,
    shared: Arc<Shared>,
) {
    let stream = input.subscription.async_stream();
    futures::pin_mut!(stream);
    while let Some(msg) = stream.next().await {
        let Ok((msg, _info)) = msg else { continue };
        let commands: Vec<String> = msg.data.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let max = settings.borrow().max_prompts;
        let n = commands.len();
        match check_count(n, max).and_then(|()| set_commands(commands)) {
            Ok(note) => {
                shared.active_commands.store(n as u64, Ordering::Relaxed);
                info!(topic = %input.topic, "{n} command(s) set{}", if note.is_empty() { String::new() } else { format!(": {note}") });
            }
            Err(reason) => warn!(topic = %input.topic, "commands refused: {reason}"),
        }
    }
}

pub async fn point_prompts(input: In<PointStamped>, describe: mpsc::Sender<RegionRequest>, out: Arc<Endpoints>) {
    let stream = input.subscription.async_stream();
    futures::pin_mut!(stream);
    while let Some(msg) = stream.next().await {
        let Ok((msg, _info)) = msg else { continue };
        let prompt = VisualPrompt::Point { x: msg.point.x as f32, y: msg.point.y as f32 };
        match ask(&describe, prompt).await {
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

/// Sends a region request and waits for the answer.
pub async fn ask(describe: &mpsc::Sender<RegionRequest>, prompt: VisualPrompt) -> Result<crate::frame::RegionDescription, String> {
    let (reply, rx) = oneshot::channel();
    describe.send(RegionRequest { prompt, reply }).await.map_err(|_| "the pipeline is not running".to_owned())?;
    match tokio::time::timeout(DESCRIBE_TIMEOUT, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err("the pipeline dropped the request".into()),
        Err(_) => Err(format!("no answer within {} s", DESCRIBE_TIMEOUT.as_secs())),
    }
}

/// `image` → frames for the pipeline (latest wins: a full channel counts as a drop).
pub async fn images(input: In<Image>, frames: mpsc::Sender<Frame>, settings: SettingsRx, shared: Arc<Shared>) {
    let stream = input.subscription.async_stream();
    futures::pin_mut!(stream);
    let mut last_warn: Option<Instant> = None;
    let mut seq = 0u64;
    while let Some(msg) = stream.next().await {
        let Ok((img, _info)) = msg else { continue };
        let frame_id = settings.borrow().frame_id.clone();
        match frame_from_image(&img, seq, &frame_id) {
            Ok(frame) => {
                seq += 1;
                shared.input_frames.fetch_add(1, Ordering::Relaxed);
                match frames.try_send(frame) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
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
