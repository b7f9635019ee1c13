//! A managed node's lifecycle work as the node asks it of whoever owns the model and the pipeline: the
//! step to do and how it ended. The state machine itself (states, transitions) is `ros::lifecycle`.

use tokio::sync::oneshot;

/// The work a transition state does, run by the node's owner (the pipeline and the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Configure,
    Cleanup,
    Activate,
    Deactivate,
    Shutdown,
    /// Error processing: undo whatever is set up so the node can return to unconfigured.
    Error,
}

/// How a step ended: the callback return codes of rclcpp_lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The step did not happen; the node goes back to the state it started from.
    Failure(String),
    /// Something broke half-way; the node goes to error processing.
    Error(String),
}

/// One transition's work, asked of the pipeline owner; it answers on `reply`.
pub struct LifecycleCall {
    pub step: Step,
    pub reply: oneshot::Sender<Outcome>,
}
