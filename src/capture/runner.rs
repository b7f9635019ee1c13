//! The capture thread: pulls frames, hands them to an outlet, and keeps the source alive.
//!
//! A stream error or a device that vanished is retried with exponential backoff (reset after the
//! source delivers again); a stall (no frame for `stall_warning`) is logged, and a live source that
//! stays silent for `stall_restart` is reopened. End of file either ends capture or rewinds (`--loop`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::gst_capture::{GstCapture, Pacing, Pulled};
use super::source::{SourceKind, SourceSpec};
use super::{CaptureConfig, CaptureError, CaptureStats, FrameOutlet};

/// Why capture ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEnd {
    /// `stop()` was called.
    Stopped,
    /// The file ended (and `--loop` was off).
    EndOfStream,
    /// The retry budget ran out; the last error.
    GaveUp(String),
}

/// Owns the capture thread. Dropping it stops capture.
pub struct CaptureRunner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<CaptureEnd>>,
}

impl CaptureRunner {
    /// Opens the source (a failure here is the startup fault) and starts the capture thread.
    pub fn start(
        config: CaptureConfig,
        stats: Arc<CaptureStats>,
        outlet: Arc<dyn FrameOutlet>,
    ) -> Result<Self, CaptureError> {
        let spec = SourceSpec::parse(&config.source)?;
        let stop = Arc::new(AtomicBool::new(false));
        let capture = open(&spec, &config, &stop)?;
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let mut pump = CaptureLoop {
                    spec,
                    config,
                    stats,
                    outlet: outlet.clone(),
                    stop: thread_stop,
                    next_seq: 0,
                    last_frame_error_log: None,
                };
                let end = pump.run(capture);
                outlet.close();
                end
            })
            .map_err(|e| CaptureError::Init(format!("cannot spawn the capture thread: {e}")))?;
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Asks the thread to stop; it sets the pipeline to NULL and closes the outlet.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Stops and waits for the thread.
    pub fn stop(mut self) -> CaptureEnd {
        self.request_stop();
        self.join()
    }

    fn join(&mut self) -> CaptureEnd {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(end)) => end,
            Some(Err(_)) => CaptureEnd::GaveUp("the capture thread panicked".into()),
            None => CaptureEnd::Stopped,
        }
    }
}

impl Drop for CaptureRunner {
    fn drop(&mut self) {
        self.request_stop();
        self.join();
    }
}

fn open(spec: &SourceSpec, config: &CaptureConfig, stop: &AtomicBool) -> Result<GstCapture, CaptureError> {
    let pacing =
        if spec.kind == SourceKind::File && !config.realtime { Pacing::EveryFrame } else { Pacing::NewestWins };
    GstCapture::open(spec, pacing, config.realtime, &config.frame_id, config.startup_timeout, stop)
}

struct CaptureLoop {
    spec: SourceSpec,
    config: CaptureConfig,
    stats: Arc<CaptureStats>,
    outlet: Arc<dyn FrameOutlet>,
    stop: Arc<AtomicBool>,
    /// Sequence numbers run on across reopenings; a gap means a frame was lost before us.
    next_seq: u64,
    /// Bad frames are logged at most every 5 s (the counter has the total).
    last_frame_error_log: Option<Instant>,
}

impl CaptureLoop {
    fn run(&mut self, first: GstCapture) -> CaptureEnd {
        let mut capture = Some(first);
        let mut failures: u32 = 0;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return CaptureEnd::Stopped;
            }
            let current = match capture.take() {
                Some(c) => c,
                None => match open(&self.spec, &self.config, &self.stop) {
                    Ok(c) => {
                        tracing::info!(source = %self.spec.label, "source reopened");
                        c
                    }
                    Err(e) => match self.back_off(&mut failures, &e) {
                        Some(end) => return end,
                        None => continue,
                    },
                },
            };
            match self.pump(current, &mut failures) {
                Ok(end) => return end,
                Err(e) => {
                    if let Some(end) = self.back_off(&mut failures, &e) {
                        return end;
                    }
                }
            }
        }
    }

    /// Counts a failure and sleeps the backoff; `Some` when capture should give up (or stop).
    fn back_off(&self, failures: &mut u32, error: &CaptureError) -> Option<CaptureEnd> {
        // A reopening cut short by stop() is no failure of the source.
        if self.stop.load(Ordering::SeqCst) {
            return Some(CaptureEnd::Stopped);
        }
        *failures += 1;
        self.stats.restarts.fetch_add(1, Ordering::Relaxed);
        self.stats.set_last_error(error.to_string());
        let retry = &self.config.retry;
        if retry.max_attempts.is_some_and(|max| *failures > max) {
            tracing::error!(source = %self.spec.label, "giving up after {} failed attempts: {error}", *failures - 1);
            return Some(CaptureEnd::GaveUp(error.to_string()));
        }
        let delay = retry.delay(*failures);
        tracing::warn!(source = %self.spec.label, attempt = *failures, "capture failed, retrying in {:.1} s: {error}", delay.as_secs_f64());
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if self.stop.load(Ordering::SeqCst) {
                return Some(CaptureEnd::Stopped);
            }
            std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
        }
        None
    }

    /// Pulls frames until stop, EOS or a stream error.
    fn pump(&mut self, mut capture: GstCapture, failures: &mut u32) -> Result<CaptureEnd, CaptureError> {
        let mut last_frame = Instant::now();
        let mut stall_warned = false;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                capture.stop();
                return Ok(CaptureEnd::Stopped);
            }
            let seq = self.next_seq;
            match capture.pull(seq, Duration::from_millis(100)) {
                Ok(Pulled::Frame(frame)) => {
                    self.next_seq += 1;
                    self.stats.lost_upstream.fetch_add(capture.take_lost(), Ordering::Relaxed);
                    self.stats.frames.fetch_add(1, Ordering::Relaxed);
                    if tracing::enabled!(tracing::Level::TRACE) {
                        let age = std::time::SystemTime::now().duration_since(frame.frame.stamp).unwrap_or_default();
                        tracing::trace!(seq, age_ms = age.as_secs_f64() * 1e3, "frame captured");
                    }
                    if stall_warned {
                        tracing::info!(source = %self.spec.label, "frames are arriving again");
                    }
                    last_frame = Instant::now();
                    stall_warned = false;
                    *failures = 0;
                    self.outlet.push(frame);
                }
                Ok(Pulled::Idle) => {
                    let silent = last_frame.elapsed();
                    if !stall_warned && silent >= self.config.stall_warning {
                        tracing::warn!(source = %self.spec.label, "no frame for {:.1} s", silent.as_secs_f64());
                        stall_warned = true;
                    }
                    if self.spec.kind == SourceKind::Live
                        && self.config.stall_restart.is_some_and(|limit| silent >= limit)
                    {
                        return Err(CaptureError::Stream {
                            name: self.spec.label.clone(),
                            message: format!("no frame for {:.1} s", silent.as_secs_f64()),
                        });
                    }
                }
                Ok(Pulled::Eos) if self.spec.kind == SourceKind::Live => {
                    // Cameras and streams do not end: treat it as a failure and reopen.
                    capture.stop();
                    return Err(CaptureError::Stream {
                        name: self.spec.label.clone(),
                        message: "the stream ended".into(),
                    });
                }
                Ok(Pulled::Eos) if self.config.looping => {
                    tracing::debug!(source = %self.spec.label, "end of stream, rewinding");
                    capture.rewind()?;
                }
                Ok(Pulled::Eos) => {
                    tracing::info!(source = %self.spec.label, "end of stream");
                    capture.stop();
                    return Ok(CaptureEnd::EndOfStream);
                }
                Err(CaptureError::Frame { seq, reason }) => {
                    // A bad frame is counted and skipped; the stream goes on.
                    self.stats.frame_errors.fetch_add(1, Ordering::Relaxed);
                    self.next_seq += 1;
                    self.stats.set_last_error(reason.clone());
                    if self.last_frame_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                        let total = self.stats.frame_errors.load(Ordering::Relaxed);
                        tracing::warn!(seq, total, "bad frame skipped: {reason}");
                        self.last_frame_error_log = Some(Instant::now());
                    }
                }
                Err(e) => {
                    capture.stop();
                    return Err(e);
                }
            }
        }
    }
}
