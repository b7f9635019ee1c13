//! [`FrameModel`] for the real model: a thin adapter over the [`Grounder`]'s three operations.

use std::sync::Arc;

use super::model::{FrameModel, ModelError, Segment};
use crate::config::EngineConfig;
use crate::frame::{Frame, Mask, VisualPrompt};
use crate::grounding::{Grounder, GroundingError, ObjectJob};
use crate::inference::{Engine, SegmentOutput};

/// Cheap to clone: clones share one [`Grounder`] (its sessions run with `&self`), so a benchmark
/// can drive the same sessions from a bare loop and from the pipeline.
#[derive(Clone)]
pub struct EngineModel {
    grounder: Arc<Grounder>,
}

fn segment(s: SegmentOutput) -> Segment {
    Segment { found: s.found, score: s.score, bbox: s.bbox, mask: s.mask, rle: s.rle }
}

impl EngineModel {
    /// Loads the model and its policy (the startup faults of DESIGN.md §7 come back from here).
    pub fn load(cfg: &EngineConfig) -> Result<Self, GroundingError> {
        Grounder::load(cfg).map(Self::new)
    }

    /// [`EngineModel::load`], telling `status` what each step is doing (see [`crate::inference::LoadStep`]).
    pub fn load_reporting(cfg: &EngineConfig, status: &dyn Fn(String)) -> Result<Self, GroundingError> {
        Grounder::load_reporting(cfg, &mut |step| status(step.to_string())).map(Self::new)
    }

    pub fn new(grounder: Grounder) -> Self {
        Self { grounder: Arc::new(grounder) }
    }

    pub fn grounder(&self) -> &Grounder {
        &self.grounder
    }

    pub fn engine(&self) -> &Engine {
        self.grounder.engine()
    }

    /// "model dir on provider, policy …", for logs and diagnostics.
    pub fn describe(&self) -> String {
        let engine = self.engine();
        format!(
            "{} on {}, policy {}",
            engine.model_dir().display(),
            engine.provider(),
            self.grounder.policy().summary()
        )
    }
}

impl FrameModel for EngineModel {
    type Describing = ObjectJob;

    fn segment(&mut self, frame: &Frame, commands: &[String]) -> Result<Vec<Segment>, ModelError> {
        let out = self.grounder.segment_frame(frame, commands)?;
        Ok(out.segments.into_iter().map(segment).collect())
    }

    fn segment_frames(&mut self, items: &[(&Frame, &[String])]) -> Result<Vec<Vec<Segment>>, ModelError> {
        let out = self.grounder.segment_frames(items)?;
        Ok(out.into_iter().map(|f| f.segments.into_iter().map(segment).collect()).collect())
    }

    fn max_frames_per_call(&self) -> usize {
        self.engine().vision_batch_limit()
    }

    fn start_describe(
        &mut self,
        frame: &Frame,
        _command: &str,
        mask: &Arc<Mask>,
        max_tokens: usize,
    ) -> Result<ObjectJob, ModelError> {
        Ok(self.grounder.start_describe_object(frame, mask, max_tokens)?)
    }

    fn step_describe(&mut self, job: &mut ObjectJob) -> Result<Option<String>, ModelError> {
        Ok(self.grounder.step_describe_object(job)?)
    }

    fn describe_region(
        &mut self,
        frame: &Frame,
        prompt: &VisualPrompt,
        max_tokens: usize,
    ) -> Result<(String, Segment), ModelError> {
        let answer = self.grounder.describe_region(frame, prompt, max_tokens)?;
        Ok((answer.text, segment(answer.segment)))
    }

    fn unknown_words(&self, command: &str) -> Vec<String> {
        self.engine().unknown_words(command)
    }

    fn label(&self) -> String {
        self.describe()
    }
}
