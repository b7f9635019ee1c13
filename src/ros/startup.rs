//! Start-up configuration of the node: `--ros-args` read into names, remaps and the parameter layers
//! (`--params-file`, `-p`) that [`crate::config::run::resolve`] applies over the CLI's values, and
//! `ROS_DOMAIN_ID` and `ROS_SECURITY_*` from the environment (ros2-client reads none).

use super::error::PublishError;
use super::names::NameResolver;
use super::ros_args;
use super::security::{self, Security};
use crate::config::params::NodeSettings;
use crate::config::run::{ParamLayers, resolve};

pub const DEFAULT_NODE_NAME: &str = "pixel_sail";

/// Everything the node needs before it talks to DDS.
#[derive(Debug, Clone)]
pub struct RosStartup {
    pub names: NameResolver,
    pub settings: NodeSettings,
    pub domain_id: u16,
    /// True when frames come from the ROS `image` topic (`source: ros`, or `image` remapped).
    pub ros_source: bool,
    /// DDS Security from `ROS_SECURITY_*` ([`security`]).
    pub security: Security,
}

/// `ros_args`: the raw `--ros-args …` block (marker included, as `cli::RunArgs::ros_args` holds it).
/// `base`: settings from the CLI flags. Order: base < params files (in order) < `-p` (in order).
pub fn configure(ros_args_block: &[String], base: NodeSettings) -> Result<RosStartup, PublishError> {
    let (_, inner) = ros_args::split(ros_args_block);
    let args = ros_args::parse(&inner)?;
    let ns = args.namespace.clone().unwrap_or_else(|| "/".to_owned());
    let node = args.node_name.clone().unwrap_or_else(|| DEFAULT_NODE_NAME.to_owned());
    let names = NameResolver::new(&ns, &node, &args.remaps)?;
    let fqn = names.fully_qualified_node();

    let layers = ParamLayers { files: args.params_files.clone(), set: args.params.clone() };
    let mut settings = resolve(base, &fqn, &layers)?;
    let ros_source = settings.source == "ros" || names.is_remapped("image");
    if ros_source {
        settings.source = "ros".to_owned();
    }
    let domain_id = domain_id_from_env(std::env::var("ROS_DOMAIN_ID").ok().as_deref())?;
    let security = security::from_env()?;
    if let Security::Unsecured(warning) = &security {
        tracing::warn!("{warning}");
    }
    Ok(RosStartup { names, settings, domain_id, ros_source, security })
}

/// `ROS_DOMAIN_ID` as rcl reads it: unset or empty → 0.
pub fn domain_id_from_env(value: Option<&str>) -> Result<u16, PublishError> {
    match value.map(str::trim) {
        None | Some("") => Ok(0),
        Some(v) => match v.parse::<u16>() {
            Ok(d) if d <= 232 => Ok(d),
            _ => Err(PublishError::DomainId(v.to_owned())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn remapping_image_selects_the_ros_source_and_p_wins_over_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.yaml");
        std::fs::write(&f, "/**:\n  ros__parameters:\n    max_rate: 5.0\n    overlay: false\n").unwrap();
        let block = s(&[
            "--ros-args",
            "-r",
            "__ns:=/robot1",
            "-r",
            "image:=/camera/image_raw",
            "--params-file",
            f.to_str().unwrap(),
            "-p",
            "max_rate:=7.5",
        ]);
        let st = configure(&block, NodeSettings::default()).unwrap();
        assert!(st.ros_source);
        assert_eq!(st.settings.source, "ros");
        assert_eq!(st.settings.max_rate, 7.5);
        assert!(!st.settings.overlay);
        assert_eq!(st.names.fully_qualified_node(), "/robot1/pixel_sail");
        assert_eq!(st.names.resolve("image").unwrap(), "/camera/image_raw");
    }

    #[test]
    fn bad_values_stop_start_up_with_the_reason() {
        let err = configure(&s(&["--ros-args", "-p", "mask_threshold:=2.0"]), NodeSettings::default()).unwrap_err();
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
        assert!(domain_id_from_env(Some("abc")).is_err());
        assert_eq!(domain_id_from_env(Some("7")).unwrap(), 7);
        assert_eq!(domain_id_from_env(None).unwrap(), 0);
    }
}
