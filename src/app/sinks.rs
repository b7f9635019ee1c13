//! Runs each file sink on its own thread, fed from the results broadcast. A sink that falls behind
//! loses the oldest results (counted in `Stats::sink_dropped`) instead of slowing the worker.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use tokio::sync::broadcast::{Receiver, error::RecvError};

use crate::frame::FrameResult;
use crate::link::Stats;
use crate::sink::{AnnotatedRecorder, JsonlWriter, SinkError};

/// What each sink thread reports when it ends: its name, results written, and its error if any.
pub type SinkOutcome = (&'static str, u64, Result<(), SinkError>);

/// A started sink thread.
pub struct SinkThread(JoinHandle<SinkOutcome>);

impl SinkThread {
    pub fn join(self) -> SinkOutcome {
        self.0.join().unwrap_or(("sink", 0, Err(SinkError::Gst("the sink thread panicked".into()))))
    }
}

/// Pulls results until the worker closes the channel, calling `write` for each. The first write
/// error (a full disk, a removed directory) stops this sink only: it is logged at once, the rest of the
/// pipeline goes on, and the run's exit status reports it at the end.
fn drain(
    name: &str,
    mut rx: Receiver<Arc<FrameResult>>,
    stats: &Stats,
    mut write: impl FnMut(&FrameResult) -> Result<(), SinkError>,
) -> (u64, Result<(), SinkError>) {
    let mut written = 0u64;
    loop {
        match rx.blocking_recv() {
            Ok(result) => {
                if let Err(e) = write(&result) {
                    stats.sink_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(sink = name, written, "{e}; this output stops here, the pipeline goes on");
                    return (written, Err(e));
                }
                written += 1;
            }
            Err(RecvError::Lagged(n)) => {
                stats.sink_dropped.fetch_add(n, Ordering::Relaxed);
                tracing::debug!(lost = n, "a sink fell behind");
            }
            Err(RecvError::Closed) => return (written, Ok(())),
        }
    }
}

pub fn spawn_jsonl(path: PathBuf, rx: Receiver<Arc<FrameResult>>, stats: Arc<Stats>) -> Result<SinkThread, SinkError> {
    let mut writer = JsonlWriter::create(&path)?;
    let handle = std::thread::Builder::new()
        .name("sink-jsonl".into())
        .spawn(move || {
            let (n, res) = drain("jsonl", rx, &stats, |r| writer.write(r));
            ("jsonl", n, res.and(writer.finish()))
        })
        .map_err(|e| SinkError::Io { path: path.display().to_string(), source: e })?;
    Ok(SinkThread(handle))
}

pub fn spawn_video(path: PathBuf, rx: Receiver<Arc<FrameResult>>, stats: Arc<Stats>) -> Result<SinkThread, SinkError> {
    let mut recorder = AnnotatedRecorder::new(&path)?;
    let handle = std::thread::Builder::new()
        .name("sink-video".into())
        .spawn(move || {
            let (n, res) = drain("video", rx, &stats, |r| recorder.write(r));
            // Finalise even after a write error so what was written stays playable.
            let finished = recorder.finish().map(|_| ());
            ("video", n, res.and(finished))
        })
        .map_err(|e| SinkError::Io { path: path.display().to_string(), source: e })?;
    Ok(SinkThread(handle))
}
