//! Wiring of the live node (capture → inference worker → sinks / ROS). Placeholder until the pipeline lands.

use crate::cli::RunArgs;

/// Run the live node with the given arguments.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("`pixel-sail run` is not implemented yet")
}
