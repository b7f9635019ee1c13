//! The description of an object a command found, as the node makes it: the command's mask becomes the
//! visual prompt of one more vision pass over the frame, the model describes `<vp_1>`, and a small object
//! gets the closer look (zoom.rs). Describing from the command's words instead (`Engine::describe`) let the
//! words and the published mask be about different objects whenever the two passes read the command
//! differently; on the validation split that was most of the named descriptions' place errors
//! (models/README.md, "Named objects: describe what the mask shows").
//!
//! ```text
//! engine.describe_object_on(&frame, &mask, n)   the whole answer, with the closer look
//! engine.start_describe_object(&frame, &mask, n) + engine.step_describe(&mut job)   the same first pass, a
//!                                                decoding step per call (the worker's gaps)
//! ```

use std::sync::Arc;

use super::zoom::CloseLook;
use super::{DescribeJob, Engine, InferenceError};
use crate::frame::{Frame, Mask, VisualPrompt};

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

impl Engine {
    /// Starts describing the object whose mask on `frame` is `mask`: the vision pass with the mask painted in
    /// and the prefill. Drive it with [`Engine::step_describe`]; its one row is the description.
    pub fn start_describe_object(
        &self,
        frame: &Frame,
        mask: &Arc<Mask>,
        max_tokens: usize,
    ) -> Result<DescribeJob, InferenceError> {
        let state = self.encode(frame, Some(&VisualPrompt::Mask(mask.clone())))?;
        let prompt = self.tokenizer.prompt(&self.info.templates.describe_vp, "", &[])?.ids;
        self.start_generate(&state, &[prompt], max_tokens)
    }

    /// The object's description in one call: the first pass, then [`Engine::word_object_or_first`] at the same
    /// mask.
    pub fn describe_object_on(
        &self,
        frame: &Frame,
        mask: &Arc<Mask>,
        max_tokens: usize,
    ) -> Result<ObjectAnswer, InferenceError> {
        let state = self.encode(frame, Some(&VisualPrompt::Mask(mask.clone())))?;
        let first = self.describe_visual_prompt(&state, max_tokens)?;
        let (text, close_look) = self.word_object_or_first(frame, mask, &first, max_tokens);
        Ok(ObjectAnswer { text, ids: first.ids, close_look })
    }
}
