"""Two ROS cameras served by one pixel-sail node (`-p source:=ros -p cameras:=[front,wrist]`), driven from a
real rclpy (Fast DDS) node.

This script is both cameras: `front/image` carries the tabletop frame of check_node.py (a large red circle and a
blue square), `wrist/image` a plain grey 320x240 frame; each with its own frame_id and stamps. It checks that
each camera's outputs (`~/front/…`, `~/wrist/…`) carry only that camera's frames, that the node-wide `~/prompt`
sets both cameras' commands and `~/wrist/prompt` only the wrist's, that the tabletop's circle is found on the
front camera and nothing on the grey wrist camera (with --model-content), that each camera's `~/NAME/describe`
answers on its own frame, and that `/diagnostics` has one status per camera. Exit status 1 on any failure.

  check_cameras.py --node pixel_sail [--model-content] [--report out.json]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from pixel_sail_msgs.msg import GroundingArray
from pixel_sail_msgs.srv import Describe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_node import check, RESULTS, spin_until, stamp_ns, tabletop  # noqa: E402

CAMERAS = {"front": ("front_optical", 640, 480), "wrist": ("wrist_optical", 320, 240)}
BOTH = ["pick up the red circle", "find the blue square"]


class TwoCameras:
    def __init__(self, args):
        self.a = args
        n = self.node = rclpy.create_node("pixel_sail_two_cameras")
        self.base = f"/{args.node}"
        rel = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        cam_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
        self.got = {name: [] for name in CAMERAS}
        self.diag = []
        self.sent = {name: set() for name in CAMERAS}
        self.pubs, self.msgs = {}, {}
        front, _ = tabletop()
        pixels = {"front": front, "wrist": np.full((240, 320, 3), 128, np.uint8)}
        for name, (frame_id, w, h) in CAMERAS.items():
            n.create_subscription(GroundingArray, f"{self.base}/{name}/detections",
                                  lambda m, name=name: self.got[name].append(m), rel)
            self.pubs[name] = n.create_publisher(Image, f"/{name}/image", cam_qos)
            msg = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3)
            msg.header.frame_id = frame_id
            msg.data = pixels[name].tobytes()
            self.msgs[name] = msg
        n.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, rel)
        self.prompt = n.create_publisher(String, f"{self.base}/prompt", rel)
        self.wrist_prompt = n.create_publisher(String, f"{self.base}/wrist/prompt", rel)
        self.describe = {name: n.create_client(Describe, f"{self.base}/{name}/describe") for name in CAMERAS}
        n.create_timer(0.2, self.publish_frames)

    def publish_frames(self):
        for name, pub in self.pubs.items():
            now = self.node.get_clock().now().to_msg()
            self.msgs[name].header.stamp = now
            self.sent[name].add(stamp_ns(now))
            pub.publish(self.msgs[name])

    def spin_until(self, cond, timeout):
        return spin_until(self.node, cond, timeout)

    def publish_until(self, pub, text, cond, timeout):
        """Publishes `text` once a second until `cond` (the node may not have subscribed yet)."""
        end = time.time() + timeout
        while time.time() < end:
            pub.publish(String(data=text))
            if self.spin_until(cond, 1.0):
                return True
        return False

    def commands_of(self, name):
        return [g.command for g in self.got[name][-1].groundings] if self.got[name] else None

    def run(self):
        # The node-wide prompt reaches both cameras (repeated until the node has subscribed).
        ok = self.publish_until(self.prompt, "\n".join(BOTH), lambda: all(self.commands_of(n) == BOTH for n in CAMERAS), 90)
        check("~/prompt sets every camera's commands", ok, {n: self.commands_of(n) for n in CAMERAS})
        if not ok:
            return
        self.spin_until(lambda: False, 3.0)
        for name, (frame_id, w, h) in CAMERAS.items():
            msgs = [m for m in self.got[name] if [g.command for g in m.groundings] == BOTH]
            own = all(m.header.frame_id == frame_id and stamp_ns(m.header.stamp) in self.sent[name] for m in msgs)
            check(f"~/{name}/detections carries only {name}'s frames (frame_id, stamps)", msgs and own,
                  f"{len(msgs)} messages, frame_ids {sorted({m.header.frame_id for m in msgs})}")
            sizes = {(g.mask_width, g.mask_height) for m in msgs for g in m.groundings}
            check(f"{name}'s masks are at {name}'s resolution", sizes == {(w, h)}, sizes)
        if self.a.model_content:
            front = self.got["front"][-1].groundings
            check("the red circle is found on the front camera", front[0].found, f"score {front[0].score:.2f}")
            wrist_found = [g.command for m in self.got["wrist"] for g in m.groundings if g.found]
            check("nothing is found on the grey wrist camera", not wrist_found, wrist_found)
        # A camera's own prompt changes that camera only.
        ok = self.publish_until(self.wrist_prompt, "grab the green cross",
                                lambda: self.commands_of("wrist") == ["grab the green cross"], 30)
        self.spin_until(lambda: False, 2.0)
        check("~/wrist/prompt sets the wrist's commands", ok, self.commands_of("wrist"))
        check("... and leaves the front's", self.commands_of("front") == BOTH, self.commands_of("front"))
        for name, (frame_id, w, h) in CAMERAS.items():
            client = self.describe[name]
            if not client.wait_for_service(timeout_sec=20):
                check(f"~/{name}/describe is served", False)
                continue
            fut = client.call_async(Describe.Request(kind=0, point=Point(x=w / 2.0, y=h / 2.0)))
            self.spin_until(fut.done, 60)
            r = fut.result() if fut.done() else None
            check(f"~/{name}/describe answers on {name}'s frame", r is not None and r.success
                  and r.header.frame_id == frame_id and stamp_ns(r.header.stamp) in self.sent[name],
                  r and (r.success, r.header.frame_id, r.message))
        self.spin_until(lambda: len(self.diag) >= 4, 10)
        names = {s.name for d in self.diag for s in d.status}
        for name in CAMERAS:
            check(f"/diagnostics has a status for {name}", any(name in s for s in names), sorted(names))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--node", default="pixel_sail")
    p.add_argument("--model-content", action="store_true")
    p.add_argument("--report")
    a = p.parse_args()
    rclpy.init()
    t = TwoCameras(a)
    try:
        t.run()
    finally:
        t.node.destroy_node()
        rclpy.shutdown()
    if a.report:
        Path(a.report).write_text(json.dumps(RESULTS, indent=1))
    failed = [r for r in RESULTS if not r["ok"]]
    print(f"{len(RESULTS) - len(failed)}/{len(RESULTS)} two-camera checks passed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
