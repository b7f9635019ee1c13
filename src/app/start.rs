//! What every run reads before it starts, managed or not: the source, the initial commands and the engine's
//! configuration.

use super::AppError;
use super::command_input::read_command_file;
use crate::cli::RunArgs;
use crate::config::EngineConfig;

/// What every run reads before it starts, managed or not: the source, the initial commands (flags, then the
/// command file) and the engine's configuration; a `--record` path is checked here so a bad one stops the start.
pub fn start_inputs(args: &RunArgs) -> anyhow::Result<(String, Vec<String>, EngineConfig)> {
    let source =
        args.source.clone().ok_or_else(|| AppError::Setup("--source is required (e.g. --source test)".into()))?;
    let mut commands = args.prompts.clone();
    if let Some(path) = &args.pipeline.prompts_file {
        let from_file = read_command_file(path)
            .map_err(|e| AppError::Setup(format!("cannot read the command file {}: {e}", path.display())))?;
        commands.extend(from_file);
    }
    if let Some(path) = &args.record {
        crate::sink::VideoWriter::check_path(path)?;
    }
    Ok((source, commands, args.engine.to_config()?))
}
