//! The node's depth inputs beside a ROS camera: `depth` (sensor_msgs/Image, 16UC1 mm or 32FC1 m,
//! aligned to `image`) and `camera_info` (the colour camera's intrinsics). Each message is checked by
//! `crate::spatial` and pushed into the pipeline's [`DepthFeed`], where the worker matches depth to
//! colour frames by stamp. A refused message is counted and warned about at a limited rate.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use tracing::{debug, warn};

use super::endpoints::{In, Shared};
use super::msgs_std::{CameraInfo, Image};
use super::undecodable::RateLimit;
use crate::spatial::{CameraIntrinsics, DepthFeed, DepthImage};

/// The depth image of a `depth` message (its own stamp; `seq` counts the messages taken).
pub fn depth_from_msg(img: &Image, seq: u64) -> Result<DepthImage, crate::spatial::SpatialError> {
    DepthImage::from_ros(
        &img.encoding,
        img.width,
        img.height,
        img.step,
        img.is_bigendian != 0,
        &img.data,
        img.header.stamp.to_system(),
        seq,
    )
}

/// The intrinsics of a `camera_info` message.
pub fn intrinsics_from_msg(info: &CameraInfo) -> Result<CameraIntrinsics, crate::spatial::SpatialError> {
    CameraIntrinsics::from_ros(info.width, info.height, &info.distortion_model, &info.d, info.k, &info.header.frame_id)
}

/// `depth` → the feed, until the subscription ends.
pub async fn depth(input: In<Image>, feed: DepthFeed, shared: Arc<Shared>) {
    let stream = input.subscription.async_stream();
    futures::pin_mut!(stream);
    let (mut seq, mut limit, mut drops) = (0u64, RateLimit::default(), input.drop_counter());
    while let Some(msg) = stream.next().await {
        let Some((img, _info)) = drops.take(msg) else { continue };
        match depth_from_msg(&img, seq) {
            Ok(depth) => {
                seq += 1;
                shared.depth_frames.fetch_add(1, Ordering::Relaxed);
                feed.push_depth(depth);
            }
            Err(e) => {
                shared.depth_refused.fetch_add(1, Ordering::Relaxed);
                if limit.ready() {
                    warn!(topic = %input.topic, "{e} (counted in /diagnostics as depth_frames_refused)");
                }
            }
        }
    }
}

/// `camera_info` → the feed's intrinsics (replaced when they change), until the subscription ends.
pub async fn camera_info(input: In<CameraInfo>, feed: DepthFeed, shared: Arc<Shared>) {
    let stream = input.subscription.async_stream();
    futures::pin_mut!(stream);
    let (mut limit, mut drops) = (RateLimit::default(), input.drop_counter());
    while let Some(msg) = stream.next().await {
        let Some((info, _)) = drops.take(msg) else { continue };
        match intrinsics_from_msg(&info) {
            Ok(intrinsics) => {
                if !shared.camera_info_received.swap(true, Ordering::Relaxed) {
                    debug!(topic = %input.topic, width = info.width, height = info.height, "camera_info taken");
                }
                feed.set_camera(intrinsics);
            }
            Err(e) => {
                shared.camera_info_refused.fetch_add(1, Ordering::Relaxed);
                if limit.ready() {
                    warn!(topic = %input.topic, "{e} (counted in /diagnostics as camera_info_refused)");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros::msgs_std::{Header, Time};

    fn depth_msg(encoding: &str, step: u32, data: Vec<u8>) -> Image {
        let header = Header { stamp: Time { sec: 100, nanosec: 5 }, frame_id: "cam".into() };
        Image { header, height: 2, width: 2, encoding: encoding.into(), is_bigendian: 0, step, data }
    }

    #[test]
    fn a_16uc1_message_becomes_metres_with_its_stamp() {
        let mm: Vec<u8> = [800u16, 0, 1234, 65535].iter().flat_map(|v| v.to_le_bytes()).collect();
        let d = depth_from_msg(&depth_msg("16UC1", 4, mm), 3).unwrap();
        assert_eq!((d.width, d.height, d.seq), (2, 2, 3));
        assert_eq!(d.stamp, Time { sec: 100, nanosec: 5 }.to_system());
        assert!((d.metres[0] - 0.8).abs() < 1e-6 && d.metres[1].is_nan());
    }

    #[test]
    fn malformed_depth_and_camera_info_are_refused_with_a_reason() {
        let e = depth_from_msg(&depth_msg("rgb8", 6, vec![0; 12]), 0).unwrap_err().to_string();
        assert!(e.contains("rgb8"), "{e}");
        let e = depth_from_msg(&depth_msg("16UC1", 4, vec![0; 5]), 0).unwrap_err().to_string();
        assert!(e.contains("bytes"), "{e}");
        let e = depth_from_msg(&depth_msg("16UC1", 2, vec![0; 8]), 0).unwrap_err().to_string();
        assert!(e.contains("step"), "{e}");
        let e = intrinsics_from_msg(&CameraInfo { width: 640, height: 480, ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("not calibrated"), "{e}");
        let info = CameraInfo {
            width: 640,
            height: 480,
            distortion_model: "plumb_bob".into(),
            d: vec![0.0; 5],
            k: [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0],
            ..Default::default()
        };
        assert_eq!(intrinsics_from_msg(&info).unwrap().fx(), 525.0);
    }
}
