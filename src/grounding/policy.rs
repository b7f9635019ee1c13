//! The grounding policy: which passes the node runs around the model and with which numbers, read once from
//! model.json (`mask_refine`, `confirm_found`, `region_zoom`, `wording`, `vocabulary`) and the configuration
//! (`--policy`, `--no-mask-refine`, `--no-confirm-found`). Policy `model` is the model alone: one pass per
//! frame, the first pass's words, nothing around it. A model.json without a `vocabulary` section can only run
//! that way (the extra passes read and write its words), and the node says so once at start-up.

use std::sync::Once;

use super::vocabulary::Vocabulary;
use crate::config::{EngineConfig, PolicyKind};
use crate::inference::{ConfirmFound, ModelInfo, RegionZoom, Wording};

/// See the module doc. Every part is None (or off) under policy `model`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The policy that runs (`model` when `published` was asked for without a vocabulary).
    pub kind: PolicyKind,
    /// model.json's words; kept under policy `model` too (`eval` scores descriptions with them).
    pub vocabulary: Option<Vocabulary>,
    /// Found masks segmented again on a crop around them.
    pub mask_refine: Option<RegionZoom>,
    /// Found objects checked against the command's colour and shape by a closer look.
    pub confirm_found: Option<ConfirmFound>,
    /// The closer look's crop (descriptions of small objects, and the closer check's).
    pub region_zoom: Option<RegionZoom>,
    pub wording: Wording,
}

static NO_VOCABULARY: Once = Once::new();

impl Policy {
    /// The model alone.
    pub fn model_alone(vocabulary: Option<Vocabulary>) -> Policy {
        Policy {
            kind: PolicyKind::Model,
            vocabulary,
            mask_refine: None,
            confirm_found: None,
            region_zoom: None,
            wording: Wording::default(),
        }
    }

    /// The policy `cfg` asks for, as model.json allows; Err: model.json's `vocabulary` is malformed (the reason).
    pub fn from_model(info: &ModelInfo, cfg: &EngineConfig) -> Result<Policy, String> {
        let vocabulary = info.vocabulary.as_ref().map(Vocabulary::from_spec).transpose()?;
        if cfg.policy == PolicyKind::Model || vocabulary.is_none() {
            return Ok(Self::model_alone(vocabulary));
        }
        Ok(Policy {
            kind: PolicyKind::Published,
            vocabulary,
            mask_refine: info.mask_refine.filter(|_| cfg.mask_refine),
            // the closer check looks through the region zoom's crop
            confirm_found: info.confirm_found.filter(|_| cfg.confirm_found && info.region_zoom.is_some()),
            region_zoom: info.region_zoom,
            wording: info.wording,
        })
    }

    /// Says once per process when `published` was asked for and model.json cannot give it.
    pub(crate) fn announce(&self, asked: PolicyKind) {
        if asked == PolicyKind::Published && self.kind == PolicyKind::Model {
            NO_VOCABULARY.call_once(|| {
                tracing::warn!(
                    "model.json has no `vocabulary` section: running the model alone (policy `model`: one pass per \
                     frame, no closer segmentation, check or look); add the section to run the published policy"
                )
            });
        }
    }

    /// One line for logs and reports: the policy and the parts that run.
    pub fn summary(&self) -> String {
        let parts: Vec<&str> = [
            (self.mask_refine.is_some(), "mask_refine"),
            (self.confirm_found.is_some(), "confirm_found"),
            (self.region_zoom.is_some(), "region_zoom"),
            (self.wording.joint_shape, "joint_shape"),
            (self.wording.place_from_mask, "place_from_mask"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        match parts.is_empty() {
            true => format!("{} (one pass)", self.kind),
            false => format!("{} ({})", self.kind, parts.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(drop_vocabulary: bool) -> ModelInfo {
        let mut v: serde_json::Value = serde_json::from_str(include_str!("../../models/tiny/model.json")).unwrap();
        if drop_vocabulary {
            v.as_object_mut().unwrap().remove("vocabulary");
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_published_policy_comes_from_model_json_with_its_vocabulary() {
        let info = tiny(false);
        let p = Policy::from_model(&info, &EngineConfig::default()).unwrap();
        assert_eq!(p.kind, PolicyKind::Published);
        assert!(p.vocabulary.is_some() && p.mask_refine.is_some() && p.confirm_found.is_some());
        assert_eq!(p.region_zoom, info.region_zoom);
        let cfg = EngineConfig { mask_refine: false, ..EngineConfig::default() };
        let p = Policy::from_model(&info, &cfg).unwrap();
        assert!(p.mask_refine.is_none() && p.confirm_found.is_some(), "--no-mask-refine is a part of the policy");
        let cfg = EngineConfig { policy: PolicyKind::Model, ..EngineConfig::default() };
        let p = Policy::from_model(&info, &cfg).unwrap();
        assert_eq!(p, Policy::model_alone(p.vocabulary.clone()));
        assert_eq!(p.summary(), "model (one pass)");
    }

    #[test]
    fn without_a_vocabulary_the_model_runs_alone() {
        let p = Policy::from_model(&tiny(true), &EngineConfig::default()).unwrap();
        assert_eq!(p, Policy::model_alone(None));
        assert_eq!(p.kind, PolicyKind::Model);
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
    fn a_malformed_vocabulary_is_refused() {
        let mut info = tiny(false);
        info.vocabulary.as_mut().unwrap().description = "a {shape}".into();
        let err = Policy::from_model(&info, &EngineConfig::default()).unwrap_err();
        assert!(err.contains("vocabulary.description"), "{err}");
    }
}
