"""Render the sample clip the main command plays: 12 s, 640x480, 30 fps, objects that move, VP8 in WebM.

    python -m models.pixel_sail.render_sample --out models/sample

Writes tabletop.webm (decoded by Debian's gstreamer1.0-plugins-good), commands.txt (one command per line,
including one that names an absent object) and still.jpg (frame 0).
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess

import numpy as np
from PIL import Image

from .tabletop import Obj, Scene, _colour_rgb, render

FPS, SECONDS, W, H = 30, 12, 640, 480
COMMANDS = [
    "pick up the red circle",
    "find the blue square",
    "where is the small yellow star?",
    "grab the green cross",       # absent: must come back "not found"
]


def base_scene() -> Scene:
    rng = np.random.default_rng(424242)
    spec = [  # shape, colour, size, cx, cy, diam, vx, vy (fractions per second)
        ("circle", "red", "large", 0.25, 0.35, 0.18, 0.035, 0.02),
        ("square", "blue", "large", 0.70, 0.30, 0.16, -0.03, 0.025),
        ("star", "yellow", "small", 0.55, 0.72, 0.09, 0.02, -0.03),
        ("star", "yellow", "large", 0.20, 0.75, 0.17, 0.0, 0.0),
        ("ring", "purple", "small", 0.85, 0.75, 0.08, -0.02, -0.01),
        ("triangle", "white", "small", 0.45, 0.20, 0.09, 0.0, 0.03),
    ]
    scene = Scene(table="wood", table_rgb=(150.0, 111.0, 74.0), light=(0.6, 0.8, 0.15), noise=4.0,
                  blur=0.5, seed=7)
    motions = []
    for shape, colour, size, cx, cy, d, vx, vy in spec:
        ang = float(rng.uniform(0, 2 * np.pi)) if shape not in ("circle", "ring") else 0.0
        scene.objects.append(Obj(shape, colour, size, cx, cy, d, ang, _colour_rgb(rng, colour), (0.5, 0.5, 0.1)))
        motions.append((vx, vy))
    return scene, motions


def frame_scene(scene: Scene, motions, t: float, n: int) -> Scene:
    s = copy.deepcopy(scene)
    s.seed = 1000 + n  # fresh sensor noise every frame
    for o, (vx, vy) in zip(s.objects, motions):
        # back and forth: a triangle wave keeps objects inside the frame
        ph = (t / SECONDS) * 2
        tri = ph if ph < 1 else 2 - ph
        o.cx = o.cx + vx * SECONDS / 2 * tri
        o.cy = o.cy + vy * SECONDS / 2 * tri
        if o.shape not in ("circle", "ring"):
            o.angle += 0.3 * t
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/sample")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    scene, motions = base_scene()
    cmd = ["gst-launch-1.0", "-q", "fdsrc", "fd=0", "!",
           f"rawvideoparse", f"width={W}", f"height={H}", "format=rgb", f"framerate={FPS}/1", "!",
           "videoconvert", "!", "video/x-raw,format=I420", "!",
           "vp8enc", "deadline=1", "target-bitrate=1200000", "keyframe-max-dist=60", "!",
           "webmmux", "!", "filesink", f"location={a.out}/tabletop.webm"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for n in range(FPS * SECONDS):
        img, _ = render(frame_scene(scene, motions, n / FPS, n), W, H)
        if n == 0:
            Image.fromarray(img).save(f"{a.out}/still.jpg", quality=92)
        proc.stdin.write(img.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("gst-launch-1.0 failed to encode the sample clip")
    with open(f"{a.out}/commands.txt", "w") as f:
        f.write("\n".join(COMMANDS) + "\n")
    print(f"wrote {a.out}/tabletop.webm ({os.path.getsize(a.out + '/tabletop.webm') / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
