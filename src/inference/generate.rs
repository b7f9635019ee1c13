//! The text graph: batched prefill over the image's KV cache, and greedy description decoding with the cache.
//! Prompts are right-padded; the attention mask hides the padding and explicit positions keep each row's
//! text positions contiguous (`text_start + k`), so padding never shifts a token.

use std::time::Instant;

use ort::value::DynValue;

use super::InferenceError;
use super::described::Described;
use super::engine::{DescribeTimings, Engine, ImageState, SegmentOutput, lock, owned};
use super::tensors::{argmax, output_f32, run_err, stack_batch, take, tile_batch, view};

const G: &str = "text";

/// What a prefill returns: the logits and hidden rows at the requested (batch, position) picks.
pub(crate) struct Prefill {
    pub logits: Vec<Vec<f32>>,
    pub hidden: Vec<Vec<f32>>,
    pub hidden_dim: usize,
    /// `present_keys` / `present_values` when asked for (decoding continues from them).
    pub present: Option<(DynValue, DynValue)>,
    /// `[B, S + T]` attention mask used, row-major.
    pub mask: Vec<i64>,
    pub t_len: usize,
}

impl Engine {
    /// Run text.onnx once over `rows` (batched, right-padded), each prompt on its own image prefix; the
    /// images must share one grid (one prefix length), as the crops of one batched vision call do.
    pub(crate) fn prefill(
        &self,
        rows: &[(&ImageState, &[i64])],
        picks: &[(usize, usize)],
        keep_kv: bool,
    ) -> Result<Prefill, InferenceError> {
        let b = rows.len();
        let Some(&(state, _)) = rows.first() else {
            return Err(InferenceError::Output { graph: G, name: "logits", reason: "no prompts to prefill".into() });
        };
        if let Some((other, _)) =
            rows.iter().find(|(o, _)| o.kv_shape != state.kv_shape || o.text_start() != state.text_start())
        {
            return Err(InferenceError::Output {
                graph: G,
                name: "past_keys",
                reason: format!("one batch mixes image prefixes {:?} and {:?}", state.kv_shape, other.kv_shape),
            });
        }
        let t_len = rows.iter().map(|(_, p)| p.len()).max().unwrap_or(0);
        let s = state.prefix_len();
        let pad = self.info.tokens.pad;
        let start = state.text_start();
        let mut ids = vec![pad; b * t_len];
        let mut pos = vec![0i64; b * t_len];
        let mut mask = vec![0i64; b * (s + t_len)];
        for (r, (_, p)) in rows.iter().enumerate() {
            ids[r * t_len..r * t_len + p.len()].copy_from_slice(p);
            for k in 0..t_len {
                pos[r * t_len + k] = start + k as i64;
            }
            let row = &mut mask[r * (s + t_len)..(r + 1) * (s + t_len)];
            row[..s + p.len()].iter_mut().for_each(|m| *m = 1);
        }
        let [l, _, kvh, _, hd] = state.kv_shape;
        let kv_shape = [l, b, kvh, s, hd];
        let one_image = rows.iter().all(|(o, _)| std::ptr::eq(*o, state));
        let (pk, pv) = if b == 1 {
            (None, None)
        } else if one_image {
            (Some(tile_batch(&state.past_keys, l, b)), Some(tile_batch(&state.past_values, l, b)))
        } else {
            let keys: Vec<&[f32]> = rows.iter().map(|(o, _)| o.past_keys.as_slice()).collect();
            let values: Vec<&[f32]> = rows.iter().map(|(o, _)| o.past_values.as_slice()).collect();
            (Some(stack_batch(&keys, l)), Some(stack_batch(&values, l)))
        };
        let past_k = pk.as_deref().unwrap_or(&state.past_keys);
        let past_v = pv.as_deref().unwrap_or(&state.past_values);
        let mut session = lock(&self.text);
        let mut outputs = session
            .run(ort::inputs![
                "input_ids" => view(G, &[b, t_len], &ids)?,
                "position_ids" => view(G, &[b, t_len], &pos)?,
                "attention_mask" => view(G, &[b, s + t_len], &mask)?,
                "past_keys" => view(G, &kv_shape, past_k)?,
                "past_values" => view(G, &kv_shape, past_v)?,
            ])
            .map_err(run_err(G))?;
        let (lshape, logits) = output_f32(&outputs, G, "logits")?;
        let (hshape, hidden) = output_f32(&outputs, G, "hidden")?;
        if lshape != [b, t_len, lshape[2]] || hshape != [b, t_len, hshape[2]] {
            return Err(InferenceError::Output {
                graph: G,
                name: "logits",
                reason: format!("shapes {lshape:?} / {hshape:?}, expected [{b}, {t_len}, …]"),
            });
        }
        let (v, c) = (lshape[2], hshape[2]);
        let mut out = Prefill { logits: Vec::new(), hidden: Vec::new(), hidden_dim: c, present: None, mask, t_len };
        for &(r, t) in picks {
            let i = r * t_len + t;
            out.logits.push(logits[i * v..(i + 1) * v].to_vec());
            out.hidden.push(hidden[i * c..(i + 1) * c].to_vec());
        }
        if keep_kv {
            out.present = Some((take(&mut outputs, G, "present_keys")?, take(&mut outputs, G, "present_values")?));
        }
        Ok(out)
    }

    /// Describe each named object: greedy decoding to `<|eot|>` or `max_tokens` (capped by model.json).
    pub fn describe(
        &self,
        state: &ImageState,
        commands: &[String],
        max_tokens: usize,
    ) -> Result<Vec<String>, InferenceError> {
        let (ids, _) = self.describe_tokens(state, commands, max_tokens)?;
        ids.iter().map(|t| self.tokenizer.decode(t)).collect()
    }

    /// [`Engine::describe`] returning the generated token ids (without `<|eot|>`) and timings.
    pub fn describe_tokens(
        &self,
        state: &ImageState,
        commands: &[String],
        max_tokens: usize,
    ) -> Result<(Vec<Vec<i64>>, DescribeTimings), InferenceError> {
        let mut job = self.start_describe(state, commands, max_tokens)?;
        while !job.is_finished() {
            self.step_generate(&mut job)?;
        }
        Ok((job.out, job.timings))
    }

    /// Describe the visual prompt this state was encoded with (no mask): the text, its token ids and the
    /// logits its first words were chosen from.
    pub fn describe_visual_prompt(&self, state: &ImageState, max_tokens: usize) -> Result<Described, InferenceError> {
        if state.visual_prompt.is_none() {
            return Err(InferenceError::NoVisualPrompt);
        }
        let prompt = self.tokenizer.prompt(&self.info.templates.describe_vp, "", &[])?.ids;
        let job = self.generate(state, &[prompt], max_tokens)?;
        self.described(&job, 0)
    }

    /// Row `row` of a finished (or running) description as a [`Described`].
    pub(crate) fn described(&self, job: &DescribeJob, row: usize) -> Result<Described, InferenceError> {
        let ids = job.out.get(row).cloned().unwrap_or_default();
        Ok(Described {
            text: self.tokenizer.decode(&ids)?,
            ids,
            logits: job.history.get(row).cloned().unwrap_or_default(),
        })
    }

    /// Describe and segment the visual prompt this state was encoded with (`<vp_1>`).
    pub fn describe_region(&self, state: &ImageState) -> Result<(String, SegmentOutput), InferenceError> {
        self.describe_region_tokens(state, self.info.config.max_new_tokens).map(|(first, seg)| (first.text, seg))
    }

    /// [`Engine::describe_region`] with a token limit, returning the description's token ids and logits too.
    pub fn describe_region_tokens(
        &self,
        state: &ImageState,
        max_tokens: usize,
    ) -> Result<(Described, SegmentOutput), InferenceError> {
        let first = self.describe_visual_prompt(state, max_tokens)?;
        let segment = self.tokenizer.prompt(&self.info.templates.segment_vp, "", &[self.info.tokens.seg])?.ids;
        let (mut seg, _) = self.segment_prompts(state, &[segment])?;
        let seg = seg.pop().ok_or(InferenceError::Output {
            graph: "mask_head",
            name: "mask_logits",
            reason: "no mask returned".into(),
        })?;
        Ok((first, seg))
    }

    /// Batched greedy decoding from tokenized prompts, run to the end: the finished job.
    pub(crate) fn generate(
        &self,
        state: &ImageState,
        prompts: &[Vec<i64>],
        max_tokens: usize,
    ) -> Result<DescribeJob, InferenceError> {
        let mut job = self.start_generate(state, prompts, max_tokens)?;
        while !job.is_finished() {
            self.step_generate(&mut job)?;
        }
        Ok(job)
    }

    /// Start describing each named object: runs the batched prefill and picks the first tokens. Drive it with
    /// [`Engine::step_describe`] (one decoding step per call) so masks can run in between.
    pub fn start_describe(
        &self,
        state: &ImageState,
        commands: &[String],
        max_tokens: usize,
    ) -> Result<DescribeJob, InferenceError> {
        self.check_count(commands.len())?;
        let prompts = commands
            .iter()
            .map(|c| self.tokenizer.prompt(&self.info.templates.describe, c, &[]).map(|p| p.ids))
            .collect::<Result<Vec<_>, _>>()?;
        self.start_generate(state, &prompts, max_tokens)
    }

    /// One decoding step for every unfinished row; `Some(texts)` (one per command) once all are finished.
    pub fn step_describe(&self, job: &mut DescribeJob) -> Result<Option<Vec<String>>, InferenceError> {
        if !job.is_finished() {
            self.step_generate(job)?;
        }
        if job.is_finished() {
            return job.out.iter().map(|t| self.tokenizer.decode(t)).collect::<Result<Vec<_>, _>>().map(Some);
        }
        Ok(None)
    }

    pub(crate) fn start_generate(
        &self,
        state: &ImageState,
        prompts: &[Vec<i64>],
        max_tokens: usize,
    ) -> Result<DescribeJob, InferenceError> {
        let rows: Vec<(&ImageState, &[i64])> = prompts.iter().map(|p| (state, p.as_slice())).collect();
        self.start_generate_rows(&rows, max_tokens)
    }

    /// [`Engine::start_generate`] with each prompt on its own image (the images share one grid).
    pub(crate) fn start_generate_rows(
        &self,
        rows: &[(&ImageState, &[i64])],
        max_tokens: usize,
    ) -> Result<DescribeJob, InferenceError> {
        let b = rows.len();
        let Some(&(state, _)) = rows.first() else {
            return Ok(DescribeJob::empty(max_tokens));
        };
        let max_tokens = max_tokens.min(self.info.config.max_new_tokens);
        let mut job = DescribeJob {
            text_start: state.text_start(),
            prompt_lens: rows.iter().map(|(_, p)| p.len()).collect(),
            past: None,
            masks: Vec::new(),
            next: Vec::new(),
            out: vec![Vec::new(); b],
            logits: Vec::new(),
            history: vec![Vec::new(); b],
            done: vec![true; b],
            step: 0,
            max_tokens,
            timings: DescribeTimings::default(),
        };
        if b == 0 || max_tokens == 0 {
            return Ok(job);
        }
        let picks: Vec<(usize, usize)> =
            rows.iter().enumerate().map(|(r, (_, p))| (r, p.len().saturating_sub(1))).collect();
        let t0 = Instant::now();
        let pre = self.prefill(rows, &picks, true)?;
        job.timings.prefill = t0.elapsed();
        let width = state.prefix_len() + pre.t_len;
        job.masks = (0..b).map(|r| pre.mask[r * width..(r + 1) * width].to_vec()).collect();
        job.past = pre.present;
        job.next = pre.logits.iter().map(|row| argmax(row) as i64).collect();
        job.logits = pre.logits;
        job.done = vec![false; b];
        job.absorb(self.info.tokens.eot);
        Ok(job)
    }

    pub(crate) fn step_generate(&self, job: &mut DescribeJob) -> Result<(), InferenceError> {
        let t0 = Instant::now();
        let b = job.out.len();
        // Feed each row's last token; finished rows feed padding that nobody reads.
        let ids: Vec<i64> = (0..b).map(|r| if job.done[r] { self.info.tokens.pad } else { job.next[r] }).collect();
        let pos: Vec<i64> = (0..b).map(|r| job.text_start + (job.prompt_lens[r] + job.step) as i64).collect();
        let mut flat_mask = Vec::new();
        for m in job.masks.iter_mut() {
            m.push(1);
            flat_mask.extend_from_slice(m);
        }
        let total = job.masks.first().map(Vec::len).unwrap_or(0);
        let (past_k, past_v) = job.past.take().ok_or(InferenceError::Output {
            graph: G,
            name: "present_keys",
            reason: "no KV cache to continue from".into(),
        })?;
        let mut session = lock(&self.text);
        let mut outputs = session
            .run(ort::inputs![
                "input_ids" => owned(G, &[b, 1], ids)?,
                "position_ids" => owned(G, &[b, 1], pos)?,
                "attention_mask" => owned(G, &[b, total], flat_mask)?,
                "past_keys" => &past_k,
                "past_values" => &past_v,
            ])
            .map_err(run_err(G))?;
        let (lshape, logits) = output_f32(&outputs, G, "logits")?;
        let v = lshape.get(2).copied().unwrap_or(0);
        if lshape.len() != 3 || lshape[0] != b || v == 0 {
            return Err(InferenceError::Output {
                graph: G,
                name: "logits",
                reason: format!("shape {lshape:?} at decode step"),
            });
        }
        job.next = (0..b).map(|r| argmax(&logits[r * v..(r + 1) * v]) as i64).collect();
        job.logits = (0..b).map(|r| logits[r * v..(r + 1) * v].to_vec()).collect();
        job.past = Some((take(&mut outputs, G, "present_keys")?, take(&mut outputs, G, "present_values")?));
        drop(outputs);
        drop(session);
        job.step += 1;
        job.timings.steps += 1;
        job.absorb(self.info.tokens.eot);
        job.timings.decode += t0.elapsed();
        Ok(())
    }
}

/// How many of a description's first tokens keep their logits: "a {size} {colour} {shape}".
pub const KEPT_STEPS: usize = 4;

/// A description in progress: the KV cache so far, each row's tokens, and which rows are finished.
pub struct DescribeJob {
    text_start: i64,
    prompt_lens: Vec<usize>,
    past: Option<(DynValue, DynValue)>,
    masks: Vec<Vec<i64>>,
    next: Vec<i64>,
    out: Vec<Vec<i64>>,
    /// Each row's logits at the last step: the distribution its newest token was chosen from.
    logits: Vec<Vec<f32>>,
    /// Per row, the logits each of its first [`KEPT_STEPS`] tokens was chosen from (what the closer check and the
    /// joint shape weigh; a full-size vocabulary makes keeping every step's row wasteful).
    history: Vec<Vec<Vec<f32>>>,
    done: Vec<bool>,
    step: usize,
    max_tokens: usize,
    timings: DescribeTimings,
}

impl DescribeJob {
    /// A job with no rows: finished from the start.
    fn empty(max_tokens: usize) -> DescribeJob {
        DescribeJob {
            text_start: 0,
            prompt_lens: Vec::new(),
            past: None,
            masks: Vec::new(),
            next: Vec::new(),
            out: Vec::new(),
            logits: Vec::new(),
            history: Vec::new(),
            done: Vec::new(),
            step: 0,
            max_tokens,
            timings: DescribeTimings::default(),
        }
    }

    /// Take the freshly predicted tokens: `<|eot|>` or the token limit finishes a row.
    fn absorb(&mut self, eot: i64) {
        for r in 0..self.out.len() {
            if self.done[r] {
                continue;
            }
            if self.next[r] == eot {
                self.done[r] = true;
            } else {
                if self.out[r].len() < KEPT_STEPS {
                    self.history[r].push(self.logits[r].clone());
                }
                self.out[r].push(self.next[r]);
                self.timings.tokens += 1;
                self.done[r] = self.out[r].len() >= self.max_tokens;
            }
        }
    }

    pub fn is_finished(&self) -> bool {
        self.done.iter().all(|&d| d)
    }

    /// Generated token ids per row so far (no `<|eot|>`).
    pub fn tokens(&self) -> &[Vec<i64>] {
        &self.out
    }

    pub fn timings(&self) -> DescribeTimings {
        self.timings
    }
}
