//! The description of an object a command found, as the node makes it: the command's mask becomes the
//! visual prompt of one more vision pass over the frame, the model describes `<vp_1>`, and under the published
//! policy a small object gets the closer look (zoom.rs) and the words are settled across looks (wording.rs).
//! Describing from the command's words instead let the words and the published mask be about different
//! objects whenever the two passes read the command differently.
//!
//! The worker runs it as a resumable [`ObjectJob`] between frames: the vision pass and prefill, then one call
//! per decoding step, then one call for the closer look; `describe_object` runs the same steps in one call.

use std::sync::Arc;

use super::Grounder;
use super::wording::place_of_mask;
use super::zoom::CloseLook;
use crate::config::PolicyKind;
use crate::frame::{Frame, Mask, VisualPrompt};
use crate::inference::{DescribeJob, Described, InferenceError};

/// What the node says about a found object.
#[derive(Debug, Clone)]
pub struct ObjectAnswer {
    /// The description it publishes (the closer look's colour and shape merged in when one ran, the place of the
    /// mask with model.json `wording.place_from_mask`).
    pub text: String,
    /// The first pass's generated token ids.
    pub ids: Vec<i64>,
    pub close_look: Option<CloseLook>,
}

/// A found object's description in progress (see the module doc).
pub struct ObjectJob {
    frame: Frame,
    mask: Arc<Mask>,
    max_tokens: usize,
    decoding: DescribeJob,
    /// The first pass's finished description, waiting for the closer look.
    first: Option<Described>,
}

impl Grounder {
    /// Starts describing the object whose mask on `frame` is `mask`: the vision pass with the mask painted in
    /// and the prefill. Drive it with [`Grounder::step_describe_object`].
    pub fn start_describe_object(
        &self,
        frame: &Frame,
        mask: &Arc<Mask>,
        max_tokens: usize,
    ) -> Result<ObjectJob, InferenceError> {
        let state = self.encode(frame, Some(&VisualPrompt::Mask(mask.clone())))?;
        let prompt = self.engine.tokenize("describe_vp", "")?;
        let decoding = self.engine.start_generate(&state, &[prompt], max_tokens)?;
        Ok(ObjectJob { frame: frame.clone(), mask: mask.clone(), max_tokens, decoding, first: None })
    }

    /// One step of `job`: a decoding step, or (once decoded, under the published policy) the closer look and
    /// the wording. `Some(text)` when the description is finished. A failed closer look keeps the first
    /// pass's words (the failure rule); a failed decoding step is the job's error.
    pub fn step_describe_object(&self, job: &mut ObjectJob) -> Result<Option<String>, InferenceError> {
        if let Some(first) = job.first.take() {
            return Ok(Some(self.word_object_or_first(&job.frame, &job.mask, &first, job.max_tokens).0));
        }
        if self.engine.step_describe(&mut job.decoding)?.is_none() {
            return Ok(None);
        }
        let first = self.engine.described(&job.decoding, 0)?;
        if self.policy.kind == PolicyKind::Model {
            return Ok(Some(first.text));
        }
        job.first = Some(first);
        Ok(None)
    }

    /// The object's description in one call: the same steps as the job.
    pub fn describe_object(
        &self,
        frame: &Frame,
        mask: &Arc<Mask>,
        max_tokens: usize,
    ) -> Result<ObjectAnswer, InferenceError> {
        let state = self.encode(frame, Some(&VisualPrompt::Mask(mask.clone())))?;
        let first = self.engine.describe_visual_prompt(&state, max_tokens)?;
        let (text, close_look) = self.word_object_or_first(frame, mask, &first, max_tokens);
        Ok(ObjectAnswer { text, ids: first.ids, close_look })
    }

    /// The words the node publishes for an object first described as `first` whose mask on `frame` is `mask`:
    /// the closer look's colour and shape when one is due, and with `wording.place_from_mask` the mask's own
    /// place. A failed closer pass costs the closer look (counted, logged once), not the answer, which keeps
    /// the mask's place.
    pub fn word_object_or_first(
        &self,
        frame: &Frame,
        mask: &Mask,
        first: &Described,
        max_tokens: usize,
    ) -> (String, Option<CloseLook>) {
        let (text, look) = match self.look_closer(frame, mask, first, max_tokens) {
            Ok(Some((text, look))) => (text, Some(look)),
            Ok(None) => (first.text.clone(), None),
            Err(e) => {
                self.extra_failed(frame.seq, "the closer look", &e);
                (first.text.clone(), None)
            }
        };
        (self.place_words(&text, mask), look)
    }

    /// `text` with the mask's place when the policy's `wording.place_from_mask` says so.
    fn place_words(&self, text: &str, mask: &Mask) -> String {
        let Some(vocab) = self.policy.vocabulary.as_ref().filter(|_| self.policy.wording.place_from_mask) else {
            return text.to_string();
        };
        match place_of_mask(mask, vocab) {
            Some(place) => vocab.with_place(text, place),
            None => text.to_string(),
        }
    }
}
