//! The channels a managed node's ROS side holds for the whole run, routed to whichever pipeline is
//! active: commands (kept while inactive, so the next activation starts with them), region
//! requests (refused while inactive), ROS camera frames (dropped while inactive) and results.

use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::capture::{CapturedFrame, FrameOutlet};
use crate::frame::FrameResult;
use crate::link::{CommandLimits, CommandsAck, DescribeRequest, Handles, SetCommands, validate_commands};

/// Where requests go now: the active pipeline's channels, or none while inactive.
#[derive(Default)]
pub struct Routes {
    commands: Mutex<Option<mpsc::Sender<SetCommands>>>,
    describe: Mutex<Option<mpsc::Sender<DescribeRequest>>>,
    frames: Mutex<Option<Arc<dyn FrameOutlet>>>,
    /// The commands in force: the next activation starts with them.
    active: Mutex<Vec<String>>,
}

impl Routes {
    pub fn new(initial: Vec<String>) -> Self {
        Self { active: Mutex::new(initial), ..Default::default() }
    }

    /// Points every route at a pipeline (`Some`) or at nothing (`None`, inactive).
    pub fn attach(&self, to: Option<(&Handles, Option<Arc<dyn FrameOutlet>>)>) {
        let (commands, describe, frames) = match to {
            Some((h, frames)) => (Some(h.commands_tx.clone()), Some(h.describe_tx.clone()), frames),
            None => (None, None, None),
        };
        set(&self.commands, commands);
        set(&self.describe, describe);
        set(&self.frames, frames);
    }

    pub fn active_commands(&self) -> Vec<String> {
        self.active.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn target<T: Clone>(slot: &Mutex<Option<T>>) -> Option<T> {
        slot.lock().ok().and_then(|s| s.clone())
    }
}

fn set<T>(slot: &Mutex<Option<T>>, value: Option<T>) {
    if let Ok(mut s) = slot.lock() {
        *s = value;
    }
}

/// Serves command sets: the active pipeline's worker answers; while inactive they are checked here
/// and kept for the next activation.
pub async fn route_commands(mut rx: mpsc::Receiver<SetCommands>, routes: Arc<Routes>, limits: CommandLimits) {
    while let Some(request) = rx.recv().await {
        let ack = match Routes::target(&routes.commands) {
            Some(worker) => {
                let (reply, answer) = oneshot::channel();
                let forwarded = SetCommands { commands: request.commands.clone(), reply: Some(reply) };
                match worker.send(forwarded).await {
                    Ok(()) => answer.await.ok(),
                    Err(_) => None,
                }
                .unwrap_or_else(|| kept(&request.commands, limits))
            }
            None => kept(&request.commands, limits),
        };
        if ack.accepted
            && let Ok(mut a) = routes.active.lock()
        {
            a.clone_from(&ack.active);
        }
        if let Some(reply) = request.reply {
            let _ = reply.send(ack);
        }
    }
}

/// The answer for a command set taken while no pipeline runs.
fn kept(commands: &[String], limits: CommandLimits) -> CommandsAck {
    match validate_commands(commands, limits) {
        Ok((active, mut notes)) => {
            notes.push("kept for the next activation (the node is not active)".into());
            CommandsAck { accepted: true, message: notes.join("; "), active }
        }
        Err(message) => CommandsAck { accepted: false, message, active: Vec::new() },
    }
}

/// Serves region requests on the active pipeline; refuses them with the reason while inactive.
pub async fn route_describe(mut rx: mpsc::Receiver<DescribeRequest>, routes: Arc<Routes>) {
    while let Some(request) = rx.recv().await {
        match Routes::target(&routes.describe) {
            Some(worker) => {
                if let Err(mpsc::error::SendError(r)) = worker.send(request).await {
                    let _ = r.reply.send(Err(INACTIVE.into()));
                }
            }
            None => {
                let _ = request.reply.send(Err(INACTIVE.into()));
            }
        }
    }
}

const INACTIVE: &str = "the node is not active (lifecycle): activate it to describe regions";

/// ROS camera frames into the active pipeline's slot; dropped while inactive.
pub struct RoutedFrames(pub Arc<Routes>);

impl FrameOutlet for RoutedFrames {
    fn push(&self, frame: CapturedFrame) {
        if let Some(slot) = Routes::target(&self.0.frames) {
            slot.push(frame);
        }
    }

    fn close(&self) {
        if let Some(slot) = Routes::target(&self.0.frames) {
            slot.close();
        }
    }
}

/// Copies one pipeline's results onto the run-long broadcast (ROS outputs and file sinks) until
/// that pipeline stops.
pub async fn forward_results(mut from: broadcast::Receiver<Arc<FrameResult>>, to: broadcast::Sender<Arc<FrameResult>>) {
    loop {
        match from.recv().await {
            Ok(result) => {
                let _ = to.send(result);
            }
            Err(broadcast::error::RecvError::Lagged(n)) => tracing::debug!(lost = n, "result forwarder fell behind"),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
