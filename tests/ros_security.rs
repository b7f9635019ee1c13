//! ROS 2 security from the environment, end to end through `pixel-sail run`: under
//! `ROS_SECURITY_STRATEGY=Enforce` the node refuses to start with one line (it has no DDS Security, so it
//! would publish in the clear); under `Permissive` it starts, says once that it runs unsecured, and works.

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
