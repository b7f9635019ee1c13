//! What the inference worker needs from a model, as a small trait: the real [`crate::inference::Engine`]
//! implements it (see `engine_model.rs`), and tests plug in deliberately slow fakes to exercise the
//! newest-frame and description policies without ONNX Runtime.

use std::sync::Arc;

use crate::frame::{Frame, Mask, Rle, VisualPrompt};

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
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(pub String);

/// The model as the worker drives it. All calls come from the one worker thread.
///
/// A found object's description is split into `start_describe` + repeated `step_describe` so the worker
/// can interleave it with mask frames: each call should take about one vision pass or one decoding step,
/// and the worker runs at most one between two frames (beyond its time share).
pub trait FrameModel: Send {
    /// The image pass's result (KV cache and feature map), reused by every command on the frame.
    type Image: Send;
    /// An in-progress description.
    type Describing: Send;

    /// One vision pass over the frame, optionally with a visual prompt painted in.
    fn encode(&mut self, frame: &Frame, prompt: Option<&VisualPrompt>) -> Result<Self::Image, ModelError>;

    /// Masks for every command (same order) on `frame`, whose vision pass `image` is (the real model segments
    /// found objects again on a crop of `frame`, model.json `mask_refine`).
    fn segment(&mut self, frame: &Frame, image: &Self::Image, commands: &[String]) -> Result<Vec<Segment>, ModelError>;

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

    /// Advances a description; `Some(text)` when it is finished.
    fn step_describe(&mut self, job: &mut Self::Describing) -> Result<Option<String>, ModelError>;

    /// "What is this?" for a visual prompt on a frame: the description and the prompted object's mask (the
    /// model runs its own vision passes: one with the prompt painted in, maybe a closer one).
    fn describe_region(
        &mut self,
        frame: &Frame,
        prompt: &VisualPrompt,
        max_tokens: usize,
    ) -> Result<(String, Segment), ModelError>;

    /// The words to publish for an object whose first pass `pass` (None when it is gone) described it as
    /// `first` and whose mask on `frame` is `mask`: the real model takes a closer second look at a small one
    /// (the region zoom) and settles words across the looks and the mask (model.json `wording`). None: keep
    /// `first`, as a model without any of that does.
    fn word_object(
        &mut self,
        _frame: &Frame,
        _mask: &Mask,
        _first: &str,
        _pass: Option<&Self::Describing>,
        _max_tokens: usize,
    ) -> Result<Option<String>, ModelError> {
        Ok(None)
    }

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
