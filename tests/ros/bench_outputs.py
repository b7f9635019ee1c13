"""Rates and stamp-to-receive latency of every pixel-sail output, as an rclpy subscriber sees them.

  bench_outputs.py --ns / --node pixel_sail --seconds 20 [--command "pick up the red circle"]

Subscribes to ~/detections, ~/mask, ~/mask/compressed, ~/overlay, ~/overlay/compressed (raw topics
best effort, the others reliable, as the node offers them), sets the command, waits 5 s, then
measures for --seconds: messages per second, payload bytes, and receive time − header stamp (the
capture time) p50/p95/max. Prints a Markdown table. Needs the Fast DDS profile for the raw topics
(FASTRTPS_DEFAULT_PROFILES_FILE / FASTDDS_DEFAULT_PROFILES_FILE = launch/fastdds_bigbuf.xml).
"""
import argparse
import time

import numpy as np
import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from pixel_sail_msgs.msg import GroundingArray


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", default="/")
    ap.add_argument("--node", default="pixel_sail")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--command", default="pick up the red circle")
    a = ap.parse_args()
    rclpy.init()
    node = rclpy.create_node("pixel_sail_bench")
    base = f"{a.ns.rstrip('/')}/{a.node}"
    be = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
    rel = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
    topics = [("~/detections", GroundingArray, rel), ("~/mask", Image, be), ("~/mask/compressed", CompressedImage, rel),
              ("~/overlay", Image, be), ("~/overlay/compressed", CompressedImage, rel)]
    samples = {t: [] for t, _, _ in topics}
    state = {"measuring": False}

    def on(topic):
        def cb(msg):
            if state["measuring"]:
                now = time.time_ns()
                stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
                size = len(msg.data) if hasattr(msg, "data") else sum(len(g.mask_rle_counts) * 4 + 64 for g in msg.groundings)
                samples[topic].append(((now - stamp) / 1e6, size))
        return cb

    for t, ty, q in topics:
        node.create_subscription(ty, f"{base}/{t[2:]}", on(t), q)
    pub = node.create_publisher(String, f"{base}/prompt", rel)
    start, sent = time.time(), False
    while time.time() - start < a.warmup:
        if not sent and time.time() - start > 1.5:  # after discovery
            pub.publish(String(data=a.command))
            sent = True
        rclpy.spin_once(node, timeout_sec=0.05)
    state["measuring"] = True
    t0 = time.time()
    while time.time() - t0 < a.seconds:
        rclpy.spin_once(node, timeout_sec=0.05)
    dt = time.time() - t0
    print(f"| output | QoS | msgs/s | payload | latency p50 | p95 | max |")
    print(f"|---|---|---|---|---|---|---|")
    for t, _, q in topics:
        s = samples[t]
        qos = "best effort" if q is be else "reliable"
        if not s:
            print(f"| `{t}` | {qos} | 0 | – | – | – | – |")
            continue
        lat = np.array([x for x, _ in s])
        size = np.median([b for _, b in s])
        print(f"| `{t}` | {qos} | {len(s) / dt:.1f} | {size / 1024:.1f} KiB | {np.percentile(lat, 50):.1f} ms | "
              f"{np.percentile(lat, 95):.1f} ms | {lat.max():.1f} ms |")
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
