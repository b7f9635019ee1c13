//! Standalone command sources: the `--prompts-file` (re-read when it changes) and stdin lines.
//! Both feed the same `SetCommands` channel the ROS topics and services use.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::link::SetCommands;

/// One command per line; blank lines and `#` comments are ignored.
pub fn parse_command_file(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

/// A stdin line: `;` separates commands; an empty line yields an empty set (clears).
pub fn parse_command_line(line: &str) -> Vec<String> {
    line.split(';').map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
}

pub fn read_command_file(path: &Path) -> std::io::Result<Vec<String>> {
    Ok(parse_command_file(&std::fs::read_to_string(path)?))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Polls the file's modification time twice a second and sends the new set when it changes.
pub async fn watch_command_file(path: PathBuf, extra: Vec<String>, tx: mpsc::Sender<SetCommands>) {
    let mut seen = modified(&path);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let now = modified(&path);
        if now == seen {
            continue;
        }
        seen = now;
        match read_command_file(&path) {
            Ok(mut commands) => {
                tracing::info!(path = %path.display(), "command file changed");
                commands.splice(0..0, extra.iter().cloned());
                if tx.send(SetCommands::new(commands)).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(path = %path.display(), "cannot read the command file: {e}"),
        }
    }
}

/// One sender that passes every command set on to each camera's worker lane (the first camera answers a
/// reply); with one camera, that camera's own sender.
pub fn fan_out(targets: &[mpsc::Sender<SetCommands>]) -> mpsc::Sender<SetCommands> {
    if let [only] = targets {
        return only.clone();
    }
    let (tx, mut rx) = mpsc::channel::<SetCommands>(16);
    let targets = targets.to_vec();
    tokio::spawn(async move {
        while let Some(mut req) = rx.recv().await {
            for target in &targets {
                let set = SetCommands { commands: req.commands.clone(), reply: req.reply.take() };
                if target.send(set).await.is_err() {
                    tracing::debug!("a camera's worker lane is gone; its commands are not set");
                }
            }
        }
    });
    tx
}

/// Each stdin line replaces the active commands; ends at EOF.
pub async fn read_stdin_commands(tx: mpsc::Sender<SetCommands>) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if tx.send(SetCommands::new(parse_command_line(&line))).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_line_formats() {
        let text = "# tabletop\npick up the red star\n\n  find the blue ring  \n";
        assert_eq!(parse_command_file(text), vec!["pick up the red star", "find the blue ring"]);
        assert_eq!(parse_command_line("a ; b;"), vec!["a", "b"]);
        assert!(parse_command_line("   ").is_empty());
    }
}
