#!/usr/bin/env bash
# `pixel-sail run` (the real model) driven by a real rclpy node over Fast DDS (PyPI wheels), with
# tests/ros/check_node.py: (1) the sample clip under a namespace and node name given by --ros-args,
# (2) an rclpy camera publisher as the source (`image` remapped); and (3) with tests/ros/check_3d.py, an
# rclpy depth camera (colour, 16UC1 depth and camera_info of a rendered fixture): the objects the model
# finds are placed within 1 cm of the renderer's truth, on every 3-D output, with
# publish_tf:=true; (4) a managed node (`--lifecycle`) through every lifecycle transition
# (tests/ros/check_lifecycle.py); (5) two ROS cameras on one model (tests/ros/check_cameras.py). Exit status 1
# on any failed check.
# Content checks run when models/<model>/model.json says trained: a mask the model gives for the
# command must cover the object (IoU >= 0.5 with the rendered truth), descriptions must not be empty.
# PIXEL_SAIL_ROS_DISTRO=kilted runs the same against the Kilted wheels (rclpy 9, Fast DDS 3); the
# node is the default (Jazzy) build either way: on DDS the distros are wire-identical.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ROS_ENV="$(tests/ros/setup_ros_env.sh)"  # a failed setup stops here (set -e)
eval "$ROS_ENV"
# The binary as `cargo test` builds it (dev-dependency features unified): a plain `cargo build` would
# resolve features differently and rebuild rustdds and its dependants a second time.
cargo test --quiet --no-run --test ros_interop
BIN="$ROOT/target/debug/pixel-sail"
MODEL="${PIXEL_SAIL_MODEL:-models/tiny}"
I="$PIXEL_SAIL_ROS_MSGS"
VENV="$(dirname "$(dirname "$PIXEL_SAIL_ROS_PYTHON")")"
export PYTHONPATH="$I/lib/python3.11/site-packages" LD_LIBRARY_PATH="$I/lib" AMENT_PREFIX_PATH="$I:$VENV"
export FASTRTPS_DEFAULT_PROFILES_FILE="$ROOT/launch/fastdds_bigbuf.xml" FASTDDS_DEFAULT_PROFILES_FILE="$ROOT/launch/fastdds_bigbuf.xml"
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
export RUST_LOG="${RUST_LOG:-warn,pixel_sail=info,ros2_client=error,rustdds=error}"
CONTENT=()
if "$PIXEL_SAIL_ROS_PYTHON" -c "import json,sys; sys.exit(0 if json.load(open('$MODEL/model.json'))['provenance'].get('trained') else 1)"; then
  CONTENT=(--model-content)
fi
mkdir -p out
failed=0
# [CHECKER=check_3d.py] run_case NAME DOMAIN "node args" checker args...
run_case() {
  local name="$1" domain="$2" node_args="$3"; shift 3
  echo "== ROS interop ($PIXEL_SAIL_ROS_DISTRO): $name (ROS_DOMAIN_ID=$domain)" >&2
  # shellcheck disable=SC2086
  ROS_DISTRO=jazzy ROS_DOMAIN_ID="$domain" "$BIN" run --model "$MODEL" --no-progress $node_args > "out/ros_$name.log" 2>&1 &
  local pid=$!
  local checker="${CHECKER:-check_node.py}" extra=()
  if [ "$checker" = check_node.py ]; then extra=(--save-overlay "out/ros_${PIXEL_SAIL_ROS_DISTRO}_${name}_overlay.png"); fi
  ROS_DOMAIN_ID="$domain" "$PIXEL_SAIL_ROS_PYTHON" "tests/ros/$checker" "$@" --report "out/ros_${PIXEL_SAIL_ROS_DISTRO}_$name.json" \
    "${extra[@]}" || failed=1
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$failed" -ne 0 ]; then tail -20 "out/ros_$name.log" >&2; fi
}
echo "== launch file command line (stubbed launch modules)" >&2
"$PIXEL_SAIL_ROS_PYTHON" tests/ros/check_launch.py || failed=1
D=$(( 20 + $$ % 40 ))
run_case sample_clip "$D" \
  "--source models/sample/tabletop.webm --loop --realtime --ros-args -r __ns:=/itest -r __node:=seg -p frame_id:=itest_cam" \
  --ns /itest --node seg --frame-id itest_cam --no-raw-overlay
# A slow model load (2 s per graph, as a TensorRT engine build): the node and /diagnostics come up first.
PIXEL_SAIL_SIMULATE_SLOW_LOAD_MS=2000 run_case ros_camera "$((D + 100))" "--ros-args -r image:=/itest_camera/image_raw --params-file launch/pixel_sail.yaml" \
  --node pixel_sail --camera /itest_camera/image_raw --frame-id itest_optical "${CONTENT[@]}" \
  --steps loading,graph,commands,outputs,descriptions,parameters,diagnostics,qos_mismatch,services,undecodable
# Two ROS cameras on one model: each camera's outputs under ~/NAME/, one command set for all, one per camera.
CHECKER=check_cameras.py run_case two_cameras "$((D + 130))" "--ros-args -p source:=ros -p cameras:=[front,wrist]" \
  --node pixel_sail "${CONTENT[@]}"
if [ "${#CONTENT[@]}" -gt 0 ]; then
  CHECKER=check_3d.py run_case depth_camera "$((D + 60))" \
    "--ros-args -r image:=/itest3d/color/image_raw -r depth:=/itest3d/depth/image_raw -r camera_info:=/itest3d/color/camera_info -p publish_tf:=true" \
    --fixture tests/fixtures/depth/six_objects --labels 2,3 --camera /itest3d/color/image_raw \
    --depth /itest3d/depth/image_raw --camera-info /itest3d/color/camera_info --frame-id itest3d_optical \
    --tf --model-content --tolerance-m 0.01
else
  echo "== ROS interop: depth camera skipped ($MODEL is not trained: it finds nothing to place)" >&2
fi
# A managed node (--lifecycle) driven through every transition; the checker starts the node itself.
echo "== ROS interop ($PIXEL_SAIL_ROS_DISTRO): managed (lifecycle) node (ROS_DOMAIN_ID=$((D + 160)))" >&2
ROS_DOMAIN_ID="$((D + 160))" "$PIXEL_SAIL_ROS_PYTHON" tests/ros/check_lifecycle.py --bin "$BIN" --model "$MODEL" \
  --source models/sample/tabletop.webm --workdir "out/lifecycle_$PIXEL_SAIL_ROS_DISTRO" \
  --report "out/ros_${PIXEL_SAIL_ROS_DISTRO}_lifecycle.json" || failed=1
exit "$failed"
