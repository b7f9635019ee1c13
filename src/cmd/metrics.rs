//! Referring-segmentation and description metrics (DESIGN.md §4), computed exactly as
//! `models/pixel_sail/evaluate.py` does so the Rust and Python figures can be compared.

use serde::Serialize;

pub use crate::inference::description::{descriptions_match, parse_description};

#[derive(Debug, Default, Clone)]
pub struct Accumulator {
    inter: u64,
    union: u64,
    g_ious: Vec<f64>,
    no_target: usize,
    no_target_ok: usize,
    desc: usize,
    desc_ok: usize,
    vp: usize,
    vp_ok: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Counts {
    pub segment: usize,
    pub no_target: usize,
    pub describe: usize,
    pub vp_describe: usize,
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

    pub fn add_description(&mut self, ok: bool) {
        self.desc += 1;
        self.desc_ok += usize::from(ok);
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
            counts: Counts { segment: self.g_ious.len(), no_target: self.no_target, describe: self.desc, vp_describe: self.vp },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_and_large_are_synonyms_and_junk_does_not_parse() {
        assert!(descriptions_match("a big red star on the left", "a large red star on the left"));
        assert!(!descriptions_match("a small red star on the left", "a large red star on the left"));
        assert!(!descriptions_match("a large red star", "a large red star"));
        assert_eq!(parse_description("A Large blue ring in the center").unwrap().3, "in the center");
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
}
