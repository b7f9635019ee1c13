//! Capture against real GStreamer pipelines: videotestsrc, a clip through decodebin, a corrupt
//! file, a source that dies mid-run, and odd frame sizes with padded strides.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use common::{Collector, make_clip};
use pixel_sail::capture::{CaptureConfig, CaptureEnd, CaptureError, CaptureRunner, CaptureStats, RetryPolicy};

fn start(cfg: CaptureConfig) -> (CaptureRunner, Arc<Collector>, Arc<CaptureStats>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let collector = Arc::new(Collector::default());
    let stats = Arc::new(CaptureStats::default());
    let runner = CaptureRunner::start(cfg, stats.clone(), collector.clone()).expect("source should start");
    (runner, collector, stats)
}

#[test]
fn videotestsrc_delivers_rgb_frames_with_capture_stamps() {
    let (runner, frames, _) = start(CaptureConfig::new("test:320x240@30"));
    assert!(frames.wait(Duration::from_secs(10), |f, _| f.len() >= 8), "too few frames");
    assert_eq!(runner.stop(), CaptureEnd::Stopped);
    assert!(*frames.closed.lock().unwrap(), "outlet not closed on stop");
    let got = frames.frames.lock().unwrap();
    for w in got.windows(2) {
        assert!(w[1].frame.seq > w[0].frame.seq);
        assert!(w[1].frame.stamp > w[0].frame.stamp, "stamps must follow buffer time");
    }
    let f = &got[0].frame;
    assert_eq!((f.width, f.height, f.data.len()), (320, 240, 320 * 240 * 3));
    assert_eq!(f.frame_id, "camera");
    // The stamp is the buffer's time mapped to the wall clock: close to now, never after the pull.
    let age = SystemTime::now().duration_since(f.stamp).expect("stamp in the future");
    assert!(age < Duration::from_secs(10), "stamp {age:?} old");
}

#[test]
fn clip_is_decoded_through_decodebin_frame_by_frame() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    make_clip(&clip, 24, 160, 120);
    let (runner, frames, stats) = start(CaptureConfig::new(clip.to_str().unwrap()));
    assert!(frames.wait(Duration::from_secs(20), |_, closed| closed), "file did not end");
    assert_eq!(runner.stop(), CaptureEnd::EndOfStream);
    // Files are read frame by frame (back-pressure), so every frame arrives.
    assert_eq!(frames.seqs(), (0..24).collect::<Vec<u64>>());
    assert_eq!(stats.frames.load(Ordering::Relaxed), 24);
    let got = frames.frames.lock().unwrap();
    let step = got[1].frame.stamp.duration_since(got[0].frame.stamp).unwrap();
    assert!((step.as_secs_f64() - 1.0 / 30.0).abs() < 0.005, "stamps follow PTS: step {step:?}");
}

#[test]
fn sample_clip_decodes_through_decodebin_to_the_end() {
    let clip = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sample/tabletop.webm");
    let launch = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink",
        clip.display()
    );
    // As a launch description it counts as live (newest wins), so only check size and the end.
    let mut cfg = CaptureConfig::new(launch);
    cfg.retry.max_attempts = Some(0);
    let (runner, frames, _) = start(cfg);
    assert!(frames.wait(Duration::from_secs(60), |_, closed| closed), "clip did not end");
    let f = &frames.frames.lock().unwrap()[0].frame;
    assert_eq!((f.width, f.height, f.data.len()), (640, 480, 640 * 480 * 3));
    // A live description that ends is a failure to retry; with no retries left capture gives up.
    assert!(matches!(runner.stop(), CaptureEnd::GaveUp(m) if m.contains("ended")));
    // The same file by path is read frame by frame to its end.
    let (runner, frames, _) = start(CaptureConfig::new(clip.to_str().unwrap()));
    assert!(frames.wait(Duration::from_secs(120), |_, closed| closed), "clip did not end");
    assert_eq!(runner.stop(), CaptureEnd::EndOfStream);
    let seqs = frames.seqs();
    assert!(seqs.len() >= 30 && seqs.windows(2).all(|w| w[1] == w[0] + 1), "{} frames", seqs.len());
}

#[test]
fn looping_rewinds_at_end_of_file() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.webm");
    make_clip(&clip, 10, 96, 64);
    let mut cfg = CaptureConfig::new(format!("file://{}", clip.display()));
    cfg.looping = true;
    let (runner, frames, _) = start(cfg);
    assert!(frames.wait(Duration::from_secs(20), |f, _| f.len() >= 25), "did not loop");
    assert_eq!(runner.stop(), CaptureEnd::Stopped);
    let seqs = frames.seqs();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "sequence continues across loops");
}

#[test]
fn corrupt_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.webm");
    std::fs::write(&bad, b"this is not a video at all, just some bytes that no demuxer wants").unwrap();
    let err = CaptureRunner::start(
        CaptureConfig::new(bad.to_str().unwrap()),
        Default::default(),
        Arc::new(Collector::default()),
    )
    .err()
    .expect("a corrupt file must not start");
    let text = err.to_string();
    assert!(matches!(err, CaptureError::Start { .. }), "{text}");
    assert!(text.contains("broken.webm") && text.contains("cannot start"), "{text}");
    assert!(
        text.len() > "source '' cannot start: ".len() + bad.to_str().unwrap().len() + 10,
        "no GStreamer message: {text}"
    );
}

#[test]
fn unknown_element_and_missing_file_fail_at_start() {
    let collector = Arc::new(Collector::default());
    let err =
        CaptureRunner::start(CaptureConfig::new("nosuchelement ! appsink"), Default::default(), collector.clone())
            .err()
            .unwrap()
            .to_string();
    assert!(err.contains("nosuchelement"), "{err}");
    let err =
        CaptureRunner::start(CaptureConfig::new("/no/such/clip.webm"), Default::default(), collector).err().unwrap();
    assert!(matches!(err, CaptureError::BadSource { .. }), "{err}");
}

#[test]
fn source_dying_mid_run_is_reopened_with_backoff() {
    // identity errors after 8 buffers, every time the pipeline is rebuilt.
    let launch = "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=60/1 \
                  ! identity error-after=8 ! videoconvert ! video/x-raw,format=RGB ! appsink";
    let mut cfg = CaptureConfig::new(launch);
    cfg.retry = RetryPolicy { initial: Duration::from_millis(20), max: Duration::from_millis(100), max_attempts: None };
    let (runner, frames, stats) = start(cfg);
    let ok = frames.wait(Duration::from_secs(20), |f, _| f.len() >= 20);
    assert!(
        ok,
        "no recovery: {:?} restarts {} err {:?}",
        frames.seqs(),
        stats.restarts.load(Ordering::Relaxed),
        stats.last_error()
    );
    assert_eq!(runner.stop(), CaptureEnd::Stopped);
    assert!(stats.restarts.load(Ordering::Relaxed) >= 2, "restarts not counted");
    assert!(stats.last_error().unwrap_or_default().contains("identity"), "{:?}", stats.last_error());
    let seqs = frames.seqs();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "sequence must keep rising across reopenings");
}

#[test]
fn retry_budget_gives_up_when_the_source_never_returns() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("gone.webm");
    make_clip(&clip, 5, 64, 48);
    // The description fails after 3 buffers; once the file is deleted every reopening fails too.
    let launch = format!(
        "filesrc location=\"{}\" ! decodebin ! identity error-after=3 ! videoconvert ! video/x-raw,format=RGB ! appsink",
        clip.display()
    );
    let mut cfg = CaptureConfig::new(launch);
    cfg.retry =
        RetryPolicy { initial: Duration::from_millis(10), max: Duration::from_millis(20), max_attempts: Some(2) };
    let (runner, frames, stats) = start(cfg);
    std::fs::remove_file(&clip).unwrap();
    assert!(frames.wait(Duration::from_secs(20), |_, closed| closed), "did not give up");
    match runner.stop() {
        CaptureEnd::GaveUp(msg) => assert!(msg.contains("gone.webm") || msg.contains("filesrc"), "{msg}"),
        other => panic!("expected GaveUp, got {other:?}"),
    }
    assert_eq!(stats.restarts.load(Ordering::Relaxed), 3);
}

fn single_frame(launch: &str) -> pixel_sail::frame::Frame {
    let (runner, frames, _) = start(CaptureConfig::new(launch));
    assert!(frames.wait(Duration::from_secs(10), |f, _| !f.is_empty()));
    runner.stop();
    frames.frames.lock().unwrap()[0].frame.clone()
}

#[test]
fn odd_sizes_are_repacked_to_tight_rows() {
    // 643 RGB pixels = 1929 bytes, padded by GStreamer to a 1932-byte stride.
    for format in ["RGB", "BGRx", "BGR"] {
        let f = single_frame(&format!(
            "videotestsrc pattern=solid-color foreground-color=0xff3366cc \
             ! video/x-raw,format={format},width=643,height=481,framerate=30/1 ! appsink"
        ));
        assert_eq!((f.width, f.height), (643, 481));
        assert_eq!(f.data.len(), 643 * 481 * 3, "{format}");
        assert!(f.data.chunks_exact(3).all(|p| p == [0x33, 0x66, 0xcc]), "{format}: padding leaked into pixels");
    }
}

#[test]
fn http_uri_plays_at_its_own_rate() {
    // A file served over HTTP is a network source: paced by its timestamps, newest frame wins.
    let dir = tempfile::tempdir().unwrap();
    make_clip(&dir.path().join("clip.webm"), 60, 96, 64);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = std::process::Command::new("python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let uri = format!("http://127.0.0.1:{port}/clip.webm");
    let mut started = None;
    for _ in 0..50 {
        match CaptureRunner::start(CaptureConfig::new(&uri), Default::default(), Arc::new(Collector::default())) {
            Ok(r) => {
                r.stop();
                let collector = Arc::new(Collector::default());
                started = Some((
                    CaptureRunner::start(CaptureConfig::new(&uri), Default::default(), collector.clone()).unwrap(),
                    collector,
                ));
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)), // the server is still starting
        }
    }
    let (runner, frames) = started.expect("no HTTP source");
    let t0 = std::time::Instant::now();
    assert!(frames.wait(Duration::from_secs(20), |f, _| f.len() >= 30), "too few frames over HTTP");
    let took = t0.elapsed();
    runner.stop();
    let _ = server.kill();
    let _ = server.wait();
    // 30 frames at 30 fps take about a second when paced (decoding alone would take a few ms).
    assert!(took >= Duration::from_millis(700), "not paced: 30 frames in {took:?}");
    assert_eq!(frames.frames.lock().unwrap()[0].frame.width, 96);
}

#[test]
fn frames_lost_before_capture_are_counted() {
    // identity throws away half the buffers: the gaps in buffer times are counted as lost.
    let launch = "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=60/1 \
                  ! identity drop-probability=0.5 ! videoconvert ! video/x-raw,format=RGB ! appsink";
    let (runner, frames, stats) = start(CaptureConfig::new(launch));
    assert!(frames.wait(Duration::from_secs(20), |f, _| f.len() >= 20));
    runner.stop();
    let got = frames.frames.lock().unwrap();
    let lost = stats.lost_upstream.load(Ordering::Relaxed);
    let span = got.last().unwrap().frame.stamp.duration_since(got[0].frame.stamp).unwrap();
    let produced = (span.as_secs_f64() * 60.0).round() as u64 + 1;
    assert!(lost > 0, "nothing counted as lost");
    assert_eq!(got.len() as u64 + lost, produced, "delivered + lost = frames the source made");
}

#[test]
fn unusable_frames_are_counted_and_skipped() {
    // I420 at the appsink cannot be turned into RGB rows by capture: every frame is a per-frame fault.
    let launch = "videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=60/1 ! appsink";
    let (runner, frames, stats) = start(CaptureConfig::new(launch));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(runner.stop(), CaptureEnd::Stopped, "a bad frame must not end capture");
    assert!(frames.seqs().is_empty());
    assert!(stats.frame_errors.load(Ordering::Relaxed) >= 5);
    assert!(stats.last_error().unwrap().contains("video/x-raw,format=RGB"), "{:?}", stats.last_error());
}
