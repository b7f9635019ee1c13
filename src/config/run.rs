//! `pixel-sail run`'s configuration, built once from the flags and resolved once against the ROS layers by
//! [`resolve`]: defaults < CLI flags < params files (in order) < `-p` (in order). Every value that is also a
//! node parameter (README's table) lives in [`RunConfig::params`], so a value given both ways has one place to
//! land; what only flags set lives in [`RunOptions`]. The pipeline and the node read this, never the command line.

use std::path::PathBuf;

use ros2_client::parameters::ParameterValue as P;

use super::params::{NodeSettings, ParamError};
use super::params_file::read_params_file;
use super::{ConfigError, EngineConfig, parse_provider_list};

/// Options of `pixel-sail run` that only flags set (no node parameter carries them).
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// `--source` values after the first (the first is the `source` parameter): one camera each.
    pub more_sources: Vec<String>,
    /// `--record` values: `NAME=FILE`, or `FILE` for the first camera ([`RunConfig::records`]).
    pub record: Vec<String>,
    pub jsonl: Option<PathBuf>,
    pub prompts_file: Option<PathBuf>,
    pub stdin: bool,
    pub looping: bool,
    pub realtime: bool,
    pub describe_every_frames: Option<u64>,
    pub describe_share: f32,
    pub max_command_chars: usize,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    pub retry_attempts: Option<u32>,
    pub startup_timeout_secs: f64,
    pub stall_restart_secs: f64,
    pub max_frames: Option<u64>,
    pub duration_secs: Option<f64>,
    pub no_progress: bool,
    pub depth: Option<String>,
    pub camera_info: Option<PathBuf>,
    /// The engine options the flags set; its `model_dir`, `providers`, `max_commands` and `mask_threshold` are
    /// not read, nor its `policy`: those come from [`RunConfig::params`].
    pub engine: EngineConfig,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            more_sources: Vec::new(),
            record: Vec::new(),
            jsonl: None,
            prompts_file: None,
            stdin: false,
            looping: false,
            realtime: false,
            describe_every_frames: None,
            describe_share: 0.25,
            max_command_chars: 200,
            retry_initial_ms: 500,
            retry_max_ms: 10_000,
            retry_attempts: None,
            startup_timeout_secs: 15.0,
            stall_restart_secs: 10.0,
            max_frames: None,
            duration_secs: None,
            no_progress: false,
            depth: None,
            camera_info: None,
            engine: EngineConfig::default(),
        }
    }
}

/// Everything `pixel-sail run` runs with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunConfig {
    /// The node's parameters: from the flags, then (with ROS) the params files and `-p`.
    pub params: NodeSettings,
    pub options: RunOptions,
    /// No ROS node (`--no-ros`): the parameters are the flags' values, and `mask_threshold` is model.json's.
    pub no_ros: bool,
    /// The raw trailing ROS block, `--ros-args` marker included.
    pub ros_args: Vec<String>,
}

impl RunConfig {
    /// The engine's configuration. The mask threshold is the node's `mask_threshold` parameter (a probability,
    /// turned into a logit) when the node runs, else model.json's.
    pub fn engine_config(&self) -> Result<EngineConfig, ConfigError> {
        let p = &self.params;
        let mask_threshold = (!self.no_ros).then(|| {
            let t = p.mask_threshold.clamp(1e-6, 1.0 - 1e-6);
            (t / (1.0 - t)).ln() as f32
        });
        let cfg = EngineConfig {
            model_dir: crate::install::resolve_data_path(std::path::Path::new(&p.model_dir)),
            providers: parse_provider_list(&self.providers())?,
            max_commands: self.max_commands(),
            mask_threshold,
            policy: if p.policy == "model" { super::PolicyKind::Model } else { super::PolicyKind::Published },
            ..self.options.engine.clone()
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The execution providers as the user wrote them, e.g. `tensorrt,cuda,cpu`.
    pub fn providers(&self) -> String {
        self.params.execution_providers.join(",")
    }

    /// Most commands per frame (`max_prompts`).
    pub fn max_commands(&self) -> usize {
        usize::try_from(self.params.max_prompts).unwrap_or(0)
    }

    /// Frame id stamped on captured frames: the `frame_id` parameter, else `camera`.
    pub fn frame_id(&self) -> String {
        if self.params.frame_id.is_empty() { "camera".to_owned() } else { self.params.frame_id.clone() }
    }

    /// Whether descriptions are generated at all, and every how many seconds they are renewed (None: only on
    /// new commands and `describe_every_frames`).
    pub fn describe_every_secs(&self) -> Option<f64> {
        (self.params.description_policy == "periodic").then_some(self.params.description_period)
    }

    pub fn describe_enabled(&self) -> bool {
        self.params.description_policy != "off"
    }

    pub fn max_description_tokens(&self) -> usize {
        usize::try_from(self.params.max_description_tokens).unwrap_or(16).max(1)
    }
}

/// The layers above the CLI flags, in the order they apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamLayers {
    /// `--params-file` files, in order (a later file wins).
    pub files: Vec<PathBuf>,
    /// `-p name:=value`, in order (a later one wins); applied after every file.
    pub set: Vec<(String, P)>,
}

/// Resolves the parameters once: `base` (the defaults with the CLI flags applied), then each params file's
/// sections for node `fqn`, then each `-p`. A bad value anywhere stops here with its reason.
pub fn resolve(base: NodeSettings, fqn: &str, layers: &ParamLayers) -> Result<NodeSettings, ParamError> {
    let mut settings = base;
    for file in &layers.files {
        for (k, v) in read_params_file(file, fqn)? {
            settings.apply(&k, &v)?;
        }
    }
    for (k, v) in &layers.set {
        settings.apply(k, v)?;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_defaults_then_flags_then_files_then_dash_p() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&first, "/**:\n  ros__parameters:\n    max_prompts: 3\n    overlay: false\n    max_rate: 4.0\n")
            .unwrap();
        std::fs::write(&second, "pixel_sail:\n  ros__parameters:\n    max_rate: 6.0\n    publish_tf: true\n").unwrap();
        // The flags' layer: what `pixel-sail run --model m --max-commands 5 --prompt cup` gives.
        let flags = NodeSettings {
            model_dir: "m".into(),
            max_prompts: 5,
            prompts: vec!["cup".into()],
            source: "test".into(),
            ..NodeSettings::default()
        };
        let layers = ParamLayers {
            files: vec![first, second],
            set: vec![("publish_tf".into(), P::Boolean(false)), ("prompts".into(), P::StringArray(vec!["mug".into()]))],
        };
        let s = resolve(flags, "/pixel_sail", &layers).unwrap();
        assert_eq!(s.mask_threshold, 0.5, "a default nobody set");
        assert_eq!(s.model_dir, "m", "a flag no later layer sets");
        assert_eq!(s.max_prompts, 3, "a params file over a flag");
        assert!(!s.overlay, "a params file over a default");
        assert_eq!(s.max_rate, 6.0, "the later params file over the earlier one");
        assert!(!s.publish_tf, "-p over a params file");
        assert_eq!(s.prompts, vec!["mug"], "-p over a flag");
        let bad = ParamLayers { set: vec![("max_prompts".into(), P::Integer(0))], ..ParamLayers::default() };
        assert!(resolve(NodeSettings::default(), "/pixel_sail", &bad).unwrap_err().to_string().contains("1..=64"));
    }
}
