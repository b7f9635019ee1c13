//! Configuration, resolved in one place. This file: the engine's (where the model and ONNX Runtime live, which
//! execution providers to try, the TensorRT options). [`params`]: the run's named parameters; [`params_file`]: ROS
//! params files; [`run`]: everything `pixel-sail run` runs with, and the one resolver of its parameters;
//! [`cameras`]: which cameras it serves.

pub mod cameras;
pub mod params;
pub mod params_file;
pub mod run;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown execution provider `{0}` (known: tensorrt, cuda, cpu)")]
    UnknownProvider(String),
    #[error("execution provider list is empty (use e.g. `cpu` or `tensorrt,cuda,cpu`)")]
    EmptyProviderList,
    #[error("execution provider `{0}` is listed twice")]
    DuplicateProvider(String),
    #[error("invalid {what} `{value}`: {reason}")]
    Invalid { what: &'static str, value: String, reason: String },
}

/// One ONNX Runtime execution provider, in the user's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    TensorRt,
    Cuda,
    Cpu,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::TensorRt => "tensorrt",
            ProviderKind::Cuda => "cuda",
            ProviderKind::Cpu => "cpu",
        }
    }
    pub fn is_gpu(self) -> bool {
        !matches!(self, ProviderKind::Cpu)
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The grounding policy around the model (src/grounding): `published` is what the node publishes (model.json's
/// closer passes, checks and wording), `model` is one pass and nothing around it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    Model,
    #[default]
    Published,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Model => "model",
            PolicyKind::Published => "published",
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tensorrt" | "trt" => Ok(ProviderKind::TensorRt),
            "cuda" => Ok(ProviderKind::Cuda),
            "cpu" => Ok(ProviderKind::Cpu),
            other => Err(ConfigError::UnknownProvider(other.to_string())),
        }
    }
}

/// Parse an ordered provider list such as `tensorrt,cuda,cpu`.
pub fn parse_provider_list(s: &str) -> Result<Vec<ProviderKind>, ConfigError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let kind: ProviderKind = part.parse()?;
        if out.contains(&kind) {
            return Err(ConfigError::DuplicateProvider(kind.to_string()));
        }
        out.push(kind);
    }
    if out.is_empty() {
        return Err(ConfigError::EmptyProviderList);
    }
    Ok(out)
}

/// TensorRT execution-provider options. Engines are cached under `cache_dir/<graph>-<key>/`, where the key
/// hashes the ONNX file, the TensorRT version and the shape ranges, so a valid engine is never rebuilt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TensorRtOptions {
    pub fp16: bool,
    /// Root of the engine cache; default `$XDG_CACHE_HOME/pixel-sail/tensorrt` (or `~/.cache/...`).
    pub cache_dir: Option<PathBuf>,
    /// Builder workspace limit in bytes.
    pub workspace_bytes: usize,
    /// CUDA device ordinal (also used by the CUDA provider).
    pub device_id: i32,
}

impl Default for TensorRtOptions {
    fn default() -> Self {
        TensorRtOptions { fp16: true, cache_dir: None, workspace_bytes: 2 << 30, device_id: 0 }
    }
}

impl TensorRtOptions {
    pub fn resolved_cache_dir(&self) -> PathBuf {
        if let Some(dir) = &self.cache_dir {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
            .unwrap_or_else(|| PathBuf::from(".cache"));
        base.join("pixel-sail").join("tensorrt")
    }
}

/// Everything [`crate::inference::Engine::load`] needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Folder holding model.json, tokenizer.json and the three ONNX graphs.
    pub model_dir: PathBuf,
    /// Ordered execution providers; a GPU provider that cannot load is an error unless `cpu` follows it.
    pub providers: Vec<ProviderKind>,
    pub tensorrt: TensorRtOptions,
    /// Explicit `libonnxruntime.so.*`; otherwise `ORT_DYLIB_PATH`, then the project venv is searched.
    pub ort_library: Option<PathBuf>,
    /// Threads per ONNX Runtime session (None: the physical cores this process may run on, see
    /// [`crate::inference::threads`]).
    pub intra_threads: Option<usize>,
    /// Let idle intra-op threads spin-wait for work (lower latency on dedicated cores; burns CPU that
    /// capture, ROS and other processes on a shared robot computer need). Off by default.
    pub spin_wait: bool,
    /// Most commands segmented per frame; more are refused with a reason.
    pub max_commands: usize,
    /// Overrides model.json's `postprocess.mask_threshold` (a logit) when set.
    pub mask_threshold: Option<f32>,
    /// Segment found objects again on a crop around them when model.json has `mask_refine` (one more vision
    /// pass per found object that is not already large; sharper masks).
    pub mask_refine: bool,
    /// Check found objects against the command's colour and shape with the closer look when model.json has
    /// `confirm_found` (one more vision pass and four decoding steps per found object that is small).
    pub confirm_found: bool,
    /// The grounding policy (`--policy`); `mask_refine` and `confirm_found` are parts of `published`.
    pub policy: PolicyKind,
    /// Long side of the model input the extra passes' crops are encoded at (closer segmentation, closer
    /// check); None: model.json's `input.long_side`, as for frames. Smaller crops cost fewer patches.
    pub crop_long_side: Option<usize>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            model_dir: PathBuf::from("models/tiny"),
            providers: vec![ProviderKind::Cpu],
            tensorrt: TensorRtOptions::default(),
            ort_library: None,
            intra_threads: None,
            spin_wait: false,
            max_commands: 8,
            mask_threshold: None,
            mask_refine: true,
            confirm_found: true,
            policy: PolicyKind::Published,
            crop_long_side: None,
        }
    }
}

impl EngineConfig {
    pub fn new(model_dir: impl Into<PathBuf>) -> Self {
        EngineConfig { model_dir: model_dir.into(), ..Default::default() }
    }

    /// Reject values that cannot work, with the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.providers.is_empty() {
            return Err(ConfigError::EmptyProviderList);
        }
        if self.max_commands == 0 {
            return Err(ConfigError::Invalid {
                what: "max_commands",
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        if let Some(n @ 0..16) = self.crop_long_side {
            return Err(ConfigError::Invalid {
                what: "crop_long_side",
                value: n.to_string(),
                reason: "must be at least 16 pixels (one patch)".into(),
            });
        }
        if let Some(0) = self.intra_threads {
            return Err(ConfigError::Invalid {
                what: "intra_threads",
                value: "0".into(),
                reason: "must be at least 1 (or unset for the default)".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_list_keeps_order_and_rejects_unknown() {
        let list = parse_provider_list("tensorrt, cuda,cpu").unwrap();
        assert_eq!(list, vec![ProviderKind::TensorRt, ProviderKind::Cuda, ProviderKind::Cpu]);
        assert!(matches!(parse_provider_list("cpu,openvino"), Err(ConfigError::UnknownProvider(_))));
        assert!(matches!(parse_provider_list(""), Err(ConfigError::EmptyProviderList)));
        assert!(matches!(parse_provider_list("cpu,cpu"), Err(ConfigError::DuplicateProvider(_))));
    }
}
