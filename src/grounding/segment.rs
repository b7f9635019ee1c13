//! Segmenting a frame as the node publishes it: the first pass (one vision pass, every command in one text
//! call), then what the policy enables for each found object — the closer segmentation (refine.rs), then the
//! closer check against the command (confirm.rs). A failed first pass is the frame's error; a failed extra pass
//! leaves that object as the first pass had it (counted, logged once: the module doc of `grounding`).

use super::{Confirmation, Grounder};
use crate::frame::Frame;
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
        let (mut segments, timings) = self.engine.segment_timed(state, commands)?;
        let mut refined = vec![None; segments.len()];
        let mut checks = vec![None; segments.len()];
        let each = segments.iter_mut().zip(commands).zip(refined.iter_mut().zip(checks.iter_mut()));
        for ((seg, command), (rect, check)) in each.filter(|((seg, _), _)| seg.found) {
            match self.refine_mask(frame, seg) {
                Ok(r) => *rect = r,
                Err(e) => self.extra_failed(frame.seq, "the closer segmentation", &e),
            }
            match self.confirm_found(frame, command, seg) {
                Ok(c) => *check = c,
                Err(e) => self.extra_failed(frame.seq, "the closer check", &e),
            }
        }
        Ok(FrameSegments { segments, refined, checks, timings })
    }
}
