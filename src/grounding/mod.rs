//! Grounding: what the node does with the model to answer a command, between the engine (`crate::inference`:
//! load, encode, segment, generate) and its callers (the worker, `infer`, `eval`, `bench`, the ROS services).
//!
//! A [`Grounder`] owns the [`Engine`] and a [`Policy`] read from model.json, and offers the three operations
//! every caller uses, so the order of passes and the failure rule live in one place:
//!
//! ```text
//! grounder.segment_frame(&frame, &commands)          first pass, then the policy's closer segmentation and check
//! grounder.start_describe_object(&frame, &mask, n)    a found object's description, a resumable job:
//!   + grounder.step_describe_object(&mut job)         one decoding step or the closer look per call
//! grounder.describe_region(&frame, &prompt, n)        "what is this?" for a visual prompt
//! ```
//!
//! The failure rule: a failed first pass is the frame's (or the request's) error; a failed extra pass keeps
//! what the first pass said for that object, is counted ([`Grounder::extra_pass_failures`]) and logged once.

mod confirm;
pub mod crop;
mod objects;
mod policy;
mod refine;
mod segment;
pub mod vocabulary;
mod wording;
mod zoom;

pub use crate::config::PolicyKind;
pub use confirm::Confirmation;
pub use crop::{crop_around, crop_frame, crop_mask, crop_rect, largest_component};
pub use objects::{ObjectAnswer, ObjectJob};
pub use policy::Policy;
pub use segment::FrameSegments;
pub use vocabulary::{Attributes, Vocabulary};
pub use wording::{joint_shape, place_of_mask, shape_scores};
pub use zoom::{CloseLook, RegionAnswer};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::config::EngineConfig;
use crate::frame::{Frame, VisualPrompt};
use crate::inference::{Engine, ImageState, InferenceError, LoadStep, ModelInfo};

#[derive(Debug, thiserror::Error)]
pub enum GroundingError {
    #[error(transparent)]
    Inference(#[from] InferenceError),
    #[error("bad model.json {path}: {reason}", path = path.display())]
    Vocabulary { path: std::path::PathBuf, reason: String },
}

/// The engine and the policy around it; `Send + Sync` (share it with an `Arc`). See the module doc.
pub struct Grounder {
    engine: Engine,
    policy: Policy,
    vision_passes: AtomicU64,
    extra_failures: AtomicU64,
    failure_logged: AtomicBool,
}

impl Grounder {
    /// Loads the engine and reads the policy from its model.json (`cfg.policy`, `cfg.mask_refine`,
    /// `cfg.confirm_found` choose the parts).
    pub fn load(cfg: &EngineConfig) -> Result<Grounder, GroundingError> {
        Self::load_reporting(cfg, &mut |_| {})
    }

    /// [`Grounder::load`], telling `progress` before each graph's session is created.
    pub fn load_reporting(cfg: &EngineConfig, progress: &mut dyn FnMut(&LoadStep)) -> Result<Grounder, GroundingError> {
        let bad = |reason| GroundingError::Vocabulary { path: cfg.model_dir.join("model.json"), reason };
        // the vocabulary is checked before any session: a bad section is a quick start-up error, not a slow one
        if let Ok(info) = ModelInfo::load(&cfg.model_dir) {
            Policy::from_model(&info, cfg).map_err(bad)?;
        }
        let engine = Engine::load_reporting(cfg, progress)?;
        let policy = Policy::from_model(engine.model_info(), cfg).map_err(bad)?;
        policy.announce(cfg.policy);
        Ok(Self::new(engine, policy))
    }

    pub fn new(engine: Engine, policy: Policy) -> Grounder {
        Grounder {
            engine,
            policy,
            vision_passes: AtomicU64::new(0),
            extra_failures: AtomicU64::new(0),
            failure_logged: AtomicBool::new(false),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Vision passes run so far (first passes and closer ones).
    pub fn vision_passes(&self) -> u64 {
        self.vision_passes.load(Ordering::Relaxed)
    }

    /// Extra passes that failed (their objects kept the first pass's answer).
    pub fn extra_pass_failures(&self) -> u64 {
        self.extra_failures.load(Ordering::Relaxed)
    }

    /// One vision pass, counted.
    pub fn encode(&self, frame: &Frame, prompt: Option<&VisualPrompt>) -> Result<ImageState, InferenceError> {
        self.vision_passes.fetch_add(1, Ordering::Relaxed);
        self.engine.encode(frame, prompt)
    }

    /// The extra passes' crops (each with its visual prompt) in batched vision calls, each crop counted.
    pub(crate) fn encode_crops(
        &self,
        images: &[(&Frame, Option<&VisualPrompt>)],
    ) -> Result<Vec<ImageState>, InferenceError> {
        self.vision_passes.fetch_add(images.len() as u64, Ordering::Relaxed);
        self.engine.encode_crops(images)
    }

    /// The failure rule's second half: `pass` failed after the first pass had answered; count it, log the first.
    fn extra_failed(&self, seq: u64, pass: &str, e: &InferenceError) {
        let total = self.extra_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.failure_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                seq,
                "{pass} failed, keeping the first pass's answer (further failures are counted, not logged): {e}"
            );
        } else {
            tracing::debug!(seq, total, "{pass} failed, keeping the first pass's answer: {e}");
        }
    }
}
