//! `~/set_prompts` and `~/describe` (pixel_sail_msgs services, Fast DDS "Enhanced" mapping).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use ros2_client::{Message, Node, ParameterValue, Server};
use tokio::sync::mpsc;
use tracing::warn;

use super::endpoints::{SettingsRx, Shared};
use super::msgs_pixel_sail::{DescribeRequest, DescribeResponse, SetPromptsRequest, SetPromptsResponse, describe_kind};
use super::msgs_std::{Header, Time};
use crate::decode::{rle_decode, rle_encode};
use crate::frame::{Mask, Rle, VisualPrompt};
use crate::link::{DescribeRequest as RegionRequest, SetCommands};
use crate::link::{describe as ask, set_commands};

/// Where command sets from `~/prompt` and `~/set_prompts` go: every camera (the node's own `~/prompt`), or one
/// camera (`~/NAME/prompt` with several cameras). Each target is a camera's worker lane and its counters.
#[derive(Clone)]
pub struct Commands {
    pub targets: Vec<(mpsc::Sender<SetCommands>, Arc<Shared>)>,
    pub settings: SettingsRx,
    pub node: Arc<Node>,
    /// Keep the `prompts` parameter in step (the node-wide set; a single camera's set leaves it alone).
    pub sets_parameter: bool,
}

impl Commands {
    /// Checks `max_prompts`, waits for each camera's answer, then keeps the `prompts` parameter in
    /// step with the active commands (its set action sees the same list and sends nothing).
    pub async fn apply(&self, commands: Vec<String>) -> Result<String, String> {
        let max = self.settings.borrow().max_prompts;
        check_count(commands.len(), max)?;
        let mut answer = None;
        for (tx, shared) in &self.targets {
            let (note, active) = set_commands(tx, commands.clone()).await?;
            shared.active_commands.store(active.len() as u64, Ordering::Relaxed);
            if let Ok(mut c) = shared.commands.lock() {
                c.clone_from(&active);
            }
            answer.get_or_insert((note, active));
        }
        let (note, active) = answer.unwrap_or_default();
        if self.sets_parameter
            && let Err(e) = self.node.set_parameter("prompts", ParameterValue::StringArray(active))
        {
            tracing::debug!("prompts parameter not updated: {e}");
        }
        Ok(note)
    }
}

/// Refuses more commands than `max_prompts` (DESIGN §7), with the reason.
pub fn check_count(n: usize, max: i64) -> Result<(), String> {
    if n as i64 > max { Err(format!("{n} commands given but max_prompts is {max}; none were changed")) } else { Ok(()) }
}

/// Answers each request of a service in turn; a malformed request is logged and skipped.
pub(super) async fn serve<Q, P, F, Fut>(name: &str, server: Server<Q, P>, mut answer: F)
where
    Q: Message + 'static,
    P: Message + 'static,
    F: FnMut(Q) -> Fut,
    Fut: Future<Output = P>,
{
    let requests = server.receive_request_stream();
    futures::pin_mut!(requests);
    while let Some(req) = requests.next().await {
        let (id, req) = match req {
            Ok(r) => r,
            Err(e) => {
                warn!("{name}: bad request: {e:?}");
                continue;
            }
        };
        let resp = answer(req).await;
        if let Err(e) = server.async_send_response(id, resp).await {
            warn!("{name} response failed: {e:?}");
        }
    }
}

pub async fn set_prompts(server: Server<SetPromptsRequest, SetPromptsResponse>, commands: Commands) {
    serve("set_prompts", server, |req: SetPromptsRequest| {
        let commands = commands.clone();
        async move {
            let prompts: Vec<String> =
                req.prompts.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
            let n = prompts.len();
            match commands.apply(prompts).await {
                Ok(note) => {
                    let message =
                        if n == 0 { "cleared all commands".to_owned() } else { format!("{n} command(s) active") };
                    let message = if note.is_empty() { message } else { format!("{message}; {note}") };
                    SetPromptsResponse { accepted: true, message }
                }
                Err(reason) => SetPromptsResponse { accepted: false, message: reason },
            }
        }
    })
    .await
}

pub async fn describe(server: Server<DescribeRequest, DescribeResponse>, describe: mpsc::Sender<RegionRequest>) {
    serve("describe", server, |req: DescribeRequest| {
        let describe = describe.clone();
        async move {
            tracing::debug!(kind = req.kind, "describe request");
            let prompt = match prompt_of(&req) {
                Ok(p) => p,
                Err(reason) => return DescribeResponse { success: false, message: reason, ..Default::default() },
            };
            let region = match ask(&describe, prompt).await {
                Ok(r) => r,
                Err(reason) => return DescribeResponse { success: false, message: reason, ..Default::default() },
            };
            let header =
                Header { stamp: Time::from_system(region.description.stamp), frame_id: region.frame_id.clone() };
            // The note that may follow is at most ~60 bytes: count it in.
            let budget = reply_mask_budget(&[&region.description.text, &region.frame_id, &" ".repeat(60)]);
            let (rle, factor) = reply_mask(&region.mask, budget);
            let message = if factor > 1 {
                format!("mask at 1/{factor} resolution ({}x{}) to fit one datagram", rle.size[1], rle.size[0])
            } else {
                String::new()
            };
            DescribeResponse {
                success: true,
                message,
                description: region.description.text.clone(),
                header,
                bbox: region.bbox.unwrap_or_default(),
                mask_height: rle.size[0],
                mask_width: rle.size[1],
                mask_rle_counts: rle.counts,
            }
        }
    })
    .await
}

/// Serialized bytes a Describe reply may take. Replies must fit one UDP datagram (~1.4 KB with the
/// RTPS headers): RustDDS fragments anything larger, and a fragmented service reply never reaches a
/// Fast DDS client (measured: rclpy times out, and the replies after it on that service stall too).
pub const REPLY_BUDGET_BYTES: usize = 1100;

/// RLE counts left for the mask once the reply's strings are in.
pub fn reply_mask_budget(texts: &[&str]) -> usize {
    let text: usize = texts.iter().map(|t| t.len() + 8).sum();
    (REPLY_BUDGET_BYTES.saturating_sub(64 + text) / 4).max(16)
}

/// The reply's mask: full resolution when its RLE fits `max_counts`, else sampled on a coarser
/// grid (every `factor`-th pixel), the smallest power-of-two factor that fits. Returns (RLE, factor).
pub fn reply_mask(mask: &Mask, max_counts: usize) -> (Rle, u32) {
    let mut factor = 1u32;
    loop {
        let grid = if factor == 1 { mask.clone() } else { subsample(mask, factor) };
        let rle = rle_encode(&grid);
        if rle.counts.len() <= max_counts || grid.width <= 1 || grid.height <= 1 {
            return (rle, factor);
        }
        factor *= 2;
    }
}

fn subsample(mask: &Mask, f: u32) -> Mask {
    let (w, h) = (mask.width.div_ceil(f), mask.height.div_ceil(f));
    let mut data = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            data.push(mask.data.get(((y * f) * mask.width + x * f) as usize).copied().unwrap_or(0));
        }
    }
    Mask { width: w, height: h, data }
}

/// The visual prompt a Describe request names, or why it is malformed.
pub fn prompt_of(req: &DescribeRequest) -> Result<VisualPrompt, String> {
    match req.kind {
        describe_kind::POINT => {
            let (x, y) = (req.point.x, req.point.y);
            if x.is_finite() && y.is_finite() && x >= 0.0 && y >= 0.0 {
                Ok(VisualPrompt::Point { x: x as f32, y: y as f32 })
            } else {
                Err(format!("point ({x}, {y}) must be non-negative pixel coordinates"))
            }
        }
        describe_kind::BOX => {
            let [x0, y0, x1, y1] = req.r#box;
            if [x0, y0, x1, y1].iter().all(|v| v.is_finite() && *v >= 0.0) && x1 > x0 && y1 > y0 {
                Ok(VisualPrompt::Box { x0, y0, x1, y1 })
            } else {
                Err(format!("box {:?} must be x0, y0, x1, y1 with x1 > x0 and y1 > y0", req.r#box))
            }
        }
        describe_kind::MASK => {
            let rle = Rle { size: [req.mask_height, req.mask_width], counts: req.mask_rle_counts.clone() };
            if req.mask_height == 0 || req.mask_width == 0 {
                return Err("mask_height and mask_width must be the camera resolution".into());
            }
            let mask = rle_decode(&rle).map_err(|e| format!("mask: {e}"))?;
            if !mask.data.contains(&1) {
                return Err("mask is empty".into());
            }
            Ok(VisualPrompt::Mask(Arc::new(mask)))
        }
        k => Err(format!("unknown kind {k} (0 point, 1 box, 2 mask)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_requests_are_checked() {
        let mut r = DescribeRequest { kind: describe_kind::BOX, r#box: [10.0, 10.0, 5.0, 20.0], ..Default::default() };
        assert!(prompt_of(&r).unwrap_err().contains("x1 > x0"));
        r.r#box = [1.0, 2.0, 30.0, 40.0];
        assert_eq!(prompt_of(&r).unwrap(), VisualPrompt::Box { x0: 1.0, y0: 2.0, x1: 30.0, y1: 40.0 });
        r.kind = 9;
        assert!(prompt_of(&r).is_err());
        r.kind = describe_kind::MASK;
        (r.mask_height, r.mask_width, r.mask_rle_counts) = (1, 2, vec![2]);
        assert_eq!(prompt_of(&r).unwrap_err(), "mask is empty");
        r.mask_rle_counts = vec![1, 3];
        assert!(prompt_of(&r).unwrap_err().contains("counts sum to 4"));
        r.mask_rle_counts = vec![1, 1];
        assert!(matches!(prompt_of(&r).unwrap(), VisualPrompt::Mask(m) if m.data == vec![0, 1]));
        assert!(check_count(9, 8).unwrap_err().contains("max_prompts is 8"));
    }

    #[test]
    fn reply_masks_shrink_until_they_fit_one_datagram() {
        let (w, h) = (640u32, 480u32);
        let budget = reply_mask_budget(&["a large red circle on the left", "camera"]);
        assert!((200..=260).contains(&budget), "{budget}");
        let blob = Mask {
            width: w,
            height: h,
            data: (0..w * h).map(|i| u8::from((i % w) / 100 == 1 && (i / w) / 100 == 1)).collect(),
        };
        let (rle, f) = reply_mask(&blob, budget);
        assert_eq!((f, rle.size), (1, [480, 640]));
        let ragged = Mask { width: w, height: h, data: (0..w * h).map(|i| u8::from(i % 7 == 0)).collect() };
        let (rle, f) = reply_mask(&ragged, budget);
        assert!(f > 1 && rle.counts.len() <= budget, "factor {f}, {} counts", rle.counts.len());
        assert_eq!(rle.size, [h.div_ceil(f), w.div_ceil(f)]);
    }
}
