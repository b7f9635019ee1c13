"""Checks what pixel_sail.launch.py starts, without ROS's launch packages (not on PyPI): `launch` and
`launch_ros` are stubbed just enough to evaluate the file and record the actions it returns.

  python3 tests/ros/check_launch.py                       # the checkout's launch/pixel_sail.launch.py
  python3 tests/ros/check_launch.py --installed PREFIX    # the one colcon installed under PREFIX

Installed, the file is found the way `ros2 launch pixel_sail pixel_sail.launch.py` finds it (the
package's share directory through the real ament index, so AMENT_PREFIX_PATH must name PREFIX) and must
start the node by package name with the model, params file, Fast DDS profile and RViz view from the
share directory; the executable `ros2 run` would resolve must be the installed binary.
"""
import argparse
import importlib.util
import os
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def stub_modules():
    launch = types.ModuleType("launch")
    launch.LaunchDescription = Recorder
    actions = types.ModuleType("launch.actions")
    for name in ("DeclareLaunchArgument", "ExecuteProcess", "OpaqueFunction", "SetEnvironmentVariable",
                 "IncludeLaunchDescription"):
        setattr(actions, name, type(name, (Recorder,), {}))
    subs = types.ModuleType("launch.substitutions")

    class LaunchConfiguration:
        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return context[self.name]
    subs.LaunchConfiguration = LaunchConfiguration
    launch_ros = types.ModuleType("launch_ros")
    ros_actions = types.ModuleType("launch_ros.actions")
    ros_actions.Node = type("Node", (Recorder,), {})
    ros_actions.LifecycleNode = type("LifecycleNode", (Recorder,), {})
    launch_ros.actions = ros_actions
    sys.modules.update({"launch": launch, "launch.actions": actions, "launch.substitutions": subs,
                        "launch_ros": launch_ros, "launch_ros.actions": ros_actions})
    return actions, ros_actions


def ros2_lookup():
    """Where `ros2 launch pixel_sail pixel_sail.launch.py` and `ros2 run pixel_sail pixel-sail` look."""
    from ament_index_python.packages import get_package_prefix, get_package_share_directory
    share = Path(get_package_share_directory("pixel_sail"))
    exe = Path(get_package_prefix("pixel_sail")) / "lib" / "pixel_sail" / "pixel-sail"
    return share / "launch" / "pixel_sail.launch.py", exe


class Checks:
    def __init__(self):
        self.passed, self.failed = 0, []

    def expect(self, name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok or not detail else f": {detail}"))
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--installed", type=Path, help="install prefix of the colcon-built pixel_sail package")
    a = ap.parse_args()
    actions, ros_actions = stub_modules()
    c = Checks()
    if a.installed:
        launch_file, exe = ros2_lookup()
        share = a.installed.resolve() / "share" / "pixel_sail"
        c.expect("ament index finds the installed package", launch_file.resolve().parent.parent == share,
                 f"{launch_file} not under {share}")
        c.expect("`ros2 run pixel_sail pixel-sail` resolves to an executable", os.access(exe, os.X_OK), exe)
        base = share
    else:
        launch_file, base = ROOT / "launch" / "pixel_sail.launch.py", ROOT
    spec = importlib.util.spec_from_file_location("pixel_sail_launch", launch_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    entities = mod.generate_launch_description().args[0]
    declared = {e.args[0]: e.kwargs.get("default_value") for e in entities if isinstance(e, actions.DeclareLaunchArgument)}
    env = {e.args[0]: e.args[1] for e in entities if isinstance(e, actions.SetEnvironmentVariable)}

    profile = str(base / "launch" / "fastdds_bigbuf.xml")
    c.expect("Fast DDS profile for Fast DDS 2 and 3", env.get("FASTRTPS_DEFAULT_PROFILES_FILE") == profile
             and env.get("FASTDDS_DEFAULT_PROFILES_FILE") == profile, env)
    c.expect("arguments declared", {"namespace", "node_name", "image", "source", "params_file", "model", "rviz"}
             <= set(declared), declared)
    c.expect("model and params from " + ("the share directory" if a.installed else "the checkout"),
             declared["model"] == str(base / "models" / "tiny")
             and declared["params_file"] == str(base / "launch" / "pixel_sail.yaml"), declared)

    context = dict(declared, namespace="robot1", image="/camera/color/image_raw", source="")
    (node,) = mod._actions(context)
    if a.installed:
        k = node.kwargs
        c.expect("node started by package name", isinstance(node, ros_actions.Node)
                 and (k["package"], k["executable"]) == ("pixel_sail", "pixel-sail"), k)
        c.expect("namespace, node name, image remap, params file",
                 (k["namespace"], k["name"], k["remappings"], k["parameters"])
                 == ("/robot1", "pixel_sail", [("image", "/camera/color/image_raw")], [declared["params_file"]]), k)
        c.expect("runs `pixel-sail run` on the installed model",
                 k["arguments"][:3] == ["run", "--model", str(share / "models" / "tiny")]
                 and "--source" not in k["arguments"], k["arguments"])
    else:
        cmd = node.kwargs["cmd"]
        ros = cmd[cmd.index("--ros-args") + 1:]
        c.expect("runs the checkout's `pixel-sail run`", cmd[0] == str(ROOT / "target" / "release" / "pixel-sail")
                 and cmd[1] == "run" and "--source" not in cmd, cmd)
        c.expect("namespace, node name, image remap", ros[:6] == ["-r", "__node:=pixel_sail", "-r", "__ns:=/robot1",
                                                                 "-r", "image:=/camera/color/image_raw"], ros)
        c.expect("params file", ros[-2:] == ["--params-file", declared["params_file"]], ros)
        context.update(namespace="", image="", source="/dev/video0")
        (proc,) = mod._actions(context)
        cmd = proc.kwargs["cmd"]
        c.expect("a capture source without image topic", cmd[cmd.index("--source") + 1] == "/dev/video0"
                 and not any(x.startswith("image:=") or x.startswith("__ns:=") for x in cmd), cmd)

    context = dict(declared, namespace="", image="", source="test", managed="true")
    (node,) = mod._actions(context)
    if a.installed:
        c.expect("managed:=true starts a launch_ros LifecycleNode running `pixel-sail run --lifecycle`",
                 isinstance(node, ros_actions.LifecycleNode) and node.kwargs["namespace"] == ""
                 and "--lifecycle" in node.kwargs["arguments"], node.kwargs)
    else:
        cmd = node.kwargs["cmd"]
        c.expect("managed:=true runs `pixel-sail run --lifecycle`",
                 "--lifecycle" in cmd[:cmd.index("--ros-args")], cmd)
    c.expect("managed defaults to false", declared.get("managed") == "false", declared)

    context = dict(declared, namespace="robot1", node_name="seg", image="", source="test", rviz="true")
    node, rviz = mod._actions(context)
    k = rviz.kwargs
    view = Path(k["arguments"][1]) if k.get("arguments", [None])[0] == "-d" else None
    text = view.read_text() if view and view.is_file() else ""
    c.expect("rviz:=true starts rviz2 with the shipped view", isinstance(rviz, ros_actions.Node)
             and (k["package"], k["executable"]) == ("rviz2", "rviz2") and "Value: /robot1/seg/overlay/compressed" in text
             and "Value: /robot1/seg/mask/compressed" in text and "/pixel_sail/" not in text, k)
    if view:
        view.unlink(missing_ok=True)
    print(f"{c.passed} passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
