//! The live pipeline with a deliberately slow fake model: newest frame wins under a fast source,
//! descriptions fill the gaps without holding mask frames back, commands and region descriptions
//! go through the public handles, and results reach the sinks.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{SlowModel, blinking_seen};
use pixel_sail::app::{DescribePolicy, Pipeline, PipelineConfig, WorkerConfig};
use pixel_sail::capture::CaptureConfig;
use pixel_sail::frame::{FrameResult, VisualPrompt};
use pixel_sail::link::{CommandLimits, DescribeRequest, SetCommands};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

fn config(source: &str, commands: &[&str], describe: DescribePolicy) -> PipelineConfig {
    PipelineConfig {
        capture: CaptureConfig::new(source),
        worker: WorkerConfig {
            describe,
            limits: CommandLimits { max_commands: 3, max_chars: 64 },
            initial_commands: commands.iter().map(|c| c.to_string()).collect(),
            latency_from_stamp: true,
            depth: None,
        },
    }
}

fn no_describe() -> DescribePolicy {
    DescribePolicy { enabled: false, ..DescribePolicy::default() }
}

/// Collects results (with their arrival instants) for `dur`, then shuts the pipeline down.
fn collect(pipeline: Pipeline, dur: Duration) -> Vec<(Instant, Arc<FrameResult>)> {
    let mut rx = pipeline.handles().subscribe_results();
    let until = Instant::now() + dur;
    let mut got = Vec::new();
    while Instant::now() < until {
        match rx.try_recv() {
            Ok(r) => got.push((Instant::now(), r)),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("results channel: {e:?}"),
        }
    }
    pipeline.shutdown();
    got
}

#[test]
fn newest_frame_wins_under_a_fast_source() {
    let model = SlowModel {
        encode: Duration::from_millis(30),
        segment: Duration::from_millis(30),
        step: Duration::ZERO,
        steps: 1,
    };
    let pipeline = Pipeline::start(model, config("test:64x48@120", &["red star"], no_describe())).unwrap();
    let stats = pipeline.handles().stats;
    let got = collect(pipeline, Duration::from_secs(3));
    let snap = stats.snapshot();
    assert!(got.len() >= 10, "too few results: {}", got.len());
    assert!(snap.dropped > snap.frames_out, "a 120 fps source and a 60 ms model must drop: {snap:?}");
    // Every captured frame is either processed, dropped (counted), or the one left in the slot.
    let accounted = snap.frames_out + snap.dropped + snap.inference_errors;
    assert!(snap.frames_in - accounted <= 1, "unaccounted frames: {snap:?}");
    assert!(got.windows(2).all(|w| w[1].1.seq > w[0].1.seq));
    // No queue: the last results are as fresh as the first ones.
    for (_, r) in got.iter().rev().take(10) {
        assert!(r.latency < Duration::from_millis(600), "latency grew to {:?} (frame {})", r.latency, r.seq);
    }
    assert_eq!(got[0].1.groundings[0].command, "red star");
}

#[test]
fn descriptions_fill_the_gaps_without_holding_masks_back() {
    // A description costs 12 × 25 ms = 300 ms; a mask frame 40 ms. Run back-to-back they would
    // open 300 ms holes in the mask stream; interleaved, each frame waits at most one step.
    let model = SlowModel {
        encode: Duration::from_millis(20),
        segment: Duration::from_millis(20),
        step: Duration::from_millis(25),
        steps: 12,
    };
    let describe = DescribePolicy { enabled: true, every_frames: Some(1), every: None, max_tokens: 8, share: 0.25 };
    let pipeline = Pipeline::start(model, config("test:64x48@60", &["red star", "blue ring"], describe)).unwrap();
    let got = collect(pipeline, Duration::from_secs(4));
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let worst = gaps.iter().max().copied().unwrap_or_default();
    assert!(worst < Duration::from_millis(200), "a mask frame waited {worst:?} behind a description");
    let described: Vec<_> = got.iter().filter(|(_, r)| r.groundings[0].description.is_some()).collect();
    assert!(!described.is_empty(), "no description arrived");
    for (_, r) in &described {
        let d = r.groundings[0].description.as_ref().unwrap();
        // Each description carries the stamp and sequence of the frame it was generated from.
        assert!(d.seq < r.seq, "description from frame {} on frame {}", d.seq, r.seq);
        assert!(d.text.contains(&format!("frame {}", d.seq)), "{}", d.text);
        // the closer look (the region zoom) ran on the frame the description was made from
        assert!(d.text.ends_with(&format!("looked at closely on frame {}", d.seq)), "{}", d.text);
        let source = got.iter().find(|(_, s)| s.seq == d.seq).map(|(_, s)| s.stamp);
        if let Some(stamp) = source {
            assert_eq!(d.stamp, stamp);
        }
        assert!(r.groundings[1].description.as_ref().unwrap().text.starts_with("blue ring"));
    }
}

#[test]
fn only_what_a_frame_found_is_described() {
    // "the absent cross" is never found and "the blinking star" only on some frames: describing
    // them on other frames would describe something the model says is not there.
    let model = SlowModel {
        encode: Duration::from_millis(5),
        segment: Duration::from_millis(5),
        step: Duration::from_millis(2),
        steps: 3,
    };
    let describe = DescribePolicy { enabled: true, every_frames: Some(1), every: None, max_tokens: 8, share: 0.25 };
    let commands = ["red star", "the absent cross", "the blinking star"];
    let pipeline = Pipeline::start(model, config("test:64x48@60", &commands, describe)).unwrap();
    let mut events = pipeline.handles().subscribe_descriptions();
    let got = collect(pipeline, Duration::from_secs(3));
    assert!(got.len() >= 20, "too few results: {}", got.len());
    for (_, r) in &got {
        assert!(
            !r.groundings[1].found && r.groundings[1].description.is_none(),
            "frame {}: {:?}",
            r.seq,
            r.groundings[1]
        );
        assert_eq!(r.groundings[2].found, blinking_seen(r.seq));
    }
    let mut described = std::collections::HashMap::<String, Vec<u64>>::new();
    loop {
        match events.try_recv() {
            Ok(e) => described.entry(e.command).or_default().push(e.description.seq),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    assert!(!described.contains_key("the absent cross"), "{described:?}");
    assert!(described.get("red star").is_some_and(|s| s.len() >= 3), "{described:?}");
    let blinking = &described["the blinking star"];
    assert!(!blinking.is_empty() && blinking.iter().all(|&seq| blinking_seen(seq)), "{blinking:?}");
}

#[test]
fn an_object_that_appears_later_is_described_when_first_found() {
    // Descriptions only when the command set changes: "the late cross" is not in view then, and is
    // described from the first frame that finds it (10); nothing else starts a description.
    let model = SlowModel {
        encode: Duration::from_millis(5),
        segment: Duration::from_millis(5),
        step: Duration::from_millis(2),
        steps: 3,
    };
    let describe = DescribePolicy { enabled: true, every_frames: None, every: None, max_tokens: 8, share: 0.25 };
    let pipeline = Pipeline::start(model, config("test:64x48@30", &["red star", "the late cross"], describe)).unwrap();
    let mut events = pipeline.handles().subscribe_descriptions();
    let got = collect(pipeline, Duration::from_secs(2));
    assert!(got.iter().any(|(_, r)| r.seq >= 12), "too few frames: {}", got.len());
    let mut described = Vec::new();
    while let Ok(e) = events.try_recv() {
        described.push((e.command, e.description.seq));
    }
    let late: Vec<_> = described.iter().filter(|(c, _)| c == "the late cross").collect();
    assert!(late.len() == 1 && late[0].1 >= 10, "{described:?}");
    // two descriptions in all: the new command set's, and the late cross's first sighting
    let frames: std::collections::HashSet<u64> = described.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(frames.len(), 2, "{described:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_and_region_descriptions_through_the_handles() {
    let model = SlowModel {
        encode: Duration::from_millis(5),
        segment: Duration::from_millis(5),
        step: Duration::from_millis(1),
        steps: 2,
    };
    let pipeline = Pipeline::start(model, config("test:64x48@30", &[], DescribePolicy::default())).unwrap();
    let h = pipeline.handles();
    let mut results = h.subscribe_results();
    let mut descriptions = h.subscribe_descriptions();

    let first = results.recv().await.unwrap();
    assert!(first.groundings.is_empty(), "no commands yet");

    let (tx, rx) = oneshot::channel();
    let set = SetCommands { commands: vec!["find the green cross".into(), "  ".into()], reply: Some(tx) };
    h.commands_tx.send(set).await.unwrap();
    let ack = rx.await.unwrap();
    assert!(ack.accepted && ack.active == vec!["find the green cross".to_string()], "{ack:?}");
    let with_command = loop {
        let r = results.recv().await.unwrap();
        if !r.groundings.is_empty() {
            break r;
        }
    };
    assert_eq!(with_command.groundings[0].command, "find the green cross");
    // A new command is described promptly.
    let event = tokio::time::timeout(Duration::from_secs(5), descriptions.recv()).await.unwrap().unwrap();
    assert_eq!(event.command, "find the green cross");

    let (tx, rx) = oneshot::channel();
    let too_many = (0..4).map(|i| format!("cmd {i}")).collect();
    h.commands_tx.send(SetCommands { commands: too_many, reply: Some(tx) }).await.unwrap();
    let ack = rx.await.unwrap();
    assert!(!ack.accepted && ack.message.contains("at most 3"), "{ack:?}");
    assert_eq!(ack.active, vec!["find the green cross".to_string()]);

    let (tx, rx) = oneshot::channel();
    h.describe_tx.send(DescribeRequest { prompt: VisualPrompt::Point { x: 3.0, y: 3.0 }, reply: tx }).await.unwrap();
    let region = rx.await.unwrap().unwrap();
    assert!(region.description.text.starts_with("a thing on frame"));
    assert_eq!(region.frame_id, "camera");
    assert!(region.bbox.is_some());

    let latest = h.latest.borrow().clone().expect("latest result");
    assert!(latest.seq >= with_command.seq);
    tokio::task::spawn_blocking(move || pipeline.shutdown()).await.unwrap();
    // The results channel ends once the worker has stopped.
    while !matches!(results.recv().await, Err(RecvError::Closed)) {}
    assert!(h.stats.processed.load(Ordering::Relaxed) > 0);
}

#[test]
fn external_frames_feed_the_worker_without_gstreamer() {
    // The ROS `image` source: frames pushed into the pipeline's outlet, newest wins.
    let model = SlowModel {
        encode: Duration::from_millis(10),
        segment: Duration::from_millis(10),
        step: Duration::ZERO,
        steps: 1,
    };
    let worker = config("test", &["red star"], no_describe()).worker;
    let pipeline = Pipeline::start_external(model, worker).unwrap();
    let (outlet, h) = (pipeline.frame_outlet(), pipeline.handles());
    let mut rx = h.subscribe_results();
    for seq in 0..50u64 {
        let frame = pixel_sail::frame::Frame {
            seq,
            stamp: std::time::SystemTime::now(),
            frame_id: "ros_cam".into(),
            width: 32,
            height: 24,
            data: vec![0; 32 * 24 * 3],
        };
        outlet.push(pixel_sail::capture::CapturedFrame { frame, pulled_at: Instant::now() });
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(100));
    let snap = h.stats.snapshot();
    assert_eq!(snap.frames_in, 50);
    assert!(snap.dropped > 0 && snap.frames_out + snap.dropped == 50, "{snap:?}");
    let first = loop {
        match rx.try_recv() {
            Ok(r) => break r,
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(e) => panic!("no result: {e:?}"),
        }
    };
    assert_eq!(first.frame_id, "ros_cam");
    assert_eq!(first.groundings.len(), 1);
    pipeline.shutdown();
}
