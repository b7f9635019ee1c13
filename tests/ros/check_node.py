"""Drives a running pixel-sail node from a real rclpy (Fast DDS) node and checks its ROS interface.

Run from a file (the ROS wheels re-exec python at import), with pixel_sail_msgs built from msgs/
on PYTHONPATH and FASTRTPS_DEFAULT_PROFILES_FILE (Fast DDS 2, Jazzy) and FASTDDS_DEFAULT_PROFILES_FILE (Fast DDS 3) = launch/fastdds_bigbuf.xml (for the raw images):

  check_node.py --ns /itest --node pixel_sail --command "pick up the red circle" [--camera TOPIC]
                [--object-box x0,y0,x1,y1] [--frame-id F] [--report out.json]

--camera TOPIC: this script is also the camera: it publishes a synthetic 640x480 tabletop frame
(a red circle and a blue square on a beige table) on TOPIC and then expects every output to carry
one of the stamps it published. --object-box: the commanded object's box; the mask must cover it
(IoU with the circle, when --expect-content). Prints one line per check and exits 1 on any failure.
"""
import argparse
import io
import json
import math
import re
import sys
import time
import zlib  # noqa: F401  (Pillow needs it; imported early for a clear error)
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from PIL import Image as PILImage
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, ListParameters, SetParameters
from rclpy.serialization import serialize_message
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy, DurabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from pixel_sail_msgs.msg import GroundingArray
from pixel_sail_msgs.srv import Describe, SetPrompts

W, H = 640, 480
CIRCLE = (200, 240, 60)  # cx, cy, r  (a large red circle on the left)
SQUARE = (420, 180, 520, 280)  # x0, y0, x1, y1 (a large blue square on the right)

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append({"check": name, "ok": bool(ok), "detail": str(detail)[:300]})
    print(f"{time.strftime('%H:%M:%S')} {'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def tabletop():
    """The camera frame (rgb8) and the red circle's true mask: rendered by the project's own tabletop
    generator (models/pixel_sail/tabletop.py, DESIGN §4) when importable, else drawn here."""
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models"))
        from pixel_sail.tabletop import Obj, Scene, render
        cx, cy, r = CIRCLE
        x0, y0, x1, y1 = SQUARE
        objs = [Obj("circle", "red", "large", cx / W, cy / H, 2 * r / W, 0.0, (0.85, 0.12, 0.14), (0.3, -0.3, 0.15)),
                Obj("square", "blue", "large", (x0 + x1) / 2 / W, (y0 + y1) / 2 / H, (x1 - x0) / W, 0.0,
                    (0.12, 0.24, 0.82), (0.3, -0.3, 0.15))]
        scene = Scene("beige", (205, 190, 160), (0.4, 0.2, 0.1), 4.0, objs, seed=5)
        img, labels = render(scene, W, H, effects=True)
        return img, labels == 1
    except Exception as e:  # noqa: BLE001 - any import/render problem: fall back to the plain drawing
        print(f"  (tabletop generator unavailable: {e!r}; drawing the frame)", flush=True)
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3), np.uint8)
    img[...] = (200, 185, 160)
    img = (img.astype(np.int16) + ((xx + yy) // 40 % 3 - 1)[..., None]).clip(0, 255).astype(np.uint8)
    cx, cy, r = CIRCLE
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = (215, 30, 35)
    x0, y0, x1, y1 = SQUARE
    img[y0:y1, x0:x1] = (30, 60, 210)
    return img, (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def circle_mask():
    yy, xx = np.mgrid[0:H, 0:W]
    cx, cy, r = CIRCLE
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def rle_decode(h, w, counts):
    flat = np.zeros(h * w, np.uint8)
    pos, val = 0, 0
    for c in counts:
        flat[pos:pos + c] = val
        pos += c
        val ^= 1
    return flat.reshape((w, h)).T  # column-major


def rle_encode(mask):
    """COCO run-length counts, column-major, first run background."""
    flat = mask.T.reshape(-1).astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return [int(c) for c in counts]


def spin_until(node, cond, timeout):
    """Spins `node` until `cond()` holds (True) or `timeout` seconds pass (False)."""
    end = time.time() + timeout
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if cond():
            return True
    return False


def stamp_ns(stamp):
    return stamp.sec * 1_000_000_000 + stamp.nanosec


class Checker:
    def __init__(self, args):
        self.a = args
        self.node = rclpy.create_node("pixel_sail_checker")
        base = f"{args.ns.rstrip('/')}/{args.node}"
        self.base = base
        self.got = {k: [] for k in ("detections", "mask", "mask_c", "overlay", "overlay_c", "description", "diag")}
        be = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
        rel = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        n = self.node
        stamp_in = lambda key: (lambda m: self.got[key].append((time.time_ns(), m)))  # noqa: E731
        n.create_subscription(GroundingArray, f"{base}/detections", stamp_in("detections"), rel)
        n.create_subscription(Image, f"{base}/mask", stamp_in("mask"), be)
        n.create_subscription(CompressedImage, f"{base}/mask/compressed", stamp_in("mask_c"), rel)
        n.create_subscription(Image, f"{base}/overlay", stamp_in("overlay"), be)
        n.create_subscription(CompressedImage, f"{base}/overlay/compressed", stamp_in("overlay_c"), rel)
        n.create_subscription(String, f"{base}/description", stamp_in("description"), rel)
        n.create_subscription(DiagnosticArray, "/diagnostics", stamp_in("diag"), rel)
        self.prompt_pub = n.create_publisher(String, f"{base}/prompt", rel)
        self.point_pub = n.create_publisher(PointStamped, f"{base}/point_prompt", rel)
        self.set_prompts = n.create_client(SetPrompts, f"{base}/set_prompts")
        self.describe = n.create_client(Describe, f"{base}/describe")
        self.list_params = n.create_client(ListParameters, f"{base}/list_parameters")
        self.get_params = n.create_client(GetParameters, f"{base}/get_parameters")
        self.set_params = n.create_client(SetParameters, f"{base}/set_parameters")
        self.published_stamps = set()
        self.truth = circle_mask()
        if args.camera:
            cam_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
            self.cam_pub = n.create_publisher(Image, args.camera, cam_qos)
            frame, self.truth = tabletop()
            self.cam_msg = Image(height=H, width=W, encoding="rgb8", is_bigendian=0, step=W * 3)
            self.cam_msg.header.frame_id = args.frame_id
            self.cam_msg.data = frame.tobytes()
            n.create_timer(1.0 / args.camera_rate, self.publish_frame)

    def publish_frame(self):
        now = self.node.get_clock().now().to_msg()
        self.cam_msg.header.stamp = now
        self.published_stamps.add(stamp_ns(now))
        self.cam_pub.publish(self.cam_msg)

    def spin_until(self, cond, timeout):
        return spin_until(self.node, cond, timeout)

    def call(self, client, request, timeout=20.0):
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        fut = client.call_async(request)
        self.spin_until(fut.done, timeout)
        return fut.result() if fut.done() else None

    # ---------------------------------------------------------------------------------------------

    def graph(self):
        ns, name = self.a.ns, self.a.node
        ok = self.spin_until(lambda: (name, ns) in self.node.get_node_names_and_namespaces(), 30)
        check("graph: node listed under its namespace", ok, f"{ns}/{name} in {self.node.get_node_names_and_namespaces()}")
        topics = dict(self.node.get_topic_names_and_types())
        for t, ty in [("detections", "pixel_sail_msgs/msg/GroundingArray"), ("mask", "sensor_msgs/msg/Image"),
                      ("mask/compressed", "sensor_msgs/msg/CompressedImage"), ("description", "std_msgs/msg/String")]:
            full = f"{self.base}/{t}"
            self.spin_until(lambda: full in dict(self.node.get_topic_names_and_types()), 10)
            topics = dict(self.node.get_topic_names_and_types())
            check(f"graph: {full} is {ty}", ty in topics.get(full, []), topics.get(full))

    def commands(self):
        self.prompt_pub.publish(String(data=self.a.command))
        ok = self.spin_until(lambda: any(m.groundings and m.groundings[0].command == self.a.command
                                         for _, m in self.got["detections"]), 60)
        check("~/prompt sets the command; ~/detections reports it", ok,
              [g.command for _, m in self.got["detections"][-1:] for g in m.groundings])

    def outputs(self):
        # Wait for every output to carry a frame the command was applied to.
        def have_all():
            return all(self.got[k] for k in ("mask", "mask_c", "overlay_c", "diag")) and (
                self.a.no_raw_overlay or self.got["overlay"])
        self.spin_until(have_all, 45)
        self.spin_until(lambda: False, 2.0)  # a few more frames
        for key in ("detections", "mask", "mask_c", "overlay", "overlay_c", "diag"):
            check(f"received {key}", len(self.got[key]) > 0, f"{len(self.got[key])} messages")
        dets = [m for _, m in self.got["detections"] if m.groundings and m.groundings[0].command == self.a.command]
        if not check("detections for the command", dets):
            return
        d = dets[-1]
        check("detections frame_id", d.header.frame_id == self.a.frame_id, d.header.frame_id)
        self.check_stamps()
        g = d.groundings[0]
        check("grounding fields", g.label == 1 and g.mask_height == H and g.mask_width == W
              and sum(g.mask_rle_counts) == H * W, f"label {g.label} {g.mask_width}x{g.mask_height} sum {sum(g.mask_rle_counts)}")
        if self.a.expect_content:
            check("grounding: the scripted track id; no position without depth (and why)", g.track_id == 1
                  and not g.position_valid and g.depth_pixels == 0 and g.position_note == "no depth input",
                  f"track {g.track_id} valid {g.position_valid} note {g.position_note!r}")
        # The raw label image and the PNG agree with the RLE of the same frame.
        by_stamp = {stamp_ns(m.header.stamp): m for _, m in self.got["mask"]}
        pairs = [(m, by_stamp.get(stamp_ns(m.header.stamp))) for m in dets]
        pairs = [(a, b) for a, b in pairs if b is not None]
        if check("a ~/mask with the same stamp as a ~/detections", pairs, f"{len(pairs)} pairs"):
            det, mask = pairs[-1]
            labels = np.frombuffer(bytes(mask.data), np.uint8).reshape(mask.height, mask.step)[:, :mask.width]
            check("~/mask is mono8 at camera resolution", mask.encoding == "mono8" and (mask.width, mask.height) == (W, H),
                  f"{mask.encoding} {mask.width}x{mask.height}")
            rle = rle_decode(det.groundings[0].mask_height, det.groundings[0].mask_width, det.groundings[0].mask_rle_counts)
            check("~/mask label 1 equals the detections RLE", np.array_equal(labels == 1, rle == 1),
                  f"{int((labels == 1).sum())} vs {int(rle.sum())} px")
        png = self.got["mask_c"][-1][1]
        decoded = np.array(PILImage.open(io.BytesIO(bytes(png.data))))
        check("~/mask/compressed is a PNG of the label image", png.format.startswith("mono8") and decoded.shape == (H, W)
              and set(np.unique(decoded)) <= set(range(0, 9)), f"{png.format} {decoded.shape}")
        jpg = self.got["overlay_c"][-1][1]
        ov = PILImage.open(io.BytesIO(bytes(jpg.data)))
        check("~/overlay/compressed is a JPEG at camera resolution", ov.format == "JPEG" and ov.size == (W, H), f"{ov.format} {ov.size}")
        if self.a.save_overlay:
            ov.convert("RGB").save(self.a.save_overlay)
        if self.got["overlay"]:
            o = self.got["overlay"][-1][1]
            check("~/overlay is rgb8 at camera resolution", o.encoding == "rgb8" and len(o.data) == W * H * 3, o.encoding)
        if (self.a.expect_content or self.a.model_content) and g.found:
            truth = self.truth
            pred = rle_decode(g.mask_height, g.mask_width, g.mask_rle_counts).astype(bool)
            iou = (truth & pred).sum() / max(1, (truth | pred).sum())
            check("the mask covers the commanded object (IoU with the red circle >= 0.5)", iou >= 0.5, f"IoU {iou:.2f}")
        elif self.a.expect_content:
            check("the commanded object is found", False, f"found={g.found} score={g.score:.2f}")
        elif self.a.model_content:
            # Recall is the model's business (eval on the test split); a mask it does give must be right.
            print(f"  note: the model did not find the commanded object (score {g.score:.2f})", flush=True)

    def check_stamps(self):
        now = time.time_ns()
        for key in ("detections", "mask", "mask_c", "overlay_c"):
            stamps = [stamp_ns(m.header.stamp) for _, m in self.got[key]]
            if self.published_stamps:
                ok = stamps and all(s in self.published_stamps for s in stamps)
                check(f"{key} stamps are the camera frames' stamps", ok, f"{len(stamps)} stamps")
            else:
                ok = stamps and all(now - 120e9 < s <= now for s in stamps)
                check(f"{key} stamps are capture times (past, recent)", ok, f"{len(stamps)} stamps")
            frames = {m.header.frame_id for _, m in self.got[key]}
            check(f"{key} frame_id", frames == {self.a.frame_id}, frames)
        # Each output of one frame carries that frame's stamp: every raw mask stamp is also a detections stamp.
        det = {stamp_ns(m.header.stamp) for _, m in self.got["detections"]}
        masks = [stamp_ns(m.header.stamp) for _, m in self.got["mask_c"]]
        check("~/mask/compressed stamps match ~/detections stamps", masks and all(s in det for s in masks[:-1]),
              f"{sum(s in det for s in masks)}/{len(masks)}")
        latencies = [(t - stamp_ns(m.header.stamp)) / 1e6 for t, m in self.got["mask_c"]]
        if latencies:
            print(f"  stamp-to-receive ~/mask/compressed: median {np.median(latencies):.1f} ms", flush=True)

    def made_but_empty(self):
        """An untrained model decodes empty descriptions: generated (stamped) but with no text."""
        gs = [g for _, m in self.got["detections"] for g in m.groundings]
        return any(stamp_ns(g.description_stamp) > 0 for g in gs) and not any(g.description for g in gs)

    def descriptions(self):
        strict = self.a.expect_content or self.a.model_content
        ok = self.spin_until(lambda: self.got["description"], 60 if strict else 20)
        if not ok and not strict and self.made_but_empty():
            check("descriptions generated (empty text: untrained model, nothing to publish)", True)
            check("~/point_prompt click handled (untrained model: text not checked)", True)
            return
        check("~/description delivers a description", ok, self.got["description"][-1][1].data if ok else "none")
        before = len(self.got["description"])
        cx, cy, _ = CIRCLE
        p = PointStamped()
        p.header.frame_id = self.a.frame_id
        p.point.x, p.point.y = float(cx), float(cy)
        self.point_pub.publish(p)
        ok = self.spin_until(lambda: len(self.got["description"]) > before, 60)
        check("~/point_prompt click yields a ~/description", ok,
              self.got["description"][-1][1].data if ok else "none")

    def services(self):
        req = SetPrompts.Request(prompts=["find the blue square", self.a.command])
        r = self.call(self.set_prompts, req)
        check("~/set_prompts accepts two commands", r is not None and r.accepted, r and r.message)
        ok = self.spin_until(lambda: any(len(m.groundings) == 2 and m.groundings[0].command == "find the blue square"
                                         for _, m in self.got["detections"]), 60)
        check("~/detections then carries both commands", ok)
        r = self.call(self.get_params, GetParameters.Request(names=["prompts"]))
        check("the prompts parameter follows ~/set_prompts", r is not None and list(r.values[0].string_array_value)
              == ["find the blue square", self.a.command], r and list(r.values[0].string_array_value))
        r = self.call(self.set_prompts, SetPrompts.Request(prompts=[f"object {i}" for i in range(20)]))
        check("~/set_prompts refuses too many commands with a reason", r is not None and not r.accepted and "max" in r.message,
              r and r.message)
        cx, cy, _ = CIRCLE
        req = Describe.Request(kind=Describe.Request.KIND_POINT)
        req.point.x, req.point.y = float(cx), float(cy)
        r = self.call(self.describe, req, timeout=60)
        text_ok = r is not None and (r.description != "" or not (self.a.expect_content or self.a.model_content))
        ok = r is not None and r.success and text_ok and r.header.frame_id == self.a.frame_id
        check("~/describe (point) answers with a description, frame_id and stamp", ok and r.header.stamp.sec > 0,
              r and f"{r.description!r} {r.header.frame_id} {r.header.stamp.sec} {r.message}")
        if ok and self.published_stamps:
            check("~/describe stamp is a camera frame's stamp", stamp_ns(r.header.stamp) in self.published_stamps)
        if ok:
            self.check_reply_mask("~/describe mask (RLE)", r, cx, cy)
        # A second object: the scripted model answers with a ragged mask here, whose full-resolution RLE
        # would not fit one datagram, so the reply carries it on a coarser grid.
        x0, y0, x1, y1 = SQUARE
        req = Describe.Request(kind=Describe.Request.KIND_POINT)
        req.point.x, req.point.y = float((x0 + x1) // 2), float((y0 + y1) // 2)
        r = self.call(self.describe, req, timeout=60)
        check("~/describe (second object) answers", r is not None and r.success, r and f"{r.description!r} {r.message}")
        if r is not None and r.success:
            self.check_reply_mask("~/describe (second object) mask", r, (x0 + x1) // 2, (y0 + y1) // 2)
        # A box around the circle, and the circle's own mask (RLE), as the other two prompt kinds.
        req = Describe.Request(kind=Describe.Request.KIND_BOX)
        req.box = [float(cx - 70), float(cy - 70), float(cx + 70), float(cy + 70)]
        r = self.call(self.describe, req, timeout=60)
        check("~/describe (box) answers", r is not None and r.success and (r.description != "" or not self.a.expect_content),
              r and f"{r.description!r} {r.message}")
        req = Describe.Request(kind=Describe.Request.KIND_MASK, mask_height=H, mask_width=W,
                               mask_rle_counts=rle_encode(self.truth))
        r = self.call(self.describe, req, timeout=60)
        ok = r is not None and r.success and (r.description != "" or not self.a.expect_content)
        if self.a.expect_content and ok:
            ok = "red circle" in r.description
        check("~/describe (mask) answers", ok, r and f"{r.description!r} {r.message}")
        bad = Describe.Request(kind=Describe.Request.KIND_BOX)
        bad.box = [50.0, 50.0, 10.0, 80.0]
        r = self.call(self.describe, bad)
        check("~/describe refuses a malformed box with a reason", r is not None and not r.success and "x1 > x0" in r.message,
              r and r.message)
        self.call(self.set_prompts, SetPrompts.Request(prompts=[self.a.command]))

    def check_reply_mask(self, name, r, x, y):
        """The reply's RLE is on the camera grid or on every f-th pixel of it; it covers (x, y)."""
        m = rle_decode(r.mask_height, r.mask_width, r.mask_rle_counts)
        f = max(1, round(W / max(1, r.mask_width)))
        grid_ok = (r.mask_width, r.mask_height) == (-(-W // f), -(-H // f)) and sum(r.mask_rle_counts) == m.size
        covers = not self.a.expect_content or m[min(y // f, m.shape[0] - 1), min(x // f, m.shape[1] - 1)] == 1
        check(name + (" covers the point" if self.a.expect_content else ""), grid_ok and covers,
              f"{r.mask_width}x{r.mask_height} (1/{f}), {len(r.mask_rle_counts)} counts, {int(m.sum())} px {r.message}")

    def parameters(self):
        r = self.call(self.list_params, ListParameters.Request())
        names = set(r.result.names) if r else set()
        want = {"model_dir", "source", "frame_id", "execution_providers", "mask_threshold", "max_rate",
                "description_policy", "max_description_tokens", "overlay", "prompts"}
        check("parameters listed", want <= names, sorted(want - names) or len(names))
        r = self.call(self.get_params, GetParameters.Request(names=["execution_providers", "mask_threshold"]))
        check("get_parameters", r is not None and len(r.values) == 2 and r.values[0].type == ParameterType.PARAMETER_STRING_ARRAY,
              r and [v.type for v in r.values])

        def set_one(name, value):
            req = SetParameters.Request(parameters=[Parameter(name=name, value=value)])
            res = self.call(self.set_params, req)
            return res.results[0] if res else None
        r = set_one("mask_threshold", ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=1.5))
        check("a bad value is refused with a reason", r is not None and not r.successful and "between 0 and 1" in r.reason,
              r and r.reason)
        r = set_one("model_dir", ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="/elsewhere"))
        check("a read-only parameter is refused with a reason", r is not None and not r.successful and "read-only" in r.reason,
              r and r.reason)
        r = set_one("max_prompts", ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=6))
        check("a good value is accepted", r is not None and r.successful, r and r.reason)
        r = set_one("prompts", ParameterValue(type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=["grab the green cross"]))
        ok = r is not None and r.successful and self.spin_until(
            lambda: any([g.command for g in m.groundings] == ["grab the green cross"] for _, m in self.got["detections"]), 30)
        check("setting the prompts parameter replaces the commands", ok, r and r.reason)
        self.prompt_pub.publish(String(data=self.a.command))
        self.spin_until(lambda: any([g.command for g in m.groundings] == [self.a.command] for _, m in self.got["detections"][-3:]), 30)

    def qos_mismatch(self):
        # A RELIABLE reader on the best-effort ~/mask never matches; diagnostics must say so.
        rel = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
        sub = self.node.create_subscription(Image, f"{self.base}/mask", lambda m: None, rel)
        start = len(self.got["diag"])

        def warned():
            for _, m in self.got["diag"][start:]:
                for s in m.status:
                    if s.name.endswith("pipeline") and "QoS incompatible" in s.message and "/mask" in s.message:
                        return True
            return False
        ok = self.spin_until(warned, 20)
        last = self.got["diag"][-1][1].status[0] if self.got["diag"] else None
        detail = last and (last.message + " | " + "; ".join(f"{kv.key}={kv.value}" for kv in last.values if "/mask" in kv.key))
        check("/diagnostics warns about a QoS-incompatible subscriber", ok, detail)
        self.node.destroy_subscription(sub)

    def loading(self):
        # The node starts before its model has loaded (a TensorRT engine build; simulated by the node's
        # PIXEL_SAIL_SIMULATE_SLOW_LOAD_MS): /diagnostics says what loading does, nothing is published yet.
        name = f"{self.base.lstrip('/')}: pipeline"
        state = lambda s: {kv.key: kv.value for kv in s.values}.get("model_state")  # noqa: E731
        mine = lambda: [(t, s) for t, m in self.got["diag"] for s in m.status if s.name == name]  # noqa: E731
        self.spin_until(lambda: any(state(s) == "ready" for _, s in mine()), 90)
        seen = mine()
        loading = [(t, s.message) for t, s in seen if state(s) == "loading"]
        ready_at = min((t for t, s in seen if state(s) == "ready"), default=None)
        check("/diagnostics while the model loads says what it does", bool(loading) and all(
            re.fullmatch(r"(loading model graph|building TensorRT engine|loading TensorRT engine) [123] of 3 \(\w+\.onnx\)", m)
            for _, m in loading), sorted({m for _, m in loading}))
        check("/diagnostics says ready once the model is", ready_at is not None)
        # an output that arrived before the last "loading" status did was published while the model was loading
        last_loading = max((t for t, _ in loading), default=0)
        outputs = [t for k in ("detections", "mask", "mask_c", "overlay", "overlay_c", "description") for t, _ in self.got[k]]
        early = [t for t in outputs if t < last_loading]
        check("nothing is published before the model is ready", not early, f"{len(early)} of {len(outputs)} outputs")

    def diagnostics(self):
        ok = self.spin_until(lambda: any(s.name == f"{self.base.lstrip('/')}: pipeline" for _, m in self.got["diag"]
                                         for s in m.status), 15)
        st = [s for _, m in self.got["diag"] for s in m.status if s.name == f"{self.base.lstrip('/')}: pipeline"]
        if not check("/diagnostics status for the node", ok, [s.name for _, m in self.got["diag"][-1:] for s in m.status]):
            return
        keys = {kv.key: kv.value for kv in st[-1].values}
        for k in ("frame_rate_in", "frame_rate_out", "latency_p50_ms", "latency_p99_ms", "total_dropped_frames",
                  "execution_provider", "model", f"subscribers.{self.base}/mask"):
            check(f"/diagnostics has {k}", k in keys, keys.get(k))
        check("/diagnostics frame_rate_out > 0", float(keys.get("frame_rate_out", "0")) > 0, keys.get("frame_rate_out"))
        # periodic, roughly 1 Hz, over a window of its own in which this checker only spins, by the node's own
        # stamps (publish times): receive times also measure how busy the checker was. The bounds are loose
        # because a loaded 2-core CI box delays the timer
        start = len(self.got["diag"])
        self.spin_until(lambda: len(self.got["diag"]) - start >= 5, 12)
        stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in self.got["diag"][start:]]
        n, span = len(stamps), (stamps[-1] - stamps[0] if stamps else 0.0)
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        check("/diagnostics about 1 Hz", n >= 4 and 0.25 <= (n - 1) / max(span, 1e-3) <= 2.0,
              f"{n} messages in {span:.1f} s, longest gap {max(gaps, default=0):.1f} s")

    def undecodable(self):
        # Messages that do not decode, sent as raw CDR: a ~/prompt String whose bytes are not UTF-8 and (as
        # the camera) an Image cut short. The node counts each per input on /diagnostics and answers the next
        # good command. Runs last: it changes the command.
        bad_prompt = serialize_message(String(data="pick up the XX")).replace(b"XX", b"\xff\xfe")
        sends = {f"{self.base}/prompt": (self.prompt_pub, bad_prompt)}
        if self.a.camera:
            sends[self.a.camera] = (self.cam_pub, serialize_message(self.cam_msg)[:200])
        for _ in range(3):
            for pub, raw in sends.values():
                pub.publish(raw)
            self.spin_until(lambda: False, 0.1)
        name = f"{self.base.lstrip('/')}: pipeline"

        def counts():
            st = [s for _, m in self.got["diag"][-3:] for s in m.status if s.name == name]
            keys = {kv.key: kv.value for kv in st[-1].values} if st else {}
            return {t: int(keys.get(f"undecodable_messages.{t}", "0")) for t in sends}
        self.spin_until(lambda: all(n >= 1 for n in counts().values()) and counts()[f"{self.base}/prompt"] >= 3, 15)
        seen = counts()
        check("/diagnostics counts the 3 undecodable ~/prompt messages", seen[f"{self.base}/prompt"] == 3, seen)
        if self.a.camera:  # best effort: at least one of the three arrives
            check("/diagnostics counts the cut-short camera Images", seen[self.a.camera] >= 1, seen)
        command = "pick up the blue square"
        self.prompt_pub.publish(String(data=command))
        ok = self.spin_until(lambda: any(m.groundings and m.groundings[0].command == command
                                         for _, m in self.got["detections"][-5:]), 30)
        check("after undecodable messages a good ~/prompt is still answered", ok,
              [g.command for _, m in self.got["detections"][-1:] for g in m.groundings])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", default="/")
    ap.add_argument("--node", default="pixel_sail")
    ap.add_argument("--command", default="pick up the red circle")
    ap.add_argument("--frame-id", default="camera")
    ap.add_argument("--camera", default=None, help="publish synthetic frames on this topic")
    ap.add_argument("--camera-rate", type=float, default=10.0)
    ap.add_argument("--expect-content", action="store_true",
                    help="scripted model: the mask must cover the red circle, descriptions and region masks must be right")
    ap.add_argument("--model-content", action="store_true",
                    help="trained model: a mask it gives must cover the red circle, descriptions must not be empty")
    ap.add_argument("--no-raw-overlay", action="store_true")
    ap.add_argument("--report", default=None)
    ap.add_argument("--save-overlay", default=None, help="write the last ~/overlay/compressed frame here (PNG)")
    ap.add_argument("--steps", default="graph,commands,outputs,descriptions,parameters,diagnostics,qos_mismatch,services,undecodable")
    a = ap.parse_args()
    rclpy.init()
    c = Checker(a)
    t0 = time.time()
    for step in (getattr(c, name) for name in a.steps.split(",")):
        try:
            step()
        except Exception as e:  # a crash in one step is a failed check, the others still run
            check(f"{step.__name__} raised", False, repr(e))
    failed = [r for r in RESULTS if not r["ok"]]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed ({time.time() - t0:.0f} s)", flush=True)
    if a.report:
        with open(a.report, "w") as f:
            json.dump(RESULTS, f, indent=1)
    c.node.destroy_node()
    rclpy.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
