"""Launch the pixel-sail node, and optionally RViz beside it.

Installed by colcon (share/pixel_sail/launch/):
  ros2 launch pixel_sail pixel_sail.launch.py image:=/camera/color/image_raw rviz:=true
From a checkout (the binary from `cargo build --release`):
  ros2 launch launch/pixel_sail.launch.py namespace:=robot1 source:=/dev/video0 params_file:=my.yaml

Arguments: namespace, node_name, image (the camera topic; when set, the node subscribes to it and
the `source` parameter becomes `ros`), source (a capture source instead: /dev/video0, a file,
rtsp://…, test), params_file, model, binary, extra_args (more `pixel-sail run` flags), rviz, managed
(true: a lifecycle node, `pixel-sail run --lifecycle`, started unconfigured; installed, it is a
launch_ros LifecycleNode, so launch's lifecycle events and `ros2 lifecycle set` drive it).
Installed, the node is started by package name (lib/pixel_sail/pixel-sail) and the model, the params
file, the Fast DDS profile and the RViz view come from share/pixel_sail; from a checkout, the same
files come from the checkout and the binary from target/release. Every node started by this launch
(and anything included after it) gets the Fast DDS profile with a 4 MiB socket buffer, which ROS
subscribers of the raw ~/mask and ~/overlay topics need (see fastdds_bigbuf.xml).
"""
import os
import tempfile

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration

PACKAGE = "pixel_sail"
HERE = os.path.dirname(os.path.abspath(__file__))
# share/pixel_sail when installed, the repository root in a checkout: both hold launch/ and models/.
ROOT = os.path.dirname(HERE)
INSTALLED = os.path.basename(ROOT) == PACKAGE and os.path.basename(os.path.dirname(ROOT)) == "share"
ARGS = ("namespace", "node_name", "image", "source", "params_file", "binary", "model", "extra_args", "rviz", "managed")


def _topic_prefix(namespace, node_name):
    ns = namespace.strip("/")
    return f"/{ns}/{node_name}" if ns else f"/{node_name}"


def _rviz_config(prefix):
    """The shipped view with its topics moved under this node's namespace and name."""
    with open(os.path.join(HERE, "pixel_sail.rviz"), encoding="utf-8") as f:
        text = f.read().replace("/pixel_sail/", prefix + "/")
    fd, path = tempfile.mkstemp(prefix="pixel_sail_", suffix=".rviz")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _actions(context):
    cfg = {k: LaunchConfiguration(k).perform(context) for k in ARGS}
    run_args = ["run", "--model", cfg["model"]]
    if cfg["source"] and not cfg["image"]:
        run_args += ["--source", cfg["source"]]
    managed = cfg["managed"].lower() in ("true", "1", "yes")
    if managed:
        run_args.append("--lifecycle")
    run_args += cfg["extra_args"].split()
    actions = []
    if INSTALLED and not cfg["binary"]:
        from launch_ros.actions import LifecycleNode, Node
        namespace = f"/{cfg['namespace'].strip('/')}" if cfg["namespace"] else None
        kind, namespace = (LifecycleNode, namespace or "") if managed else (Node, namespace)
        actions.append(kind(
            package=PACKAGE, executable="pixel-sail", name=cfg["node_name"],
            namespace=namespace,
            arguments=run_args,
            remappings=[("image", cfg["image"])] if cfg["image"] else [],
            parameters=[cfg["params_file"]] if cfg["params_file"] else [],
            output="screen",
        ))
    else:
        binary = cfg["binary"] or os.path.join(ROOT, "target", "release", "pixel-sail")
        cmd = [binary] + run_args + ["--ros-args", "-r", f"__node:={cfg['node_name']}"]
        if cfg["namespace"]:
            cmd += ["-r", f"__ns:=/{cfg['namespace'].strip('/')}"]
        if cfg["image"]:
            cmd += ["-r", f"image:={cfg['image']}"]
        if cfg["params_file"]:
            cmd += ["--params-file", cfg["params_file"]]
        actions.append(ExecuteProcess(cmd=cmd, name=cfg["node_name"], output="screen", cwd=ROOT))
    if cfg["rviz"].lower() in ("true", "1", "yes"):
        from launch_ros.actions import Node
        view = _rviz_config(_topic_prefix(cfg["namespace"], cfg["node_name"]))
        actions.append(Node(package="rviz2", executable="rviz2", name="rviz", arguments=["-d", view], output="screen"))
    return actions


def generate_launch_description():
    profile = os.path.join(HERE, "fastdds_bigbuf.xml")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="", description="node namespace, e.g. robot1"),
        DeclareLaunchArgument("node_name", default_value=PACKAGE),
        DeclareLaunchArgument("image", default_value="",
                              description="camera topic (sensor_msgs/Image) to use as the source"),
        DeclareLaunchArgument("source", default_value="",
                              description="capture source when no image topic is given (/dev/video0, file, test)"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(HERE, "pixel_sail.yaml")),
        DeclareLaunchArgument("binary", default_value="",
                              description="pixel-sail executable (default: the installed package's, or "
                                          "target/release/pixel-sail in a checkout)"),
        DeclareLaunchArgument("model", default_value=os.path.join(ROOT, "models", "tiny")),
        DeclareLaunchArgument("extra_args", default_value="--no-progress", description="more `pixel-sail run` flags"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="true: start RViz with the overlay and mask views (launch/pixel_sail.rviz)"),
        DeclareLaunchArgument("managed", default_value="false",
                              description="true: a lifecycle (managed) node, started unconfigured"),
        # Fast DDS 2.x (Humble, Jazzy) reads FASTRTPS_…, 3.x (Kilted) FASTDDS_…; set both.
        SetEnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE", profile),
        SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", profile),
        OpaqueFunction(function=_actions),
    ])
