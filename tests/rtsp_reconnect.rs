//! An RTSP camera that stops and comes back: GStreamer's RTSP server (`tests/rtsp/rtsp_server.py`, the
//! system python3 with gir1.2-gst-rtsp-server-1.0) serves a live test pattern on this machine, and
//! `pixel-sail run --no-ros` reads it with the real model. The server is killed while the node runs and
//! started again on the same port: results must resume, the reopenings must be counted, and nothing
//! may panic. Then it hangs (SIGSTOP) and Ctrl-C must end the node without waiting out the reopening. The `bench_` test measures the time from the server's return to the first new result.
//!
//! Without the RTSP server bindings the tests say so and pass, except under CI, where they fail.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The python that has GStreamer's RTSP server bindings, or why there is none.
fn rtsp_python() -> Result<PathBuf, String> {
    let py =
        std::env::var_os("PIXEL_SAIL_SYSTEM_PYTHON").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/python3".into());
    let probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer";
    match Command::new(&py).args(["-c", probe]).output() {
        Ok(out) if out.status.success() => Ok(py),
        _ => Err(format!(
            "{} cannot import GstRtspServer: apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi",
            py.display()
        )),
    }
}

/// The python, or None when the test should be skipped (never under CI).
fn python_or_skip() -> Option<PathBuf> {
    match rtsp_python() {
        Ok(py) => Some(py),
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "CI must have the RTSP server bindings: {why}");
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running RTSP server; killed (the camera vanishes) when dropped.
struct Server(Child);

impl Server {
    /// Starts the server and waits until it listens; returns it with the instant it said so.
    fn start(py: &Path, port: u16) -> (Self, Instant) {
        let mut child = Command::new(py)
            .arg(repo("tests/rtsp/rtsp_server.py"))
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the RTSP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ready = Instant::now();
        assert!(line.starts_with("ready"), "the RTSP server did not start: {line:?}");
        (Self(child), ready)
    }

    /// SIGSTOP: the camera hangs, its socket still accepting connections.
    fn freeze(&self) {
        let _ = Command::new("kill").args(["-STOP", &self.0.id().to_string()]).status();
    }

    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `pixel-sail run --no-ros` on the RTSP URL with the real model, writing JSONL; stderr to `log`.
fn start_node(port: u16, jsonl: &Path, log: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pixel-sail"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--no-ros", "--no-progress", "--model"])
        .arg(repo("models/tiny"))
        .args(["--source", &format!("rtsp://127.0.0.1:{port}/cam"), "--prompt", "find the red circle"])
        .arg("--jsonl")
        .arg(jsonl)
        .args(extra)
        .env("RUST_LOG", "info,ort=warn,rustdds=warn,mio=warn,tokenizers=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// (seq, capture stamp) of each whole JSONL line written so far.
fn results(path: &Path) -> Vec<(u64, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| (v["seq"].as_u64().unwrap_or(0), v["stamp"].as_f64().unwrap_or(0.0)))
        .collect()
}

fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Sends SIGINT and waits for the node to exit; returns its status.
fn interrupt(node: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill").args(["-INT", &node.id().to_string()]).status();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = node.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = node.kill();
            panic!("pixel-sail did not exit within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The final summary's `restarts N` (absent when there were none).
fn restarts(log: &str) -> u64 {
    let Some((_, tail)) = log.rsplit_once("restarts ") else { return 0 };
    tail.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)
}

#[test]
fn rtsp_camera_that_stops_and_comes_back_is_followed() {
    let Some(py) = python_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (jsonl, log) = (dir.path().join("results.jsonl"), dir.path().join("node.log"));
    let port = free_port();
    let (server, _) = Server::start(&py, port);
    // Small timings keep the test short: a silent stream counts as failed after 1 s, reopenings
    // start 200 ms apart and double up to 1 s.
    let fast = ["--stall-restart-secs", "1", "--retry-initial-ms", "200", "--retry-max-ms", "1000"];
    let mut node = start_node(port, &jsonl, &log, &[&fast[..], &["--startup-timeout-secs", "60"]].concat());
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(wait_for(Duration::from_secs(60), || results(&jsonl).len() >= 3), "no results: {}", log_text());

    server.kill();
    // Down long enough for the stall to be noticed and reopening to fail a few times.
    std::thread::sleep(Duration::from_secs(3));
    assert!(node.try_wait().unwrap().is_none(), "the node exited while the camera was gone: {}", log_text());
    let before = results(&jsonl).len();
    let back_at = unix_now();
    let (server, _) = Server::start(&py, port);
    let resumed =
        wait_for(Duration::from_secs(30), || results(&jsonl).iter().filter(|(_, stamp)| *stamp > back_at).count() >= 3);
    // Then the camera hangs: the stall is noticed after 1 s and capture reopens it, waiting for a first
    // frame that never comes (up to --startup-timeout-secs 60). Ctrl-C must not wait for that.
    server.freeze();
    std::thread::sleep(Duration::from_secs_f64(2.5));
    let asked = Instant::now();
    let status = interrupt(&mut node);
    let took = asked.elapsed();
    let text = log_text();
    assert!(resumed, "results did not resume after the camera came back: {text}");
    assert!(status.success(), "pixel-sail exited with {status}: {text}");
    assert!(took < Duration::from_secs(10), "Ctrl-C took {took:?} while a reopening waited: {text}");
    assert!(!text.contains("panicked"), "{text}");
    let all = results(&jsonl);
    assert!(all.len() > before, "{} results before the return, {} after", before, all.len());
    assert!(all.windows(2).all(|w| w[1].0 > w[0].0), "sequence numbers run on across reopenings");
    // Each reopening is counted once and logged once; the one Ctrl-C cut short is neither.
    let n = restarts(&text);
    let retries = text.matches("capture failed, retrying").count() as u64;
    assert!(n >= 2 && n == retries, "restarts counted {n}, retries logged {retries}: {text}");
    // Backoff, not a storm: 3 s down with 200 ms doubling to 1 s is at most about 6 attempts, and one stall.
    assert!(n <= 9, "{n} restarts: {text}");
    assert!(text.contains("source reopened"), "{text}");
}

/// Time from the RTSP server's return (it listens again) to the first result from a frame it sent: with the
/// default reconnection settings (backoff 500 ms doubling to 10 s), with the test's (200 ms doubling to 1 s),
/// and with a 50 ms constant retry, which leaves the reconnection's own cost (RTSP set-up, the first key
/// frame decoded, one model frame). Figures go to BENCHMARKS.md.
#[test]
#[ignore = "benchmark: cargo test --release --test rtsp_reconnect bench_ -- --ignored --nocapture"]
fn bench_rtsp_return_to_first_result() {
    let Some(py) = python_or_skip() else { return };
    let outage: f64 = std::env::var("OUTAGE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let retry = |initial: &'static str, max: &'static str| vec!["--retry-initial-ms", initial, "--retry-max-ms", max];
    for (label, extra) in [
        ("defaults (500 ms doubling to 10 s)", vec![]),
        ("--retry-initial-ms 200 --retry-max-ms 1000", retry("200", "1000")),
        ("--retry-initial-ms 50 --retry-max-ms 50", retry("50", "50")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (jsonl, log) = (dir.path().join("results.jsonl"), dir.path().join("node.log"));
        let port = free_port();
        let (mut server, _) = Server::start(&py, port);
        let mut node = start_node(port, &jsonl, &log, &extra);
        assert!(wait_for(Duration::from_secs(60), || results(&jsonl).len() >= 3), "no results");
        let (mut to_result, mut to_frame) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            server.kill();
            std::thread::sleep(Duration::from_secs_f64(outage));
            // Frames still in the jitter buffer when the server died come out after it; by now they are done.
            let last_old = results(&jsonl).last().map_or(0, |r| r.0);
            let (s, ready) = Server::start(&py, port);
            let ready_wall = unix_now();
            server = s;
            let first = |r: &[(u64, f64)]| r.iter().find(|(seq, _)| *seq > last_old).map(|(_, s)| *s);
            assert!(wait_for(Duration::from_secs(60), || first(&results(&jsonl)).is_some()), "no result after return");
            to_result.push(ready.elapsed().as_secs_f64());
            to_frame.push(first(&results(&jsonl)).unwrap() - ready_wall);
            // Let the stream settle before the next outage.
            std::thread::sleep(Duration::from_secs(3));
        }
        interrupt(&mut node);
        server.kill();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let fmt = |v: &[f64]| {
            let mut sorted = v.to_vec();
            sorted.sort_by(f64::total_cmp);
            let all = v.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(" ");
            format!("{all} (median {:.2})", sorted[sorted.len() / 2])
        };
        println!(
            "{label}: outage {outage:.1} s, {rounds} rounds, restarts {}\n  server ready -> first new result line: {} \
             s\n  server ready -> capture stamp of that frame: {} s",
            restarts(&text),
            fmt(&to_result),
            fmt(&to_frame)
        );
    }
}
