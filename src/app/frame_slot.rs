//! The capture → worker hand-over: a one-frame slot where the newest frame wins.
//!
//! For live sources a new frame replaces one the worker has not taken yet, and the replacement is
//! counted as a drop; the queue can never grow. For files read frame by frame the slot blocks the
//! capture thread instead (back-pressure through GStreamer), so no frame is lost.
//!
//! With several cameras each has its own slot, and every slot rings one shared [`Doorbell`] so the one
//! worker can sleep until any camera has a frame.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::capture::{CapturedFrame, FrameOutlet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotMode {
    /// Replace an unconsumed frame (counted as dropped).
    NewestWins,
    /// Wait until the previous frame was taken.
    Blocking,
}

/// What `take` found.
#[derive(Debug)]
pub enum Taken {
    Frame(CapturedFrame),
    /// Nothing arrived within the timeout.
    Empty,
    /// Capture has ended and the last frame was taken.
    Closed,
}

#[derive(Default)]
struct State {
    frame: Option<CapturedFrame>,
    closed: bool,
}

/// Rung by every slot on a push or a close; the worker waits on it when no slot holds a frame.
#[derive(Default)]
pub struct Doorbell {
    rings: Mutex<u64>,
    rung: Condvar,
}

impl Doorbell {
    /// How many times it has rung so far (pass it to [`Doorbell::wait`]).
    pub fn rings(&self) -> u64 {
        self.rings.lock().map(|r| *r).unwrap_or(0)
    }

    /// Waits up to `timeout` for a ring after `seen` rings.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        if let Ok(guard) = self.rings.lock() {
            let _ = self.rung.wait_timeout_while(guard, timeout, |r| *r == seen);
        }
    }

    fn ring(&self) {
        if let Ok(mut r) = self.rings.lock() {
            *r += 1;
        }
        self.rung.notify_all();
    }
}

pub struct FrameSlot {
    mode: SlotMode,
    state: Mutex<State>,
    changed: Condvar,
    dropped: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    bell: Arc<Doorbell>,
}

impl FrameSlot {
    /// `received` counts every frame pushed; `dropped` every frame replaced before the worker saw it.
    pub fn new(mode: SlotMode, dropped: Arc<AtomicU64>, received: Arc<AtomicU64>) -> Self {
        Self::with_bell(mode, dropped, received, Arc::default())
    }

    /// A slot that rings `bell` (shared with the other cameras' slots) on every push and on close.
    pub fn with_bell(mode: SlotMode, dropped: Arc<AtomicU64>, received: Arc<AtomicU64>, bell: Arc<Doorbell>) -> Self {
        Self { mode, state: Mutex::new(State::default()), changed: Condvar::new(), dropped, received, bell }
    }

    /// Waits up to `timeout` for a frame.
    pub fn take(&self, timeout: Duration) -> Taken {
        let Ok(guard) = self.state.lock() else { return Taken::Closed };
        let Ok((mut state, _)) = self.changed.wait_timeout_while(guard, timeout, |s| s.frame.is_none() && !s.closed)
        else {
            return Taken::Closed;
        };
        match state.frame.take() {
            Some(frame) => {
                self.changed.notify_all();
                Taken::Frame(frame)
            }
            None if state.closed => Taken::Closed,
            None => Taken::Empty,
        }
    }

    /// Frames waiting (0 or 1): the worker's queue depth.
    pub fn depth(&self) -> usize {
        self.state.lock().map(|s| usize::from(s.frame.is_some())).unwrap_or(0)
    }
}

impl FrameOutlet for FrameSlot {
    fn push(&self, frame: CapturedFrame) {
        let Ok(mut state) = self.state.lock() else { return };
        let mut frame = frame;
        if self.mode == SlotMode::Blocking {
            let Ok(s) = self.changed.wait_while(state, |s| s.frame.is_some() && !s.closed) else { return };
            state = s;
            // Latency of a file read frame by frame counts from the hand-over, not from the time
            // the decoder waited for us (that wait is the back-pressure, not a delay).
            frame.pulled_at = std::time::Instant::now();
        }
        if state.closed {
            return;
        }
        self.received.fetch_add(1, Ordering::Relaxed);
        if let Some(old) = state.frame.replace(frame) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(seq = old.frame.seq, "frame dropped: a newer one arrived first");
        }
        drop(state);
        self.changed.notify_all();
        self.bell.ring();
    }

    fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.changed.notify_all();
        self.bell.ring();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use std::time::{Instant, SystemTime};

    fn frame(seq: u64) -> CapturedFrame {
        let frame =
            Frame { seq, stamp: SystemTime::now(), frame_id: "f".into(), width: 1, height: 1, data: vec![0; 3] };
        CapturedFrame { frame, pulled_at: Instant::now() }
    }

    #[test]
    fn newest_wins_and_drops_are_counted() {
        let dropped = Arc::new(AtomicU64::new(0));
        let slot = FrameSlot::new(SlotMode::NewestWins, dropped.clone(), Default::default());
        for seq in 0..5 {
            slot.push(frame(seq));
        }
        assert_eq!(slot.depth(), 1);
        assert!(matches!(slot.take(Duration::ZERO), Taken::Frame(f) if f.frame.seq == 4));
        assert_eq!(dropped.load(Ordering::Relaxed), 4);
        assert!(matches!(slot.take(Duration::from_millis(5)), Taken::Empty));
        slot.push(frame(5));
        slot.close();
        assert!(matches!(slot.take(Duration::ZERO), Taken::Frame(f) if f.frame.seq == 5));
        assert!(matches!(slot.take(Duration::ZERO), Taken::Closed));
    }

    #[test]
    fn blocking_mode_loses_nothing() {
        let dropped = Arc::new(AtomicU64::new(0));
        let slot = Arc::new(FrameSlot::new(SlotMode::Blocking, dropped.clone(), Default::default()));
        let producer = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                for seq in 0..20 {
                    slot.push(frame(seq));
                }
                slot.close();
            })
        };
        let mut seen = Vec::new();
        loop {
            match slot.take(Duration::from_secs(5)) {
                Taken::Frame(f) => seen.push(f.frame.seq),
                Taken::Closed => break,
                Taken::Empty => panic!("producer stalled"),
            }
        }
        producer.join().unwrap();
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
        assert_eq!(dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_shared_doorbell_wakes_the_worker_for_any_camera() {
        let bell = Arc::new(Doorbell::default());
        let slots: Vec<Arc<FrameSlot>> = (0..2)
            .map(|_| {
                Arc::new(FrameSlot::with_bell(
                    SlotMode::NewestWins,
                    Default::default(),
                    Default::default(),
                    bell.clone(),
                ))
            })
            .collect();
        let seen = bell.rings();
        let pusher = {
            let slot = slots[1].clone();
            std::thread::spawn(move || slot.push(frame(7)))
        };
        bell.wait(seen, Duration::from_secs(5));
        pusher.join().unwrap();
        assert!(bell.rings() > seen);
        assert!(matches!(slots[0].take(Duration::ZERO), Taken::Empty));
        assert!(matches!(slots[1].take(Duration::ZERO), Taken::Frame(f) if f.frame.seq == 7));
        slots[1].close();
        assert!(
            matches!(slots[1].take(Duration::ZERO), Taken::Closed)
                && matches!(slots[0].take(Duration::ZERO), Taken::Empty)
        );
    }
}
