//! How the node settles the words it publishes for a found object or a clicked region (model.json `wording`;
//! Python `Reference.word_object`, step for step). Two looks describe a small object — the whole frame with its
//! mask as the visual prompt, and the region zoom's crop (zoom.rs) — and each is surer of some words:
//! - `joint_shape`: the shape word is the one the two looks are surer of together (each look's logits at its
//!   shape step, as log-probabilities over the six shape words, summed), instead of the closer look's alone;
//! - `place_from_mask`: the place is the 3×3 cell (DESIGN.md §4) of the mask's largest piece's centroid. The
//!   place is defined by where the object is, and the published mask is where the node says it is; on the
//!   validation split the mask put 99 % of rightly grounded objects in the right cell, the language head 92 %.
//!
//! On 1,000 validation scenes named descriptions went 0.849 → 0.891 and visual-prompt descriptions 0.882 →
//! 0.911 (models/README.md, "Eighteenth session").

use super::description::{SHAPES, parse_description};
use super::zoom::{CloseLook, largest_component};
use super::{Engine, InferenceError};
use crate::frame::{Frame, Mask};

/// A generated description with the logits its first words were chosen from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Described {
    pub text: String,
    /// Generated token ids (no `<|eot|>`).
    pub ids: Vec<i64>,
    /// The logits each of the first [`super::generate::KEPT_STEPS`] tokens was chosen from.
    pub logits: Vec<Vec<f32>>,
}

/// model.json `wording`: which words the node settles across looks (absent: each look's words as they are).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Wording {
    pub joint_shape: bool,
    pub place_from_mask: bool,
}

/// "a {size} {colour} {shape} …": the shape is the fourth generated token.
const SHAPE_STEP: usize = 3;

/// The look's log-probabilities over the shape words at its shape step; None when it put no shape word there.
fn shape_log_probs(look: &Described, shape_ids: &[i64]) -> Option<Vec<f64>> {
    let chosen = *look.ids.get(SHAPE_STEP)?;
    let row = look.logits.get(SHAPE_STEP)?;
    if !shape_ids.contains(&chosen) {
        return None;
    }
    let picked = shape_ids
        .iter()
        .map(|&id| usize::try_from(id).ok().and_then(|i| row.get(i)).map(|&v| f64::from(v)))
        .collect::<Option<Vec<f64>>>()?;
    let top = picked.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let norm = picked.iter().map(|v| (v - top).exp()).sum::<f64>().ln() + top;
    Some(picked.iter().map(|v| v - norm).collect())
}

/// How sure the two looks are together of each shape word (`SHAPES` order; `shape_ids[i]` is the token of
/// `SHAPES[i]`): their log-probabilities over the shape words, summed. None when either look did not put a
/// shape word at the shape step (then the closer look's word stands).
pub fn shape_scores(first: &Described, close: &Described, shape_ids: &[i64]) -> Option<Vec<f64>> {
    let (a, b) = (shape_log_probs(first, shape_ids)?, shape_log_probs(close, shape_ids)?);
    Some(a.iter().zip(&b).map(|(x, y)| x + y).collect())
}

/// The shape word of the highest score (the first of equal ones, as numpy's argmax).
pub fn joint_shape(scores: &[f64]) -> Option<&'static str> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in scores.iter().enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.and_then(|(i, _)| SHAPES.get(i).copied())
}

/// The description's place for this mask: the 3×3 cell of its largest piece's centroid (pixel centres, in frame
/// fractions); None for an empty mask. The largest piece, because a refined mask can keep a stray bit of the
/// first pass's far away.
pub fn place_of_mask(mask: &Mask) -> Option<&'static str> {
    let (piece, _) = largest_component(mask)?;
    let (w, h) = (piece.width as usize, piece.height as usize);
    let (mut sx, mut sy, mut n) = (0f64, 0f64, 0usize);
    for (i, _) in piece.data.iter().enumerate().filter(|(_, v)| **v != 0) {
        sx += (i % w) as f64;
        sy += (i / w) as f64;
        n += 1;
    }
    let (cx, cy) = ((sx / n as f64 + 0.5) / w as f64, (sy / n as f64 + 0.5) / h as f64);
    let cell = |c: f64| ((c * 3.0) as usize).min(2);
    Some(super::description::PLACES[cell(cy) * 3 + cell(cx)])
}

/// `text` with its place replaced by `place` (unchanged when it is not a description).
pub fn with_place(text: &str, place: &str) -> String {
    match parse_description(text) {
        Some((size, colour, shape, _)) => format!("a {size} {colour} {shape} {place}"),
        None => text.to_string(),
    }
}

impl Engine {
    /// The words the node publishes for an object first described as `first` whose mask on `frame` is `mask`:
    /// the closer look's colour and shape when one is due (with `wording.joint_shape`, the shape both looks are
    /// surer of), and with `wording.place_from_mask` the mask's own place. An error is the closer pass's (the
    /// worker counts it; [`Engine::word_object_or_first`] answers from the first pass instead).
    pub fn word_object(
        &self,
        frame: &Frame,
        mask: &Mask,
        first: &Described,
        max_tokens: usize,
    ) -> Result<(String, Option<CloseLook>), InferenceError> {
        let (text, look) = match self.look_closer(frame, mask, first, max_tokens)? {
            Some((text, look)) => (text, Some(look)),
            None => (first.text.clone(), None),
        };
        Ok((self.place_words(&text, mask), look))
    }

    /// [`Engine::word_object`] where the first pass's answer stands on its own: a failed closer pass costs the
    /// closer look (logged), not the answer, which keeps the mask's place.
    pub fn word_object_or_first(
        &self,
        frame: &Frame,
        mask: &Mask,
        first: &Described,
        max_tokens: usize,
    ) -> (String, Option<CloseLook>) {
        self.word_object(frame, mask, first, max_tokens).unwrap_or_else(|e| {
            tracing::warn!(seq = frame.seq, "region zoom: the closer pass failed, answering from the first: {e}");
            (self.place_words(&first.text, mask), None)
        })
    }

    /// `text` with the mask's place when model.json's `wording.place_from_mask` says so.
    fn place_words(&self, text: &str, mask: &Mask) -> String {
        match self.info.wording.place_from_mask.then(|| place_of_mask(mask)).flatten() {
            Some(place) => with_place(text, place),
            None => text.to_string(),
        }
    }

    /// The token ids of the six shape words, in `SHAPES` order (None when the tokenizer lacks one).
    pub(crate) fn shape_ids(&self) -> Option<Vec<i64>> {
        SHAPES.iter().map(|w| self.tokenizer.token_id(w)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(ids: [i64; 4], shape_row: &[f32]) -> Described {
        let mut logits = vec![vec![0.0; 10]; 4];
        logits[3][4..10].copy_from_slice(shape_row);
        Described { text: String::new(), ids: ids.to_vec(), logits }
    }

    #[test]
    fn the_shape_both_looks_are_surer_of_wins() {
        let shapes = [4, 5, 6, 7, 8, 9]; // circle square triangle star ring cross
        let joint = |a: &Described, b: &Described| shape_scores(a, b, &shapes).and_then(|s| joint_shape(&s));
        // the closer look says cross by a hair, the first pass says star firmly: star
        let first = look([0, 1, 2, 7], &[0.0, 0.0, 0.0, 5.0, 0.0, 2.0]);
        let close = look([0, 1, 2, 9], &[0.0, 0.0, 0.0, 3.0, 0.0, 3.2]);
        assert_eq!(joint(&first, &close), Some("star"));
        // a sure closer look outweighs an unsure first pass
        let close = look([0, 1, 2, 9], &[0.0, 0.0, 0.0, 0.0, 0.0, 9.0]);
        assert_eq!(joint(&first, &close), Some("cross"));
        // the scores are log-probabilities: each look's sum to one over the six words
        let even = look([0, 1, 2, 4], &[0.0; 6]);
        let s = shape_scores(&even, &even, &shapes).unwrap();
        assert!(s.iter().all(|v| (v - 2.0 * (1.0f64 / 6.0).ln()).abs() < 1e-9));
        assert_eq!(joint_shape(&s), Some("circle"), "a tie goes to the first word");
        // no shape word at the shape step: no joint answer
        let odd = look([0, 1, 2, 3], &[0.0; 6]);
        assert_eq!(joint(&odd, &close), None);
        assert_eq!(joint(&first, &Described::default()), None);
    }

    #[test]
    fn a_model_json_without_wording_keeps_each_looks_words() {
        assert_eq!(
            serde_json::from_str::<Wording>("{}").unwrap(),
            Wording { joint_shape: false, place_from_mask: false }
        );
        let half: Wording = serde_json::from_str(r#"{"place_from_mask": true}"#).unwrap();
        assert!(half.place_from_mask && !half.joint_shape);
        assert!(serde_json::from_str::<Wording>(r#"{"joint_shape": "yes"}"#).is_err(), "a flag must be a boolean");
    }

    #[test]
    fn the_place_is_the_cell_of_the_largest_piece() {
        let mut m = Mask { width: 9, height: 6, data: vec![0; 54] };
        for (y, x) in [(4, 7), (4, 8), (5, 7), (5, 8)] {
            m.data[y * 9 + x] = 1; // bottom right, 2×2
        }
        assert_eq!(place_of_mask(&m), Some("in the bottom right"));
        m.data[0] = 1; // a stray pixel top left does not move it
        assert_eq!(place_of_mask(&m), Some("in the bottom right"));
        let centre = Mask { width: 9, height: 6, data: (0..54).map(|i| u8::from(i / 9 == 2 && i % 9 == 4)).collect() };
        assert_eq!(place_of_mask(&centre), Some("in the center"));
        assert_eq!(place_of_mask(&Mask { width: 3, height: 3, data: vec![0; 9] }), None);
        assert_eq!(with_place("a small red star on the left", "at the top"), "a small red star at the top");
        assert_eq!(with_place("not a description", "at the top"), "not a description");
    }
}
