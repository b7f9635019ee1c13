//! Per-frame results as JSON lines: one object per processed frame, flushed as it goes so a run that
//! is killed still leaves every complete line readable.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::SinkError;
use crate::frame::{FrameResult, Location, Rle};

/// The line format (documented in the README).
#[derive(Debug, Serialize)]
pub struct ResultLine<'a> {
    /// The camera the frame came from (`camera0` with one unnamed camera).
    pub camera: &'a str,
    pub seq: u64,
    /// Capture time, seconds since the Unix epoch.
    pub stamp: f64,
    pub frame_id: &'a str,
    pub width: u32,
    pub height: u32,
    pub latency_ms: f64,
    pub results: Vec<CommandLine<'a>>,
}

#[derive(Debug, Serialize)]
pub struct CommandLine<'a> {
    pub command: &'a str,
    pub found: bool,
    pub score: f32,
    pub bbox: Option<[u32; 4]>,
    pub rle: &'a Rle,
    pub description: Option<&'a str>,
    /// Capture time and sequence of the frame the description was generated from.
    pub description_stamp: Option<f64>,
    pub description_seq: Option<u64>,
    /// The object this command follows (same id while it is followed; 0 when not found).
    pub track_id: u64,
    /// Centroid of the object's visible surface in the camera's optical frame, metres (with depth only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Xyz>,
    /// Size of that surface along x, y, z, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extent: Option<Xyz>,
    /// Depth pixels the position was estimated from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth_pixels: Option<u32>,
    /// Why there is no position although depth is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position_note: Option<&'a str>,
}

/// A point or size in metres.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Xyz {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl From<[f64; 3]> for Xyz {
    fn from([x, y, z]: [f64; 3]) -> Self {
        Self { x, y, z }
    }
}

pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl<'a> ResultLine<'a> {
    pub fn from_result(r: &'a FrameResult) -> Self {
        Self {
            seq: r.seq,
            stamp: unix_secs(r.stamp),
            camera: &r.camera,
            frame_id: &r.frame_id,
            width: r.frame.width,
            height: r.frame.height,
            latency_ms: r.latency.as_secs_f64() * 1e3,
            results: r
                .groundings
                .iter()
                .map(|g| CommandLine {
                    command: &g.command,
                    found: g.found,
                    score: g.score,
                    bbox: g.bbox,
                    rle: &g.rle,
                    description: g.description.as_ref().map(|d| d.text.as_str()),
                    description_stamp: g.description.as_ref().map(|d| unix_secs(d.stamp)),
                    description_seq: g.description.as_ref().map(|d| d.seq),
                    track_id: g.track_id,
                    position: g.location.placement().map(|p| p.centroid.into()),
                    extent: g.location.placement().map(|p| p.extent.into()),
                    depth_pixels: g.location.placement().map(|p| p.depth_pixels),
                    position_note: match &g.location {
                        Location::Unplaced(why) => Some(why.as_str()),
                        _ => None,
                    },
                })
                .collect(),
        }
    }
}

pub struct JsonlWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonlWriter {
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        super::ensure_parent(path)?;
        let file = File::create(path).map_err(|e| SinkError::Io { path: path.display().to_string(), source: e })?;
        Ok(Self { path: path.to_path_buf(), out: BufWriter::new(file) })
    }

    pub fn write(&mut self, result: &FrameResult) -> Result<(), SinkError> {
        let io = |e: std::io::Error| SinkError::Io { path: self.path.display().to_string(), source: e };
        // The whole line in one write, so a stop between frames never leaves half a line.
        let mut line = serde_json::to_vec(&ResultLine::from_result(result)).map_err(|e| io(e.into()))?;
        line.push(b'\n');
        self.out.write_all(&line).map_err(io)?;
        self.out.flush().map_err(io)
    }

    pub fn finish(mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| SinkError::Io { path: self.path.display().to_string(), source: e })
    }
}
