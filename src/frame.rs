//! Types that flow between stages: a captured frame, the per-frame result, and control requests.
//! Every stage carries the capture stamp and the frame sequence so outputs can be stamped with
//! the time the camera saw the scene, never the time we happened to finish.

use std::sync::Arc;
use std::time::SystemTime;

/// One RGB8 frame, tightly packed (stride = width * 3), as delivered by capture.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Monotonic sequence number assigned by the source (gaps mean drops upstream).
    pub seq: u64,
    /// Capture time (the buffer's time mapped to wall-clock / ROS time).
    pub stamp: SystemTime,
    /// ROS frame_id the outputs copy.
    pub frame_id: String,
    pub width: u32,
    pub height: u32,
    /// RGB8, row-major, `width * 3` bytes per row.
    pub data: Vec<u8>,
}

impl Frame {
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// A binary mask at frame resolution, one byte per pixel (0 or 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// COCO run-length encoding, column-major, counts start with a background run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rle {
    pub size: [u32; 2], // [height, width], as COCO writes it
    pub counts: Vec<u32>,
}

/// A description and the capture stamp / sequence of the frame it was generated from.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub text: String,
    pub stamp: SystemTime,
    pub seq: u64,
}

/// Result for one active command on one frame.
#[derive(Debug, Clone)]
pub struct Grounding {
    pub command: String,
    pub found: bool,
    /// Probability that the named object is in view (0..1).
    pub score: f32,
    /// [x0, y0, x1, y1] in frame pixels, inclusive-exclusive; None when not found.
    pub bbox: Option<[u32; 4]>,
    pub mask: Arc<Mask>,
    pub rle: Rle,
    /// Latest description of this command's object, made from a frame that found it (its stamp and
    /// seq say which; may be an earlier frame). None until one has been.
    pub description: Option<Description>,
    /// Which object this command follows: the same id while the same object is followed from frame to
    /// frame, a new one when the command moves to another object. 0 when not found.
    pub track_id: u64,
    /// Where the object is in 3-D, from aligned depth and the camera's intrinsics.
    pub location: Location,
}

/// A found object's place in the camera's optical frame (x right, y down, z forward), in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Centroid of the object's visible surface.
    pub centroid: [f64; 3],
    /// Size of the visible surface along x, y, z.
    pub extent: [f64; 3],
    /// Depth pixels the estimate used.
    pub depth_pixels: u32,
}

/// The 3-D answer for one command on one frame: never a made-up point.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Location {
    /// The node has no depth input configured.
    #[default]
    NoDepthInput,
    Placed(Placement),
    /// Depth is configured but gives no position for this object; the text says why
    /// (e.g. "no depth within 20 ms of the frame", "no valid depth inside the mask").
    Unplaced(String),
}

impl Location {
    pub fn placement(&self) -> Option<&Placement> {
        match self {
            Location::Placed(p) => Some(p),
            _ => None,
        }
    }
}

/// Everything the model produced for one frame.
#[derive(Debug, Clone)]
pub struct FrameResult {
    /// The camera the frame came from (`camera0` with one unnamed camera).
    pub camera: Arc<str>,
    pub seq: u64,
    pub stamp: SystemTime,
    pub frame_id: String,
    pub frame: Arc<Frame>,
    pub groundings: Vec<Grounding>,
    /// Capture-to-result latency as measured at the worker.
    pub latency: std::time::Duration,
}

/// A visual prompt in frame pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum VisualPrompt {
    Point { x: f32, y: f32 },
    Box { x0: f32, y0: f32, x1: f32, y1: f32 },
    Mask(Arc<Mask>),
}

/// Answer to "what is this?" for a visual prompt.
#[derive(Debug, Clone)]
pub struct RegionDescription {
    pub description: Description,
    pub mask: Arc<Mask>,
    pub bbox: Option<[u32; 4]>,
    pub frame_id: String,
}
