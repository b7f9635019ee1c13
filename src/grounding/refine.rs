//! A found object's mask, segmented again on a crop around it (model.json `mask_refine`; Python
//! `Reference.refine`, step for step). The model sees a 640×480 frame at 320×240 and its mask head works at
//! stride 4 of that, so a mask edge is good to about 8 frame pixels; on a crop that puts the object at about a
//! quarter of the view's width the same grid is two to three times finer on it. The crop is encoded with the
//! first mask as the visual prompt and `segment <vp_1>` gives the mask inside the crop, which replaces the
//! first one there. It costs one vision pass per found object that is not already large, every crop of a frame in
//! one batched vision call; the found decision and the score stay the first pass's.

use std::sync::Arc;

use super::Grounder;
use super::crop::{crop_around, crop_frame, crop_mask};
use crate::decode::{bbox_of, rle_encode};
use crate::frame::{Frame, Mask, VisualPrompt};
use crate::inference::{InferenceError, SegmentOutput};

impl Grounder {
    /// Refines every found mask in `segments` (masks of `frame`) as [`Grounder::refine_mask`] does one, with
    /// every crop in one batched vision call and one batched text call; returns each one's crop, None where
    /// none ran.
    pub fn refine_masks(
        &self,
        frame: &Frame,
        segments: &mut [SegmentOutput],
    ) -> Result<Vec<Option<[u32; 4]>>, InferenceError> {
        let mut rects = vec![None; segments.len()];
        let Some(params) = self.policy.mask_refine else { return Ok(rects) };
        let mut due = Vec::new();
        for (i, seg) in segments.iter().enumerate().filter(|(_, s)| s.found) {
            if let Some((_, rect)) = crop_around(&seg.mask, frame, &params) {
                let prompt = VisualPrompt::Mask(Arc::new(crop_mask(&seg.mask, rect)));
                due.push((i, rect, crop_frame(frame, rect), prompt));
            }
        }
        if due.is_empty() {
            return Ok(rects);
        }
        let images: Vec<_> = due.iter().map(|(_, _, crop, prompt)| (crop, Some(prompt))).collect();
        let states = self.encode_crops(&images)?;
        let closer = self.engine.segment_visual_prompts(&states)?;
        for ((i, rect, _, _), close) in due.into_iter().zip(closer) {
            if close.found {
                paste_into(&mut segments[i], &close, rect);
                rects[i] = Some(rect);
            }
        }
        Ok(rects)
    }

    /// Segments one found object again on a crop around its mask's largest piece and pastes the crop's mask in
    /// (bbox and RLE follow). None, and `seg` untouched: the policy has no `mask_refine`, the object is not
    /// found or already large, or the crop's pass does not find it.
    pub fn refine_mask(&self, frame: &Frame, seg: &mut SegmentOutput) -> Result<Option<[u32; 4]>, InferenceError> {
        Ok(self.refine_masks(frame, std::slice::from_mut(seg))?.pop().flatten())
    }
}

/// Pastes the crop's mask `close` into `seg` at `rect`; bbox and RLE follow.
fn paste_into(seg: &mut SegmentOutput, close: &SegmentOutput, rect: [u32; 4]) {
    let mut mask = Mask::clone(&seg.mask);
    paste(&mut mask, &close.mask, rect);
    seg.bbox = bbox_of(&mask);
    seg.rle = rle_encode(&mask);
    seg.mask = Arc::new(mask);
}

/// Writes `part` (the crop's size) over `mask` at `rect`.
fn paste(mask: &mut Mask, part: &Mask, rect: [u32; 4]) {
    let [x0, y0, x1, _] = rect.map(|v| v as usize);
    let (w, cw) = (mask.width as usize, x1 - x0);
    for (row, src) in part.data.chunks_exact(cw).enumerate() {
        let at = (y0 + row) * w + x0;
        mask.data[at..at + cw].copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crops_mask_replaces_the_first_inside_the_crop_only() {
        let mut m = Mask { width: 5, height: 4, data: vec![1; 20] };
        let part = Mask { width: 2, height: 2, data: vec![0, 1, 0, 0] };
        paste(&mut m, &part, [2, 1, 4, 3]);
        assert_eq!(m.data, vec![1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1]);
    }
}
