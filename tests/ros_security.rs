//! ROS 2 security from the environment, end to end through `pixel-sail run`: under
//! `ROS_SECURITY_STRATEGY=Enforce` without usable keys (the default build has no DDS Security; a `security`
//! build needs every file of the enclave) the node refuses to start with one line, rather than publish in the
//! clear; under `Permissive` it starts, says once that it runs unsecured, and works. With `--features security`,
//! `dds_security` shows who receives the node's detections.

use std::process::Command;

fn pixel_sail(envs: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pixel-sail"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--no-progress", "--model", "models/tiny", "--source", "test:160x120@30", "--max-frames", "2"])
        .args(["--prompt", "find the red circle", "--ros-args", "-r", "__node:=sec_test"])
        // A domain of its own, so this node meets nobody else's tests.
        .env("ROS_DOMAIN_ID", (150 + std::process::id() % 50).to_string())
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn enforce_refuses_to_start_with_one_line_naming_the_enclave() {
    let out = pixel_sail(&[
        ("ROS_SECURITY_ENABLE", "true"),
        ("ROS_SECURITY_STRATEGY", "Enforce"),
        ("ROS_SECURITY_KEYSTORE", "/tmp/keystore"),
        ("ROS_SECURITY_ENCLAVE_OVERRIDE", "/pixel_sail"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("/tmp/keystore/enclaves/pixel_sail") && errors[0].contains("refusing to start"));
    assert!(!stderr.contains("capture started"), "nothing starts before the refusal: {stderr}");
}

#[test]
fn permissive_runs_unsecured_and_says_so_once() {
    let out = pixel_sail(&[("ROS_SECURITY_ENABLE", "true"), ("ROS_SECURITY_STRATEGY", "Permissive")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("running UNSECURED").count(), 1, "{stderr}");
}

/// Built with `--features security`: the node joins with DDS Security from the enclave the environment
/// names. A ros2-client peer (`examples/secure_listener.rs`; the PyPI rclpy wheels have no DDS Security
/// plugins) holding keys of the same keystore receives `~/detections`; one whose keys come from another
/// keystore (its own CAs), and one without security, receive nothing. Keys are made for the test by
/// `tests/ros/make_keystore.sh` (openssl CLI, sros2's layout). The peer is built first:
/// `cargo build --features security --example secure_listener`.
#[cfg(feature = "security")]
mod dds_security {
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    fn keystore(dir: &Path, enclaves: &[&str]) {
        keystore_protected(dir, enclaves, "NONE");
    }

    /// A keystore whose governance asks for `protection` (NONE, SIGN, ENCRYPT) everywhere.
    fn keystore_protected(dir: &Path, enclaves: &[&str], protection: &str) {
        let status = Command::new("tests/ros/make_keystore.sh")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("PROTECTION", protection)
            .arg(dir)
            .args(enclaves)
            .status()
            .unwrap();
        assert!(status.success(), "make_keystore.sh failed");
    }

    fn listener(domain: &str, topic: &str, enclave: Option<&Path>) -> Child {
        let bin = Path::new(env!("CARGO_BIN_EXE_pixel-sail")).with_file_name("examples").join("secure_listener");
        let mut cmd = Command::new(&bin);
        cmd.args([topic, "15"]).env("ROS_DOMAIN_ID", domain).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(e) = enclave {
            cmd.arg(e);
        }
        cmd.spawn().unwrap_or_else(|e| {
            panic!("{}: {e} (cargo build --features security --example secure_listener)", bin.display())
        })
    }

    fn received(child: Child) -> (u64, String) {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let n = stdout.trim().strip_prefix("received ").and_then(|n| n.parse().ok());
        let log = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        (n.unwrap_or_else(|| panic!("listener said: {log}")), log)
    }

    #[test]
    fn only_a_peer_holding_the_keystores_keys_receives_detections() {
        let tmp = tempfile::tempdir().unwrap();
        let (ks, stranger) = (tmp.path().join("keystore"), tmp.path().join("stranger"));
        keystore(&ks, &["pixel_sail", "listener"]);
        keystore(&stranger, &["listener"]);
        let domain = (100 + std::process::id() % 40).to_string();
        let log_path = tmp.path().join("node.log");
        let mut node = Command::new(env!("CARGO_BIN_EXE_pixel-sail"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "--no-progress", "--model", "models/tiny", "--source", "test:160x120@30"])
            .args(["--prompt", "find the red circle", "--duration-secs", "40", "--ros-args", "-r", "__node:=sec_node"])
            .env("ROS_DOMAIN_ID", &domain)
            .env("ROS_SECURITY_ENABLE", "true")
            .env("ROS_SECURITY_STRATEGY", "Enforce")
            .env("ROS_SECURITY_KEYSTORE", &ks)
            .env("ROS_SECURITY_ENCLAVE_OVERRIDE", "/pixel_sail")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(2));
        let topic = "/sec_node/detections";
        let member = listener(&domain, topic, Some(&ks.join("enclaves/listener")));
        let outsider = listener(&domain, topic, Some(&stranger.join("enclaves/listener")));
        let unsecured = listener(&domain, topic, None);
        let (member, member_log) = received(member);
        let (outsider, outsider_log) = received(outsider);
        let (unsecured, unsecured_log) = received(unsecured);
        let _ = Command::new("kill").args(["-INT", &node.id().to_string()]).status();
        let _ = node.wait();
        let log = std::fs::read_to_string(&log_path).unwrap();
        eprintln!(
            "detections received: keystore peer {member}, another keystore's peer {outsider}, unsecured {unsecured}"
        );
        assert!(log.contains("DDS Security on"), "{log}");
        assert!(member > 0, "the keystore's own peer got nothing: {member_log}\nnode: {log}");
        assert_eq!(outsider, 0, "a peer of another keystore got detections: {outsider_log}");
        assert_eq!(unsecured, 0, "an unsecured peer got detections: {unsecured_log}");
    }

    /// sros2's default governance encrypts; RustDDS 0.15.1 cannot carry encrypted or signed submessages, so the
    /// node would join and exchange nothing. Under Enforce it refuses with one line naming what was asked.
    #[test]
    fn enforce_refuses_a_governance_that_encrypts_with_one_line() {
        let tmp = tempfile::tempdir().unwrap();
        let ks = tmp.path().join("keystore");
        keystore_protected(&ks, &["pixel_sail"], "ENCRYPT");
        let ks = ks.display().to_string();
        let out = super::pixel_sail(&[
            ("ROS_SECURITY_ENABLE", "true"),
            ("ROS_SECURITY_STRATEGY", "Enforce"),
            ("ROS_SECURITY_KEYSTORE", &ks),
            ("ROS_SECURITY_ENCLAVE_OVERRIDE", "/pixel_sail"),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains("governance.p7s asks for") && errors[0].contains("data_protection_kind=ENCRYPT"),
            "{stderr}"
        );
        assert!(!stderr.contains("DDS Security on") && !stderr.contains("capture started"), "{stderr}");
    }
}
