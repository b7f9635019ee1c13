#!/usr/bin/env bash
# The package as a ROS user installs it: a colcon workspace whose src/ links this repository (and its
# msgs/ interface package), built by colcon with colcon-ros-cargo (PyPI) and cargo-ament-build
# (crates.io); then checks the install tree and runs the installed binary on the installed model from
# outside the repository, finding both the way `ros2 run pixel_sail pixel-sail` does.
#   tests/ros/colcon_workspace.sh            # workspace in target/colcon_ws, debug profile
#   PIXEL_SAIL_COLCON_ARGS="--cargo-args --release" tests/ros/colcon_workspace.sh
# The cargo build shares this checkout's target/ (build/pixel_sail links to it), so the dependencies the
# test build compiled are not compiled a second time.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
ROS_ENV="$(tests/ros/setup_ros_env.sh)"  # the Jazzy wheels in .venv-ros (a failed setup stops here)
eval "$ROS_ENV"
VENV="$(dirname "$(dirname "$PIXEL_SAIL_ROS_PYTHON")")"
say() { echo "colcon: $*" >&2; }
fail() { echo "colcon: FAIL $*" >&2; exit 1; }

# --- the tools: colcon and its ROS and cargo extensions (PyPI), cargo-ament-build (crates.io) ----------
COLCON_PKGS="colcon-core==0.21.3 colcon-ros==0.5.0 colcon-cmake==0.2.30 colcon-cargo==0.2.0 colcon-ros-cargo==0.2.0
  colcon-bash==0.5.0 colcon-library-path==0.2.1 colcon-recursive-crawl==0.2.3 colcon-parallel-executor==0.4.0
  colcon-package-information==0.4.1 colcon-package-selection==0.2.10 colcon-output==0.2.15"
if ! "$VENV/bin/python" -c "import colcon_ros_cargo, colcon_bash, colcon_cmake" 2>/dev/null; then
  say "installing colcon and its extensions into $VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q $COLCON_PKGS
fi
TOOLS="$ROOT/target/tools"
if [ ! -x "$TOOLS/bin/cargo-ament-build" ]; then
  say "installing cargo-ament-build 0.1.11 into $TOOLS"
  cargo install --quiet cargo-ament-build --version 0.1.11 --locked --root "$TOOLS"
fi
export PATH="$TOOLS/bin:$VENV/bin:$PATH"

# --- the workspace ------------------------------------------------------------------------------------
WS="$ROOT/target/colcon_ws"
rm -rf "$WS"
mkdir -p "$WS/src" "$WS/build"
ln -s "$ROOT" "$WS/src/pixel_sail"
ln -s pixel_sail/msgs "$WS/src/pixel_sail_msgs"  # colcon does not look for packages inside a package
ln -s "$ROOT/target" "$WS/build/pixel_sail"
cd "$WS"
say "colcon build in $WS"
# shellcheck disable=SC2086
AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" colcon build --event-handlers console_cohesion- \
  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python" ${PIXEL_SAIL_COLCON_ARGS:-} \
  > "$ROOT/target/colcon_build.log" 2>&1 || { tail -40 "$ROOT/target/colcon_build.log"; fail "colcon build"; }
grep -q "Summary: 2 packages finished" "$ROOT/target/colcon_build.log" || { tail -20 "$ROOT/target/colcon_build.log"; fail "colcon built other than the two packages"; }

# --- the install tree ---------------------------------------------------------------------------------
I="$WS/install"
PROFILE_DIR=debug
case "${PIXEL_SAIL_COLCON_ARGS:-}" in *--release*) PROFILE_DIR=release ;; esac
for f in pixel_sail/lib/pixel_sail/pixel-sail pixel_sail/share/pixel_sail/package.xml \
  pixel_sail/share/pixel_sail/launch/pixel_sail.launch.py pixel_sail/share/pixel_sail/launch/usb_camera_example.launch.py \
  pixel_sail/share/pixel_sail/launch/pixel_sail.yaml pixel_sail/share/pixel_sail/launch/fastdds_bigbuf.xml \
  pixel_sail/share/pixel_sail/launch/pixel_sail.rviz pixel_sail/share/pixel_sail/models/tiny/model.json \
  pixel_sail/share/pixel_sail/models/tiny/tokenizer.json pixel_sail/share/pixel_sail/models/tiny/vision.onnx \
  pixel_sail/share/pixel_sail/models/tiny/text.onnx pixel_sail/share/pixel_sail/models/tiny/mask_head.onnx \
  pixel_sail/share/ament_index/resource_index/packages/pixel_sail \
  pixel_sail_msgs/share/ament_index/resource_index/packages/pixel_sail_msgs \
  pixel_sail_msgs/share/pixel_sail_msgs/msg/GroundingArray.msg setup.bash; do
  [ -e "$I/$f" ] || fail "missing in the install tree: $f"
done
[ -x "$I/pixel_sail/lib/pixel_sail/pixel-sail" ] || fail "lib/pixel_sail/pixel-sail is not executable"
cmp -s "$I/pixel_sail/lib/pixel_sail/pixel-sail" "$ROOT/target/$PROFILE_DIR/pixel-sail" \
  || fail "the installed binary is not the one cargo built ($PROFILE_DIR)"
say "install tree complete"

# --- a fresh shell that sources the workspace, outside the repository --------------------------------
OUTSIDE="$(mktemp -d)"
# The links point back into this checkout (build/pixel_sail at target/ itself): gone once the test is done,
# so nothing that walks target/ and follows links goes round in circles.
trap 'rm -rf "$OUTSIDE"; rm -f "$WS/src/pixel_sail" "$WS/src/pixel_sail_msgs" "$WS/build/pixel_sail"' EXIT
cp "$ROOT/tests/fixtures/tabletop_640x480.jpg" "$OUTSIDE/frame.jpg"
env -i HOME="$HOME" PATH="/usr/bin:/bin" VIRTUAL_ENV="$ROOT/.venv" ROOT="$ROOT" I="$I" OUTSIDE="$OUTSIDE" \
  PY="$PIXEL_SAIL_ROS_PYTHON" bash -c '
  set -eo pipefail
  # shellcheck disable=SC1091
  source "$I/setup.bash"
  set -u
  case ":$AMENT_PREFIX_PATH:" in *":$I/pixel_sail:"*) ;; *) echo "setup.bash left pixel_sail off AMENT_PREFIX_PATH: $AMENT_PREFIX_PATH" >&2; exit 1 ;; esac
  "$PY" "$ROOT/tests/ros/check_launch.py" --installed "$I/pixel_sail"
  # What `ros2 run pixel_sail pixel-sail` executes: lib/pixel_sail/<exe> under the package prefix.
  EXE="$("$PY" -c "from ament_index_python.packages import get_package_prefix as p; print(p(\"pixel_sail\") + \"/lib/pixel_sail/pixel-sail\")")"
  cd "$OUTSIDE"
  "$EXE" -q infer --image frame.jpg --prompt "pick up the green triangle" --prompt "the purple cross" --json --out out > infer.json
  "$PY" - "$I" <<EOF
import json, sys
r = json.load(open("infer.json"))
share = sys.argv[1] + "/pixel_sail/share/pixel_sail/models/tiny"
model = r["model"]
assert model == share, f"model {model!r}, expected the installed {share!r}"
found = {x["command"]: x["found"] for x in r["commands"]}
assert found == {"pick up the green triangle": True, "the purple cross": False}, found
print("colcon: installed binary on the installed model:", found)
EOF
' || fail "the installed package did not run from outside the repository"
say "ok"
