"""Soak driver: an rclpy node that works a running pixel-sail node the way a robot's users do, for a while,
and measures it (issue #28 item 2, DESIGN §6).

  soak.py --pid PID --ns / --node pixel_sail --minutes 30 [--window-s 300] [--warmup-s 60] --report out.json

While it runs: new commands every 2 s on ~/prompt, a click every 5 s on ~/point_prompt, and every 10 s a
set of extra subscribers (overlay, mask, a second detections reader, description) joins or leaves. It keeps
one ~/detections subscriber throughout and measures, per window, capture-to-receipt latency (receipt time at
this subscriber minus the header's capture stamp: what a consumer on the same machine sees), reads the
node's resident memory (VmRSS of PID) every second, and the frame_errors the node reports on /diagnostics.
Prints a summary and writes the report; exits 1 when memory grows more than --max-growth-mib after the
warm-up, when the node reports errors or dies, or (with --strict-latency) when the windows' p99 after the
warm-up differ by more than 20 %.
"""
import argparse
import json
import random
import sys
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import String

from pixel_sail_msgs.msg import GroundingArray

COMMANDS = [
    ["pick up the red circle"],
    ["find the blue square", "where is the small yellow star?"],
    ["grab the green cross", "the red circle", "the blue square", "the purple ring"],
    ["the white triangle"],
    [],
]


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except FileNotFoundError:
        return None
    return None


def pct(values, q):
    return float(np.percentile(np.array(values), q)) if values else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--ns", default="/")
    ap.add_argument("--node", default="pixel_sail")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--window-s", type=float, default=300.0)
    ap.add_argument("--warmup-s", type=float, default=60.0)
    ap.add_argument("--max-growth-mib", type=float, default=5.0)
    ap.add_argument("--strict-latency", action="store_true")
    ap.add_argument("--report", default="out/soak.json")
    ap.add_argument("--churn-s", type=float, default=10.0, help="seconds between subscriber joins and leaves")
    a = ap.parse_args()
    base = (a.ns.rstrip("/") + "/" + a.node).replace("//", "/")

    rclpy.init()
    node = rclpy.create_node("pixel_sail_soak")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
    prompt_pub = node.create_publisher(String, f"{base}/prompt", reliable)
    click_pub = node.create_publisher(PointStamped, f"{base}/point_prompt", reliable)

    latencies = []  # (t, ms)
    received = [0]

    def on_detections(msg):
        now = time.time()
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        latencies.append((now, (now - stamp) * 1e3))
        received[0] += 1

    node.create_subscription(GroundingArray, f"{base}/detections", on_detections, reliable)
    frame_errors = [0]

    def on_diag(msg):
        for st in msg.status:
            if st.name.startswith(base.lstrip("/")) or st.name.startswith(a.node):
                for kv in st.values:
                    if kv.key == "frame_errors":
                        frame_errors[0] = max(frame_errors[0], int(kv.value))

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, reliable)

    churn = []  # the extra subscribers while they exist
    churn_counts = {"joined": 0, "left": 0, "extra_messages": 0}

    def count(_msg):
        churn_counts["extra_messages"] += 1

    def join():
        best = QoSProfile(depth=2, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
        churn.extend([
            node.create_subscription(CompressedImage, f"{base}/overlay/compressed", count, best),
            node.create_subscription(CompressedImage, f"{base}/mask/compressed", count, best),
            node.create_subscription(GroundingArray, f"{base}/detections", count, reliable),
            node.create_subscription(String, f"{base}/description", count, reliable),
        ])
        churn_counts["joined"] += 1

    def leave():
        while churn:
            node.destroy_subscription(churn.pop())
        churn_counts["left"] += 1

    rng = random.Random(7)
    start = time.time()
    end = start + a.minutes * 60
    next_cmd, next_click, next_churn, next_rss = start, start + 5, start + a.churn_s, start
    cmd_i = 0
    rss = []  # (t, MiB)
    node_died = False
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        now = time.time()
        if now >= next_cmd:
            prompt_pub.publish(String(data="\n".join(COMMANDS[cmd_i % len(COMMANDS)])))
            cmd_i += 1
            next_cmd += 2
        if now >= next_click:
            p = PointStamped()
            p.header.frame_id = "soak"
            p.point.x, p.point.y = float(rng.randrange(0, 640)), float(rng.randrange(0, 480))
            click_pub.publish(p)
            next_click += 5
        if now >= next_churn:
            leave() if churn else join()
            next_churn += a.churn_s
        if now >= next_rss:
            m = rss_mib(a.pid)
            if m is None:
                node_died = True
                break
            rss.append((now - start, m))
            next_rss += 1

    windows = []
    t = start
    while t < end - 1e-6:
        w_end = min(t + a.window_s, end)
        lat = [ms for (ts, ms) in latencies if t <= ts < w_end]
        windows.append({"from_s": round(t - start, 1), "to_s": round(w_end - start, 1), "results": len(lat),
                        "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)})
        t = w_end
    after_warmup = [m for (ts, m) in rss if ts >= a.warmup_s]
    rss_warm = after_warmup[0] if after_warmup else None
    rss_end = rss[-1][1] if rss else None
    growth = (rss_end - rss_warm) if (rss_warm is not None and rss_end is not None) else None
    # p99 across the windows after the warm-up: the largest over the smallest, less one.
    p99s = [w["p99_ms"] for w in windows if w["p99_ms"] is not None and w["from_s"] >= a.warmup_s]
    spread = (max(p99s) / min(p99s) - 1) if len(p99s) > 1 and min(p99s) > 0 else None
    report = {
        "minutes": a.minutes, "window_s": a.window_s, "warmup_s": a.warmup_s,
        "rss_mib_after_warmup": rss_warm, "rss_mib_end": rss_end, "rss_growth_mib": growth,
        "rss_max_mib": max((m for _, m in rss), default=None),
        "rss_mib_every_10s": [round(m, 1) for (ts, m) in rss[::10]],
        "windows": windows, "p99_spread_after_warmup": spread,
        "frame_errors": frame_errors[0], "node_died": node_died, "commands_sent": cmd_i,
        "results_received": received[0], "churn": churn_counts,
    }
    with open(a.report, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1), flush=True)
    failures = []
    if node_died:
        failures.append("the node died")
    if growth is None or growth > a.max_growth_mib:
        failures.append(f"memory grew {growth} MiB after the warm-up (limit {a.max_growth_mib})")
    if frame_errors[0] > 0:
        failures.append(f"{frame_errors[0]} frame errors")
    if received[0] == 0:
        failures.append("no results received")
    if a.strict_latency and (spread is None or spread > 0.2):
        failures.append(f"p99 across windows after the warm-up spread {spread} (limit 0.2)")
    for f in failures:
        print(f"FAIL {f}", flush=True)
    node.destroy_node()
    rclpy.shutdown()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
