#!/usr/bin/env bash
# Rates and stamp-to-receive latency of every output of `pixel-sail run` (release build, the real
# model) at 640x480, as an rclpy subscriber sees them (tests/ros/bench_outputs.py).
#   tests/ros/bench_node.sh [SOURCE] [SECONDS]      default: test:640x480@30, 20 s
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SOURCE="${1:-test:640x480@30}"
SECONDS_="${2:-20}"
ROS_ENV="$(tests/ros/setup_ros_env.sh)"  # a failed setup stops here (set -e)
eval "$ROS_ENV"
cargo build --release --quiet
I="$PIXEL_SAIL_ROS_MSGS"
VENV="$(dirname "$(dirname "$PIXEL_SAIL_ROS_PYTHON")")"
export PYTHONPATH="$I/lib/python3.11/site-packages" LD_LIBRARY_PATH="$I/lib" AMENT_PREFIX_PATH="$I:$VENV"
export FASTRTPS_DEFAULT_PROFILES_FILE="$ROOT/launch/fastdds_bigbuf.xml" FASTDDS_DEFAULT_PROFILES_FILE="$ROOT/launch/fastdds_bigbuf.xml"
export ROS_DOMAIN_ID=$(( 150 + $$ % 50 )) ROS_DISTRO=jazzy RUST_LOG=warn
mkdir -p out
target/release/pixel-sail run --source "$SOURCE" --no-progress --ros-args -p frame_id:=bench_cam > out/ros_bench_node.log 2>&1 &
pid=$!
"$PIXEL_SAIL_ROS_PYTHON" tests/ros/bench_outputs.py --seconds "$SECONDS_" --warmup 8
kill -INT "$pid"; wait "$pid" || true
tail -2 out/ros_bench_node.log
