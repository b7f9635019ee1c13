//! `~/set_prompts` and `~/describe` (pixel_sail_msgs services, Fast DDS "Enhanced" mapping).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use ros2_client::Server;
use tokio::sync::mpsc;
use tracing::warn;

use super::inputs::ask;
use super::link::RegionRequest;
use super::msgs_pixel_sail::{DescribeRequest, DescribeResponse, SetPromptsRequest, SetPromptsResponse, describe_kind};
use super::msgs_std::{Header, Image, Time};
use super::node::{SettingsRx, Shared};
use crate::frame::{Mask, VisualPrompt};

/// Refuses more commands than `max_prompts` (DESIGN §7), with the reason.
pub fn check_count(n: usize, max: i64) -> Result<(), String> {
    if n as i64 > max {
        Err(format!("{n} commands given but max_prompts is {max}; none were changed"))
    } else {
        Ok(())
    }
}

pub async fn set_prompts(
    server: Server<SetPromptsRequest, SetPromptsResponse>,
    set_commands: Arc<dyn Fn(Vec<String>) -> Result<String, String> + Send + Sync>,
    settings: SettingsRx,
    shared: Arc<Shared>,
) {
    let requests = server.receive_request_stream();
    futures::pin_mut!(requests);
    while let Some(req) = requests.next().await {
        let Ok((id, req)) = req else { continue };
        let prompts: Vec<String> = req.prompts.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
        let n = prompts.len();
        let max = settings.borrow().max_prompts;
        let resp = match check_count(n, max).and_then(|()| set_commands(prompts)) {
            Ok(note) => {
                shared.active_commands.store(n as u64, Ordering::Relaxed);
                let message = if n == 0 { "cleared all commands".to_owned() } else { format!("{n} command(s) active") };
                SetPromptsResponse { accepted: true, message: if note.is_empty() { message } else { format!("{message}; {note}") } }
            }
            Err(reason) => SetPromptsResponse { accepted: false, message: reason },
        };
        if let Err(e) = server.async_send_response(id, resp).await {
            warn!("set_prompts response failed: {e:?}");
        }
    }
}

pub async fn describe(server: Server<DescribeRequest, DescribeResponse>, describe: mpsc::Sender<RegionRequest>) {
    let requests = server.receive_request_stream();
    futures::pin_mut!(requests);
    while let Some(req) = requests.next().await {
        let Ok((id, req)) = req else { continue };
        let resp = match prompt_of(&req) {
            Err(reason) => DescribeResponse { success: false, message: reason, ..Default::default() },
            Ok(prompt) => match ask(&describe, prompt).await {
                Err(reason) => DescribeResponse { success: false, message: reason, ..Default::default() },
                Ok(region) => {
                    let header = Header { stamp: Time::from_system(region.description.stamp), frame_id: region.frame_id.clone() };
                    let m = &region.mask;
                    let mask = Image {
                        header: header.clone(), height: m.height, width: m.width, encoding: "mono8".into(), is_bigendian: 0,
                        step: m.width, data: m.data.iter().map(|&v| if v != 0 { 255 } else { 0 }).collect(),
                    };
                    DescribeResponse {
                        success: true, message: String::new(), description: region.description.text.clone(), header,
                        bbox: region.bbox.unwrap_or_default(), mask,
                    }
                }
            },
        };
        if let Err(e) = server.async_send_response(id, resp).await {
            warn!("describe response failed: {e:?}");
        }
    }
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
            let m = &req.mask;
            let (w, h) = (m.width as usize, m.height as usize);
            if m.encoding != "mono8" && m.encoding != "8UC1" {
                return Err(format!("mask must be mono8, got `{}`", m.encoding));
            }
            let step = m.step as usize;
            if w == 0 || h == 0 || step < w || m.data.len() < step * (h - 1) + w {
                return Err(format!("mask {}x{} step {} has {} bytes", m.width, m.height, m.step, m.data.len()));
            }
            let mut data = Vec::with_capacity(w * h);
            for row in 0..h {
                data.extend(m.data[row * step..row * step + w].iter().map(|&v| u8::from(v != 0)));
            }
            if !data.contains(&1) {
                return Err("mask is empty".into());
            }
            Ok(VisualPrompt::Mask(Arc::new(Mask { width: m.width, height: m.height, data })))
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
        r.mask = Image { width: 2, height: 1, step: 2, encoding: "mono8".into(), data: vec![0, 0], ..Default::default() };
        assert_eq!(prompt_of(&r).unwrap_err(), "mask is empty");
        assert!(check_count(9, 8).unwrap_err().contains("max_prompts is 8"));
    }
}
