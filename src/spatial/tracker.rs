//! Object ids that persist: each command keeps its id while its new mask overlaps the one it followed
//! (IoU above a threshold), and gets a fresh id when it jumps to another object. Ids are unique within
//! the run and never 0 (0 means "not found").

use std::collections::HashMap;
use std::sync::Arc;

use crate::decode::mask_iou;
use crate::frame::{Grounding, Mask};

#[derive(Debug, Clone, PartialEq)]
pub struct TrackerConfig {
    /// Overlap with the last mask that still counts as the same object.
    pub min_iou: f32,
    /// Frames a command may miss its object and still pick the same id up again where it was.
    pub max_missed: u32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self { min_iou: 0.3, max_missed: 15 }
    }
}

struct Track {
    id: u64,
    mask: Arc<Mask>,
    bbox: [u32; 4],
    missed: u32,
}

/// Follows each command's object from frame to frame.
pub struct Tracker {
    cfg: TrackerConfig,
    tracks: HashMap<String, Track>,
    next_id: u64,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Self { cfg, tracks: HashMap::new(), next_id: 1 }
    }

    /// Sets `track_id` on every grounding of one frame (0 for those not found).
    pub fn update(&mut self, groundings: &mut [Grounding]) {
        // Commands no longer active end their tracks.
        self.tracks.retain(|command, _| groundings.iter().any(|g| &g.command == command));
        for g in groundings.iter_mut() {
            g.track_id = match (g.found, g.bbox) {
                (true, Some(bbox)) => self.follow(&g.command, &g.mask, bbox),
                _ => {
                    self.miss(&g.command);
                    0
                }
            };
        }
    }

    fn follow(&mut self, command: &str, mask: &Arc<Mask>, bbox: [u32; 4]) -> u64 {
        let min_iou = self.cfg.min_iou;
        if let Some(track) = self.tracks.get_mut(command)
            && overlaps(track, mask, bbox, min_iou)
        {
            track.mask = mask.clone();
            track.bbox = bbox;
            track.missed = 0;
            return track.id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.tracks.insert(command.to_string(), Track { id, mask: mask.clone(), bbox, missed: 0 });
        id
    }

    fn miss(&mut self, command: &str) {
        let max_missed = self.cfg.max_missed;
        if let Some(track) = self.tracks.get_mut(command) {
            track.missed += 1;
            if track.missed > max_missed {
                self.tracks.remove(command);
            }
        }
    }
}

fn overlaps(track: &Track, mask: &Mask, bbox: [u32; 4], min_iou: f32) -> bool {
    let [a0, b0, a1, b1] = track.bbox;
    let [c0, d0, c1, d1] = bbox;
    // Disjoint boxes cannot overlap: skip the pixel count.
    if a1 <= c0 || c1 <= a0 || b1 <= d0 || d1 <= b0 {
        return false;
    }
    match mask_iou(&track.mask, mask) {
        Some((inter, union)) if union > 0 => inter as f32 / union as f32 >= min_iou,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{bbox_of, rle_encode};
    use crate::frame::Location;

    fn square(x: u32, y: u32, side: u32) -> Mask {
        let mut m = Mask { width: 100, height: 80, data: vec![0; 8000] };
        for v in y..(y + side).min(80) {
            for u in x..(x + side).min(100) {
                m.data[(v * 100 + u) as usize] = 1;
            }
        }
        m
    }

    fn grounding(command: &str, mask: Option<Mask>) -> Grounding {
        let mask = mask.unwrap_or(Mask { width: 100, height: 80, data: vec![0; 8000] });
        Grounding {
            command: command.into(),
            found: bbox_of(&mask).is_some(),
            score: 0.9,
            bbox: bbox_of(&mask),
            rle: rle_encode(&mask),
            mask: Arc::new(mask),
            description: None,
            track_id: 0,
            location: Location::NoDepthInput,
        }
    }

    fn ids(t: &mut Tracker, frame: Vec<(&str, Option<Mask>)>) -> Vec<u64> {
        let mut gs: Vec<Grounding> = frame.into_iter().map(|(c, m)| grounding(c, m)).collect();
        t.update(&mut gs);
        gs.iter().map(|g| g.track_id).collect()
    }

    #[test]
    fn keeps_ids_while_objects_move_and_changes_them_on_a_jump() {
        let mut t = Tracker::new(TrackerConfig::default());
        let first = ids(&mut t, vec![("cup", Some(square(10, 10, 20))), ("star", Some(square(60, 40, 15)))]);
        assert_eq!(first, vec![1, 2]);
        // Both drift by a few pixels a frame: same ids.
        for step in 1..10 {
            let now = ids(
                &mut t,
                vec![("cup", Some(square(10 + step * 2, 10, 20))), ("star", Some(square(60, 40 - step, 15)))],
            );
            assert_eq!(now, first);
        }
        // The cup command jumps to another object: a new id, never reused.
        assert_eq!(ids(&mut t, vec![("cup", Some(square(70, 5, 20))), ("star", Some(square(60, 31, 15)))]), vec![3, 2]);
        // Not found: 0; found again where it was within the grace period: the same id.
        assert_eq!(ids(&mut t, vec![("cup", None), ("star", Some(square(60, 31, 15)))]), vec![0, 2]);
        assert_eq!(ids(&mut t, vec![("cup", Some(square(71, 5, 20))), ("star", Some(square(60, 31, 15)))]), vec![3, 2]);
    }

    #[test]
    fn commands_that_end_free_their_tracks_and_ids_stay_unique() {
        let mut t = Tracker::new(TrackerConfig::default());
        assert_eq!(ids(&mut t, vec![("cup", Some(square(10, 10, 20)))]), vec![1]);
        assert_eq!(ids(&mut t, vec![("ball", Some(square(10, 10, 20)))]), vec![2]);
        assert_eq!(ids(&mut t, vec![("cup", Some(square(10, 10, 20)))]), vec![3]);
        let mut t = Tracker::new(TrackerConfig { min_iou: 0.3, max_missed: 1 });
        assert_eq!(ids(&mut t, vec![("cup", Some(square(10, 10, 20)))]), vec![1]);
        assert_eq!(ids(&mut t, vec![("cup", None)]), vec![0]);
        assert_eq!(ids(&mut t, vec![("cup", None)]), vec![0]);
        assert_eq!(ids(&mut t, vec![("cup", Some(square(10, 10, 20)))]), vec![2]);
    }
}
