//! `model.json`: architecture, preprocessing, special tokens, prompt templates, file names, dynamic-shape
//! ranges and the tensor signatures of every graph (models/README.md). Parsed once at load.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::InferenceError;
use crate::preprocess::PreprocessParams;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelInfo {
    pub config: ArchConfig,
    pub input: InputConfig,
    pub tokens: SpecialTokens,
    pub templates: Templates,
    pub files: Files,
    /// `"<graph>.<input>"` → min/opt/max shape (TensorRT optimisation profiles).
    #[serde(default)]
    pub shapes: BTreeMap<String, ShapeRange>,
    /// Graph name (`vision`, `text`, `mask_head`) → its inputs and outputs.
    pub tensors: BTreeMap<String, GraphSignature>,
    #[serde(default)]
    pub postprocess: Postprocess,
    /// A second, closer pass for small described regions (absent: one pass).
    #[serde(default)]
    pub region_zoom: Option<RegionZoom>,
    /// Found masks segmented again on a crop around them, with this crop geometry (absent: never).
    #[serde(default)]
    pub mask_refine: Option<RegionZoom>,
    /// Found objects checked against the command's colour and shape by the closer look (absent: never).
    #[serde(default)]
    pub confirm_found: Option<ConfirmFound>,
    /// Which words of a found object's description are settled across looks (absent: none).
    #[serde(default)]
    pub wording: Wording,
    /// The words the grounding policy parses and writes (absent: the model runs alone, policy `model`).
    #[serde(default)]
    pub vocabulary: Option<VocabularySpec>,
    #[serde(default)]
    pub provenance: serde_json::Value,
}

/// model.json `region_zoom` and `mask_refine`: when and how far to zoom (src/grounding/zoom.rs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegionZoom {
    /// Share of the crop's width the object's extent should fill (a large object fills 0.14–0.22 of a frame).
    pub object_fraction: f64,
    /// The crop is never narrower than this share of the frame (bounds the upscaling).
    pub min_crop_fraction: f64,
    /// No zoom when the crop would be wider than this share of the frame: the object is big enough already.
    pub max_crop_fraction: f64,
}

impl RegionZoom {
    pub(crate) fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        if ok(self.object_fraction) && ok(self.min_crop_fraction) && ok(self.max_crop_fraction) {
            Ok(())
        } else {
            Err(format!("`region_zoom` fractions must lie in (0, 1], found {self:?}"))
        }
    }
}

/// model.json `wording`: which words the node settles across looks (absent: each look's words as they are).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Wording {
    pub joint_shape: bool,
    pub place_from_mask: bool,
}

/// model.json `vocabulary`, as written: the domain words the grounding policy reads (src/grounding/vocabulary.rs
/// checks and interprets it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocabularySpec {
    pub sizes: Vec<String>,
    pub colours: Vec<String>,
    pub shapes: Vec<String>,
    /// The 3×3 grid's place phrases, row by row from the top left (DESIGN.md §4).
    pub places: Vec<String>,
    /// Words read as another: `{"big": "large"}`.
    #[serde(default)]
    pub synonyms: BTreeMap<String, String>,
    /// The description's words, e.g. `"a {size} {colour} {shape} {place}"`.
    pub description: String,
}

/// model.json `confirm_found`: how sure the closer look must be to overrule the command (src/grounding/confirm.rs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfirmFound {
    /// A found object is dropped when, at its colour or shape word, the closer look's choice beats the command's
    /// word by more than this many log-odds.
    pub min_log_odds: f32,
    /// Finds the first pass scored at least this are not checked (it is rarely wrong when that sure).
    #[serde(default = "no_score_limit")]
    pub max_score: f32,
}

fn no_score_limit() -> f32 {
    f32::INFINITY
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchConfig {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    #[serde(default)]
    pub intermediate: usize,
    pub vocab: usize,
    pub patch: usize,
    pub feat_dim: usize,
    pub max_vp: usize,
    pub max_prompt_tokens: usize,
    pub max_new_tokens: usize,
    /// Largest batch of commands the text graph was exported for (absent = unbounded).
    #[serde(default)]
    pub max_commands: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputConfig {
    pub long_side: usize,
    pub pad_multiple: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpecialTokens {
    pub vision: i64,
    pub vision_end: i64,
    pub vpatch: i64,
    pub seg: i64,
    pub none: i64,
    pub eot: i64,
    pub pad: i64,
    pub user: i64,
    pub assistant: i64,
    pub vp: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Templates {
    pub segment: String,
    pub describe: String,
    pub describe_vp: String,
    pub segment_vp: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Files {
    pub vision: String,
    pub text: String,
    pub mask_head: String,
    pub tokenizer: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShapeRange {
    pub min: Vec<i64>,
    pub opt: Vec<i64>,
    pub max: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphSignature {
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<Dim>,
}

/// A fixed size or a named symbol (`"B"`, `"T"`, …).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Dim {
    Fixed(i64),
    Symbol(String),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbol(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Postprocess {
    pub mask_threshold: f32,
    /// A command's object is found when logit([SEG]) − logit(<none>) exceeds this: 0 is the model's own
    /// choice, a calibrated model moves it (`models/pixel_sail/calibrate.py`, on the validation split).
    #[serde(default)]
    pub presence_margin: f32,
}

impl Default for Postprocess {
    fn default() -> Self {
        Postprocess { mask_threshold: 0.0, presence_margin: 0.0 }
    }
}

impl TensorSpec {
    /// dtype in ort's short spelling (`f32`, `i64`, …) whatever spelling model.json uses.
    pub fn short_dtype(&self) -> String {
        short_dtype(&self.dtype)
    }

    pub fn describe(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        format!("`{}` {} [{}]", self.name, self.short_dtype(), dims.join(", "))
    }
}

pub fn short_dtype(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "float32" | "float" | "f32" | "tensor(float)" => "f32".into(),
        "float16" | "f16" | "half" => "f16".into(),
        "int64" | "i64" | "long" | "tensor(int64)" => "i64".into(),
        "int32" | "i32" | "int" => "i32".into(),
        "bool" => "bool".into(),
        other => other.into(),
    }
}

impl ModelInfo {
    pub fn load(dir: &Path) -> Result<ModelInfo, InferenceError> {
        let path = dir.join("model.json");
        if !dir.is_dir() {
            return Err(InferenceError::ModelMissing { path: dir.to_path_buf() });
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| InferenceError::ModelJson { path: path.clone(), reason: e.to_string() })?;
        let info: ModelInfo = serde_json::from_str(&text)
            .map_err(|e| InferenceError::ModelJson { path: path.clone(), reason: e.to_string() })?;
        info.validate().map_err(|reason| InferenceError::ModelJson { path, reason })?;
        Ok(info)
    }

    fn validate(&self) -> Result<(), String> {
        for g in ["vision", "text", "mask_head"] {
            if !self.tensors.contains_key(g) {
                return Err(format!("`tensors` has no entry for graph `{g}`"));
            }
        }
        if self.tokens.vp.is_empty() {
            return Err("`tokens.vp` is empty (need at least <vp_1>)".into());
        }
        if self.config.patch == 0 || self.input.long_side == 0 {
            return Err("`config.patch` and `input.long_side` must be positive".into());
        }
        for (name, t) in [("segment", &self.templates.segment), ("describe", &self.templates.describe)] {
            if !t.contains("{text}") {
                return Err(format!("template `{name}` has no `{{text}}` placeholder"));
            }
        }
        self.region_zoom.as_ref().map_or(Ok(()), RegionZoom::validate)?;
        self.mask_refine
            .as_ref()
            .map_or(Ok(()), |r| r.validate().map_err(|e| e.replace("region_zoom", "mask_refine")))?;
        match self.confirm_found {
            Some(c) if !(c.min_log_odds.is_finite() && c.min_log_odds >= 0.0) => {
                Err(format!("`confirm_found.min_log_odds` must be a finite number >= 0, found {}", c.min_log_odds))
            }
            Some(c) if c.max_score.is_nan() => Err("`confirm_found.max_score` must be a number".into()),
            Some(_) if self.region_zoom.is_none() => Err("`confirm_found` needs `region_zoom` (its crop)".into()),
            _ => Ok(()),
        }
    }

    pub fn preprocess_params(&self) -> PreprocessParams {
        PreprocessParams {
            long_side: self.input.long_side,
            pad_multiple: self.input.pad_multiple,
            patch: self.config.patch,
            mean: self.input.mean,
            std: self.input.std,
        }
    }

    /// Shape ranges of one graph's inputs, in input order of `tensors.<graph>.inputs`.
    pub fn shape_ranges(&self, graph: &str) -> Vec<(String, ShapeRange)> {
        let Some(sig) = self.tensors.get(graph) else { return Vec::new() };
        sig.inputs
            .iter()
            .filter_map(|t| self.shapes.get(&format!("{graph}.{}", t.name)).map(|r| (t.name.clone(), r.clone())))
            .collect()
    }

    pub fn file_of(&self, graph: &str) -> &str {
        match graph {
            "vision" => &self.files.vision,
            "text" => &self.files.text,
            _ => &self.files.mask_head,
        }
    }
}
