"""Render the sample clip the main command plays: 12 s, 640x480, 30 fps, objects that move, VP8 in WebM.

    python -m models.pixel_sail.render_sample --out models/sample
    python -m models.pixel_sail.render_sample --out models/sample --depth-only

Writes tabletop.webm (decoded by Debian's gstreamer1.0-plugins-good), commands.txt (one command per line,
including one that names an absent object) and still.jpg (frame 0), and the clip's aligned depth (`depth.py`):
depth/NNNN.png (frame n of the clip is file n, 0000…0359: 16-bit grayscale PNG, millimetres, the table 800 mm
from a camera looking straight down, each object a prism 20–100 mm high, edges blended as the colour image's),
camera_info.yaml (the camera_calibration YAML of that camera: fx = fy = 525, cx = 319.5, cy = 239.5, no
distortion) and truth_3d.jsonl (one line per frame: {"frame": n, "objects": [depth.truth_3d entries]}, metres
in the camera optical frame). --depth-only writes only the depth, camera_info.yaml and truth_3d.jsonl and
leaves tabletop.webm, still.jpg and commands.txt as they are.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess

import numpy as np
from PIL import Image

from .depth import Camera, camera_info_yaml, render_depth, truth_3d
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


def write_depth(out: str, scene: Scene, motions):
    """depth/NNNN.png, camera_info.yaml and truth_3d.jsonl for every frame of the clip."""
    cam = Camera.looking_down(W, H)
    os.makedirs(f"{out}/depth", exist_ok=True)
    with open(f"{out}/truth_3d.jsonl", "w") as truth:
        for n in range(FPS * SECONDS):
            s = frame_scene(scene, motions, n / FPS, n)
            Image.fromarray(render_depth(s, W, H, cam)).save(f"{out}/depth/{n:04d}.png", optimize=True)
            truth.write(json.dumps({"frame": n, "objects": truth_3d(s, cam)}) + "\n")
    with open(f"{out}/camera_info.yaml", "w") as f:
        f.write(camera_info_yaml(cam))
    print(f"wrote {out}/depth/0000.png … {FPS * SECONDS - 1:04d}.png, camera_info.yaml, truth_3d.jsonl")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/sample")
    ap.add_argument("--depth-only", action="store_true", help="write only depth/, camera_info.yaml, truth_3d.jsonl")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    scene, motions = base_scene()
    write_depth(a.out, scene, motions)
    if a.depth_only:
        return
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
