//! Segmenting a frame as the node publishes it: the first pass (one vision pass, every command in one text
//! call), then what the policy enables for the found objects — the closer segmentation (refine.rs), then the
//! closer check against the command (confirm.rs), each one batched pass over every crop of the frame. A failed
//! first pass is the frame's error; a failed extra pass
//! leaves that object as the first pass had it (counted, logged once: the module doc of `grounding`).

use std::sync::atomic::Ordering;

use super::{Confirmation, Grounder};
use crate::frame::{Frame, VisualPrompt};
use crate::inference::{ImageState, InferenceError, SegmentOutput, SegmentTimings};

/// A frame's answer: one result per command, in order, and what the extra passes did.
#[derive(Debug, Clone)]
pub struct FrameSegments {
    pub segments: Vec<SegmentOutput>,
    /// Per command: the closer segmentation's crop, None where none ran.
    pub refined: Vec<Option<[u32; 4]>>,
    /// Per command: the closer check, None where none ran.
    pub checks: Vec<Option<Confirmation>>,
    /// The first pass's text and mask-head timings.
    pub timings: SegmentTimings,
}

impl Grounder {
    /// The node's answer for `commands` on `frame`: one vision pass, then [`Grounder::segment_encoded`].
    pub fn segment_frame(&self, frame: &Frame, commands: &[String]) -> Result<FrameSegments, InferenceError> {
        let state = self.encode(frame, None)?;
        self.segment_encoded(frame, &state, commands)
    }

    /// [`Grounder::segment_frame`] on a frame whose first vision pass `state` has run already (callers that
    /// reuse one encoding for several queries, as `eval` does).
    pub fn segment_encoded(
        &self,
        frame: &Frame,
        state: &ImageState,
        commands: &[String],
    ) -> Result<FrameSegments, InferenceError> {
        let (segments, timings) = self.engine.segment_timed(state, commands)?;
        Ok(self.extra_passes(frame, commands, segments, timings))
    }

    /// [`Grounder::segment_frame`] on several frames (one per camera) with their own commands: one vision
    /// pass over all the frames, one text pass over all their commands, then each frame's extra passes. An
    /// error of the shared passes is every frame's; the caller may retry frame by frame.
    pub fn segment_frames(&self, items: &[(&Frame, &[String])]) -> Result<Vec<FrameSegments>, InferenceError> {
        let images: Vec<(&Frame, Option<&VisualPrompt>)> = items.iter().map(|(f, _)| (*f, None)).collect();
        self.vision_passes.fetch_add(images.len() as u64, Ordering::Relaxed);
        let states = self.engine.encode_batch(&images)?;
        let asked: Vec<(&ImageState, &[String])> = states.iter().zip(items).map(|(s, (_, c))| (s, *c)).collect();
        let answers = self.engine.segment_many(&asked)?;
        if items.len() == 1 {
            let ((frame, commands), (segments, timings)) = (items[0], answers.into_iter().next().unwrap_or_default());
            return Ok(vec![self.extra_passes(frame, commands, segments, timings)]);
        }
        // Each frame's extra passes on its own thread: their model calls take turns on the sessions, and each
        // frame's crops and masks are prepared while another frame's call runs, so neither core waits.
        Ok(std::thread::scope(|scope| {
            let running: Vec<_> = items
                .iter()
                .zip(answers)
                .map(|((frame, commands), (segments, timings))| {
                    scope.spawn(move || self.extra_passes(frame, commands, segments, timings))
                })
                .collect();
            running.into_iter().filter_map(|t| t.join().ok()).collect()
        }))
    }

    /// The policy's passes after the first: the closer segmentation, then the closer check (the failure rule).
    fn extra_passes(
        &self,
        frame: &Frame,
        commands: &[String],
        mut segments: Vec<SegmentOutput>,
        timings: SegmentTimings,
    ) -> FrameSegments {
        let refined = self.refine_masks(frame, &mut segments).unwrap_or_else(|e| {
            self.extra_failed(frame.seq, "the closer segmentation", &e);
            vec![None; segments.len()]
        });
        let checks = self.confirm_found(frame, commands, &mut segments).unwrap_or_else(|e| {
            self.extra_failed(frame.seq, "the closer check", &e);
            vec![None; segments.len()]
        });
        FrameSegments { segments, refined, checks, timings }
    }
}
