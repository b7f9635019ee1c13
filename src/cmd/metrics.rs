//! Referring-segmentation and description metrics (DESIGN.md §4), computed exactly as
//! `models/pixel_sail/evaluate.py` does so the Rust and Python figures can be compared.

use serde::Serialize;

#[derive(Debug, Default, Clone)]
pub struct Accumulator {
    inter: u64,
    union: u64,
    g_ious: Vec<f64>,
    no_target: usize,
    no_target_ok: usize,
    desc: usize,
    desc_ok: usize,
    /// Named objects the node did not find, so did not describe (counted wrong in `desc_ok` too).
    not_described: usize,
    /// Named descriptions per [`Grounding`]: (how many, how many right).
    named_by: [(usize, usize); 3],
    vp: usize,
    vp_ok: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Counts {
    pub segment: usize,
    pub no_target: usize,
    pub describe: usize,
    /// Named objects not described because the node did not find them (wrong descriptions in `describe`).
    pub not_described: usize,
    pub vp_describe: usize,
}

/// What the command's segmentation did under a named description: the node describes what the mask shows, so
/// a description can only be as right as the grounding under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grounding {
    /// Found, IoU with the named object > 0.5.
    RightObject,
    /// Found, but mostly not the named object.
    WrongObject,
    NotFound,
}

impl Grounding {
    pub fn of(found: bool, inter: usize, union: usize) -> Self {
        match found {
            false => Self::NotFound,
            true if union > 0 && inter as f64 / union as f64 > 0.5 => Self::RightObject,
            true => Self::WrongObject,
        }
    }
}

/// One part of [`NamedByGrounding`]: its share of the named descriptions and their accuracy (None when empty).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroundingPart {
    pub share: f64,
    pub description_acc: Option<f64>,
}

/// Named descriptions split by [`Grounding`], as `evaluate.py`'s `named_by_grounding`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NamedByGrounding {
    pub right_object: GroundingPart,
    pub wrong_object: GroundingPart,
    pub not_found: GroundingPart,
}

/// Same keys as the Python evaluator's JSON.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    #[serde(rename = "cIoU")]
    pub ciou: f64,
    #[serde(rename = "gIoU")]
    pub giou: f64,
    #[serde(rename = "N-acc")]
    pub n_acc: f64,
    pub description_acc: f64,
    pub vp_description_acc: f64,
    pub named_by_grounding: NamedByGrounding,
    pub counts: Counts,
}

impl Accumulator {
    /// A target-present command: intersection and union with the ground truth.
    pub fn add_present(&mut self, inter: u64, union: u64) {
        self.inter += inter;
        self.union += union;
        self.g_ious.push(if union == 0 { 1.0 } else { inter as f64 / union as f64 });
    }

    /// A no-target command: right when nothing was found.
    pub fn add_no_target(&mut self, found: bool) {
        self.no_target += 1;
        self.no_target_ok += usize::from(!found);
        self.g_ious.push(if found { 0.0 } else { 1.0 });
    }

    /// A named object's description, and the grounding under it where the set has the object's mask.
    pub fn add_description(&mut self, ok: bool, grounding: Option<Grounding>) {
        self.desc += 1;
        self.desc_ok += usize::from(ok);
        if let Some(g) = grounding {
            let part = &mut self.named_by[g as usize];
            part.0 += 1;
            part.1 += usize::from(ok);
        }
    }

    /// A named object the node did not find: it says nothing about it, which counts as a wrong description.
    pub fn add_not_described(&mut self, grounding: Option<Grounding>) {
        self.not_described += 1;
        self.add_description(false, grounding);
    }

    pub fn add_vp_description(&mut self, ok: bool) {
        self.vp += 1;
        self.vp_ok += usize::from(ok);
    }

    pub fn metrics(&self) -> Metrics {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Metrics {
            ciou: if self.union == 0 { 0.0 } else { self.inter as f64 / self.union as f64 },
            giou: if self.g_ious.is_empty() { 0.0 } else { self.g_ious.iter().sum::<f64>() / self.g_ious.len() as f64 },
            n_acc: ratio(self.no_target_ok, self.no_target),
            description_acc: ratio(self.desc_ok, self.desc),
            vp_description_acc: ratio(self.vp_ok, self.vp),
            named_by_grounding: {
                let total: usize = self.named_by.iter().map(|p| p.0).sum();
                let part = |g: Grounding| {
                    let (n, ok) = self.named_by[g as usize];
                    GroundingPart { share: ratio(n, total), description_acc: (n > 0).then(|| ratio(ok, n)) }
                };
                NamedByGrounding {
                    right_object: part(Grounding::RightObject),
                    wrong_object: part(Grounding::WrongObject),
                    not_found: part(Grounding::NotFound),
                }
            },
            counts: Counts {
                segment: self.g_ious.len(),
                no_target: self.no_target,
                describe: self.desc,
                not_described: self.not_described,
                vp_describe: self.vp,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_object_not_found_is_a_wrong_description_counted_apart() {
        let mut a = Accumulator::default();
        a.add_description(true, Some(Grounding::RightObject));
        a.add_not_described(Some(Grounding::NotFound));
        let m = a.metrics();
        assert!((m.description_acc - 0.5).abs() < 1e-12);
        assert_eq!((m.counts.describe, m.counts.not_described), (2, 1));
        assert_eq!(m.named_by_grounding.not_found.description_acc, Some(0.0));
    }

    #[test]
    fn metrics_follow_the_paper_definitions() {
        let mut a = Accumulator::default();
        a.add_present(50, 100);
        a.add_present(0, 100);
        a.add_no_target(false);
        a.add_no_target(true);
        let m = a.metrics();
        assert!((m.ciou - 0.25).abs() < 1e-12);
        assert!((m.giou - (0.5 + 0.0 + 1.0 + 0.0) / 4.0).abs() < 1e-12);
        assert!((m.n_acc - 0.5).abs() < 1e-12);
    }

    #[test]
    fn named_descriptions_are_split_by_the_grounding_under_them() {
        assert_eq!(Grounding::of(true, 60, 100), Grounding::RightObject);
        assert_eq!(Grounding::of(true, 50, 100), Grounding::WrongObject, "half the union is not enough");
        assert_eq!(Grounding::of(true, 0, 0), Grounding::WrongObject);
        assert_eq!(Grounding::of(false, 90, 100), Grounding::NotFound);
        let mut a = Accumulator::default();
        a.add_description(true, Some(Grounding::RightObject));
        a.add_description(false, Some(Grounding::RightObject));
        a.add_description(false, Some(Grounding::WrongObject));
        a.add_description(true, Some(Grounding::NotFound));
        a.add_description(true, None); // no mask in the set: counted, not split
        let m = a.metrics();
        assert!((m.description_acc - 0.6).abs() < 1e-12);
        let by = &m.named_by_grounding;
        assert_eq!(by.right_object, GroundingPart { share: 0.5, description_acc: Some(0.5) });
        assert_eq!(by.wrong_object, GroundingPart { share: 0.25, description_acc: Some(0.0) });
        assert_eq!(by.not_found, GroundingPart { share: 0.25, description_acc: Some(1.0) });
        assert_eq!(Accumulator::default().metrics().named_by_grounding.not_found.description_acc, None);
    }
}
