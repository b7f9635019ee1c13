//! What passes between the live pipeline and its front ends (the `run` wiring, the ROS node, file sinks):
//! requests in ([`SetCommands`], [`DescribeRequest`]), results and counters out ([`Handles`], [`Stats`],
//! [`PipelineLink`]), and a managed node's lifecycle calls ([`LifecycleCall`]). It sits below `app` and `ros`
//! so that neither has to import the other's internals to talk through it.

mod front_end;
mod handles;
mod lifecycle;
mod requests;
mod stats;

pub use front_end::{
    CameraLink, DESCRIBE_TIMEOUT, PipelineLink, PipelineStats, SET_COMMANDS_TIMEOUT, describe, set_commands,
};
pub use handles::Handles;
pub use lifecycle::{LifecycleCall, Outcome, Step};
pub use requests::{CommandLimits, CommandsAck, DescribeRequest, DescriptionEvent, SetCommands, validate_commands};
pub use stats::{ModelState, Stats, StatsSnapshot, quantile};
