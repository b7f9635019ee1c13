//! [`FrameModel`] for the real ONNX Runtime engine: a thin adapter over [`Engine`]'s
//! encode / segment / start_describe + step_describe / describe_region.

use std::sync::Arc;

use super::model::{FrameModel, ModelError, Segment};
use crate::config::EngineConfig;
use crate::frame::{Frame, Mask, VisualPrompt};
use crate::inference::{DescribeJob, Described, Engine, ImageState, InferenceError, SegmentOutput};

/// Cheap to clone: clones share one [`Engine`] (its sessions run with `&self`), so a benchmark
/// can drive the same sessions from a bare loop and from the pipeline.
#[derive(Clone)]
pub struct EngineModel {
    engine: Arc<Engine>,
}

fn model_err(e: InferenceError) -> ModelError {
    ModelError(e.to_string())
}

fn segment(s: SegmentOutput) -> Segment {
    Segment { found: s.found, score: s.score, bbox: s.bbox, mask: s.mask, rle: s.rle }
}

impl EngineModel {
    /// Loads the model (the startup faults of DESIGN.md §7 come back from here).
    pub fn load(cfg: &EngineConfig) -> Result<Self, InferenceError> {
        Engine::load(cfg).map(Self::new)
    }

    /// [`EngineModel::load`], telling `status` what each step is doing (see [`crate::inference::LoadStep`]).
    pub fn load_reporting(cfg: &EngineConfig, status: &dyn Fn(String)) -> Result<Self, InferenceError> {
        Engine::load_reporting(cfg, &mut |step| status(step.to_string())).map(Self::new)
    }

    pub fn new(engine: Engine) -> Self {
        Self { engine: Arc::new(engine) }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// "model dir on provider", for logs and diagnostics.
    pub fn describe(&self) -> String {
        format!("{} on {}", self.engine.model_dir().display(), self.engine.provider())
    }
}

impl FrameModel for EngineModel {
    type Image = ImageState;
    type Describing = DescribeJob;

    fn encode(&mut self, frame: &Frame, prompt: Option<&VisualPrompt>) -> Result<ImageState, ModelError> {
        self.engine.encode(frame, prompt).map_err(model_err)
    }

    fn segment(&mut self, frame: &Frame, image: &ImageState, commands: &[String]) -> Result<Vec<Segment>, ModelError> {
        let mut out = self.engine.segment(image, commands).map_err(model_err)?;
        // a failed second segmentation costs the sharper masks, not the frame
        if let Err(e) = self.engine.refine_masks(frame, &mut out) {
            tracing::warn!(seq = frame.seq, "mask refinement failed, publishing the first pass's masks: {e}");
        }
        // an unchecked find is what the node published before the check existed: publish it, say why
        if let Err(e) = self.engine.confirm_found(frame, commands, &mut out) {
            tracing::warn!(seq = frame.seq, "the closer check of found objects failed, publishing them unchecked: {e}");
        }
        Ok(out.into_iter().map(segment).collect())
    }

    fn start_describe(
        &mut self,
        frame: &Frame,
        _command: &str,
        mask: &Arc<Mask>,
        max_tokens: usize,
    ) -> Result<DescribeJob, ModelError> {
        self.engine.start_describe_object(frame, mask, max_tokens).map_err(model_err)
    }

    fn step_describe(&mut self, job: &mut DescribeJob) -> Result<Option<String>, ModelError> {
        Ok(self.engine.step_describe(job).map_err(model_err)?.map(|mut texts| texts.pop().unwrap_or_default()))
    }

    fn describe_region(
        &mut self,
        frame: &Frame,
        prompt: &VisualPrompt,
        max_tokens: usize,
    ) -> Result<(String, Segment), ModelError> {
        let answer = self.engine.describe_region_on(frame, prompt, max_tokens).map_err(model_err)?;
        Ok((answer.text, segment(answer.segment)))
    }

    fn unknown_words(&self, command: &str) -> Vec<String> {
        self.engine.unknown_words(command)
    }

    fn word_object(
        &mut self,
        frame: &Frame,
        mask: &Mask,
        first: &str,
        pass: Option<&DescribeJob>,
        max_tokens: usize,
    ) -> Result<Option<String>, ModelError> {
        let first = match pass {
            Some(job) => self.engine.described(job, 0).map_err(model_err)?,
            None => Described { text: first.to_string(), ..Described::default() },
        };
        Ok(Some(self.engine.word_object(frame, mask, &first, max_tokens).map_err(model_err)?.0))
    }

    fn label(&self) -> String {
        self.describe()
    }
}
