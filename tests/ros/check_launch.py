"""Checks the command line launch/pixel_sail.launch.py builds, without ROS's launch package (not on
PyPI): the `launch` modules are stubbed just enough to evaluate the file. Run with any python3.

  python3 tests/ros/check_launch.py
"""
import importlib.util
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
        values = {}

        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return context[self.name]
    subs.LaunchConfiguration = LaunchConfiguration
    sys.modules.update({"launch": launch, "launch.actions": actions, "launch.substitutions": subs})
    return actions


def main():
    actions = stub_modules()
    spec = importlib.util.spec_from_file_location("pixel_sail_launch", ROOT / "launch" / "pixel_sail.launch.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    desc = mod.generate_launch_description()
    entities = desc.args[0]
    declared = {e.args[0]: e.kwargs.get("default_value") for e in entities if isinstance(e, actions.DeclareLaunchArgument)}
    env = {e.args[0]: e.args[1] for e in entities if isinstance(e, actions.SetEnvironmentVariable)}
    failures = []

    def expect(name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""))
        if not ok:
            failures.append(name)

    profile = str(ROOT / "launch" / "fastdds_bigbuf.xml")
    expect("Fast DDS profile for Fast DDS 2 and 3", env.get("FASTRTPS_DEFAULT_PROFILES_FILE") == profile
           and env.get("FASTDDS_DEFAULT_PROFILES_FILE") == profile, env)
    expect("arguments declared", {"namespace", "node_name", "image", "source", "params_file"} <= set(declared), declared)
    context = dict(declared)
    context.update(namespace="robot1", image="/camera/color/image_raw", source="")
    (proc,) = mod._node(context)
    cmd = proc.kwargs["cmd"]
    ros = cmd[cmd.index("--ros-args") + 1:]
    expect("runs `pixel-sail run`", cmd[1] == "run" and "--source" not in cmd, cmd)
    expect("namespace, node name, image remap", ros[:6] == ["-r", "__node:=pixel_sail", "-r", "__ns:=/robot1",
                                                           "-r", "image:=/camera/color/image_raw"], ros)
    expect("params file", ros[-2:] == ["--params-file", str(ROOT / "launch" / "pixel_sail.yaml")], ros)
    context.update(namespace="", image="", source="/dev/video0")
    (proc,) = mod._node(context)
    cmd = proc.kwargs["cmd"]
    expect("a capture source without image topic", cmd[cmd.index("--source") + 1] == "/dev/video0"
           and not any(a.startswith("image:=") or a.startswith("__ns:=") for a in cmd), cmd)
    print(f"{6 - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
