//! A finished greedy description as the grounding policy reads it: the words, their ids, and the logits the
//! first words were chosen from (the closer check and the joint shape weigh words by them).

/// A generated description with the logits its first words were chosen from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Described {
    pub text: String,
    /// Generated token ids (no `<|eot|>`).
    pub ids: Vec<i64>,
    /// The logits each of the first [`super::generate::KEPT_STEPS`] tokens was chosen from.
    pub logits: Vec<Vec<f32>>,
}
