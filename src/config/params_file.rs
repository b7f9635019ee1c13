//! ROS 2 params files (`ros__parameters` YAML) read into named parameter values, and the YAML-to-value
//! conversion `-p name:=value` shares with them.

use std::path::Path;

use ros2_client::parameters::ParameterValue as P;

use super::params::ParamError;

/// Reads the parameters for node `fqn` (e.g. `/robot1/pixel_sail`) from a ROS params YAML:
/// sections keyed `/**`, the node name, or its fully-qualified name (with or without the leading
/// slash), each holding `ros__parameters`; nested maps flatten with dots (`qos_overrides./x...`).
pub fn read_params_file(path: &Path, fqn: &str) -> Result<Vec<(String, P)>, ParamError> {
    let err = |reason: String| ParamError::File { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| err(e.to_string()))?;
    let map = doc.as_mapping().ok_or_else(|| err("top level must be a map of node names".into()))?;
    let base = fqn.rsplit('/').next().unwrap_or(fqn);
    let mut out = Vec::new();
    for (key, section) in map {
        let key = key.as_str().unwrap_or("");
        let matches = key == "/**"
            || key == fqn
            || key == fqn.trim_start_matches('/')
            || key == base
            || key == format!("/**/{base}");
        if !matches {
            continue;
        }
        let params =
            section.get("ros__parameters").ok_or_else(|| err(format!("section `{key}` has no ros__parameters")))?;
        flatten("", params, &mut out).map_err(err)?;
    }
    Ok(out)
}

fn flatten(prefix: &str, v: &serde_yaml::Value, out: &mut Vec<(String, P)>) -> Result<(), String> {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, child) in m {
                let k = k.as_str().ok_or_else(|| format!("non-string key under `{prefix}`"))?;
                let name = if prefix.is_empty() { k.to_owned() } else { format!("{prefix}.{k}") };
                flatten(&name, child, out)?;
            }
            Ok(())
        }
        other => {
            let p = yaml_to_param(other).ok_or_else(|| format!("`{prefix}`: unsupported value {other:?}"))?;
            out.push((prefix.to_owned(), p));
            Ok(())
        }
    }
}

/// Converts a YAML scalar or homogeneous list to a ROS parameter value (None for maps/mixed lists).
pub fn yaml_to_param(v: &serde_yaml::Value) -> Option<P> {
    use serde_yaml::Value as Y;
    Some(match v {
        Y::Bool(b) => P::Boolean(*b),
        Y::Number(n) if n.is_i64() => P::Integer(n.as_i64()?),
        Y::Number(n) => P::Double(n.as_f64()?),
        Y::String(s) => P::String(s.clone()),
        Y::Sequence(items) => seq_to_param(items)?,
        Y::Null | Y::Mapping(_) | Y::Tagged(_) => return None,
    })
}

fn seq_to_param(items: &[serde_yaml::Value]) -> Option<P> {
    use serde_yaml::Value as Y;
    let first = items.first()?;
    Some(match first {
        Y::Bool(_) => P::BooleanArray(items.iter().map(Y::as_bool).collect::<Option<_>>()?),
        Y::Number(n) if n.is_i64() && items.iter().all(|i| i.as_i64().is_some()) => {
            P::IntegerArray(items.iter().map(Y::as_i64).collect::<Option<_>>()?)
        }
        Y::Number(_) => P::DoubleArray(items.iter().map(Y::as_f64).collect::<Option<_>>()?),
        Y::String(_) => P::StringArray(items.iter().map(|i| i.as_str().map(str::to_owned)).collect::<Option<_>>()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::params::NodeSettings;

    #[test]
    fn reads_ros_parameters_yaml_for_this_node() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.yaml");
        std::fs::write(&f, "/**:\n  ros__parameters:\n    overlay: false\n    prompts: [red cup]\n\
            /robot1/seg:\n  ros__parameters:\n    mask_threshold: 0.4\n    qos_overrides:\n      /robot1/seg/mask:\n        publisher:\n          reliability: reliable\n\
            other:\n  ros__parameters:\n    max_rate: 3.0\n").unwrap();
        let p = read_params_file(&f, "/robot1/seg").unwrap();
        let mut s = NodeSettings::default();
        for (k, v) in &p {
            s.apply(k, v).unwrap();
        }
        assert!(!s.overlay);
        assert_eq!(s.prompts, vec!["red cup"]);
        assert_eq!(s.mask_threshold, 0.4);
        assert_eq!(s.max_rate, 0.0);
        let key = "qos_overrides./robot1/seg/mask.publisher.reliability";
        assert_eq!(s.qos_overrides.get(key), Some(&P::String("reliable".into())));
    }
}
