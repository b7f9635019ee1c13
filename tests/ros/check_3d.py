"""An rclpy depth camera against a running pixel-sail node: checks its 3-D outputs (issue #26).

Run from a file (the ROS wheels re-exec python at import), with pixel_sail_msgs, vision_msgs and tf2_msgs
built by tests/ros/setup_ros_env.sh on PYTHONPATH and the Fast DDS profile launch/fastdds_bigbuf.xml set:

  check_3d.py --node pixel_sail --fixture tests/fixtures/depth/six_objects --camera /cam/image_raw
              --depth /cam/depth/image_raw --camera-info /cam/camera_info --frame-id cam_optical
              [--labels 2,3] [--no-depth] [--tf] [--report out.json]

This script is the camera: at --rate it publishes the fixture's colour frame (rgb8), its depth (16UC1,
millimetres, best effort) and camera_info (reliable), all with one stamp per frame, sends the commands that
name the fixture objects --labels (truth.json `command`) plus one naming nothing there, and checks:
~/detections_3d places each object within --tolerance-m of the renderer's truth (truth.json `centroid`),
~/detections carries the same position (position_valid, depth_pixels, track_id), ~/detections_2d has the
command as class with the grounding's box, ~/markers has a sphere and the command's text per object after a
DELETEALL, /tf (--tf) a frame per object under the node's name until publish_tf is set false at run time,
/diagnostics counts depth frames in and a malformed depth image refused.
--no-depth: only the colour frame is published; nothing may be placed.
--model-content (the real model): an object the model does not find is noted, not failed.
Prints one line per check and exits 1 on any failure.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from PIL import Image as PILImage
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage
from vision_msgs.msg import Detection2DArray, Detection3DArray
from visualization_msgs.msg import Marker, MarkerArray

from pixel_sail_msgs.msg import GroundingArray

RESULTS = []
ABSENT = "the green circle"  # nothing green and no circle in the fixtures


def check(name, ok, detail=""):
    RESULTS.append({"check": name, "ok": bool(ok), "detail": str(detail)[:300]})
    print(f"{time.strftime('%H:%M:%S')} {'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def stamp_ns(stamp):
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def track_str(g):
    """The vision_msgs id of a grounding: its track id, empty while it has none."""
    return str(g.track_id) if g.track_id else ""


def dist(a, b):
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))


class DepthCamera:
    def __init__(self, a):
        self.a = a
        fx = Path(a.fixture)
        self.truth = json.loads((fx / "truth.json").read_text())
        objects = {o["label"]: o for o in self.truth["objects"]}
        self.objects = [objects[int(k)] for k in a.labels.split(",")]
        self.commands = [o["command"] for o in self.objects] + [ABSENT]
        self.node = rclpy.create_node("pixel_sail_3d_checker")
        n = self.node
        base = f"{a.ns.rstrip('/')}/{a.node}"
        self.fqn = base
        be = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
        rel = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.got = {k: [] for k in ("detections", "d2", "d3", "markers", "tf", "diag")}
        keep = lambda key: (lambda m: self.got[key].append(m))  # noqa: E731
        n.create_subscription(GroundingArray, f"{base}/detections", keep("detections"), rel)
        n.create_subscription(Detection2DArray, f"{base}/detections_2d", keep("d2"), rel)
        n.create_subscription(Detection3DArray, f"{base}/detections_3d", keep("d3"), rel)
        n.create_subscription(MarkerArray, f"{base}/markers", keep("markers"), rel)
        n.create_subscription(TFMessage, "/tf", keep("tf"), QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        n.create_subscription(DiagnosticArray, "/diagnostics", keep("diag"), rel)
        self.prompt_pub = n.create_publisher(String, f"{base}/prompt", rel)
        self.set_params = n.create_client(SetParameters, f"{base}/set_parameters")
        self.image_pub = n.create_publisher(Image, a.camera, be)
        self.depth_pub = n.create_publisher(Image, a.depth, be)
        self.info_pub = n.create_publisher(CameraInfo, a.camera_info, rel)
        rgb = np.array(PILImage.open(fx / "rgb.jpg").convert("RGB"))
        self.image = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3)
        self.image.header.frame_id = a.frame_id
        self.image.data = rgb.tobytes()
        depth = np.array(PILImage.open(fx / "depth.png")).astype("<u2")
        self.depth = Image(height=depth.shape[0], width=depth.shape[1], encoding="16UC1", is_bigendian=0,
                           step=depth.shape[1] * 2)
        self.depth.header.frame_id = a.frame_id
        self.depth.data = depth.tobytes()
        t = self.truth
        self.info = CameraInfo(width=t["width"], height=t["height"], distortion_model=t["distortion_model"],
                               d=[float(v) for v in t["d"]], k=[float(v) for v in t["k"]])
        self.info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        k = t["k"]
        self.info.p = [k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, k[6], k[7], k[8], 0.0]
        self.info.header.frame_id = a.frame_id
        self.published = set()
        self.bad_depth_sent = False
        n.create_timer(1.0 / a.rate, self.publish_frame)

    def publish_frame(self):
        now = self.node.get_clock().now().to_msg()
        self.published.add(stamp_ns(now))
        if not self.a.no_depth:
            self.info.header.stamp = now
            self.info_pub.publish(self.info)
            self.depth.header.stamp = now
            self.depth_pub.publish(self.depth)
        self.image.header.stamp = now
        self.image_pub.publish(self.image)

    def spin_until(self, cond, timeout):
        end = time.time() + timeout
        while time.time() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if cond():
                return True
        return False

    def ours(self, msgs):
        """Messages of frames this camera published."""
        return [m for m in msgs if stamp_ns(m.header.stamp) in self.published]

    def commanded(self):
        """The latest ~/detections that carries our commands and (with depth) places every found one."""
        for m in reversed(self.ours(self.got["detections"])):
            if [g.command for g in m.groundings] != self.commands:
                continue
            if self.a.no_depth or all(g.position_valid for g in m.groundings if g.found):
                return m
        return None

    # ---------------------------------------------------------------------------------------------

    def run(self):
        ok = self.spin_until(lambda: (self.a.node, self.a.ns) in self.node.get_node_names_and_namespaces(), 30)
        check("the node is up", ok)
        self.spin_until(lambda: False, 1.0)
        self.prompt_pub.publish(String(data="\n".join(self.commands)))
        ok = self.spin_until(lambda: self.commanded() is not None and self.matching_3d() is not None, 60)
        det = self.commanded()
        check("~/detections for the commands on a camera frame", det is not None,
              [g.command for m in self.got["detections"][-1:] for g in m.groundings])
        if det is None:
            return
        check("~/detections frame_id", det.header.frame_id == self.a.frame_id, det.header.frame_id)
        absent = det.groundings[-1]
        if not self.a.model_content:
            check("the absent object is not found and not placed", not absent.found and not absent.position_valid
                  and absent.track_id == 0, f"found={absent.found} valid={absent.position_valid} note={absent.position_note!r}")
        if self.a.no_depth:
            self.without_depth(det)
        else:
            self.placed(det)
        self.detections_2d(det)
        self.markers(det)
        self.transforms(det)
        if not self.a.no_depth:
            self.diagnostics()

    def matching_3d(self):
        det = self.commanded()
        if det is None:
            return None
        return next((m for m in self.got["d3"] if m.header.stamp == det.header.stamp), None)

    def placed(self, det):
        for g, truth in zip(det.groundings, self.objects):
            if not g.found and self.a.model_content:
                # Recall is the model's business (eval on the test split); a position it gives must be right.
                print(f"  note: the model did not find {g.command!r} (score {g.score:.2f})", flush=True)
                continue
            if not check(f"{g.command!r} found", g.found, f"score {g.score:.2f}"):
                continue
            p = (g.position.x, g.position.y, g.position.z)
            err = dist(p, truth["centroid"])
            check(f"~/detections {g.command!r}: position within {self.a.tolerance_m * 100:.1f} cm of the truth",
                  g.position_valid and err <= self.a.tolerance_m,
                  f"{np.round(p, 4).tolist()} vs {truth['centroid']}: {err * 1000:.1f} mm; note {g.position_note!r}")
            # The scripted model's masks are the true ones: no more depth pixels than the label has.
            most = 10 ** 9 if self.a.model_content else truth["label_pixels"]
            check(f"~/detections {g.command!r}: depth pixels, track id, no note",
                  0 < g.depth_pixels <= most and g.track_id > 0 and g.position_note == "",
                  f"{g.depth_pixels} px (truth {truth['pixels']}), track {g.track_id}")
            if not self.a.model_content:
                ext = (g.extent.x, g.extent.y)
                check(f"~/detections {g.command!r}: extent near the truth's (x, y within 2 cm)",
                      all(abs(e - t) <= 0.02 for e, t in zip(ext, truth["extent"][:2])),
                      f"{np.round(ext, 4).tolist()} vs {truth['extent'][:2]}")
        d3 = self.matching_3d()
        if not check("~/detections_3d with the same stamp as ~/detections", d3 is not None):
            return
        check("~/detections_3d frame_id", d3.header.frame_id == self.a.frame_id, d3.header.frame_id)
        found = [g for g in det.groundings if g.found and g.position_valid]
        check("~/detections_3d: one detection per placed object", len(d3.detections) == len(found),
              f"{len(d3.detections)} vs {len(found)}")
        for g, truth in zip(det.groundings, self.objects):
            if not g.found:
                continue
            d = next((d for d in d3.detections if d.results and d.results[0].hypothesis.class_id == g.command), None)
            if not check(f"~/detections_3d has {g.command!r} as the class", d is not None):
                continue
            c = d.bbox.center.position
            err = dist((c.x, c.y, c.z), truth["centroid"])
            check(f"~/detections_3d {g.command!r}: box centre within {self.a.tolerance_m * 100:.1f} cm of the truth",
                  err <= self.a.tolerance_m, f"{err * 1000:.1f} mm")
            same = (c.x, c.y, c.z) == (g.position.x, g.position.y, g.position.z) and \
                (d.bbox.size.x, d.bbox.size.y, d.bbox.size.z) == (g.extent.x, g.extent.y, g.extent.z)
            check(f"~/detections_3d {g.command!r}: centre, size, score and id as in ~/detections",
                  same and abs(d.results[0].hypothesis.score - g.score) < 1e-6 and d.id == track_str(g),
                  f"id {d.id!r} track {g.track_id}")

    def without_depth(self, det):
        found = [g for g in det.groundings if g.found]
        check("without depth: found objects have no position, and say why",
              found and all(not g.position_valid and g.position_note and g.depth_pixels == 0 for g in found),
              [(g.command, g.position_note) for g in det.groundings])
        self.spin_until(lambda: False, 1.0)
        d3 = self.ours(self.got["d3"])
        check("without depth: ~/detections_3d arrives with no detections", d3 and all(not m.detections for m in d3),
              f"{len(d3)} messages, {sum(len(m.detections) for m in d3)} detections")

    def detections_2d(self, det):
        find = lambda: next((m for m in self.got["d2"] if m.header.stamp == det.header.stamp), None)  # noqa: E731
        self.spin_until(lambda: find() is not None, 5)
        d2 = find()
        if not check("~/detections_2d with the same stamp as ~/detections", d2 is not None):
            return
        found = [g for g in det.groundings if g.found]
        check("~/detections_2d: one per found object", len(d2.detections) == len(found), len(d2.detections))
        for g in found:
            d = next((d for d in d2.detections if d.results[0].hypothesis.class_id == g.command), None)
            if not check(f"~/detections_2d has {g.command!r} as the class", d is not None):
                continue
            x0, y0, x1, y1 = g.bbox
            b = d.bbox
            ok = (b.center.position.x, b.center.position.y, b.size_x, b.size_y) == ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
            check(f"~/detections_2d {g.command!r}: the grounding's box, score and track id", ok and
                  abs(d.results[0].hypothesis.score - g.score) < 1e-6 and d.id == track_str(g),
                  f"centre ({b.center.position.x}, {b.center.position.y}) size {b.size_x}x{b.size_y} vs {[int(v) for v in g.bbox]}, "
                  f"id {d.id!r} track {g.track_id}")

    def markers(self, det):
        find = lambda: next((m for m in self.got["markers"]  # noqa: E731
                             if m.markers and m.markers[0].header.stamp == det.header.stamp), None)
        self.spin_until(lambda: find() is not None, 5)  # each topic is its own stream: no order between them
        m = find()
        if not check("~/markers with the frame's stamp", m is not None, f"{len(self.got['markers'])} arrays"):
            return
        check("~/markers starts with DELETEALL", m.markers[0].action == Marker.DELETEALL)
        placed = [g for g in det.groundings if g.found and g.position_valid]
        spheres = [x for x in m.markers[1:] if x.type == Marker.SPHERE]
        texts = [x for x in m.markers[1:] if x.type == Marker.TEXT_VIEW_FACING]
        check("~/markers: a sphere and a text per placed object", len(spheres) == len(texts) == len(placed),
              f"{len(spheres)} spheres, {len(texts)} texts, {len(placed)} placed")
        for g in placed:
            k = det.groundings.index(g) + 1
            s = next((x for x in spheres if x.id == k), None)
            t = next((x for x in texts if x.id == k), None)
            ok = s is not None and t is not None and g.command in t.text and s.header.frame_id == self.a.frame_id \
                and dist((s.pose.position.x, s.pose.position.y, s.pose.position.z), (g.position.x, g.position.y, g.position.z)) < 1e-9
            check(f"~/markers {g.command!r}: sphere at its position, text names it", ok, t and t.text)

    def transforms(self, det):
        placed = [(det.groundings.index(g) + 1, g) for g in det.groundings if g.found and g.position_valid]
        ours = lambda: [t for m in self.got["tf"] for t in m.transforms if t.header.frame_id == self.a.frame_id]  # noqa: E731
        if self.a.tf:
            self.spin_until(lambda: sum(t.header.stamp == det.header.stamp for t in ours()) >= len(placed), 5)
        ours = ours()
        if not self.a.tf:
            check("/tf: nothing without publish_tf", not ours, f"{len(ours)} transforms")
            return
        for k, g in placed:
            child = f"{self.fqn.lstrip('/')}/{k}"
            t = next((t for t in ours if t.child_frame_id == child and t.header.stamp == det.header.stamp), None)
            v = t and t.transform.translation
            ok = t is not None and (v.x, v.y, v.z) == (g.position.x, g.position.y, g.position.z) \
                and t.transform.rotation.w == 1.0
            check(f"/tf: {child} in {self.a.frame_id} at {g.command!r}'s position", ok,
                  sorted({t.child_frame_id for t in ours}))
        # publish_tf is live: set false, /tf stops (after what was already on its way).
        req = SetParameters.Request(parameters=[Parameter(
            name="publish_tf", value=ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=False))])
        fut = self.set_params.call_async(req) if self.set_params.wait_for_service(timeout_sec=10) else None
        self.spin_until(lambda: fut is not None and fut.done(), 10)
        ok = fut is not None and fut.done() and fut.result().results[0].successful
        self.spin_until(lambda: False, 1.0)
        before = len(self.got["tf"])
        self.spin_until(lambda: False, 1.5)
        check("publish_tf set false at run time stops /tf", ok and len(self.got["tf"]) == before,
              f"set {'ok' if ok else 'failed'}; {len(self.got['tf']) - before} TF messages after")

    def diagnostics(self):
        # A malformed depth image (wrong encoding) is refused, counted and the node goes on.
        bad = Image(height=2, width=2, encoding="rgb8", is_bigendian=0, step=6, data=bytes(12))
        bad.header.stamp = self.node.get_clock().now().to_msg()
        bad.header.frame_id = self.a.frame_id
        self.depth_pub.publish(bad)
        name = f"{self.fqn.lstrip('/')}: pipeline"

        def values():
            st = [s for m in self.got["diag"] for s in m.status if s.name == name]
            return {kv.key: kv.value for kv in st[-1].values} if st else {}
        ok = self.spin_until(lambda: int(values().get("depth_frames_refused", "0")) > 0, 15)
        v = values()
        check("/diagnostics counts a malformed depth image as refused", ok, v.get("depth_frames_refused"))
        check("/diagnostics counts depth frames in and has camera_info",
              int(v.get("depth_frames_in", "0")) > 0 and v.get("camera_info") == "received",
              f"in {v.get('depth_frames_in')}, camera_info {v.get('camera_info')}")
        n = len(self.got["detections"])
        check("the node goes on after the bad depth image", self.spin_until(lambda: len(self.got["detections"]) > n + 2, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", default="/")
    ap.add_argument("--node", default="pixel_sail")
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--labels", default="2,3", help="fixture objects (truth.json labels) to command")
    ap.add_argument("--camera", required=True)
    ap.add_argument("--depth", required=True)
    ap.add_argument("--camera-info", required=True)
    ap.add_argument("--frame-id", default="camera_optical")
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--tolerance-m", type=float, default=0.01)
    ap.add_argument("--no-depth", action="store_true", help="publish the colour frame only; nothing may be placed")
    ap.add_argument("--tf", action="store_true", help="the node runs with publish_tf:=true")
    ap.add_argument("--model-content", action="store_true",
                    help="the real model: an object it does not find is noted, not failed; what it finds must be placed right")
    ap.add_argument("--report", default=None)
    a = ap.parse_args()
    rclpy.init()
    c = DepthCamera(a)
    t0 = time.time()
    try:
        c.run()
    except Exception as e:  # a crash is a failed check, with the report still written
        check("the checker raised", False, repr(e))
    failed = [r for r in RESULTS if not r["ok"]]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed ({time.time() - t0:.0f} s)", flush=True)
    if a.report:
        Path(a.report).write_text(json.dumps(RESULTS, indent=1))
    c.node.destroy_node()
    rclpy.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
