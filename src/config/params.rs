//! The run's named parameters (DESIGN §5, README's table) as the ROS node declares them: their defaults, the
//! validator that refuses bad values with a reason, and [`NodeSettings`], the typed view the pipeline and the
//! node read. [`super::run::resolve`] is the one place they are resolved: defaults < CLI flags < `--params-file`
//! (in order) < `-p` (in order).

use std::collections::BTreeMap;

use ros2_client::parameters::ParameterValue as P;

#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("params file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("parameter `{name}`: {reason}")]
    Invalid { name: String, reason: String },
}

/// How descriptions of commanded objects are produced.
pub const DESCRIPTION_POLICIES: [&str; 3] = ["off", "on_new_command", "periodic"];
/// Parameters that only take effect at start: a set at run time is refused with this reason.
pub const READ_ONLY_REASON: &str = "read-only at run time: set it in the params file or with -p and restart";
/// Applied when the pipeline starts (model, source, decoding); `frame_id`, `overlay`, `prompts`,
/// `max_prompts`, `max_rate` and `publish_tf` change live.
pub const READ_ONLY: [&str; 11] = [
    "managed",
    "cameras",
    "policy",
    "model_dir",
    "source",
    "execution_providers",
    "mask_threshold",
    "description_policy",
    "description_period",
    "max_description_tokens",
    "depth_tolerance_ms",
];

/// The typed parameter values the node runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSettings {
    pub model_dir: String,
    /// `ros` subscribes to `image`; anything else is a capture source (device, file, URI, `test`).
    pub source: String,
    /// With `source: ros`, the cameras served (each subscribes `NAME/image`, its outputs go under
    /// `~/NAME/…`); empty: one camera on `image`, outputs directly under `~/`.
    pub cameras: Vec<String>,
    /// Overrides the frame_id of outputs when not empty (else the source's own).
    pub frame_id: String,
    pub execution_providers: Vec<String>,
    /// The grounding policy: `published` (model.json's closer passes, checks and wording) or `model` (one pass
    /// per frame, nothing around the model).
    pub policy: String,
    /// Mask probability threshold, 0 < t < 1.
    pub mask_threshold: f64,
    /// Most frames per second taken from the ROS `image` input (0 = every frame; the model still
    /// takes only the newest). Capture sources set their rate in the source itself.
    pub max_rate: f64,
    pub description_policy: String,
    /// Seconds between descriptions of the same object under the `periodic` policy.
    pub description_period: f64,
    pub max_description_tokens: i64,
    /// Publish `~/overlay` and `~/overlay/compressed`.
    pub overlay: bool,
    /// The active commands (also settable by `~/prompt` and `~/set_prompts`).
    pub prompts: Vec<String>,
    pub max_prompts: i64,
    /// Publish each placed object's frame on `/tf`.
    pub publish_tf: bool,
    /// A colour frame takes the newest `depth` image stamped within this many milliseconds of it.
    pub depth_tolerance_ms: f64,
    /// `qos_overrides.<topic>.<direction>.<policy>` values given at start.
    pub qos_overrides: BTreeMap<String, P>,
    /// A managed (lifecycle) node: starts unconfigured, `~/change_state` loads, starts and stops it.
    pub managed: bool,
}

impl Default for NodeSettings {
    fn default() -> Self {
        Self {
            model_dir: "models/tiny".into(),
            source: "test".into(),
            cameras: Vec::new(),
            frame_id: String::new(),
            execution_providers: vec!["cpu".into()],
            policy: "published".into(),
            mask_threshold: 0.5,
            max_rate: 0.0,
            description_policy: "on_new_command".into(),
            description_period: 2.0,
            max_description_tokens: 24,
            overlay: true,
            prompts: Vec::new(),
            max_prompts: 8,
            publish_tf: false,
            depth_tolerance_ms: 20.0,
            qos_overrides: BTreeMap::new(),
            managed: false,
        }
    }
}

impl NodeSettings {
    /// Every parameter with its current value, for `NodeOptions::declare_parameter`.
    pub fn to_params(&self) -> Vec<(String, P)> {
        let mut v = vec![
            ("model_dir".into(), P::String(self.model_dir.clone())),
            ("source".into(), P::String(self.source.clone())),
            ("cameras".into(), P::StringArray(self.cameras.clone())),
            ("frame_id".into(), P::String(self.frame_id.clone())),
            ("execution_providers".into(), P::StringArray(self.execution_providers.clone())),
            ("policy".into(), P::String(self.policy.clone())),
            ("mask_threshold".into(), P::Double(self.mask_threshold)),
            ("max_rate".into(), P::Double(self.max_rate)),
            ("description_policy".into(), P::String(self.description_policy.clone())),
            ("description_period".into(), P::Double(self.description_period)),
            ("max_description_tokens".into(), P::Integer(self.max_description_tokens)),
            ("overlay".into(), P::Boolean(self.overlay)),
            ("prompts".into(), P::StringArray(self.prompts.clone())),
            ("max_prompts".into(), P::Integer(self.max_prompts)),
            ("publish_tf".into(), P::Boolean(self.publish_tf)),
            ("depth_tolerance_ms".into(), P::Double(self.depth_tolerance_ms)),
            ("managed".into(), P::Boolean(self.managed)),
        ];
        v.extend(self.qos_overrides.iter().map(|(k, val)| (k.clone(), val.clone())));
        v
    }

    /// Sets one parameter after [`validate`]; unknown names are an error.
    pub fn apply(&mut self, name: &str, value: &P) -> Result<(), ParamError> {
        validate(name, value).map_err(|reason| ParamError::Invalid { name: name.into(), reason })?;
        match (name, value) {
            ("model_dir", P::String(s)) => self.model_dir = s.clone(),
            ("source", P::String(s)) => self.source = s.clone(),
            ("cameras", P::StringArray(a)) => self.cameras = a.clone(),
            ("frame_id", P::String(s)) => self.frame_id = s.clone(),
            ("execution_providers", P::StringArray(a)) => self.execution_providers = a.clone(),
            ("execution_providers", P::String(s)) => {
                self.execution_providers = s.split(',').map(|p| p.trim().to_owned()).collect()
            }
            ("policy", P::String(s)) => self.policy = s.clone(),
            ("mask_threshold", v) => self.mask_threshold = as_f64(v).unwrap_or(self.mask_threshold),
            ("max_rate", v) => self.max_rate = as_f64(v).unwrap_or(self.max_rate),
            ("description_policy", P::String(s)) => self.description_policy = s.clone(),
            ("description_period", v) => self.description_period = as_f64(v).unwrap_or(self.description_period),
            ("max_description_tokens", P::Integer(i)) => self.max_description_tokens = *i,
            ("overlay", P::Boolean(b)) => self.overlay = *b,
            ("prompts", P::StringArray(a)) => self.prompts = a.clone(),
            ("prompts", P::String(s)) => {
                self.prompts = s.lines().map(str::to_owned).filter(|l| !l.trim().is_empty()).collect()
            }
            ("max_prompts", P::Integer(i)) => self.max_prompts = *i,
            ("publish_tf", P::Boolean(b)) => self.publish_tf = *b,
            ("depth_tolerance_ms", v) => self.depth_tolerance_ms = as_f64(v).unwrap_or(self.depth_tolerance_ms),
            ("managed", P::Boolean(b)) => self.managed = *b,
            (k, v) if k.starts_with("qos_overrides.") => {
                self.qos_overrides.insert(k.to_owned(), v.clone());
            }
            _ => return Err(ParamError::Invalid { name: name.into(), reason: "unknown parameter".into() }),
        }
        Ok(())
    }
}

fn as_f64(v: &P) -> Option<f64> {
    match v {
        P::Double(d) => Some(*d),
        P::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// Type and range check of one value; the `Err` is the reason shown to the caller.
pub fn validate(name: &str, value: &P) -> Result<(), String> {
    let range = |lo: f64, hi: f64, what: &str| match as_f64(value) {
        Some(x) if x.is_finite() && x >= lo && x <= hi => Ok(()),
        Some(x) => Err(format!("{name} = {x} is out of range: {what}")),
        None => Err(format!("{name} must be a number ({what})")),
    };
    match name {
        "model_dir" | "source" => match value {
            P::String(s) if !s.trim().is_empty() => Ok(()),
            _ => Err(format!("{name} must be a non-empty string")),
        },
        "cameras" => match value {
            P::StringArray(a) if a.iter().all(|n| crate::config::cameras::valid_camera_name(n.trim())) => Ok(()),
            P::StringArray(_) => Err("cameras are names: a letter, then letters, digits or _".into()),
            _ => Err("cameras must be a list of names, e.g. [front, wrist]".into()),
        },
        "frame_id" => match value {
            P::String(_) => Ok(()),
            _ => Err("frame_id must be a string (empty = the source's frame_id)".into()),
        },
        "execution_providers" => {
            let list: Vec<String> = match value {
                P::StringArray(a) => a.clone(),
                P::String(s) => s.split(',').map(|p| p.trim().to_owned()).collect(),
                _ => return Err("execution_providers must be a list of strings, e.g. [tensorrt, cuda, cpu]".into()),
            };
            let joined = list.join(",");
            crate::config::parse_provider_list(&joined).map(|_| ()).map_err(|e| e.to_string())
        }
        "policy" => match value {
            P::String(s) if matches!(s.as_str(), "published" | "model") => Ok(()),
            _ => Err(format!("policy must be `published` or `model`, got {value:?}")),
        },
        "mask_threshold" => match as_f64(value) {
            Some(x) if x > 0.0 && x < 1.0 => Ok(()),
            _ => Err(format!("mask_threshold must be a probability strictly between 0 and 1, got {value:?}")),
        },
        "max_rate" => range(0.0, 1000.0, "frames per second, 0 = unlimited, at most 1000"),
        "description_period" => range(0.1, 3600.0, "seconds between descriptions, 0.1..3600"),
        "description_policy" => match value {
            P::String(s) if DESCRIPTION_POLICIES.contains(&s.as_str()) => Ok(()),
            _ => Err(format!("description_policy must be one of {DESCRIPTION_POLICIES:?}, got {value:?}")),
        },
        "max_description_tokens" => match value {
            P::Integer(i) if (1..=256).contains(i) => Ok(()),
            _ => Err(format!("max_description_tokens must be an integer in 1..=256, got {value:?}")),
        },
        "overlay" | "publish_tf" | "managed" => match value {
            P::Boolean(_) => Ok(()),
            _ => Err(format!("{name} must be true or false")),
        },
        "depth_tolerance_ms" => range(0.0, 1000.0, "milliseconds between a colour frame and its depth, 0..1000"),
        "prompts" => match value {
            P::StringArray(_) | P::String(_) => Ok(()),
            _ => Err("prompts must be a list of strings".into()),
        },
        "max_prompts" => match value {
            P::Integer(i) if (1..=64).contains(i) => Ok(()),
            _ => Err(format!("max_prompts must be an integer in 1..=64, got {value:?}")),
        },
        k if k.starts_with("qos_overrides.") => validate_qos_override(k, value),
        _ => Err(format!("unknown parameter `{name}`")),
    }
}

/// The validator installed on the node: type/range checks, and read-only parameters (and QoS
/// overrides) keep their start-up value.
pub fn runtime_validator(start: &NodeSettings) -> impl Fn(&str, &P) -> Result<(), String> + Send + Sync + 'static {
    let initial: BTreeMap<String, P> = start.to_params().into_iter().collect();
    move |name: &str, value: &P| {
        if matches!(value, P::NotSet) {
            return Err(format!("{name} cannot be undeclared"));
        }
        validate(name, value)?;
        let fixed = READ_ONLY.contains(&name) || name.starts_with("qos_overrides.");
        match initial.get(name) {
            Some(v) if fixed && v != value => Err(format!("{name} is {READ_ONLY_REASON}")),
            _ => Ok(()),
        }
    }
}

/// Checks one `qos_overrides.<topic>.<direction>.<policy>` value; the reason names the allowed values.
fn validate_qos_override(key: &str, value: &P) -> Result<(), String> {
    match (key.rsplit('.').next().unwrap_or(""), value) {
        ("reliability", P::String(s)) if matches!(s.as_str(), "reliable" | "best_effort" | "system_default") => Ok(()),
        ("reliability", _) => Err(format!("{key} must be 'reliable' or 'best_effort'")),
        ("durability", P::String(s)) if matches!(s.as_str(), "volatile" | "transient_local" | "system_default") => {
            Ok(())
        }
        ("durability", _) => Err(format!("{key} must be 'volatile' or 'transient_local'")),
        ("depth", P::Integer(d)) if (1..=1000).contains(d) => Ok(()),
        ("depth", _) => Err(format!("{key} must be an integer in 1..=1000")),
        _ => Err(format!("{key}: unknown QoS policy (known: reliability, depth, durability)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validator_refuses_bad_values_with_a_reason() {
        let v = runtime_validator(&NodeSettings::default());
        assert!(v("mask_threshold", &P::Double(0.5)).is_ok());
        assert!(v("mask_threshold", &P::Double(1.5)).unwrap_err().contains("between 0 and 1"));
        assert!(v("description_policy", &P::String("sometimes".into())).unwrap_err().contains("one of"));
        assert!(
            v("execution_providers", &P::StringArray(vec!["npu".into()]))
                .unwrap_err()
                .contains("unknown execution provider")
        );
        assert!(v("model_dir", &P::String("elsewhere".into())).unwrap_err().contains("read-only"));
        assert!(v("model_dir", &P::String("models/tiny".into())).is_ok());
        assert!(v("max_rate", &P::Integer(10)).is_ok());
        assert!(v("mask_threshold", &P::Double(0.3)).unwrap_err().contains("read-only"));
        assert!(v("publish_tf", &P::Boolean(true)).is_ok());
        assert!(v("publish_tf", &P::String("yes".into())).unwrap_err().contains("true or false"));
        assert!(v("depth_tolerance_ms", &P::Double(-1.0)).unwrap_err().contains("out of range"));
        assert!(v("depth_tolerance_ms", &P::Double(30.0)).unwrap_err().contains("read-only"));
        assert!(v("policy", &P::String("clever".into())).unwrap_err().contains("`published` or `model`"));
        assert!(v("policy", &P::String("model".into())).unwrap_err().contains("read-only"));
    }
}
