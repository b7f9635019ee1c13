"""Launch the pixel-sail node (a plain binary, not a colcon package: ExecuteProcess, not Node).

  ros2 launch launch/pixel_sail.launch.py namespace:=robot1 image:=/camera/color/image_raw
  ros2 launch launch/pixel_sail.launch.py source:=/dev/video0 params_file:=my.yaml

Arguments: namespace, node_name, image (the camera topic; when set, the node subscribes to it and
the `source` parameter becomes `ros`), source (a capture source instead: /dev/video0, a file,
rtsp://…, test), params_file, binary, model, domain-independent extra_args. Every node started by
this launch (and anything included after it) gets the Fast DDS profile with a 4 MiB socket buffer,
which ROS subscribers of the raw ~/mask and ~/overlay topics need (see fastdds_bigbuf.xml).
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _node(context):
    cfg = {k: LaunchConfiguration(k).perform(context) for k in
           ("namespace", "node_name", "image", "source", "params_file", "binary", "model", "extra_args")}
    cmd = [cfg["binary"], "run", "--model", cfg["model"]]
    if cfg["source"] and not cfg["image"]:
        cmd += ["--source", cfg["source"]]
    cmd += cfg["extra_args"].split()
    cmd += ["--ros-args", "-r", f"__node:={cfg['node_name']}"]
    if cfg["namespace"]:
        cmd += ["-r", f"__ns:=/{cfg['namespace'].strip('/')}"]
    if cfg["image"]:
        cmd += ["-r", f"image:={cfg['image']}"]
    if cfg["params_file"]:
        cmd += ["--params-file", cfg["params_file"]]
    return [ExecuteProcess(cmd=cmd, name=cfg["node_name"], output="screen", cwd=ROOT)]


def generate_launch_description():
    profile = os.path.join(HERE, "fastdds_bigbuf.xml")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="", description="node namespace, e.g. robot1"),
        DeclareLaunchArgument("node_name", default_value="pixel_sail"),
        DeclareLaunchArgument("image", default_value="",
                              description="camera topic (sensor_msgs/Image) to use as the source"),
        DeclareLaunchArgument("source", default_value="",
                              description="capture source when no image topic is given (/dev/video0, file, test)"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(HERE, "pixel_sail.yaml")),
        DeclareLaunchArgument("binary", default_value=os.path.join(ROOT, "target", "release", "pixel-sail")),
        DeclareLaunchArgument("model", default_value=os.path.join(ROOT, "models", "tiny")),
        DeclareLaunchArgument("extra_args", default_value="--no-progress", description="more `pixel-sail run` flags"),
        # Fast DDS 2.x (Humble, Jazzy) reads FASTRTPS_…, 3.x (Kilted) FASTDDS_…; set both.
        SetEnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE", profile),
        SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", profile),
        OpaqueFunction(function=_node),
    ])
