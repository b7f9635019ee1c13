//! The inference engine: three ONNX Runtime sessions (vision, text, mask head) behind one API.
//!
//! ```text
//! Engine::load(&cfg)                      sessions + contract check + provider selection
//! engine.encode(&frame, vp)  -> ImageState   preprocess + vision.onnx (one pass per frame)
//! engine.segment(&state, &commands)          all commands in ONE text.onnx call, then mask_head.onnx
//! engine.describe(&state, &commands, n)      batched greedy decoding with the KV cache
//! engine.describe_region(&state)             describe + segment the visual prompt `<vp_1>`
//! engine.segment_visual_prompt(&state)      segment the visual prompt `<vp_1>` alone
//! ```
//! Methods take `&self`; each session sits behind its own mutex, so a description can decode on another
//! thread while masks keep flowing (they interleave per text.onnx call).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use ort::session::Session;
use ort::value::Tensor;

use super::model_info::ModelInfo;
use super::sessions::{GRAPHS, LoadStep, load_session};
use super::tensors::{output_f32, run_err, view};
use super::tokenizer::PromptTokenizer;
use super::{InferenceError, runtime};
use crate::config::{EngineConfig, ProviderKind};
use crate::decode::{MaskPost, bbox_of, rle_encode, upsample_threshold};
use crate::frame::{Frame, Mask, Rle, VisualPrompt};
use crate::preprocess::{Geometry, PreprocessParams};

/// The result for one command on one frame.
#[derive(Debug, Clone)]
pub struct SegmentOutput {
    /// The model says the object is in view and the mask is not empty.
    pub found: bool,
    /// `sigmoid(logit[SEG] − logit[<none>])`: probability the object is in view.
    pub score: f32,
    /// Binary mask at frame resolution (all zero when not found).
    pub mask: Arc<Mask>,
    /// `[x0, y0, x1, y1]`, end-exclusive; None when not found.
    pub bbox: Option<[u32; 4]>,
    /// COCO RLE of `mask`, column-major.
    pub rle: Rle,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct EncodeTimings {
    pub preprocess: Duration,
    pub vision: Duration,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SegmentTimings {
    pub tokenize: Duration,
    pub text_prefill: Duration,
    pub mask_head: Duration,
    pub postprocess: Duration,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct DescribeTimings {
    pub prefill: Duration,
    pub decode: Duration,
    /// Decoding steps run (each produces one token per unfinished prompt).
    pub steps: usize,
    /// Tokens produced over all prompts.
    pub tokens: usize,
}

/// One encoded frame: the image prefix's KV cache and the stride-4 features, reusable by every prompt.
#[derive(Debug, Clone)]
pub struct ImageState {
    pub seq: u64,
    pub stamp: SystemTime,
    pub geometry: Geometry,
    /// The visual prompt painted into this encoding, if any.
    pub visual_prompt: Option<VisualPrompt>,
    pub timings: EncodeTimings,
    pub(crate) past_keys: Vec<f32>,
    pub(crate) past_values: Vec<f32>,
    /// `[L, 1, KVH, S, hd]`
    pub(crate) kv_shape: [usize; 5],
    pub(crate) features: Vec<f32>,
    /// `[1, E, H_in/4, W_in/4]`
    pub(crate) feat_shape: [usize; 4],
}

impl ImageState {
    /// Image-prefix length S (`<vision>`, patches, `</vision>`).
    pub fn prefix_len(&self) -> usize {
        self.kv_shape[3]
    }
    /// Position of the first text token: `max(gh, gw) + 2`.
    pub fn text_start(&self) -> i64 {
        (self.geometry.grid_h.max(self.geometry.grid_w) + 2) as i64
    }
}

/// Pixel-SAIL on ONNX Runtime: load once with [`Engine::load`], then per frame [`Engine::encode`] and any
/// number of [`Engine::segment`] / [`Engine::describe`] (or [`Engine::start_describe`] +
/// [`Engine::step_describe`]) calls on the returned [`ImageState`]. `Send + Sync`; share it with an `Arc`.
/// Errors are [`InferenceError`]s: start-up faults from `load`, per-frame faults from the rest; nothing panics.
pub struct Engine {
    pub(crate) info: ModelInfo,
    model_dir: PathBuf,
    pub(crate) tokenizer: PromptTokenizer,
    pub(crate) vision: Mutex<Session>,
    pub(crate) text: Mutex<Session>,
    mask_head: Mutex<Session>,
    providers: Vec<ProviderKind>,
    pub(crate) params: PreprocessParams,
    /// `params` with the long side the extra passes' crops are encoded at (`crop_long_side`).
    pub(crate) crop_params: PreprocessParams,
    max_commands: usize,
    mask_threshold: f32,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    /// Load ONNX Runtime (once per process), the model's three graphs and its tokenizer, register the execution
    /// providers in the configured order, and check every session against `model.json`.
    pub fn load(cfg: &EngineConfig) -> Result<Engine, InferenceError> {
        Self::load_reporting(cfg, &mut |_| {})
    }

    /// [`Engine::load`], telling `progress` before each graph's session is created (a TensorRT engine build
    /// there can take minutes).
    pub fn load_reporting(cfg: &EngineConfig, progress: &mut dyn FnMut(&LoadStep)) -> Result<Engine, InferenceError> {
        let (info, env) = Self::prepare(cfg)?;
        let tok_path = cfg.model_dir.join(&info.files.tokenizer);
        let tokenizer = PromptTokenizer::load(&tok_path, &info)?;
        let (vision, providers) = load_session(&env, cfg, &info, 0, progress)?;
        // The other graphs get only the providers that registered for the first one (one warning, not three).
        let mut rest = cfg.clone();
        rest.providers.retain(|p| providers.contains(p) || *p == ProviderKind::Cpu);
        let (text, _) = load_session(&env, &rest, &info, 1, progress)?;
        let (mask_head, _) = load_session(&env, &rest, &info, 2, progress)?;
        let provider = providers.first().copied().unwrap_or(ProviderKind::Cpu);
        // The text graph's batch axis has a maximum (TensorRT profiles); never exceed it.
        let info_max_commands = info.config.max_commands.unwrap_or(usize::MAX);
        tracing::info!(
            provider = %provider,
            registered = ?providers.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            model = %cfg.model_dir.display(),
            "inference engine ready"
        );
        Ok(Engine {
            params: info.preprocess_params(),
            crop_params: PreprocessParams {
                long_side: cfg.crop_long_side.unwrap_or(info.input.long_side),
                ..info.preprocess_params()
            },
            mask_threshold: cfg.mask_threshold.unwrap_or(info.postprocess.mask_threshold),
            info,
            model_dir: cfg.model_dir.clone(),
            tokenizer,
            vision: Mutex::new(vision),
            text: Mutex::new(text),
            mask_head: Mutex::new(mask_head),
            providers,
            max_commands: cfg.max_commands.min(info_max_commands),
        })
    }

    /// Create, check and drop each graph's session in turn, keeping no engine: what `build-engines` needs
    /// (TensorRT builds and caches every engine; the contract is checked), at the memory of the largest graph
    /// rather than all three together. Returns the provider the graphs run on.
    pub fn build_each(cfg: &EngineConfig, progress: &mut dyn FnMut(&LoadStep)) -> Result<ProviderKind, InferenceError> {
        let (info, env) = Self::prepare(cfg)?;
        PromptTokenizer::load(&cfg.model_dir.join(&info.files.tokenizer), &info)?;
        let (vision, providers) = load_session(&env, cfg, &info, 0, progress)?;
        drop(vision);
        let mut rest = cfg.clone();
        rest.providers.retain(|p| providers.contains(p) || *p == ProviderKind::Cpu);
        for index in 1..GRAPHS.len() {
            drop(load_session(&env, &rest, &info, index, progress)?);
        }
        Ok(providers.first().copied().unwrap_or(ProviderKind::Cpu))
    }

    /// The quick start-up checks (configuration, model.json, the ONNX Runtime library), before any session.
    pub fn prepare(cfg: &EngineConfig) -> Result<(ModelInfo, ort::environment::Environment), InferenceError> {
        cfg.validate().map_err(|e| InferenceError::SessionOptions(e.to_string()))?;
        let info = ModelInfo::load(&cfg.model_dir)?;
        let env = runtime::environment(cfg.ort_library.as_deref())?;
        Ok((info, env))
    }

    /// Words of `command` outside the model's vocabulary (the model reads each as "unknown").
    pub fn unknown_words(&self, command: &str) -> Vec<String> {
        self.tokenizer.unknown_words(command)
    }

    /// The token id of one word of the model's vocabulary, None when the tokenizer does not have it.
    pub fn token_id(&self, word: &str) -> Option<i64> {
        self.tokenizer.token_id(word)
    }

    /// Segment the visual prompt this state was encoded with (`segment <vp_1>`).
    pub fn segment_visual_prompt(&self, state: &ImageState) -> Result<SegmentOutput, InferenceError> {
        let ids = self.tokenizer.prompt(&self.info.templates.segment_vp, "", &[self.info.tokens.seg])?.ids;
        let (mut out, _) = self.segment_prompts(state, &[ids])?;
        out.pop().ok_or(InferenceError::Output {
            graph: "mask_head",
            name: "mask_logits",
            reason: "no mask returned".into(),
        })
    }

    /// The execution provider actually in use (`tensorrt`, `cuda` or `cpu`).
    pub fn provider(&self) -> &str {
        self.providers.first().map(|p| p.as_str()).unwrap_or("cpu")
    }

    /// model.json as loaded.
    pub fn model_info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn model_dir(&self) -> &Path {
        &self.model_dir
    }

    pub fn max_commands(&self) -> usize {
        self.max_commands
    }

    /// One vision pass: preprocess the frame (and rasterise the visual prompt, if any) and run vision.onnx.
    pub fn encode(&self, frame: &Frame, vp: Option<&VisualPrompt>) -> Result<ImageState, InferenceError> {
        self.encode_batch(&[(frame, vp)])?.pop().ok_or(InferenceError::Output {
            graph: "vision",
            name: "past_keys",
            reason: "no image state returned".into(),
        })
    }

    /// Segment every command on the encoded frame: one batched text.onnx call, one mask_head.onnx call.
    pub fn segment(&self, state: &ImageState, commands: &[String]) -> Result<Vec<SegmentOutput>, InferenceError> {
        self.segment_timed(state, commands).map(|(out, _)| out)
    }

    /// [`Engine::segment`] plus per-stage timings.
    pub fn segment_timed(
        &self,
        state: &ImageState,
        commands: &[String],
    ) -> Result<(Vec<SegmentOutput>, SegmentTimings), InferenceError> {
        let t0 = Instant::now();
        let prompts = self.segment_prompt_ids(commands)?;
        let tokenize = t0.elapsed();
        let (out, mut timings) = self.segment_prompts(state, &prompts)?;
        timings.tokenize = tokenize;
        Ok((out, timings))
    }

    /// Each command in the segment template, tokenized (at most `max_commands` of them).
    pub(crate) fn segment_prompt_ids(&self, commands: &[String]) -> Result<Vec<Vec<i64>>, InferenceError> {
        self.check_count(commands.len())?;
        commands
            .iter()
            .map(|c| self.tokenizer.prompt(&self.info.templates.segment, c, &[self.info.tokens.seg]).map(|p| p.ids))
            .collect()
    }

    pub(crate) fn check_count(&self, n: usize) -> Result<(), InferenceError> {
        if n > self.max_commands {
            return Err(InferenceError::TooManyCommands { given: n, max: self.max_commands });
        }
        Ok(())
    }

    /// Teacher-forced segmentation of already tokenized prompts (each ends in `<|assistant|>[SEG]`) on one
    /// image; [`Engine::segment_batch`] does the work.
    pub(crate) fn segment_prompts(
        &self,
        state: &ImageState,
        prompts: &[Vec<i64>],
    ) -> Result<(Vec<SegmentOutput>, SegmentTimings), InferenceError> {
        let rows: Vec<(&ImageState, &[i64])> = prompts.iter().map(|p| (state, p.as_slice())).collect();
        self.segment_rows(&rows)
    }

    pub(crate) fn run_mask_head(
        &self,
        state: &ImageState,
        seg_hidden: &[f32],
        k: usize,
        c: usize,
    ) -> Result<(Vec<usize>, Vec<f32>), InferenceError> {
        const G: &str = "mask_head";
        let mut session = lock(&self.mask_head);
        let outputs = session
            .run(ort::inputs![
                "features" => view(G, &state.feat_shape, &state.features)?,
                "seg_hidden" => view(G, &[k, c], seg_hidden)?,
            ])
            .map_err(run_err(G))?;
        let (shape, data) = output_f32(&outputs, G, "mask_logits")?;
        if shape.len() != 3 || shape[0] != k {
            return Err(InferenceError::Output {
                graph: G,
                name: "mask_logits",
                reason: format!("shape {shape:?}, expected [{k}, h, w]"),
            });
        }
        Ok((shape, data.to_vec()))
    }

    pub(crate) fn postprocess_masks(
        &self,
        state: &ImageState,
        lshape: &[usize],
        logits: &[f32],
        decisions: &[(bool, f32)],
    ) -> Result<Vec<SegmentOutput>, InferenceError> {
        let g = &state.geometry;
        let (vh, vw) = g.valid_logit_size();
        let post = MaskPost {
            logit_h: lshape[1],
            logit_w: lshape[2],
            valid_h: vh.min(lshape[1]),
            valid_w: vw.min(lshape[2]),
            frame_h: g.frame_h,
            frame_w: g.frame_w,
            threshold: self.mask_threshold,
        };
        let plane = lshape[1] * lshape[2];
        let mut out = Vec::with_capacity(decisions.len());
        for (k, &(present, score)) in decisions.iter().enumerate() {
            let mask = if present {
                upsample_threshold(&logits[k * plane..(k + 1) * plane], &post)?
            } else {
                Mask { width: g.frame_w as u32, height: g.frame_h as u32, data: vec![0; g.frame_w * g.frame_h] }
            };
            let bbox = bbox_of(&mask);
            let rle = rle_encode(&mask);
            out.push(SegmentOutput { found: present && bbox.is_some(), score, mask: Arc::new(mask), bbox, rle });
        }
        Ok(out)
    }

    /// Raw mask logits for already tokenized prompts (parity tests compare these with PyTorch).
    pub fn segment_logits(
        &self,
        state: &ImageState,
        prompts: &[Vec<i64>],
    ) -> Result<(Vec<usize>, Vec<f32>), InferenceError> {
        let tk = &self.info.tokens;
        let mut picks = Vec::new();
        for (b, ids) in prompts.iter().enumerate() {
            let s = ids.iter().rposition(|&t| t == tk.seg).unwrap_or(ids.len().saturating_sub(1));
            picks.push((b, s));
        }
        let rows: Vec<(&ImageState, &[i64])> = prompts.iter().map(|p| (state, p.as_slice())).collect();
        let batch = self.prefill(&rows, &picks, false)?;
        let seg_hidden: Vec<f32> = batch.hidden.concat();
        self.run_mask_head(state, &seg_hidden, prompts.len(), batch.hidden_dim)
    }

    /// Tokenize a command with one of model.json's templates (`segment`, `describe`, `describe_vp`,
    /// `segment_vp`); segment prompts get their `[SEG]` appended, exactly as the engine feeds them.
    pub fn tokenize(&self, template: &str, command: &str) -> Result<Vec<i64>, InferenceError> {
        let t = &self.info.templates;
        let seg = [self.info.tokens.seg];
        let (tpl, extra): (&str, &[i64]) = match template {
            "segment" => (&t.segment, &seg),
            "describe" => (&t.describe, &[]),
            "describe_vp" => (&t.describe_vp, &[]),
            _ => (&t.segment_vp, &seg),
        };
        self.tokenizer.prompt(tpl, command, extra).map(|p| p.ids)
    }
}

pub(crate) fn logit_at(row: &[f32], id: i64) -> Result<f32, InferenceError> {
    usize::try_from(id).ok().and_then(|i| row.get(i).copied()).ok_or_else(|| InferenceError::Output {
        graph: "text",
        name: "logits",
        reason: format!("token id {id} is outside the vocabulary of {}", row.len()),
    })
}

pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Tensor::from_array helper used by the decoder for owned inputs.
pub(crate) fn owned<T>(graph: &'static str, shape: &[usize], data: Vec<T>) -> Result<Tensor<T>, InferenceError>
where
    T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static,
{
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Tensor::from_array((dims, data)).map_err(run_err(graph))
}
