//! A found object checked against the command by a closer look (model.json `confirm_found`; Python
//! `Reference.confirm`, step for step). At 320×240 a small object covers one or two patches and the model
//! tells a star from a cross poorly, so "the star" sometimes grounds on a cross; on a crop that makes the
//! object a large one it names shapes far better. Every check of a frame runs in one batched vision call. The crop is encoded with the mask as the visual prompt, the
//! description is decoded up to its colour and shape words (the vocabulary's template says which), and where
//! the command names a colour or a shape, the closer look's word must not beat it by more than
//! `min_log_odds`: otherwise the object is not the one asked for and the node answers "not found". Finds
//! scored at least `max_score` are not checked: the first pass is rarely wrong when that sure.

use std::sync::Arc;

use super::Grounder;
use super::crop::{crop_around, crop_frame, crop_mask};
use crate::decode::{bbox_of, rle_encode};
use crate::frame::{Frame, Mask, VisualPrompt};
use crate::inference::{Described, InferenceError, SegmentOutput};

/// What the closer look said about a found object, against the command.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// The crop `[x0, y0, x1, y1)` it looked at, in frame pixels.
    pub rect: [u32; 4],
    /// Its first words, e.g. "a large red cross".
    pub text: String,
    /// Per word the command names (colour, then shape): how many log-odds the closer look's own word beats it
    /// by (0 when they are the same word).
    pub against: Vec<(String, f32)>,
}

impl Confirmation {
    /// The closer look contradicts the command: one of its words beats the command's by more than `min_log_odds`.
    pub fn contradicts(&self, min_log_odds: f32) -> bool {
        self.against.iter().any(|(_, v)| *v > min_log_odds)
    }
}

impl Grounder {
    /// Checks every found object in `segments` (masks of `frame`, one per command) that the first pass scored
    /// below `confirm_found.max_score` with [`Grounder::confirm`], every crop in one batched vision call and
    /// every look decoded in one batch; one the closer look contradicts becomes not found (empty mask, no box;
    /// the score stays the first pass's). Returns each check, None where none ran.
    pub fn confirm_found(
        &self,
        frame: &Frame,
        commands: &[String],
        segments: &mut [SegmentOutput],
    ) -> Result<Vec<Option<Confirmation>>, InferenceError> {
        let mut out = vec![None; segments.len()];
        let Some(params) = self.policy.confirm_found else { return Ok(out) };
        // a find the first pass is sure of is not checked (confirm_found.max_score)
        let due: Vec<usize> =
            (0..segments.len()).filter(|&i| segments[i].found && segments[i].score < params.max_score).collect();
        let masks: Vec<&Mask> = due.iter().map(|&i| segments[i].mask.as_ref()).collect();
        let commands_due: Vec<&str> = due.iter().map(|&i| commands.get(i).map_or("", String::as_str)).collect();
        let checks = self.confirm_batch(frame, &masks, &commands_due)?;
        for (i, check) in due.into_iter().zip(checks) {
            if check.as_ref().is_some_and(|c| c.contradicts(params.min_log_odds)) {
                let seg = &mut segments[i];
                let empty = Mask { width: seg.mask.width, height: seg.mask.height, data: vec![0; seg.mask.data.len()] };
                seg.found = false;
                seg.bbox = bbox_of(&empty);
                seg.rle = rle_encode(&empty);
                seg.mask = Arc::new(empty);
            }
            out[i] = check;
        }
        Ok(out)
    }

    /// [`Grounder::confirm`] for several objects of one frame: every crop in one batched vision call and every
    /// closer look decoded in one batch.
    pub fn confirm_batch(
        &self,
        frame: &Frame,
        masks: &[&Mask],
        commands: &[&str],
    ) -> Result<Vec<Option<Confirmation>>, InferenceError> {
        let mut out = vec![None; masks.len()];
        let (Some(_), Some(vocab), Some(zoom)) =
            (self.policy.confirm_found, self.policy.vocabulary.as_ref(), self.policy.region_zoom)
        else {
            return Ok(out);
        };
        let mut due = Vec::new();
        for (i, (mask, command)) in masks.iter().zip(commands).enumerate() {
            let (colour, shape) = vocab.stated(command);
            if colour.is_none() && shape.is_none() {
                continue;
            }
            let Some((piece, rect)) = crop_around(mask, frame, &zoom) else { continue };
            let prompt = VisualPrompt::Mask(Arc::new(crop_mask(&piece, rect)));
            due.push((i, rect, crop_frame(frame, rect), prompt, colour, shape));
        }
        if due.is_empty() {
            return Ok(out);
        }
        let images: Vec<_> = due.iter().map(|(_, _, crop, prompt, _, _)| (crop, Some(prompt))).collect();
        let states = self.encode_crops(&images)?;
        let words = vocab.attribute_words();
        let looks = self.engine.describe_visual_prompts(&states, words)?;
        for ((i, rect, _, _, colour, shape), look) in due.into_iter().zip(looks) {
            out[i] = self.weigh(rect, look, colour, shape);
        }
        Ok(out)
    }

    /// The closer look at a found object against `command`. None when the policy has no `confirm_found`, the
    /// command names neither a colour nor a shape, the object is already large (no crop), or the look ended
    /// before its colour and shape words.
    pub fn confirm(&self, frame: &Frame, mask: &Mask, command: &str) -> Result<Option<Confirmation>, InferenceError> {
        Ok(self.confirm_batch(frame, &[mask], &[command])?.pop().flatten())
    }

    /// The closer look's words against the command's colour and shape; None when it ended before them.
    fn weigh(
        &self,
        rect: [u32; 4],
        look: Described,
        colour: Option<&str>,
        shape: Option<&str>,
    ) -> Option<Confirmation> {
        let vocab = self.policy.vocabulary.as_ref()?;
        if look.ids.len() < vocab.attribute_words() {
            return None;
        }
        let mut against = Vec::new();
        for (step, word) in [(vocab.colour_step(), colour), (vocab.shape_step(), shape)] {
            let (Some(word), Some(row)) = (word, look.logits.get(step)) else { continue };
            let Some(id) =
                self.engine.token_id(word).and_then(|id| usize::try_from(id).ok()).filter(|&id| id < row.len())
            else {
                continue;
            };
            let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            against.push((word.to_string(), best - row[id]));
        }
        Some(Confirmation { rect, text: look.text, against })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_surer_word_overrules_the_command() {
        let look = |against: Vec<(&str, f32)>| Confirmation {
            rect: [0, 0, 4, 3],
            text: "a small red cross".into(),
            against: against.into_iter().map(|(w, v)| (w.to_string(), v)).collect(),
        };
        assert!(look(vec![("red", 0.0), ("star", 2.5)]).contradicts(2.0));
        assert!(!look(vec![("red", 0.0), ("star", 1.9)]).contradicts(2.0), "a close call keeps the command's object");
        assert!(look(vec![("blue", 3.0)]).contradicts(2.0));
        assert!(!look(vec![]).contradicts(0.0), "nothing stated, nothing contradicted");
    }
}
