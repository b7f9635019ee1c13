//! The standard-message face of one [`FrameResult`]: `~/detections_2d` and `~/detections_3d`
//! (vision_msgs, class = the command, the score, id = the track id), `~/markers` (RViz: a sphere and
//! the command's text at each placed object) and the `/tf` frames of placed objects. Pure builders:
//! the header (the frame's capture stamp and frame_id) comes from the caller.

use std::time::Duration as StdDuration;

use super::msgs_std::{ColorRGBA, Duration, Header, Point, Pose, Quaternion, Transform, TransformStamped, Vector3};
use super::msgs_vision::{
    BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray, Detection3D, Detection3DArray, Marker, MarkerArray,
    ObjectHypothesis, ObjectHypothesisWithPose, Point2D, Pose2D, PoseWithCovariance, TFMessage, marker,
};
use crate::decode::palette_colour;
use crate::frame::{FrameResult, Grounding, Placement};

/// Markers disappear after this long without a new frame (a stalled pipeline shows nothing stale).
pub const MARKER_LIFETIME: StdDuration = StdDuration::from_secs(5);
/// Marker namespaces: one sphere and one text per placed command, id = the command's index (1-based).
pub const MARKER_NS_OBJECT: &str = "pixel_sail/objects";
pub const MARKER_NS_TEXT: &str = "pixel_sail/labels";
/// Text height of the label markers, metres.
const TEXT_HEIGHT: f64 = 0.04;

/// The vision_msgs `id` of a grounding: its track id, empty while it has none (0).
fn track_id_string(g: &Grounding) -> String {
    if g.track_id == 0 { String::new() } else { g.track_id.to_string() }
}

fn hypothesis(g: &Grounding, pose: Pose) -> ObjectHypothesisWithPose {
    ObjectHypothesisWithPose {
        hypothesis: ObjectHypothesis { class_id: g.command.clone(), score: f64::from(g.score) },
        pose: PoseWithCovariance { pose, ..Default::default() },
    }
}

fn point(p: [f64; 3]) -> Point {
    Point { x: p[0], y: p[1], z: p[2] }
}

/// Found groundings with their 1-based command index.
fn found(r: &FrameResult) -> impl Iterator<Item = (usize, &Grounding)> {
    r.groundings.iter().enumerate().filter(|(_, g)| g.found).map(|(k, g)| (k + 1, g))
}

/// Found and placed groundings with their 1-based command index.
fn placed(r: &FrameResult) -> impl Iterator<Item = (usize, &Grounding, &Placement)> {
    found(r).filter_map(|(k, g)| g.location.placement().map(|p| (k, g, p)))
}

/// `~/detections_2d`: every found command's box (centre and size in pixels; x1, y1 exclusive).
pub fn detections_2d(r: &FrameResult, header: &Header) -> Detection2DArray {
    let detections = found(r)
        .filter_map(|(_, g)| {
            let [x0, y0, x1, y1] = g.bbox?;
            let (w, h) = (f64::from(x1.saturating_sub(x0)), f64::from(y1.saturating_sub(y0)));
            Some(Detection2D {
                header: header.clone(),
                results: vec![hypothesis(g, Pose::default())],
                bbox: BoundingBox2D {
                    center: Pose2D {
                        position: Point2D { x: f64::from(x0) + w / 2.0, y: f64::from(y0) + h / 2.0 },
                        theta: 0.0,
                    },
                    size_x: w,
                    size_y: h,
                },
                id: track_id_string(g),
            })
        })
        .collect();
    Detection2DArray { header: header.clone(), detections }
}

/// `~/detections_3d`: every placed command, box centre = the centroid, size = the extent (optical frame).
pub fn detections_3d(r: &FrameResult, header: &Header) -> Detection3DArray {
    let detections = placed(r)
        .map(|(_, g, p)| {
            let center = Pose { position: point(p.centroid), orientation: Quaternion::default() };
            Detection3D {
                header: header.clone(),
                results: vec![hypothesis(g, center)],
                bbox: BoundingBox3D { center, size: Vector3 { x: p.extent[0], y: p.extent[1], z: p.extent[2] } },
                id: track_id_string(g),
            }
        })
        .collect();
    Detection3DArray { header: header.clone(), detections }
}

/// `~/markers`: DELETEALL first (what is no longer placed vanishes), then per placed command k a sphere
/// at its centroid (in the command's overlay colour) and its text just above it.
pub fn markers(r: &FrameResult, header: &Header) -> MarkerArray {
    let mut markers = vec![Marker { header: header.clone(), action: marker::DELETEALL, ..Default::default() }];
    for (k, g, p) in placed(r) {
        let [red, green, blue] = palette_colour(k - 1);
        let colour =
            ColorRGBA { r: f32::from(red) / 255.0, g: f32::from(green) / 255.0, b: f32::from(blue) / 255.0, a: 0.9 };
        // A marker, not a model of the object: a fixed fraction of its size, readable at any range.
        let diameter = (0.25 * p.extent.iter().cloned().fold(0.0, f64::max)).clamp(0.02, 0.10);
        let id = i32::try_from(k).unwrap_or(i32::MAX);
        let base = Marker {
            header: header.clone(),
            id,
            action: marker::ADD,
            lifetime: Duration::from_std(MARKER_LIFETIME),
            ..Default::default()
        };
        markers.push(Marker {
            ns: MARKER_NS_OBJECT.into(),
            r#type: marker::SPHERE,
            pose: Pose { position: point(p.centroid), orientation: Quaternion::default() },
            scale: Vector3 { x: diameter, y: diameter, z: diameter },
            color: colour,
            ..base.clone()
        });
        // Optical frame: y points down, so "above" the object is -y.
        let [x, y, z] = p.centroid;
        let above = [x, y - p.extent[1] / 2.0 - diameter / 2.0 - TEXT_HEIGHT, z];
        markers.push(Marker {
            ns: MARKER_NS_TEXT.into(),
            r#type: marker::TEXT_VIEW_FACING,
            pose: Pose { position: point(above), orientation: Quaternion::default() },
            scale: Vector3 { x: 0.0, y: 0.0, z: TEXT_HEIGHT },
            color: ColorRGBA { r: 1.0, g: 1.0, b: 1.0, a: 1.0 },
            text: format!("{k}: {} ({:.2} m)", g.command, z),
            ..base
        });
    }
    MarkerArray { markers }
}

/// The TF child frame of the k-th command (1-based) of node `fqn` (e.g. `/robot1/seg` → `robot1/seg/2`):
/// under the node's own name, so two nodes (two cameras) never publish the same frame.
pub fn tf_child_frame(fqn: &str, k: usize) -> String {
    format!("{}/{k}", fqn.trim_start_matches('/'))
}

/// `/tf`: per placed command, its frame at the centroid (no rotation) in the camera's optical frame.
pub fn transforms(r: &FrameResult, header: &Header, fqn: &str) -> TFMessage {
    let transforms = placed(r)
        .map(|(k, _, p)| TransformStamped {
            header: header.clone(),
            child_frame_id: tf_child_frame(fqn, k),
            transform: Transform {
                translation: Vector3 { x: p.centroid[0], y: p.centroid[1], z: p.centroid[2] },
                rotation: Quaternion::default(),
            },
        })
        .collect();
    TFMessage { transforms }
}

/// The `~/detections` fields of one grounding's place: (valid, position, extent, depth pixels, note).
pub fn position_fields(g: &Grounding) -> (bool, Point, Vector3, u32, String) {
    use crate::frame::Location;
    match (&g.location, g.found) {
        (Location::Placed(p), true) => (
            true,
            point(p.centroid),
            Vector3 { x: p.extent[0], y: p.extent[1], z: p.extent[2] },
            p.depth_pixels,
            String::new(),
        ),
        (_, false) => (false, Point::default(), Vector3::default(), 0, "not found".into()),
        (Location::NoDepthInput, true) => (false, Point::default(), Vector3::default(), 0, "no depth input".into()),
        (Location::Unplaced(why), true) => (false, Point::default(), Vector3::default(), 0, why.clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::*;
    use crate::frame::{Frame, Location, Mask, Rle};

    fn grounding(command: &str, found: bool, location: Location) -> Grounding {
        Grounding {
            command: command.into(),
            found,
            score: if found { 0.75 } else { 0.1 },
            bbox: found.then_some([10, 20, 31, 60]),
            mask: Arc::new(Mask { width: 4, height: 4, data: vec![0; 16] }),
            rle: Rle { size: [4, 4], counts: vec![16] },
            description: None,
            track_id: if found { 7 } else { 0 },
            location,
        }
    }

    fn result() -> FrameResult {
        let placed = Placement { centroid: [0.1, -0.2, 0.7], extent: [0.08, 0.06, 0.0], depth_pixels: 900 };
        let frame =
            Frame { seq: 3, stamp: SystemTime::now(), frame_id: "cam".into(), width: 4, height: 4, data: vec![] };
        FrameResult {
            camera: "camera0".into(),
            seq: 3,
            stamp: frame.stamp,
            frame_id: "cam".into(),
            frame: Arc::new(frame),
            groundings: vec![
                grounding("the red star", true, Location::Placed(placed)),
                grounding("the blue ring", true, Location::Unplaced("no valid depth inside the mask".into())),
                grounding("the green cross", false, Location::Unplaced("not found".into())),
            ],
            latency: StdDuration::ZERO,
        }
    }

    fn header() -> Header {
        Header { frame_id: "cam".into(), ..Default::default() }
    }

    #[test]
    fn two_d_has_every_found_command_three_d_only_the_placed() {
        let r = result();
        let d2 = detections_2d(&r, &header());
        assert_eq!(d2.detections.len(), 2);
        let d = &d2.detections[0];
        assert_eq!(d.results[0].hypothesis.class_id, "the red star");
        assert_eq!(d.results[0].hypothesis.score, 0.75);
        assert_eq!(
            (d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y),
            (20.5, 40.0, 21.0, 40.0)
        );
        assert_eq!(d.id, "7");
        let d3 = detections_3d(&r, &header());
        assert_eq!(d3.detections.len(), 1);
        let b = &d3.detections[0].bbox;
        assert_eq!((b.center.position.x, b.center.position.y, b.center.position.z), (0.1, -0.2, 0.7));
        assert_eq!((b.size.x, b.size.y, b.center.orientation.w), (0.08, 0.06, 1.0));
    }

    #[test]
    fn markers_clear_first_then_a_sphere_and_a_label_per_placed_object() {
        let m = markers(&result(), &header()).markers;
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].action, marker::DELETEALL);
        assert_eq!((m[1].r#type, m[1].id, m[1].pose.position.z), (marker::SPHERE, 1, 0.7));
        assert_eq!((m[2].r#type, m[2].text.as_str()), (marker::TEXT_VIEW_FACING, "1: the red star (0.70 m)"));
        assert!(m[2].pose.position.y < m[1].pose.position.y, "the label sits above the sphere (-y)");
    }

    #[test]
    fn tf_frames_live_under_the_node_name() {
        let tf = transforms(&result(), &header(), "/robot1/seg");
        assert_eq!(tf.transforms.len(), 1);
        assert_eq!(
            (tf.transforms[0].child_frame_id.as_str(), tf.transforms[0].header.frame_id.as_str()),
            ("robot1/seg/1", "cam")
        );
        assert_eq!(tf_child_frame("/pixel_sail", 2), "pixel_sail/2");
    }

    #[test]
    fn position_fields_say_why_there_is_none() {
        let r = result();
        let (valid, p, _, px, note) = position_fields(&r.groundings[0]);
        assert!(valid && p.z == 0.7 && px == 900 && note.is_empty());
        let (valid, _, _, px, note) = position_fields(&r.groundings[1]);
        assert!(!valid && px == 0 && note == "no valid depth inside the mask");
        assert_eq!(position_fields(&grounding("x", true, Location::NoDepthInput)).4, "no depth input");
        assert_eq!(position_fields(&r.groundings[2]).4, "not found");
    }
}
