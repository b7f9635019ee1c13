//! Where depth inputs meet the worker: a cloneable, thread-safe handle that ROS subscriptions, the
//! standalone `--depth` reader and tests push depth images and intrinsics into, and that the worker's
//! locator asks for the depth image that goes with a colour frame.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::{CameraIntrinsics, DepthImage, DepthSequence};

/// Depth images kept for matching (a third of a second at 30 fps).
const RING: usize = 10;

/// The answer to "which depth goes with this colour frame?".
#[derive(Debug, Clone)]
pub enum DepthMatch {
    /// No depth has been received (or configured) yet: the node runs without depth.
    NoInput,
    Matched(Arc<DepthImage>),
    /// Depth is flowing but none fits this frame; the text says why.
    Unmatched(String),
}

#[derive(Default)]
struct FeedState {
    ring: VecDeque<Arc<DepthImage>>,
    camera: Option<Arc<CameraIntrinsics>>,
    sequence: Option<DepthSequence>,
}

struct Inner {
    tolerance: Duration,
    state: Mutex<FeedState>,
    received: AtomicU64,
}

/// Handle to the depth a pipeline uses; clones share one feed.
#[derive(Clone)]
pub struct DepthFeed {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DepthFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepthFeed")
            .field("tolerance", &self.inner.tolerance)
            .field("received", &self.received())
            .finish()
    }
}

impl DepthFeed {
    /// A feed that matches depth to a colour frame when their stamps differ by at most `tolerance`.
    pub fn new(tolerance: Duration) -> DepthFeed {
        DepthFeed { inner: Arc::new(Inner { tolerance, state: Mutex::default(), received: AtomicU64::new(0) }) }
    }

    fn state(&self) -> MutexGuard<'_, FeedState> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep serving it.
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn tolerance(&self) -> Duration {
        self.inner.tolerance
    }

    /// Adds a depth image; the oldest of the short ring of recent images goes.
    pub fn push_depth(&self, image: DepthImage) {
        self.inner.received.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state();
        if state.ring.len() == RING {
            state.ring.pop_front();
        }
        state.ring.push_back(Arc::new(image));
    }

    /// Sets (or replaces) the colour camera's intrinsics.
    pub fn set_camera(&self, intrinsics: CameraIntrinsics) {
        let mut state = self.state();
        if state.camera.as_deref() != Some(&intrinsics) {
            tracing::debug!(width = intrinsics.width, height = intrinsics.height, "camera intrinsics set");
            state.camera = Some(Arc::new(intrinsics));
        }
    }

    /// Depth from numbered files: colour frame n gets file n (read when the frame asks for it).
    pub fn set_sequence(&self, sequence: DepthSequence) {
        self.state().sequence = Some(sequence);
    }

    pub fn camera(&self) -> Option<Arc<CameraIntrinsics>> {
        self.state().camera.clone()
    }

    /// Depth images received so far (pushed or read from a sequence).
    pub fn received(&self) -> u64 {
        self.inner.received.load(Ordering::Relaxed)
    }

    /// The depth image for the colour frame captured at `stamp` with sequence number `seq`: the same
    /// number from a file sequence, else the pushed image closest in time (the newest on a tie) within
    /// the tolerance.
    pub fn depth_for(&self, stamp: SystemTime, seq: u64) -> DepthMatch {
        let sequence = {
            let state = self.state();
            match &state.sequence {
                Some(sequence) => sequence.clone(),
                None => return self.nearest(&state, stamp),
            }
        };
        // Read outside the lock: pushes and camera updates do not wait for a file.
        match sequence.load(seq, stamp) {
            Ok(image) => {
                self.inner.received.fetch_add(1, Ordering::Relaxed);
                DepthMatch::Matched(Arc::new(image))
            }
            Err(e) => DepthMatch::Unmatched(e.to_string()),
        }
    }

    fn nearest(&self, state: &FeedState, stamp: SystemTime) -> DepthMatch {
        if state.ring.is_empty() {
            return DepthMatch::NoInput;
        }
        let gap = |img: &DepthImage| match img.stamp.duration_since(stamp) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        let best = state.ring.iter().rev().min_by_key(|img| gap(img)).map(|img| (gap(img), img.clone()));
        let tolerance = self.inner.tolerance;
        match best {
            Some((d, img)) if d <= tolerance => DepthMatch::Matched(img),
            Some((d, _)) => DepthMatch::Unmatched(format!(
                "no depth within {} ms of the frame (nearest {:.0} ms away)",
                tolerance.as_millis(),
                d.as_secs_f64() * 1e3
            )),
            None => DepthMatch::NoInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_at(ms: u64, mm: u16) -> DepthImage {
        let stamp = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        DepthImage::from_millimetres(1, 1, &[mm], stamp, ms).unwrap()
    }

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn matches_the_closest_depth_within_the_tolerance() {
        let feed = DepthFeed::new(Duration::from_millis(20));
        assert!(matches!(feed.depth_for(at(1000), 0), DepthMatch::NoInput));
        for (ms, mm) in [(1000, 1), (1033, 2), (1066, 3)] {
            feed.clone().push_depth(depth_at(ms, mm));
        }
        let pick = |ms| match feed.depth_for(at(ms), 0) {
            DepthMatch::Matched(d) => Some(d.metres[0]),
            _ => None,
        };
        assert_eq!(pick(1030), Some(0.002));
        assert_eq!(pick(1060), Some(0.003));
        assert_eq!(pick(990), Some(0.001));
        assert_eq!(pick(1100), None);
        match feed.depth_for(at(1200), 0) {
            DepthMatch::Unmatched(why) => assert!(why.contains("within 20 ms") && why.contains("134 ms"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(feed.received(), 3);
    }

    #[test]
    fn keeps_a_short_ring() {
        let feed = DepthFeed::new(Duration::from_millis(5));
        for i in 0..(RING as u64 + 5) {
            feed.push_depth(depth_at(i * 10, 1));
        }
        assert!(matches!(feed.depth_for(at(0), 0), DepthMatch::Unmatched(_)));
        assert!(matches!(feed.depth_for(at((RING as u64 + 4) * 10), 0), DepthMatch::Matched(_)));
    }

    #[test]
    fn camera_is_shared_between_clones() {
        let feed = DepthFeed::new(Duration::from_millis(20));
        assert!(feed.camera().is_none());
        let k = [100.0, 0.0, 1.0, 0.0, 100.0, 1.0, 0.0, 0.0, 1.0];
        feed.clone().set_camera(CameraIntrinsics::from_ros(4, 4, "plumb_bob", &[], k, "cam").unwrap());
        assert_eq!(feed.camera().unwrap().fx(), 100.0);
    }
}
