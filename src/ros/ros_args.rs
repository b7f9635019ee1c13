//! The `--ros-args` part of the command line, parsed the way rcl does it (ros2-client reads none
//! of it): `-r/--remap [node:]from:=to` (incl. `__ns`, `__node`), `-p/--param [node:]name:=value`,
//! `--params-file FILE`, `--log-level LEVEL`; sections end at `--` and may repeat.

use std::path::PathBuf;

use ros2_client::parameters::ParameterValue;

use crate::config::params_file::yaml_to_param;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RosArgsError {
    #[error("--ros-args: `{0}` needs a value")]
    MissingValue(String),
    #[error("--ros-args: bad remap `{0}` (expected from:=to)")]
    BadRemap(String),
    #[error("--ros-args: bad parameter `{0}` (expected name:=value)")]
    BadParam(String),
    #[error("--ros-args: unknown flag `{0}` (known: -r/--remap, -p/--param, --params-file, --log-level, -e/--enclave)")]
    UnknownFlag(String),
}

/// Everything a `--ros-args` section can say that this node acts on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RosArgs {
    /// `__ns:=` (a namespace; made absolute).
    pub namespace: Option<String>,
    /// `__node:=`.
    pub node_name: Option<String>,
    /// Topic/service remaps in order, `from` → `to`, as written (resolved later against the node).
    pub remaps: Vec<Remap>,
    /// `-p name:=value`, in order (later wins; applied after params files).
    pub params: Vec<(String, ParameterValue)>,
    pub params_files: Vec<PathBuf>,
    pub log_level: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remap {
    /// Only for this node name when set (`node:from:=to`).
    pub node: Option<String>,
    pub from: String,
    pub to: String,
}

/// Splits a command line into (the program's own args, the `--ros-args` sections' args).
/// rcl's rule: a section runs from `--ros-args` to `--` or the end.
pub fn split(argv: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut own, mut ros) = (Vec::new(), Vec::new());
    let mut in_ros = false;
    for a in argv {
        match (in_ros, a.as_str()) {
            (_, "--ros-args") => in_ros = true,
            (true, "--") => in_ros = false,
            (true, _) => ros.push(a.clone()),
            (false, _) => own.push(a.clone()),
        }
    }
    (own, ros)
}

/// Parses the args found inside `--ros-args` sections (see [`split`]).
pub fn parse(args: &[String]) -> Result<RosArgs, RosArgsError> {
    let mut out = RosArgs::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = |f: &str| it.next().cloned().ok_or_else(|| RosArgsError::MissingValue(f.to_owned()));
        match flag.as_str() {
            "-r" | "--remap" => {
                let v = value(flag)?;
                let (node, from, to) = split_assignment(&v).ok_or_else(|| RosArgsError::BadRemap(v.clone()))?;
                match from.as_str() {
                    "__ns" => out.namespace = Some(absolute_ns(&to)),
                    "__node" | "__name" => out.node_name = Some(to),
                    _ => out.remaps.push(Remap { node, from, to }),
                }
            }
            "-p" | "--param" => {
                let v = value(flag)?;
                let (_node, name, raw) = split_assignment(&v).ok_or_else(|| RosArgsError::BadParam(v.clone()))?;
                out.params.push((name, parse_param_value(&raw)));
            }
            "--params-file" => out.params_files.push(PathBuf::from(value(flag)?)),
            "--log-level" => out.log_level = Some(value(flag)?),
            "-e" | "--enclave" => {
                value(flag)?;
            }
            "--enable-rosout-logs"
            | "--disable-rosout-logs"
            | "--enable-stdout-logs"
            | "--disable-stdout-logs"
            | "--enable-external-lib-logs"
            | "--disable-external-lib-logs" => {}
            other => return Err(RosArgsError::UnknownFlag(other.to_owned())),
        }
    }
    Ok(out)
}

/// `[node:]name:=value` → (node, name, value).
fn split_assignment(s: &str) -> Option<(Option<String>, String, String)> {
    let (lhs, rhs) = s.split_once(":=")?;
    let (node, name) = match lhs.split_once(':') {
        Some((n, name)) => (Some(n.to_owned()), name.to_owned()),
        None => (None, lhs.to_owned()),
    };
    (!name.is_empty()).then_some((node, name, rhs.to_owned()))
}

fn absolute_ns(ns: &str) -> String {
    let trimmed = ns.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

/// A `-p` value is YAML, as in rcl: `true`, `3`, `0.5`, `[a, b]`, anything else a string.
pub fn parse_param_value(raw: &str) -> ParameterValue {
    match serde_yaml::from_str::<serde_yaml::Value>(raw) {
        Ok(v) => yaml_to_param(&v).unwrap_or_else(|| ParameterValue::String(raw.to_owned())),
        Err(_) => ParameterValue::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_and_parses_a_typical_command_line() {
        let argv = s(&[
            "run",
            "--source",
            "ros",
            "--ros-args",
            "-r",
            "__ns:=/robot1",
            "-r",
            "__node:=seg",
            "-r",
            "image:=/camera/color/image_raw",
            "-p",
            "overlay:=false",
            "-p",
            "mask_threshold:=0.4",
            "-p",
            "execution_providers:=[cuda, cpu]",
            "--params-file",
            "f.yaml",
            "--",
            "--prompt",
            "x",
        ]);
        let (own, ros) = split(&argv);
        assert_eq!(own, s(&["run", "--source", "ros", "--prompt", "x"]));
        let a = parse(&ros).unwrap();
        assert_eq!(a.namespace.as_deref(), Some("/robot1"));
        assert_eq!(a.node_name.as_deref(), Some("seg"));
        assert_eq!(a.remaps, vec![Remap { node: None, from: "image".into(), to: "/camera/color/image_raw".into() }]);
        assert_eq!(a.params[0], ("overlay".into(), ParameterValue::Boolean(false)));
        assert_eq!(a.params[1], ("mask_threshold".into(), ParameterValue::Double(0.4)));
        assert_eq!(a.params[2].1, ParameterValue::StringArray(s(&["cuda", "cpu"])));
        assert_eq!(a.params_files, vec![PathBuf::from("f.yaml")]);
    }

    #[test]
    fn namespace_is_made_absolute_and_errors_name_the_flag() {
        assert_eq!(parse(&s(&["-r", "__ns:=robot1/"])).unwrap().namespace.as_deref(), Some("/robot1"));
        assert_eq!(parse(&s(&["-r"])), Err(RosArgsError::MissingValue("-r".into())));
        assert_eq!(parse(&s(&["-r", "image"])), Err(RosArgsError::BadRemap("image".into())));
        assert!(matches!(parse(&s(&["--bogus"])), Err(RosArgsError::UnknownFlag(_))));
    }

    #[test]
    fn param_values_are_yaml_typed() {
        assert_eq!(parse_param_value("3"), ParameterValue::Integer(3));
        assert_eq!(parse_param_value("models/tiny"), ParameterValue::String("models/tiny".into()));
        assert_eq!(parse_param_value("'7'"), ParameterValue::String("7".into()));
        assert_eq!(parse_param_value("[1, 2]"), ParameterValue::IntegerArray(vec![1, 2]));
    }
}
