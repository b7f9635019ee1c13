//! Top-level error: one variant per stage, each stage keeps its own thiserror enum.
//! Binaries turn this into one actionable line (see `main.rs`); the library never panics on it.

use crate::decode::DecodeError;
use crate::inference::InferenceError;
use crate::preprocess::PreprocessError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    #[error(transparent)]
    Inference(#[from] InferenceError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}
