//! A second, closer look at small described objects, clicked or named (Python: `models/pixel_sail/zoom.py`).
//!
//! The model sees a 640×480 frame at 320×240, so a small object covers one or two 16-px patches and its
//! shape is half-guessed. The object's mask says where to look: crop the frame around it (crop.rs), encode the
//! crop with the mask as the visual prompt, and take the object's colour and shape from that pass. Size and
//! place are relative to the whole frame, so they stay the first pass's words. The numbers are model.json's
//! `region_zoom`; without it, or under policy `model`, there is one pass.

use std::sync::Arc;

use super::Grounder;
use super::crop::{crop_around, crop_frame, crop_mask};
use super::wording::{joint_shape, shape_scores};
use crate::frame::{Frame, Mask, VisualPrompt};
use crate::inference::{Described, InferenceError, SegmentOutput};

/// The second pass, when one ran: where it looked and what it said.
#[derive(Debug, Clone)]
pub struct CloseLook {
    pub rect: [u32; 4],
    pub text: String,
    pub ids: Vec<i64>,
    /// With model.json `wording.joint_shape`: both looks' summed log-probabilities per shape word (wording.rs).
    pub shape_scores: Option<Vec<f64>>,
}

/// The answer to "what is this?" for a visual prompt on a frame.
#[derive(Debug, Clone)]
pub struct RegionAnswer {
    /// The description the node publishes (the merged one when a close look ran and both passes parse).
    pub text: String,
    /// The first pass's generated token ids.
    pub ids: Vec<i64>,
    /// The prompted object's mask on the whole frame.
    pub segment: SegmentOutput,
    pub close_look: Option<CloseLook>,
}

impl Grounder {
    /// Describe and segment what `prompt` points at on `frame`: one vision pass with the prompt painted in,
    /// then [`Grounder::word_object_or_first`] at the mask it found. A failed first pass is the request's error.
    pub fn describe_region(
        &self,
        frame: &Frame,
        prompt: &VisualPrompt,
        max_tokens: usize,
    ) -> Result<RegionAnswer, InferenceError> {
        let state = self.encode(frame, Some(prompt))?;
        let (first, segment) = self.engine.describe_region_tokens(&state, max_tokens)?;
        let mut answer = RegionAnswer { text: first.text.clone(), ids: first.ids.clone(), segment, close_look: None };
        if !answer.segment.found {
            return Ok(answer);
        }
        (answer.text, answer.close_look) = self.word_object_or_first(frame, &answer.segment.mask, &first, max_tokens);
        Ok(answer)
    }

    /// The second, closer pass for an object described as `first` whose mask on `frame` is `mask`: when the
    /// policy has `region_zoom` and the mask's main piece is small, encode a crop around that piece with it as
    /// the visual prompt and return the description with that pass's colour and shape — the shape both passes
    /// are surer of with `wording.joint_shape` — (`first` when either text is not a description) and where it
    /// looked. None: no second pass was due.
    pub fn look_closer(
        &self,
        frame: &Frame,
        mask: &Mask,
        first: &Described,
        max_tokens: usize,
    ) -> Result<Option<(String, CloseLook)>, InferenceError> {
        let (Some(zoom), Some(vocab)) = (self.policy.region_zoom, self.policy.vocabulary.as_ref()) else {
            return Ok(None);
        };
        let Some((piece, rect)) = crop_around(mask, frame, &zoom) else { return Ok(None) };
        let prompt = VisualPrompt::Mask(Arc::new(crop_mask(&piece, rect)));
        let close = self.encode(&crop_frame(frame, rect), Some(&prompt))?;
        let look = self.engine.describe_visual_prompt(&close, max_tokens)?;
        let scores = if self.policy.wording.joint_shape {
            let ids: Option<Vec<i64>> = vocab.shapes().iter().map(|w| self.engine.token_id(w)).collect();
            ids.and_then(|ids| shape_scores(first, &look, &ids, vocab.shape_step()))
        } else {
            None
        };
        let shape = scores.as_deref().and_then(joint_shape).and_then(|i| vocab.shapes().get(i)).map(String::as_str);
        let merged = vocab.merge_close_look(&first.text, &look.text, shape).unwrap_or_else(|| first.text.clone());
        Ok(Some((merged, CloseLook { rect, text: look.text, ids: look.ids, shape_scores: scores })))
    }
}
