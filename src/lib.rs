//! pixel-sail: Pixel-SAIL referring segmentation and region description over ONNX Runtime.
//!
//! The model is [`inference::Engine`]: one vision pass per frame ([`inference::Engine::encode`]), then every
//! command batched through the text graph ([`inference::Engine::segment`], [`inference::Engine::describe`]).
//! What the node does around it (closer passes, checks, wording) is [`grounding::Grounder`]'s policy, the one
//! seam every caller goes through. Stages are plain synchronous objects; `app` wires them together, `link`
//! is what the pipeline and its front ends (`ros`, the sinks) share, and `config` resolves the run's settings
//! once. README's "Architecture" section draws the layers and which may import which.

pub mod app;
pub mod capture;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod decode;
pub mod frame;
pub mod grounding;
pub mod inference;
pub mod install;
pub mod link;
pub mod preprocess;
pub mod ros;
pub mod sink;
pub mod spatial;
pub mod telemetry;
