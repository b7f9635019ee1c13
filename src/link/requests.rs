//! Requests into the inference worker: replace the active commands, or describe a region on the
//! latest frame. Both carry an optional/required oneshot reply so a ROS service can answer its caller.
//! The limits every command set is held to live here too, so each front end refuses the same sets.

use tokio::sync::oneshot;

use crate::frame::{Description, RegionDescription, VisualPrompt};

/// Replace the active command set (an empty list clears it).
#[derive(Debug)]
pub struct SetCommands {
    pub commands: Vec<String>,
    /// Answered once the worker has accepted or refused the set.
    pub reply: Option<oneshot::Sender<CommandsAck>>,
}

impl SetCommands {
    /// Fire-and-forget form (a topic, a file reload, a stdin line).
    pub fn new(commands: Vec<String>) -> Self {
        Self { commands, reply: None }
    }
}

/// The worker's answer to [`SetCommands`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandsAck {
    pub accepted: bool,
    /// Why it was refused, or what was changed (truncations), empty when nothing to say.
    pub message: String,
    /// The commands active after the request.
    pub active: Vec<String>,
}

/// Describe what a visual prompt points at on the latest processed frame.
#[derive(Debug)]
pub struct DescribeRequest {
    pub prompt: VisualPrompt,
    pub reply: oneshot::Sender<Result<RegionDescription, String>>,
}

/// A freshly generated description of an active command's object.
#[derive(Debug, Clone, PartialEq)]
pub struct DescriptionEvent {
    pub command: String,
    pub description: Description,
}

/// Limits applied to incoming command sets (DESIGN.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLimits {
    pub max_commands: usize,
    pub max_chars: usize,
}

impl Default for CommandLimits {
    fn default() -> Self {
        Self { max_commands: 8, max_chars: 200 }
    }
}

/// Trims, drops blanks, truncates over-long commands (with a note) and refuses too many.
/// `Ok((commands, notes))` or `Err(reason)`.
pub fn validate_commands(raw: &[String], limits: CommandLimits) -> Result<(Vec<String>, Vec<String>), String> {
    let mut notes = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for cmd in raw.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        let text = if cmd.chars().count() > limits.max_chars {
            notes.push(format!("command truncated to {} characters: '{}…'", limits.max_chars, short(cmd)));
            cmd.chars().take(limits.max_chars).collect()
        } else {
            cmd.to_string()
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    if out.len() > limits.max_commands {
        return Err(format!("{} commands given, at most {} are allowed", out.len(), limits.max_commands));
    }
    Ok((out, notes))
}

fn short(s: &str) -> String {
    s.chars().take(24).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn blanks_go_long_ones_are_cut_too_many_are_refused() {
        let limits = CommandLimits { max_commands: 2, max_chars: 5 };
        let (ok, notes) = validate_commands(&v(&["  red ", "", "blue star"]), limits).unwrap();
        assert_eq!(ok, v(&["red", "blue "]));
        assert_eq!(notes.len(), 1);
        assert!(validate_commands(&v(&["a", "b", "c"]), limits).unwrap_err().contains("at most 2"));
        assert_eq!(validate_commands(&v(&[""]), limits).unwrap().0, Vec::<String>::new());
    }
}
