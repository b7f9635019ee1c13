//! The model on ONNX Runtime: library loading, sessions and their contract check, the tokenizer, and the
//! [`Engine`] (load, encode, segment, generate). What the node does around the model — closer passes, checks,
//! wording — is the grounding policy's (`crate::grounding`), not the engine's.

mod batch;
mod contract;
mod described;
mod engine;
mod generate;
pub mod model_info;
pub mod providers;
pub mod runtime;
pub mod sessions;
mod tensors;
pub mod threads;
pub mod tokenizer;

pub use described::Described;
pub use engine::{DescribeTimings, EncodeTimings, Engine, ImageState, SegmentOutput, SegmentTimings};
pub use generate::{DescribeJob, KEPT_STEPS};
pub use model_info::{ConfirmFound, ModelInfo, RegionZoom, VocabularySpec, Wording};
pub use sessions::{LoadAction, LoadStep};

use std::path::PathBuf;

use crate::decode::DecodeError;
use crate::preprocess::PreprocessError;

#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error(
        "ONNX Runtime library not found: searched {} for python3*/{{site,dist}}-packages/onnxruntime/capi/libonnxruntime.so.*; run scripts/setup.sh in a checkout (installs onnxruntime=={tested} into .venv), `pip install onnxruntime=={tested}` (into the active venv or the user site), or point ORT_DYLIB_PATH or --ort-lib at libonnxruntime.so (version >= {min})",
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        tested = runtime::TESTED_ORT_VERSION, min = runtime::MIN_ORT_VERSION
    )]
    RuntimeNotFound { searched: Vec<PathBuf> },
    #[error(
        "cannot load ONNX Runtime from {path}: {reason} (pixel-sail needs ONNX Runtime >= {min}; scripts/setup.sh installs {tested})",
        path = path.display(), min = runtime::MIN_ORT_VERSION, tested = runtime::TESTED_ORT_VERSION
    )]
    RuntimeLoad { path: PathBuf, reason: String },
    #[error("model folder {path} does not exist (pass --model DIR holding model.json, tokenizer.json and the ONNX graphs)", path = path.display())]
    ModelMissing { path: PathBuf },
    #[error("bad model.json {path}: {reason}", path = path.display())]
    ModelJson { path: PathBuf, reason: String },
    #[error("cannot read model file {path}: {reason}", path = path.display())]
    ModelFile { path: PathBuf, reason: String },
    #[error("cannot load ONNX graph {path} (corrupt or not an ONNX model?): {reason}", path = path.display())]
    CorruptModel { path: PathBuf, reason: String },
    #[error("{graph}.onnx does not match the contract in model.json: {detail}")]
    ContractMismatch { graph: String, detail: String },
    #[error("cannot load tokenizer {path}: {reason}", path = path.display())]
    Tokenizer { path: PathBuf, reason: String },
    #[error("cannot tokenize {text:?}: {reason}")]
    Tokenize { text: String, reason: String },
    #[error(
        "execution provider `{provider}` is not available: {reason} (add `cpu` after it, e.g. --ep {provider},cpu, to allow CPU fallback)"
    )]
    ProviderUnavailable { provider: String, reason: String },
    #[error("session options: {0}")]
    SessionOptions(String),
    #[error("empty command")]
    EmptyCommand,
    #[error("{given} commands given, at most {max} are allowed (max_commands); refusing them all")]
    TooManyCommands { given: usize, max: usize },
    #[error("this image state was encoded without a visual prompt; call encode(frame, Some(prompt)) first")]
    NoVisualPrompt,
    #[error("{graph}.onnx failed: {reason}")]
    Run { graph: &'static str, reason: String },
    #[error("{graph}.onnx output `{name}`: {reason}")]
    Output { graph: &'static str, name: &'static str, reason: String },
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}
