//! The text graph: batched prefill over the image's KV cache, and greedy description decoding with the cache.
//! Prompts are right-padded; the attention mask hides the padding and explicit positions keep each row's
//! text positions contiguous (`text_start + k`), so padding never shifts a token.

use std::time::Instant;

use ort::value::DynValue;

use super::engine::{DescribeTimings, Engine, ImageState, SegmentOutput, lock, owned};
use super::tensors::{argmax, output_f32, run_err, take, tile_batch, view};
use super::InferenceError;

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
    /// Run text.onnx once over `prompts` (batched, right-padded) on the image prefix.
    pub(crate) fn prefill(&self, state: &ImageState, prompts: &[Vec<i64>], picks: &[(usize, usize)], keep_kv: bool) -> Result<Prefill, InferenceError> {
        let b = prompts.len();
        let t_len = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let s = state.prefix_len();
        let pad = self.info.tokens.pad;
        let start = state.text_start();
        let mut ids = vec![pad; b * t_len];
        let mut pos = vec![0i64; b * t_len];
        let mut mask = vec![0i64; b * (s + t_len)];
        for (r, p) in prompts.iter().enumerate() {
            ids[r * t_len..r * t_len + p.len()].copy_from_slice(p);
            for k in 0..t_len {
                pos[r * t_len + k] = start + k as i64;
            }
            let row = &mut mask[r * (s + t_len)..(r + 1) * (s + t_len)];
            row[..s + p.len()].iter_mut().for_each(|m| *m = 1);
        }
        let [l, _, kvh, _, hd] = state.kv_shape;
        let kv_shape = [l, b, kvh, s, hd];
        let (pk, pv) = if b == 1 {
            (None, None)
        } else {
            (Some(tile_batch(&state.past_keys, l, b)), Some(tile_batch(&state.past_values, l, b)))
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
            return Err(InferenceError::Output { graph: G, name: "logits", reason: format!("shapes {lshape:?} / {hshape:?}, expected [{b}, {t_len}, …]") });
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
    pub fn describe(&self, state: &ImageState, commands: &[String], max_tokens: usize) -> Result<Vec<String>, InferenceError> {
        let (ids, _) = self.describe_tokens(state, commands, max_tokens)?;
        ids.iter().map(|t| self.tokenizer.decode(t)).collect()
    }

    /// [`Engine::describe`] returning the generated token ids (without `<|eot|>`) and timings.
    pub fn describe_tokens(&self, state: &ImageState, commands: &[String], max_tokens: usize) -> Result<(Vec<Vec<i64>>, DescribeTimings), InferenceError> {
        self.check_count(commands.len())?;
        let prompts = commands
            .iter()
            .map(|c| self.tokenizer.prompt(&self.info.templates.describe, c, &[]).map(|p| p.ids))
            .collect::<Result<Vec<_>, _>>()?;
        self.generate(state, &prompts, max_tokens)
    }

    /// Describe and segment the visual prompt this state was encoded with (`<vp_1>`).
    pub fn describe_region(&self, state: &ImageState) -> Result<(String, SegmentOutput), InferenceError> {
        self.describe_region_tokens(state).map(|(text, _, seg)| (text, seg))
    }

    /// [`Engine::describe_region`] with the generated token ids.
    pub fn describe_region_tokens(&self, state: &ImageState) -> Result<(String, Vec<i64>, SegmentOutput), InferenceError> {
        if state.visual_prompt.is_none() {
            return Err(InferenceError::NoVisualPrompt);
        }
        let templates = &self.info.templates;
        let describe = self.tokenizer.prompt(&templates.describe_vp, "", &[])?.ids;
        let segment = self.tokenizer.prompt(&templates.segment_vp, "", &[self.info.tokens.seg])?.ids;
        let max = self.info.config.max_new_tokens;
        let (mut ids, _) = self.generate(state, &[describe], max)?;
        let ids = ids.pop().unwrap_or_default();
        let text = self.tokenizer.decode(&ids)?;
        let (mut seg, _) = self.segment_prompts(state, &[segment])?;
        let seg = seg.pop().ok_or(InferenceError::Output { graph: "mask_head", name: "mask_logits", reason: "no mask returned".into() })?;
        Ok((text, ids, seg))
    }

    /// Batched greedy decoding from tokenized prompts.
    pub(crate) fn generate(&self, state: &ImageState, prompts: &[Vec<i64>], max_tokens: usize) -> Result<(Vec<Vec<i64>>, DescribeTimings), InferenceError> {
        let mut timings = DescribeTimings::default();
        let b = prompts.len();
        if b == 0 {
            return Ok((Vec::new(), timings));
        }
        let max_tokens = max_tokens.min(self.info.config.max_new_tokens);
        let eot = self.info.tokens.eot;
        let picks: Vec<(usize, usize)> = prompts.iter().enumerate().map(|(r, p)| (r, p.len() - 1)).collect();
        let t0 = Instant::now();
        let pre = self.prefill(state, prompts, &picks, true)?;
        timings.prefill = t0.elapsed();
        let mut next: Vec<i64> = pre.logits.iter().map(|row| argmax(row) as i64).collect();
        let (mut past_k, mut past_v) = pre.present.ok_or(InferenceError::Output { graph: G, name: "present_keys", reason: "not returned".into() })?;
        let s = state.prefix_len();
        let past0 = s + pre.t_len;
        // Per-row masks over everything seen so far (prefill part has this row's padding zeroed).
        let mut masks: Vec<Vec<i64>> = (0..b).map(|r| pre.mask[r * past0..(r + 1) * past0].to_vec()).collect();
        let mut out: Vec<Vec<i64>> = vec![Vec::new(); b];
        let mut done = vec![max_tokens == 0; b];
        let t1 = Instant::now();
        for step in 0.. {
            for r in 0..b {
                if done[r] {
                    continue;
                }
                if next[r] == eot {
                    done[r] = true;
                } else {
                    out[r].push(next[r]);
                    timings.tokens += 1;
                    done[r] = out[r].len() >= max_tokens;
                }
            }
            if done.iter().all(|&d| d) {
                break;
            }
            // Feed each row's last token; finished rows feed padding that nobody reads.
            let ids: Vec<i64> = (0..b).map(|r| if done[r] { self.info.tokens.pad } else { next[r] }).collect();
            let pos: Vec<i64> = (0..b).map(|r| state.text_start() + (prompts[r].len() + step) as i64).collect();
            let mut flat_mask = Vec::with_capacity(b * (past0 + step + 1));
            for m in masks.iter_mut() {
                m.push(1);
                flat_mask.extend_from_slice(m);
            }
            let total = past0 + step + 1;
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
                return Err(InferenceError::Output { graph: G, name: "logits", reason: format!("shape {lshape:?} at decode step") });
            }
            next = (0..b).map(|r| argmax(&logits[r * v..(r + 1) * v]) as i64).collect();
            past_k = take(&mut outputs, G, "present_keys")?;
            past_v = take(&mut outputs, G, "present_values")?;
            drop(outputs);
            drop(session);
            timings.steps += 1;
        }
        timings.decode = t1.elapsed();
        Ok((out, timings))
    }
}
