//! What the inference worker needs from a model, as a small trait: the real model is the
//! [`crate::grounding::Grounder`] (see `engine_model.rs`), and tests plug in deliberately slow fakes to exercise
//! the newest-frame and description policies without ONNX Runtime. Its operations are the grounding seam's
//! three: segment a frame, describe a found object (a resumable job), describe a region.

use std::sync::Arc;

use crate::frame::{Frame, Mask, Rle, VisualPrompt};
use crate::grounding::GroundingError;
use crate::inference::InferenceError;

/// One command's answer on one frame.
#[derive(Debug, Clone)]
pub struct Segment {
    pub found: bool,
    pub score: f32,
    pub bbox: Option<[u32; 4]>,
    pub mask: Arc<Mask>,
    pub rle: Rle,
}

/// A model failure on one frame or request; the worker counts it and goes on.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Inference(#[from] InferenceError),
    #[error(transparent)]
    Grounding(#[from] GroundingError),
    #[error("the model returned {masks} masks for {commands} commands")]
    MaskCount { masks: usize, commands: usize },
    /// A model outside this crate (a test's fake) that failed, in its words.
    #[error("{0}")]
    Other(String),
}

/// The model as the worker drives it. All calls come from the one worker thread.
///
/// A found object's description is split into `start_describe` + repeated `step_describe` so the worker
/// can interleave it with mask frames: each call should take about one vision pass or one decoding step,
/// and the worker runs at most one between two frames (beyond its time share).
pub trait FrameModel: Send {
    /// An in-progress description.
    type Describing: Send;

    /// Masks for every command (same order) on `frame`, as the node publishes them: the first pass, then
    /// whatever the policy runs around it (the real model's extra passes keep the first pass's answer when they
    /// fail; only a failed first pass is an error).
    fn segment(&mut self, frame: &Frame, commands: &[String]) -> Result<Vec<Segment>, ModelError>;

    /// [`FrameModel::segment`] for several frames at once (one per camera), each with its commands: the real
    /// model runs one vision pass over all the frames and one text pass over all their commands. An error is
    /// the whole call's; the worker then asks frame by frame. The default asks frame by frame.
    fn segment_frames(&mut self, items: &[(&Frame, &[String])]) -> Result<Vec<Vec<Segment>>, ModelError> {
        items.iter().map(|(frame, commands)| self.segment(frame, commands)).collect()
    }

    /// The most frames [`FrameModel::segment_frames`] takes in one call.
    fn max_frames_per_call(&self) -> usize {
        1
    }

    /// Begins describing the object `command` found on `frame`, whose mask is `mask`: the real model describes
    /// what the mask covers (a vision pass with it as the visual prompt), so the words and the published
    /// mask are about the same object.
    fn start_describe(
        &mut self,
        frame: &Frame,
        command: &str,
        mask: &Arc<Mask>,
        max_tokens: usize,
    ) -> Result<Self::Describing, ModelError>;

    /// Advances a description by one step (a decoding step, or the closer look at a small object);
    /// `Some(text)` when it is finished.
    fn step_describe(&mut self, job: &mut Self::Describing) -> Result<Option<String>, ModelError>;

    /// "What is this?" for a visual prompt on a frame: the description and the prompted object's mask (the
    /// model runs its own vision passes: one with the prompt painted in, maybe a closer one).
    fn describe_region(
        &mut self,
        frame: &Frame,
        prompt: &VisualPrompt,
        max_tokens: usize,
    ) -> Result<(String, Segment), ModelError>;

    /// Words of `command` the model's vocabulary does not have (reported to the user, never silently read
    /// as "unknown"); a model without a closed vocabulary knows every word.
    fn unknown_words(&self, _command: &str) -> Vec<String> {
        Vec::new()
    }

    /// Execution provider / model name, for diagnostics.
    fn label(&self) -> String {
        String::from("model")
    }
}
