//! The per-frame 3-D step the worker runs after segmentation: ids for every command (always), then, when
//! depth is configured, the matching depth image and each found object's placement (or why none).

use std::sync::Arc;

use super::{DepthFeed, DepthMatch, EstimateConfig, RayTable, Tracker, TrackerConfig, estimate_placement};
use crate::frame::{Frame, Grounding, Location};

/// What one frame's depth came to (the worker counts each kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthStatus {
    /// No depth configured or received yet: locations stay `NoDepthInput`.
    NoInput,
    /// Depth matched and the camera is known: found objects were placed (or say why not).
    Located,
    /// Depth flows, but none fits this frame.
    Unmatched,
    /// Depth matched but no camera_info has been received.
    NoCamera,
    /// The depth image or camera_info does not fit the frame (another aspect ratio).
    Unusable,
}

/// Relative difference of aspect ratios still taken as the same camera.
const ASPECT_TOLERANCE: f64 = 0.01;

fn same_aspect(w0: u32, h0: u32, w1: u32, h1: u32) -> bool {
    let (a, b) = (w0 as f64 / h0 as f64, w1 as f64 / h1 as f64);
    (a / b - 1.0).abs() <= ASPECT_TOLERANCE
}

/// Fills `track_id` and `location` of a frame's groundings.
pub struct Locator {
    feed: Option<DepthFeed>,
    tracker: Tracker,
    rays: Option<Arc<RayTable>>,
    cfg: EstimateConfig,
}

impl Locator {
    pub fn new(feed: Option<DepthFeed>) -> Self {
        Self::with_config(feed, TrackerConfig::default(), EstimateConfig::default())
    }

    pub fn with_config(feed: Option<DepthFeed>, tracker: TrackerConfig, cfg: EstimateConfig) -> Self {
        Self { feed, tracker: Tracker::new(tracker), rays: None, cfg }
    }

    pub fn feed(&self) -> Option<&DepthFeed> {
        self.feed.as_ref()
    }

    /// Ids, then 3-D for one frame's groundings; never fails (faults become `Unplaced` reasons).
    pub fn locate(&mut self, frame: &Frame, groundings: &mut [Grounding]) -> DepthStatus {
        self.tracker.update(groundings);
        let Some(feed) = &self.feed else { return DepthStatus::NoInput };
        if groundings.is_empty() {
            return DepthStatus::NoInput;
        }
        let depth = match feed.depth_for(frame.stamp, frame.seq) {
            DepthMatch::NoInput => return DepthStatus::NoInput,
            DepthMatch::Unmatched(reason) => return unplace_all(groundings, &reason, DepthStatus::Unmatched),
            DepthMatch::Matched(depth) => depth,
        };
        let Some(camera) = feed.camera() else {
            return unplace_all(groundings, "no camera_info received", DepthStatus::NoCamera);
        };
        if !same_aspect(depth.width, depth.height, frame.width, frame.height) {
            let reason = format!(
                "the depth image is {}x{}, the frame {}x{} (another aspect ratio: not aligned)",
                depth.width, depth.height, frame.width, frame.height
            );
            return unplace_all(groundings, &reason, DepthStatus::Unusable);
        }
        if !same_aspect(camera.width, camera.height, frame.width, frame.height) {
            let reason = format!(
                "camera_info is for {}x{}, the frame is {}x{} (another aspect ratio)",
                camera.width, camera.height, frame.width, frame.height
            );
            return unplace_all(groundings, &reason, DepthStatus::Unusable);
        }
        let rays = match &self.rays {
            Some(r) if r.serves(&camera, frame.width, frame.height) => r.clone(),
            _ => {
                tracing::debug!(width = frame.width, height = frame.height, "building camera rays");
                let r = Arc::new(RayTable::new(&camera, frame.width, frame.height));
                self.rays = Some(r.clone());
                r
            }
        };
        for g in groundings.iter_mut() {
            g.location = if !g.found {
                Location::Unplaced("not found".into())
            } else {
                match estimate_placement(&g.mask, g.bbox, &depth, &rays, &self.cfg) {
                    Ok(p) => Location::Placed(p),
                    Err(reason) => Location::Unplaced(reason),
                }
            };
        }
        tracing::trace!(seq = frame.seq, depth_seq = depth.seq, "located");
        DepthStatus::Located
    }
}

fn unplace_all(groundings: &mut [Grounding], reason: &str, status: DepthStatus) -> DepthStatus {
    for g in groundings.iter_mut() {
        g.location = Location::Unplaced(reason.to_string());
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{bbox_of, rle_encode};
    use crate::frame::Mask;
    use crate::spatial::{CameraIntrinsics, DepthImage};
    use std::time::{Duration, SystemTime};

    fn frame(w: u32, h: u32, ms: u64) -> Frame {
        let stamp = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        Frame { seq: ms, stamp, frame_id: "cam".into(), width: w, height: h, data: vec![0; (w * h * 3) as usize] }
    }

    fn found_square(w: u32, h: u32) -> Grounding {
        let mut m = Mask { width: w, height: h, data: vec![0; (w * h) as usize] };
        for v in h / 4..h / 2 {
            for u in w / 4..w / 2 {
                m.data[(v * w + u) as usize] = 1;
            }
        }
        Grounding {
            command: "box".into(),
            found: true,
            score: 0.9,
            bbox: bbox_of(&m),
            rle: rle_encode(&m),
            mask: Arc::new(m),
            description: None,
            track_id: 0,
            location: Location::NoDepthInput,
        }
    }

    fn camera() -> CameraIntrinsics {
        let k = [80.0, 0.0, 39.5, 0.0, 80.0, 29.5, 0.0, 0.0, 1.0];
        CameraIntrinsics::from_ros(80, 60, "plumb_bob", &[], k, "cam").unwrap()
    }

    fn depth(w: u32, h: u32, ms: u64, mm: u16) -> DepthImage {
        let stamp = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        DepthImage::from_millimetres(w, h, &vec![mm; (w * h) as usize], stamp, 0).unwrap()
    }

    #[test]
    fn without_depth_ids_still_run() {
        let mut locator = Locator::new(None);
        let mut gs = vec![found_square(80, 60)];
        assert_eq!(locator.locate(&frame(80, 60, 0), &mut gs), DepthStatus::NoInput);
        assert_eq!((gs[0].track_id, &gs[0].location), (1, &Location::NoDepthInput));
    }

    #[test]
    fn each_fault_is_a_reason_and_a_status() {
        let feed = DepthFeed::new(Duration::from_millis(20));
        let mut locator = Locator::new(Some(feed.clone()));
        let mut gs = vec![found_square(80, 60)];
        assert_eq!(locator.locate(&frame(80, 60, 1000), &mut gs), DepthStatus::NoInput);
        feed.push_depth(depth(80, 60, 1000, 700));
        assert_eq!(locator.locate(&frame(80, 60, 1000), &mut gs), DepthStatus::NoCamera);
        assert_eq!(gs[0].location, Location::Unplaced("no camera_info received".into()));
        feed.set_camera(camera());
        assert_eq!(locator.locate(&frame(80, 60, 1500), &mut gs), DepthStatus::Unmatched);
        assert!(matches!(&gs[0].location, Location::Unplaced(r) if r.contains("no depth within 20 ms")));
        feed.push_depth(depth(80, 40, 2000, 700));
        assert_eq!(locator.locate(&frame(80, 60, 2000), &mut gs), DepthStatus::Unusable);
    }

    #[test]
    fn places_with_depth_of_another_resolution() {
        let feed = DepthFeed::new(Duration::from_millis(20));
        feed.set_camera(camera());
        feed.push_depth(depth(40, 30, 1000, 700));
        let mut locator = Locator::new(Some(feed));
        let mut gs = vec![found_square(80, 60)];
        assert_eq!(locator.locate(&frame(80, 60, 1010), &mut gs), DepthStatus::Located);
        let p = gs[0].location.placement().copied().unwrap();
        assert!((p.centroid[2] - 0.7).abs() < 1e-6 && p.depth_pixels == 20 * 15, "{p:?}");
    }
}
