//! Which cameras a run serves: `--source NAME=SRC` (repeatable; a bare `SRC` is `camera0`, `camera1`, … by
//! its place), or, with a ROS source, the `cameras` parameter (each camera subscribes `NAME/image`). One
//! camera keeps every name of a single-camera node; `--record NAME=FILE` picks a camera's annotated video.

use std::path::PathBuf;

use super::ConfigError;
use super::run::RunConfig;

/// The name of the one camera of a single-source run (and of the first bare `--source`).
pub const FIRST_CAMERA: &str = "camera0";

/// One camera: its name (outputs go under `~/NAME/…` with several) and its source (`ros`: the ROS topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraSpec {
    pub name: String,
    pub source: String,
}

/// A camera name is a ROS name token: a letter, then letters, digits and `_`.
pub fn valid_camera_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=VALUE` when the text before the first `=` is a camera name; otherwise the whole text is the value
/// (a GStreamer description such as `videotestsrc pattern=ball ! …` or a URI with a query keeps its `=`).
pub fn split_named(text: &str) -> (Option<&str>, &str) {
    match text.split_once('=') {
        Some((name, value)) if valid_camera_name(name) && !value.is_empty() => (Some(name), value),
        _ => (None, text),
    }
}

impl RunConfig {
    /// The cameras, in order: named by `NAME=`, else `camera{k}` by their place. Two cameras with one name,
    /// or a `cameras` entry that is not a name, are refused with the reason.
    pub fn cameras(&self) -> Result<Vec<CameraSpec>, ConfigError> {
        let bad = |value: &str, reason: &str| ConfigError::Invalid {
            what: "camera",
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let cameras: Vec<CameraSpec> = if self.params.source == "ros" {
            if self.params.cameras.is_empty() {
                vec![CameraSpec { name: FIRST_CAMERA.into(), source: "ros".into() }]
            } else {
                self.params
                    .cameras
                    .iter()
                    .map(|n| CameraSpec { name: n.trim().to_owned(), source: "ros".into() })
                    .collect()
            }
        } else if !self.params.cameras.is_empty() {
            return Err(bad(
                &self.params.cameras.join(","),
                "the `cameras` parameter names ROS cameras: set `source:=ros` (capture sources are named with --source NAME=SRC)",
            ));
        } else {
            std::iter::once(&self.params.source)
                .chain(&self.options.more_sources)
                .enumerate()
                .map(|(k, text)| {
                    let (name, source) = split_named(text);
                    CameraSpec {
                        name: name.map_or_else(|| format!("camera{k}"), str::to_owned),
                        source: source.to_owned(),
                    }
                })
                .collect()
        };
        for (k, c) in cameras.iter().enumerate() {
            if !valid_camera_name(&c.name) {
                return Err(bad(&c.name, "a camera name is a letter, then letters, digits or _"));
            }
            if cameras[..k].iter().any(|o| o.name == c.name) {
                return Err(bad(&c.name, "two cameras have this name"));
            }
        }
        Ok(cameras)
    }

    /// `--record` files by camera: `NAME=FILE`, or a bare `FILE` for the first camera. A name that is not a
    /// camera is refused.
    pub fn records(&self, cameras: &[CameraSpec]) -> Result<Vec<(String, PathBuf)>, ConfigError> {
        self.options
            .record
            .iter()
            .map(|text| {
                let (name, file) = split_named(text);
                let name = name.unwrap_or(&cameras[0].name);
                if !cameras.iter().any(|c| c.name == name) {
                    let known: Vec<&str> = cameras.iter().map(|c| c.name.as_str()).collect();
                    return Err(ConfigError::Invalid {
                        what: "--record",
                        value: text.clone(),
                        reason: format!("no camera `{name}` (cameras: {})", known.join(", ")),
                    });
                }
                Ok((name.to_owned(), PathBuf::from(file)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sources: &[&str]) -> RunConfig {
        let mut c = RunConfig::default();
        c.params.source = sources[0].into();
        c.options.more_sources = sources[1..].iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn names_come_from_name_equals_or_the_place() {
        let c =
            run(&["left=test", "videotestsrc pattern=ball ! appsink name=sink", "rtsp://h/x?a=b"]).cameras().unwrap();
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["left", "camera1", "camera2"]);
        assert_eq!(c[1].source, "videotestsrc pattern=ball ! appsink name=sink");
        assert_eq!(c[2].source, "rtsp://h/x?a=b");
        assert_eq!(
            run(&["test"]).cameras().unwrap(),
            vec![CameraSpec { name: "camera0".into(), source: "test".into() }]
        );
    }

    #[test]
    fn duplicate_names_and_unknown_record_cameras_are_refused() {
        let err = run(&["a=test", "a=test"]).cameras().unwrap_err().to_string();
        assert!(err.contains("two cameras have this name"), "{err}");
        let mut c = run(&["left=test", "right=test"]);
        c.options.record = vec!["right=r.mp4".into(), "l.mp4".into()];
        let cams = c.cameras().unwrap();
        assert_eq!(c.records(&cams).unwrap(), vec![("right".into(), "r.mp4".into()), ("left".into(), "l.mp4".into())]);
        c.options.record = vec!["middle=m.mp4".into()];
        assert!(c.records(&cams).unwrap_err().to_string().contains("cameras: left, right"));
    }

    #[test]
    fn a_ros_source_takes_the_cameras_parameter() {
        let mut c = run(&["ros"]);
        assert_eq!(c.cameras().unwrap()[0].name, "camera0");
        c.params.cameras = vec!["front".into(), "wrist".into()];
        let names: Vec<String> = c.cameras().unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["front", "wrist"]);
        c.params.cameras = vec!["front/left".into()];
        assert!(c.cameras().is_err());
        c.params.source = "test".into();
        c.params.cameras = vec!["front".into()];
        assert!(c.cameras().unwrap_err().to_string().contains("source:=ros"));
    }
}
