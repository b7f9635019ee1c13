//! Outputs a person can use without ROS: an annotated video file and JSON lines of results.
//! Each sink is a plain object (`create → write → finish`); the app runs each on its own thread.

mod annotate;
mod jsonl;
mod video;

use std::path::Path;

pub use annotate::{annotate, distance_m};
pub use jsonl::{CommandLine, JsonlWriter, ResultLine, unix_secs};
pub use video::{AnnotatedRecorder, VideoWriter};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("video encoder: {0}")]
    Gst(String),
    #[error("unsupported output {0}")]
    Unsupported(String),
}

fn ensure_parent(path: &Path) -> Result<(), SinkError> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| SinkError::Io { path: dir.display().to_string(), source: e })
        }
        None => Ok(()),
    }
}
