#!/usr/bin/env bash
# Every test: installs what is missing (runtime and test dependencies), then the Rust tests (real ONNX Runtime
# sessions, GStreamer pipelines), the Python model tests, and the ROS interop tests.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh --all
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

# ROS: a separate venv with the ROS 2 Jazzy PyPI wheels (rclpy, rmw_fastrtps_cpp, message packages,
# rosbags) and pixel_sail_msgs built from msgs/ with plain CMake; exports PIXEL_SAIL_ROS_PYTHON and
# PIXEL_SAIL_ROS_MSGS for tests/ros_msgs.rs (rosbags wire test) and tests/ros_interop.rs (rclpy).
echo "== ROS test environment" >&2
ROS_ENV="$(tests/ros/setup_ros_env.sh)"  # a failed setup stops here (set -e)
eval "$ROS_ENV"
export PIXEL_SAIL_PYTHON="$PIXEL_SAIL_ROS_PYTHON"

echo "== cargo fmt --check, cargo clippy --all-targets -D warnings" >&2
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings

echo "== cargo test" >&2
cargo test --quiet

echo "== GPU check, dry run on CPU (the GPU-only steps are skipped and listed)" >&2
scripts/gpu_check.sh --dry-run --bin "$ROOT/target/debug/pixel-sail"

echo "== Jetson build: aarch64 cross-build, infer under qemu-user against the x86_64 build" >&2
tests/aarch64/qemu_parity.sh

echo "== ROS interop: pixel-sail run against rclpy over Fast DDS (Jazzy wheels, then Kilted)" >&2
tests/ros/run_interop.sh
PIXEL_SAIL_ROS_DISTRO=kilted tests/ros/run_interop.sh

echo "== soak, 2-minute version: commands, clicks and subscriber churn; memory flat after 1 min, no errors" >&2
PIXEL_SAIL_BIN="$ROOT/target/debug/pixel-sail" tests/ros/soak.sh 2 30 60

echo "== python model tests" >&2
.venv/bin/python -m pytest -q models/tests

# DDS Security (`--features security`): only ros2-client/RustDDS and this crate rebuild with the feature. It
# relinks target/debug/pixel-sail with security, so it runs after every test of the default binary.
echo "== ROS 2 security: the node under Enforce with test keystores, RustDDS peers with and without the keys" >&2
cargo build --quiet --features security --example secure_listener
cargo test --quiet --features security --test ros_security

# Last: its plain `cargo build` (no dev-dependencies) relinks target/debug/pixel-sail.
echo "== colcon workspace: pixel_sail and pixel_sail_msgs built and installed as a ROS user does" >&2
tests/ros/colcon_workspace.sh
