#!/usr/bin/env bash
# Soak: `pixel-sail run` on a 30 fps live test source with the real model, worked by tests/ros/soak.py (rclpy
# over Fast DDS): commands every 2 s, a click every 5 s, subscribers joining and leaving every 10 s. Reports
# resident memory after the warm-up and at the end, latency p50/p99 per window, errors and restarts; exit 1
# when memory grows past 5 MiB after the warm-up, on any error or panic, or when the node dies.
#   tests/ros/soak.sh [MINUTES (30)] [WINDOW_S (300)] [WARMUP_S (60)]   (PIXEL_SAIL_BIN: the binary, default release;
#   SOAK_ARGS: more soak.py flags, e.g. "--churn-s 1")
# scripts/test.sh runs a 2-minute version (30 s windows and warm-up) on the debug build.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
MINUTES="${1:-30}" WINDOW="${2:-300}" WARMUP="${3:-60}"
ROS_ENV="$(tests/ros/setup_ros_env.sh)"
eval "$ROS_ENV"
BIN="${PIXEL_SAIL_BIN:-$ROOT/target/release/pixel-sail}"
[ -x "$BIN" ] || { echo "soak: $BIN is not built (cargo build --release, or set PIXEL_SAIL_BIN)" >&2; exit 2; }
I="$PIXEL_SAIL_ROS_MSGS"
VENV="$(dirname "$(dirname "$PIXEL_SAIL_ROS_PYTHON")")"
export PYTHONPATH="$I/lib/python3.11/site-packages" LD_LIBRARY_PATH="$I/lib" AMENT_PREFIX_PATH="$I:$VENV"
export FASTRTPS_DEFAULT_PROFILES_FILE="$ROOT/launch/fastdds_bigbuf.xml" FASTDDS_DEFAULT_PROFILES_FILE="$ROOT/launch/fastdds_bigbuf.xml"
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
# A domain of its own (scripts/test.sh runs the ROS tests one after another).
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( 60 + $$ % 30 ))}"
mkdir -p out
LOG="out/soak_node.log"
RUST_LOG="${RUST_LOG:-warn,pixel_sail=info,ros2_client=error,rustdds=error}" \
  "$BIN" run --model models/tiny --source test:640x480@30 --no-progress --ros-args -r __node:=soak_node > "$LOG" 2>&1 &
PID=$!
status=0
"$PIXEL_SAIL_ROS_PYTHON" tests/ros/soak.py --pid "$PID" --node soak_node --minutes "$MINUTES" --window-s "$WINDOW" \
  --warmup-s "$WARMUP" --report "out/soak.json" ${SOAK_ARGS:-} || status=1
kill -INT "$PID" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$PID" 2>/dev/null; then echo "soak: the node did not stop within 20 s of SIGINT" >&2; kill -KILL "$PID"; status=1; fi
wait "$PID" || { echo "soak: the node exited with an error" >&2; status=1; }
# Errors and panics the node logged (ANSI colour codes stripped).
errors="$(sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -cE ' ERROR |panicked' || true)"
restarts="$(sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -oE 'restarts [0-9]+' | tail -1 | grep -oE '[0-9]+' || echo 0)"
echo "soak: node log errors $errors, capture restarts $restarts (log: $LOG, report: out/soak.json)"
if [ "$errors" -ne 0 ]; then sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -E ' ERROR |panicked' | head -5 >&2; status=1; fi
exit "$status"
