//! How the node settles the words it publishes for a found object or a clicked region (model.json `wording`;
//! Python `Reference.word_object`, step for step). Two looks describe a small object — the whole frame with its
//! mask as the visual prompt, and the closer look's crop (zoom.rs) — and each is surer of some words:
//! - `joint_shape`: the shape word is the one the two looks are surer of together (each look's logits at its
//!   shape step, as log-probabilities over the vocabulary's shape words, summed), instead of the closer look's;
//! - `place_from_mask`: the place is the 3×3 cell (DESIGN.md §4) of the mask's largest piece's centroid: the
//!   place is defined by where the object is, and the published mask is where the node says it is.

use super::crop::largest_component;
use super::vocabulary::Vocabulary;
use crate::frame::Mask;
use crate::inference::Described;

/// The look's log-probabilities over the shape words at `step`; None when it put no shape word there.
fn shape_log_probs(look: &Described, shape_ids: &[i64], step: usize) -> Option<Vec<f64>> {
    let chosen = *look.ids.get(step)?;
    let row = look.logits.get(step)?;
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

/// How sure the two looks are together of each shape word (`shape_ids[i]` is the token of the vocabulary's
/// i-th shape; the shape is the `step`-th generated word): their log-probabilities over the shape words,
/// summed. None when either look did not put a shape word there (then the closer look's word stands).
pub fn shape_scores(first: &Described, close: &Described, shape_ids: &[i64], step: usize) -> Option<Vec<f64>> {
    let (a, b) = (shape_log_probs(first, shape_ids, step)?, shape_log_probs(close, shape_ids, step)?);
    Some(a.iter().zip(&b).map(|(x, y)| x + y).collect())
}

/// The index of the highest score (the first of equal ones, as numpy's argmax).
pub fn joint_shape(scores: &[f64]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in scores.iter().enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// The place for this mask: the vocabulary's phrase for the 3×3 cell of its largest piece's centroid (pixel
/// centres, in frame fractions); None for an empty mask. The largest piece, because a refined mask can keep a
/// stray bit of the first pass's far away.
pub fn place_of_mask<'v>(mask: &Mask, vocabulary: &'v Vocabulary) -> Option<&'v str> {
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
    vocabulary.place(cell(cy) * 3 + cell(cx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grounding::vocabulary::tests::tabletop;

    fn look(ids: [i64; 4], shape_row: &[f32]) -> Described {
        let mut logits = vec![vec![0.0; 10]; 4];
        logits[3][4..10].copy_from_slice(shape_row);
        Described { text: String::new(), ids: ids.to_vec(), logits }
    }

    #[test]
    fn the_shape_both_looks_are_surer_of_wins() {
        let shapes = [4, 5, 6, 7, 8, 9]; // circle square triangle star ring cross
        let joint = |a: &Described, b: &Described| shape_scores(a, b, &shapes, 3).and_then(|s| joint_shape(&s));
        // the closer look says cross by a hair, the first pass says star firmly: star
        let first = look([0, 1, 2, 7], &[0.0, 0.0, 0.0, 5.0, 0.0, 2.0]);
        let close = look([0, 1, 2, 9], &[0.0, 0.0, 0.0, 3.0, 0.0, 3.2]);
        assert_eq!(joint(&first, &close), Some(3));
        // a sure closer look outweighs an unsure first pass
        let close = look([0, 1, 2, 9], &[0.0, 0.0, 0.0, 0.0, 0.0, 9.0]);
        assert_eq!(joint(&first, &close), Some(5));
        // the scores are log-probabilities: each look's sum to one over the six words
        let even = look([0, 1, 2, 4], &[0.0; 6]);
        let s = shape_scores(&even, &even, &shapes, 3).unwrap();
        assert!(s.iter().all(|v| (v - 2.0 * (1.0f64 / 6.0).ln()).abs() < 1e-9));
        assert_eq!(joint_shape(&s), Some(0), "a tie goes to the first word");
        // no shape word at the shape step: no joint answer
        let odd = look([0, 1, 2, 3], &[0.0; 6]);
        assert_eq!(joint(&odd, &close), None);
        assert_eq!(joint(&first, &Described::default()), None);
    }

    #[test]
    fn the_place_is_the_cell_of_the_largest_piece() {
        let v = tabletop();
        let mut m = Mask { width: 9, height: 6, data: vec![0; 54] };
        for (y, x) in [(4, 7), (4, 8), (5, 7), (5, 8)] {
            m.data[y * 9 + x] = 1; // bottom right, 2×2
        }
        assert_eq!(place_of_mask(&m, &v), Some("in the bottom right"));
        m.data[0] = 1; // a stray pixel top left does not move it
        assert_eq!(place_of_mask(&m, &v), Some("in the bottom right"));
        let centre = Mask { width: 9, height: 6, data: (0..54).map(|i| u8::from(i / 9 == 2 && i % 9 == 4)).collect() };
        assert_eq!(place_of_mask(&centre, &v), Some("in the center"));
        assert_eq!(place_of_mask(&Mask { width: 3, height: 3, data: vec![0; 9] }, &v), None);
    }
}
