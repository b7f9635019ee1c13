//! Many images in one call: the crops of one frame's extra passes (a closer segmentation of every found
//! object, then a closer check of each) are encoded in one vision.onnx call along its batch axis `N`, and
//! their prompts segmented or decoded in one text.onnx call, each prompt over its own image's prefix.
//!
//! Images are batched only with images of the same model input size (one grid, one prefix length); crops
//! around objects keep the frame's aspect ratio, so they nearly always share one. A graph whose batch axis
//! is fixed at 1 (model.json declares `pixels` as `[1, 3, …]`) gets one call per image, as before.

use std::time::Instant;

use super::InferenceError;
use super::described::Described;
use super::engine::{EncodeTimings, Engine, ImageState, SegmentOutput, SegmentTimings, lock, logit_at, sigmoid};
use super::model_info::Dim;
use super::tensors::{output_f32, run_err, unstack_row, view};
use crate::frame::{Frame, VisualPrompt};
use crate::preprocess::{ModelInput, preprocess, rasterize_visual_prompt};

const G: &str = "vision";

/// Indices of `keys` grouped by equal key, groups in order of first appearance, indices in order.
fn groups<K: PartialEq>(keys: &[K]) -> Vec<Vec<usize>> {
    let mut out: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match out.iter_mut().find(|(first, _)| keys[*first] == *k) {
            Some((_, g)) => g.push(i),
            None => out.push((i, vec![i])),
        }
    }
    out.into_iter().map(|(_, g)| g).collect()
}

impl Engine {
    /// The most images one vision.onnx call takes: 1 for a graph with a fixed batch, else the TensorRT
    /// profile's maximum (`shapes["vision.pixels"].max[0]`), else `max_commands`.
    pub fn vision_batch_limit(&self) -> usize {
        let fixed = self
            .info
            .tensors
            .get(G)
            .and_then(|sig| sig.inputs.iter().find(|t| t.name == "pixels"))
            .and_then(|t| t.shape.first())
            .and_then(|d| match d {
                Dim::Fixed(n) => Some(*n),
                Dim::Symbol(_) => None,
            });
        match fixed {
            Some(n) => usize::try_from(n).unwrap_or(1).max(1),
            None => self
                .info
                .shapes
                .get("vision.pixels")
                .and_then(|r| r.max.first())
                .and_then(|&n| usize::try_from(n).ok())
                .unwrap_or(self.max_commands())
                .max(1),
        }
    }

    /// Encode several images (each with its visual prompt, if any): one vision.onnx call per group of equal
    /// input size, up to [`Engine::vision_batch_limit`] images each. States come back in input order; each
    /// one's `timings.vision` is its share of its call.
    pub fn encode_batch(&self, images: &[(&Frame, Option<&VisualPrompt>)]) -> Result<Vec<ImageState>, InferenceError> {
        self.encode_batch_at(images, &self.params)
    }

    /// [`Engine::encode_batch`] at the extra passes' crop input size (`EngineConfig::crop_long_side`).
    pub(crate) fn encode_crops(
        &self,
        images: &[(&Frame, Option<&VisualPrompt>)],
    ) -> Result<Vec<ImageState>, InferenceError> {
        self.encode_batch_at(images, &self.crop_params)
    }

    fn encode_batch_at(
        &self,
        images: &[(&Frame, Option<&VisualPrompt>)],
        params: &crate::preprocess::PreprocessParams,
    ) -> Result<Vec<ImageState>, InferenceError> {
        let patch = self.info.config.patch;
        let mut inputs: Vec<(ModelInput, Vec<f32>, std::time::Duration)> = Vec::with_capacity(images.len());
        for (frame, vp) in images {
            let t0 = Instant::now();
            let input = preprocess(frame, params)?;
            let g = input.geometry;
            let vp_mask = match vp {
                Some(v) => rasterize_visual_prompt(v, &g, patch)?,
                None => vec![0.0; g.grid_h * g.grid_w],
            };
            inputs.push((input, vp_mask, t0.elapsed()));
        }
        let sizes: Vec<(usize, usize)> =
            inputs.iter().map(|(i, _, _)| (i.geometry.input_h, i.geometry.input_w)).collect();
        let mut states: Vec<Option<ImageState>> = (0..images.len()).map(|_| None).collect();
        let limit = self.vision_batch_limit();
        for group in groups(&sizes) {
            for chunk in group.chunks(limit) {
                let t1 = Instant::now();
                let mut out = self.run_vision(chunk.iter().map(|&i| (&inputs[i].0, inputs[i].1.as_slice())))?;
                let share = t1.elapsed() / chunk.len() as u32;
                for (&i, state) in chunk.iter().zip(out.iter_mut()) {
                    let (frame, vp) = images[i];
                    state.seq = frame.seq;
                    state.stamp = frame.stamp;
                    state.visual_prompt = vp.cloned();
                    state.timings = EncodeTimings { preprocess: inputs[i].2, vision: share };
                }
                for (&i, state) in chunk.iter().zip(out) {
                    states[i] = Some(state);
                }
            }
        }
        Ok(states.into_iter().flatten().collect())
    }

    /// One vision.onnx call over images of one input size; states without seq, stamp or prompt filled in.
    fn run_vision<'a>(
        &self,
        images: impl Iterator<Item = (&'a ModelInput, &'a [f32])>,
    ) -> Result<Vec<ImageState>, InferenceError> {
        let images: Vec<_> = images.collect();
        let n = images.len();
        let g = images[0].0.geometry;
        let mut pixels = Vec::with_capacity(n * images[0].0.pixels.len());
        let mut vp_masks = Vec::with_capacity(n * g.grid_h * g.grid_w);
        for (input, vp) in &images {
            pixels.extend_from_slice(&input.pixels);
            vp_masks.extend_from_slice(vp);
        }
        let vp_ids = vec![self.info.tokens.vp[0]; n];
        let mut session = lock(&self.vision);
        let outputs = session
            .run(ort::inputs![
                "pixels" => view(G, &[n, 3, g.input_h, g.input_w], &pixels)?,
                "vp_masks" => view(G, &[n, 1, g.grid_h, g.grid_w], &vp_masks)?,
                "vp_ids" => view(G, &[n, 1], &vp_ids)?,
            ])
            .map_err(run_err(G))?;
        let (ks, keys) = output_f32(&outputs, G, "past_keys")?;
        let (vs, values) = output_f32(&outputs, G, "past_values")?;
        let (fs, feats) = output_f32(&outputs, G, "features")?;
        let expected_s = g.grid_h * g.grid_w + 2;
        if ks.len() != 5 || ks != vs || ks[1] != n || ks[3] != expected_s || fs.len() != 4 || fs[0] != n {
            return Err(InferenceError::Output {
                graph: G,
                name: "past_keys",
                reason: format!(
                    "shapes {ks:?} / {vs:?} / features {fs:?}, expected [L, {n}, KVH, {expected_s}, hd] and [{n}, E, h, w]"
                ),
            });
        }
        let per_feat = feats.len() / n;
        Ok((0..n)
            .map(|i| ImageState {
                seq: 0,
                stamp: std::time::SystemTime::UNIX_EPOCH,
                geometry: images[i].0.geometry,
                visual_prompt: None,
                timings: EncodeTimings::default(),
                past_keys: unstack_row(keys, ks[0], n, i),
                past_values: unstack_row(values, ks[0], n, i),
                kv_shape: [ks[0], 1, ks[2], ks[3], ks[4]],
                features: feats[i * per_feat..(i + 1) * per_feat].to_vec(),
                feat_shape: [1, fs[1], fs[2], fs[3]],
            })
            .collect())
    }

    /// Segment several (image, prompt) pairs, each prompt already tokenized and ending in
    /// `<|assistant|>[SEG]` (e.g. `segment <vp_1>` on crops from [`Engine::encode_batch`]): one text.onnx
    /// call per group of images sharing a grid, one mask_head.onnx call per image. Same results as
    /// [`Engine::segment`] on each image alone, within float noise.
    pub fn segment_batch(&self, rows: &[(&ImageState, &[i64])]) -> Result<Vec<SegmentOutput>, InferenceError> {
        let keys: Vec<[usize; 5]> = rows.iter().map(|(s, _)| s.kv_shape).collect();
        let mut out: Vec<Option<SegmentOutput>> = (0..rows.len()).map(|_| None).collect();
        for group in groups(&keys) {
            let part: Vec<(&ImageState, &[i64])> = group.iter().map(|&i| rows[i]).collect();
            let (segs, _) = self.segment_rows(&part)?;
            for (i, seg) in group.into_iter().zip(segs) {
                out[i] = Some(seg);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Each image's commands segmented (as [`Engine::segment_timed`] does for one image): the commands of
    /// every image in text.onnx calls of up to `max_commands` rows, one per group of images sharing a grid.
    /// The timings are the calls' totals, the same for every image.
    pub fn segment_many(
        &self,
        items: &[(&ImageState, &[String])],
    ) -> Result<Vec<(Vec<SegmentOutput>, SegmentTimings)>, InferenceError> {
        let t0 = Instant::now();
        let prompts: Vec<Vec<Vec<i64>>> =
            items.iter().map(|(_, commands)| self.segment_prompt_ids(commands)).collect::<Result<_, _>>()?;
        let mut timings = SegmentTimings { tokenize: t0.elapsed(), ..SegmentTimings::default() };
        // rows in image order; `owner[r]` is row r's image
        let mut rows: Vec<(&ImageState, &[i64])> = Vec::new();
        let mut owner = Vec::new();
        for (k, ((state, _), ids)) in items.iter().zip(&prompts).enumerate() {
            for p in ids {
                rows.push((*state, p.as_slice()));
                owner.push(k);
            }
        }
        let keys: Vec<[usize; 5]> = rows.iter().map(|(s, _)| s.kv_shape).collect();
        let mut found: Vec<Option<SegmentOutput>> = (0..rows.len()).map(|_| None).collect();
        for group in groups(&keys) {
            for chunk in group.chunks(self.max_commands().max(1)) {
                let part: Vec<(&ImageState, &[i64])> = chunk.iter().map(|&i| rows[i]).collect();
                let (segs, t) = self.segment_rows(&part)?;
                timings.text_prefill += t.text_prefill;
                timings.mask_head += t.mask_head;
                timings.postprocess += t.postprocess;
                for (&i, seg) in chunk.iter().zip(segs) {
                    found[i] = Some(seg);
                }
            }
        }
        let mut out: Vec<(Vec<SegmentOutput>, SegmentTimings)> = items.iter().map(|_| (Vec::new(), timings)).collect();
        for (k, seg) in owner.into_iter().zip(found) {
            out[k].0.extend(seg);
        }
        Ok(out)
    }

    /// One text.onnx call over `rows` (images of one grid), then the mask head once per distinct image.
    pub(crate) fn segment_rows(
        &self,
        rows: &[(&ImageState, &[i64])],
    ) -> Result<(Vec<SegmentOutput>, SegmentTimings), InferenceError> {
        let mut timings = SegmentTimings::default();
        if rows.is_empty() {
            return Ok((Vec::new(), timings));
        }
        let tk = &self.info.tokens;
        // Where the LM decides [SEG] vs <none> (the <|assistant|> slot) and where [SEG]'s hidden state is read.
        let mut picks = Vec::with_capacity(rows.len() * 2);
        for (b, (_, ids)) in rows.iter().enumerate() {
            let seg_pos = ids.iter().rposition(|&t| t == tk.seg).ok_or_else(|| InferenceError::Tokenize {
                text: format!("{ids:?}"),
                reason: "segment template has no [SEG] token".into(),
            })?;
            let decide_pos =
                ids[..seg_pos].iter().rposition(|&t| t == tk.assistant).unwrap_or(seg_pos.saturating_sub(1));
            picks.extend([(b, decide_pos), (b, seg_pos)]);
        }
        let t0 = Instant::now();
        let batch = self.prefill(rows, &picks, false)?;
        timings.text_prefill = t0.elapsed();
        let mut decisions = Vec::with_capacity(rows.len());
        for k in 0..rows.len() {
            let logits = &batch.logits[2 * k];
            let (seg, none) = (logit_at(logits, tk.seg)?, logit_at(logits, tk.none)?);
            decisions.push((seg - none > self.info.postprocess.presence_margin, sigmoid(seg - none)));
        }
        // One mask-head call per image, over that image's rows (the graph pairs one feature map with K queries).
        let images = groups(&rows.iter().map(|(s, _)| *s as *const ImageState).collect::<Vec<_>>());
        let mut out: Vec<Option<SegmentOutput>> = (0..rows.len()).map(|_| None).collect();
        for members in images {
            let state = rows[members[0]].0;
            let seg_hidden: Vec<f32> = members.iter().flat_map(|&k| batch.hidden[2 * k + 1].iter().copied()).collect();
            let t1 = Instant::now();
            let (lshape, logits) = self.run_mask_head(state, &seg_hidden, members.len(), batch.hidden_dim)?;
            timings.mask_head += t1.elapsed();
            let t2 = Instant::now();
            let mine: Vec<(bool, f32)> = members.iter().map(|&k| decisions[k]).collect();
            let segs = self.postprocess_masks(state, &lshape, &logits, &mine)?;
            timings.postprocess += t2.elapsed();
            for (k, seg) in members.into_iter().zip(segs) {
                out[k] = Some(seg);
            }
        }
        Ok((out.into_iter().flatten().collect(), timings))
    }

    /// `segment <vp_1>` on each of several prompted images (crops from [`Engine::encode_crops`]), in one batch.
    pub fn segment_visual_prompts(&self, states: &[ImageState]) -> Result<Vec<SegmentOutput>, InferenceError> {
        let ids = self.tokenizer.prompt(&self.info.templates.segment_vp, "", &[self.info.tokens.seg])?.ids;
        let rows: Vec<_> = states.iter().map(|s| (s, ids.as_slice())).collect();
        self.segment_batch(&rows)
    }

    /// `describe <vp_1>` decoded for up to `max_tokens` words on each of several prompted images, in one batch.
    pub fn describe_visual_prompts(
        &self,
        states: &[ImageState],
        max_tokens: usize,
    ) -> Result<Vec<Described>, InferenceError> {
        let ids = self.tokenizer.prompt(&self.info.templates.describe_vp, "", &[])?.ids;
        let rows: Vec<_> = states.iter().map(|s| (s, ids.as_slice())).collect();
        self.describe_batch(&rows, max_tokens)
    }

    /// Greedy decoding of several (image, prompt) pairs, up to `max_tokens` each: one batched decode per group
    /// of images sharing a grid. Each answer carries the logits its first words were chosen from.
    pub fn describe_batch(
        &self,
        rows: &[(&ImageState, &[i64])],
        max_tokens: usize,
    ) -> Result<Vec<Described>, InferenceError> {
        let keys: Vec<[usize; 5]> = rows.iter().map(|(s, _)| s.kv_shape).collect();
        let mut out: Vec<Option<Described>> = (0..rows.len()).map(|_| None).collect();
        for group in groups(&keys) {
            let part: Vec<(&ImageState, &[i64])> = group.iter().map(|&i| rows[i]).collect();
            let mut job = self.start_generate_rows(&part, max_tokens)?;
            while !job.is_finished() {
                self.step_generate(&mut job)?;
            }
            for (row, i) in group.into_iter().enumerate() {
                out[i] = Some(self.described(&job, row)?);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_appearance_order() {
        assert_eq!(groups(&[3, 1, 3, 2, 1]), vec![vec![0, 2], vec![1, 4], vec![3]]);
        assert!(groups::<u8>(&[]).is_empty());
    }
}
