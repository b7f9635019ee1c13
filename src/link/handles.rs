//! [`Handles`]: the live pipeline's public API, the small set of channels every front end plugs into.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};

use super::requests::{DescribeRequest, DescriptionEvent, SetCommands};
use super::stats::Stats;
use crate::frame::FrameResult;
use crate::spatial::DepthFeed;

/// The live pipeline's public API. Cheap to clone; holding it does not keep the pipeline alive.
///
/// - `commands_tx`: replace the active commands ([`SetCommands`], optional reply); an empty list clears,
///   too many are refused with a reason, over-long ones are truncated.
/// - `describe_tx`: "what is this?" for a point/box/mask on the latest processed frame; the reply
///   carries the description, mask, box and that frame's stamp.
/// - [`Handles::subscribe_results`]: every processed frame ([`FrameResult`]: one [`crate::frame::Grounding`]
///   per active command, each with its latest description and that description's own source stamp).
///   A slow subscriber loses the oldest results (`RecvError::Lagged`), never slows the worker.
/// - `latest`: the newest result only (for pull-style consumers such as a 1 Hz diagnostics task).
/// - [`Handles::subscribe_descriptions`]: each new description as it is generated.
/// - `stats`: counters and latency percentiles (frames in/out, drops, errors, restarts, depth matching).
/// - `depth`: the [`DepthFeed`] the worker locates objects with, for inputs to push depth and
///   camera intrinsics into (None when started without one).
#[derive(Clone)]
pub struct Handles {
    pub commands_tx: mpsc::Sender<SetCommands>,
    pub describe_tx: mpsc::Sender<DescribeRequest>,
    pub latest: watch::Receiver<Option<Arc<FrameResult>>>,
    pub stats: Arc<Stats>,
    /// Where depth images and camera intrinsics go (None: the pipeline was started without depth).
    pub depth: Option<DepthFeed>,
    results: Arc<broadcast::Receiver<Arc<FrameResult>>>,
    descriptions: Arc<broadcast::Receiver<DescriptionEvent>>,
}

impl Handles {
    /// The handles of a pipeline whose worker holds the other ends of these channels.
    pub fn new(
        commands_tx: mpsc::Sender<SetCommands>,
        describe_tx: mpsc::Sender<DescribeRequest>,
        latest: watch::Receiver<Option<Arc<FrameResult>>>,
        stats: Arc<Stats>,
        depth: Option<DepthFeed>,
        results: broadcast::Receiver<Arc<FrameResult>>,
        descriptions: broadcast::Receiver<DescriptionEvent>,
    ) -> Self {
        Self {
            commands_tx,
            describe_tx,
            latest,
            stats,
            depth,
            results: Arc::new(results),
            descriptions: Arc::new(descriptions),
        }
    }

    /// A receiver of every result from now on; it ends (`Closed`) when the pipeline stops.
    pub fn subscribe_results(&self) -> broadcast::Receiver<Arc<FrameResult>> {
        self.results.resubscribe()
    }

    /// A receiver of every new description from now on.
    pub fn subscribe_descriptions(&self) -> broadcast::Receiver<DescriptionEvent> {
        self.descriptions.resubscribe()
    }
}
