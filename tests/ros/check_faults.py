"""Faults a running pixel-sail node must survive, driven from real rclpy (Fast DDS) peers in their own
processes (tests/ros_faults.rs starts the node with a slow model load and runs this):

  check_faults.py --node pixel_sail --camera /fault_cam/image --node-log NODE.log
                  [--sizes 640x480,320x240,640x480]

1. A service client that vanishes mid-call: a child process calls ~/describe while the node's model is
   still loading and is SIGKILLed once the node's log shows the request arrived and no "model ready"
   (so no answer can have left); then this process's own ~/describe and ~/set_prompts calls must be
   answered, also after the node has dropped the dead peers (their leases are short: see LEASE_XML).
2. The camera's publisher restarting at another resolution: a child publishes `image` at each size in
   turn; each is SIGKILLed before the next starts. Every output (~/detections masks, ~/mask,
   ~/mask/compressed, ~/overlay, ~/overlay/compressed) must follow to the new size, and a ~/describe
   on the new frames must answer on the new grid.

Child roles (used by the checker itself): `--role camera --size WxH`, `--role doomed-client`.
Prints one line per check and exits 1 on any failure.
"""
import argparse
import io
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import rclpy
from PIL import Image as PILImage
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from pixel_sail_msgs.msg import GroundingArray
from pixel_sail_msgs.srv import Describe, SetPrompts

RESULTS = []
BE = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
# The children announce short participant leases (rmw_fastrtps' default is 20 s), so the node drops a
# killed child's endpoints within seconds and the test sees that happen: the cameras 3 s, the doomed
# client 15 s, which outlasts the model load, so the node's reply goes to a reader that is dead but
# still matched (the reliable reply writer waits for acknowledgements that never come).
LEASE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns="http://www.eprosima.com"><profiles>
  <participant profile_name="short_lease" is_default_profile="true"><rtps><builtin><discovery_config>
    <leaseDuration><sec>{lease}</sec></leaseDuration><leaseAnnouncement><sec>1</sec></leaseAnnouncement>
  </discovery_config></builtin></rtps></participant>
</profiles></dds>
"""
REL = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)


def check(name, ok, detail=""):
    RESULTS.append(bool(ok))
    line = f"{time.strftime('%H:%M:%S')} {'PASS' if ok else 'FAIL'} {name}"
    print(line + (f": {detail}" if detail else ""), flush=True)
    return ok


def tabletop(w, h):
    """A beige table with a red circle on the left and a blue square on the right, scaled to w×h."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.uint8)
    img[...] = (200, 185, 160)
    cx, cy, r = 0.31 * w, 0.5 * h, 0.094 * w
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = (215, 30, 35)
    img[int(0.375 * h):int(0.583 * h), int(0.656 * w):int(0.813 * w)] = (30, 60, 210)
    return img


def camera(a):
    """Publishes the tabletop at --size on --camera, 10 frames/s, until killed."""
    w, h = (int(v) for v in a.size.split("x"))
    node = rclpy.create_node(f"fault_camera_{w}x{h}")
    pub = node.create_publisher(Image, a.camera, QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                                                            history=HistoryPolicy.KEEP_LAST))
    msg = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3)
    msg.header.frame_id = "fault_optical"
    msg.data = tabletop(w, h).tobytes()

    def tick():
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
    node.create_timer(0.1, tick)
    print("publishing", flush=True)
    rclpy.spin(node)


def doomed_client(a):
    """Calls ~/describe, says so, and waits to be killed before any answer arrives."""
    node = rclpy.create_node("fault_doomed_client")
    client = node.create_client(Describe, f"{a.base}/describe")
    if not client.wait_for_service(timeout_sec=30):
        print("no service", flush=True)
        return 1
    # The service is in the graph before our request writer has matched the node's reader: a request
    # sent at once can be lost, so let matching finish first.
    end = time.time() + 1.0
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    req = Describe.Request(kind=Describe.Request.KIND_POINT)
    req.point.x, req.point.y = 100.0, 100.0
    fut = client.call_async(req)
    end = time.time() + 0.5
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    print("answered" if fut.done() else "sent", flush=True)
    while True:
        rclpy.spin_once(node, timeout_sec=0.1)


class Checker:
    def __init__(self, a):
        self.a = a
        self.node = rclpy.create_node("pixel_sail_fault_checker")
        n, base = self.node, a.base
        self.got = {k: [] for k in ("detections", "mask", "mask_c", "overlay", "overlay_c")}
        keep = lambda key: (lambda m: self.got[key].append(m))  # noqa: E731
        n.create_subscription(GroundingArray, f"{base}/detections", keep("detections"), REL)
        n.create_subscription(Image, f"{base}/mask", keep("mask"), BE)
        n.create_subscription(CompressedImage, f"{base}/mask/compressed", keep("mask_c"), REL)
        n.create_subscription(Image, f"{base}/overlay", keep("overlay"), BE)
        n.create_subscription(CompressedImage, f"{base}/overlay/compressed", keep("overlay_c"), REL)
        self.describe = n.create_client(Describe, f"{base}/describe")
        self.set_prompts = n.create_client(SetPrompts, f"{base}/set_prompts")
        self.children = []
        self.tmp = tempfile.TemporaryDirectory()
        self.lease_xml = {}
        for lease in (3, 15):
            self.lease_xml[lease] = os.path.join(self.tmp.name, f"lease_{lease}s.xml")
            with open(self.lease_xml[lease], "w") as f:
                f.write(LEASE_XML.format(lease=lease))

    def spin_until(self, cond, timeout):
        end = time.time() + timeout
        while time.time() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if cond():
                return True
        return False

    def call(self, client, request, timeout=30.0):
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        fut = client.call_async(request)
        self.spin_until(fut.done, timeout)
        return fut.result() if fut.done() else None

    def child(self, lease, *role_args):
        """Starts this script in a child role; returns the process once it printed its first line."""
        xml = self.lease_xml[lease]
        env = dict(os.environ, FASTRTPS_DEFAULT_PROFILES_FILE=xml, FASTDDS_DEFAULT_PROFILES_FILE=xml)
        p = subprocess.Popen([sys.executable, __file__, "--node", self.a.node, "--camera", self.a.camera, *role_args],
                             stdout=subprocess.PIPE, text=True, env=env)
        self.children.append(p)
        first = p.stdout.readline().strip()
        return p, first

    def node_log(self):
        try:
            with open(self.a.node_log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def vanishing_client(self):
        p, said = self.child(15, "--role", "doomed-client")
        # The node logs each request it takes; its model cannot answer before "model ready".
        arrived = self.spin_until(lambda: "describe request" in self.node_log(), 15)
        pending = arrived and "model ready" not in self.node_log()
        p.send_signal(signal.SIGKILL)
        p.wait()
        check("a ~/describe client is killed while the node holds its call (model still loading)",
              said == "sent" and arrived and pending, f"client said {said!r}, request logged {arrived}, "
              f"model ready before the kill {arrived and not pending}")

    def calls_answered(self, size):
        w, h = size
        r = self.call(self.set_prompts, SetPrompts.Request(prompts=["find the red circle"]))
        check("~/set_prompts is answered after a client vanished", r is not None and r.accepted, r and r.message)
        req = Describe.Request(kind=Describe.Request.KIND_POINT)
        req.point.x, req.point.y = float(0.31 * w), float(0.5 * h)
        r = self.call(self.describe, req, timeout=60)
        grids = {(-(-w // f), -(-h // f)) for f in (1, 2, 4, 8, 16)}  # full resolution or every f-th pixel
        ok = r is not None and r.success and (r.mask_width, r.mask_height) in grids
        check(f"~/describe is answered on the {w}x{h} frames", ok,
              r and f"success={r.success} {r.mask_width}x{r.mask_height} {r.message!r} {r.description!r}")

    def outputs_at(self, size, timeout=60):
        """Waits until every output carries the new size; returns the first index of each at that size."""
        w, h = size

        def sizes(key, m):
            if key == "detections":
                return {(g.mask_width, g.mask_height) for g in m.groundings} or None
            if key in ("mask", "overlay"):
                return {(m.width, m.height)}
            img = PILImage.open(io.BytesIO(bytes(m.data)))
            return {img.size}

        start = {k: len(v) for k, v in self.got.items()}

        def at_size(key):
            return any(sizes(key, m) == {(w, h)} for m in self.got[key][start[key]:])
        keys = ("detections", "mask", "mask_c", "overlay", "overlay_c")
        self.spin_until(lambda: all(at_size(k) for k in keys), timeout)
        self.spin_until(lambda: False, 1.5)  # a few more frames: none may fall back to the old size
        for key in keys:
            new = [sizes(key, m) for m in self.got[key][start[key]:]]
            new = [s for s in new if s is not None]
            first = next((i for i, s in enumerate(new) if s == {(w, h)}), None)
            after = new[first:] if first is not None else []
            seen = sorted(set().union(*new)) if new else []
            check(f"{key} follows the camera to {w}x{h}", first is not None and all(s == {(w, h)} for s in after),
                  f"{len(after)} at {w}x{h} of {len(new)} since the switch; sizes seen {seen}")
        mono = self.got["mask"][-1] if self.got["mask"] else None
        if mono is not None:
            labels = np.frombuffer(bytes(mono.data), np.uint8)
            ok = (mono.encoding == "mono8" and (mono.width, mono.height) == (w, h) and mono.step >= w
                  and labels.size == mono.step * mono.height)
            check(f"~/mask at {w}x{h} is mono8 with one byte a pixel", ok,
                  f"{mono.encoding} {mono.width}x{mono.height} step {mono.step} {labels.size} bytes")
        ov = self.got["overlay"][-1] if self.got["overlay"] else None
        if ov is not None:
            ok = (ov.encoding == "rgb8" and (ov.width, ov.height) == (w, h) and ov.step >= 3 * w
                  and len(ov.data) == ov.step * ov.height)
            check(f"~/overlay at {w}x{h} is rgb8", ok,
                  f"{ov.encoding} {ov.width}x{ov.height} step {ov.step} {len(ov.data)} bytes")

    def run(self):
        sizes = [tuple(int(v) for v in s.split("x")) for s in self.a.sizes.split(",")]
        self.vanishing_client()
        cam = None
        for i, (w, h) in enumerate(sizes):
            if cam is not None:
                cam.send_signal(signal.SIGKILL)  # the camera driver dies; a new one comes up at another size
                cam.wait()
            cam, said = self.child(3, "--role", "camera", "--size", f"{w}x{h}")
            check(f"camera publisher {i + 1} ({w}x{h}) started", said == "publishing", said)
            self.outputs_at((w, h), timeout=90 if i == 0 else 60)
            self.calls_answered((w, h))
        # Once the killed peers' leases have run out the node drops their endpoints (RustDDS logs it);
        # it must go on answering after that too.
        killed = len(self.children) - 1
        dropped = lambda: self.node_log().count("deleting participant proxy")  # noqa: E731
        ok = self.spin_until(lambda: dropped() >= killed, 20)
        check("the node drops the killed peers once their leases run out", ok,
              f"{dropped()} participants dropped, {killed} killed")
        log = self.node_log()
        ready, first_drop = log.find("model ready"), log.find("deleting participant proxy")
        check("the killed client's call was answered while its peer was still matched", 0 <= ready < first_drop,
              "model ready (the answer) came before any peer was dropped")
        self.calls_answered(sizes[-1])

    def close(self):
        for p in self.children:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", default="/")
    ap.add_argument("--node", default="pixel_sail")
    ap.add_argument("--camera", default="/fault_cam/image")
    ap.add_argument("--sizes", default="640x480,320x240,640x480")
    ap.add_argument("--role", default="checker", choices=["checker", "camera", "doomed-client"])
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--node-log", default="", help="the node's log (RUST_LOG with pixel_sail::ros::services=debug)")
    a = ap.parse_args()
    a.base = f"{a.ns.rstrip('/')}/{a.node}"
    rclpy.init()
    if a.role == "camera":
        return camera(a)
    if a.role == "doomed-client":
        return doomed_client(a)
    c = Checker(a)
    t0 = time.time()
    try:
        c.run()
    except Exception as e:  # a crash is a failed check
        check("checker raised", False, repr(e))
    finally:
        c.close()
    failed = RESULTS.count(False)
    print(f"{len(RESULTS) - failed} passed, {failed} failed ({time.time() - t0:.0f} s)", flush=True)
    c.node.destroy_node()
    rclpy.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
