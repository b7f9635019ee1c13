"""Depth fixtures for the Rust tests of 3-D positions: rendered scenes with their true masks and 3-D truth.

    python -m models.pixel_sail.make_depth_fixtures --out tests/fixtures/depth

Writes one folder per scene (see SCENES) holding rgb.jpg (the colour frame, 640x480), depth.png (16-bit
grayscale PNG, millimetres, aligned to the colour frame), labels.png (8-bit: 0 = table, k = object k, the
colour renderer's labels), camera_info.yaml (the colour camera, camera_calibration layout) and truth.json
(`depth.truth_3d` per object plus a command naming it). Deterministic: the same files on every run.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from PIL import Image

from .depth import Camera, camera_info_yaml, render_depth, truth_3d
from .expressions import referring_expression
from .tabletop import render, sample_scene

W, H = 640, 480
MILD_BARREL = (-0.12, 0.03, 0.001, -0.0005, 0.0)  # plumb_bob k1 k2 p1 p2 k3, a webcam-like lens
# name: (test-split seed, depth width, depth height, distortion) — why each scene is here
SCENES = {
    "six_objects": (3_000_029, W, H, (0.0,) * 5),      # six objects, five shapes, a ring with the table inside
    "occluded": (3_000_028, W, H, (0.0,) * 5),         # the blue square is a quarter hidden under the white circle
    "depth_320x240": (3_000_009, 320, 240, (0.0,) * 5),  # depth at half the colour resolution
    "distorted": (3_000_038, W, H, MILD_BARREL),       # a lens with distortion: truth is undistorted
}
RGB_QUALITY = 90


def command_for(scene, idx: int) -> str | None:
    """A command that names object idx alone: "the <colour> <shape>" when that is unique (how people ask), else
    the generator's shortest referring expression."""
    o = scene.objects[idx]
    if sum(p.colour == o.colour and p.shape == o.shape for p in scene.objects) == 1:
        return f"the {o.colour} {o.shape}"
    named = referring_expression(scene, idx, np.random.default_rng(scene.seed))
    return named[0] if named else None


def write_scene(out: str, seed: int, depth_w: int, depth_h: int, distortion: tuple):
    os.makedirs(out, exist_ok=True)
    scene = sample_scene(seed)
    cam = Camera.looking_down(W, H, d=distortion)
    rgb, labels = render(scene, W, H)
    Image.fromarray(rgb).save(f"{out}/rgb.jpg", quality=RGB_QUALITY)
    Image.fromarray(labels).save(f"{out}/labels.png", optimize=True)
    Image.fromarray(render_depth(scene, depth_w, depth_h, cam)).save(f"{out}/depth.png", optimize=True)
    with open(f"{out}/camera_info.yaml", "w") as f:
        f.write(camera_info_yaml(cam))
    objects = truth_3d(scene, cam)
    for idx, entry in enumerate(objects):
        entry["command"] = command_for(scene, idx)
    truth = {"seed": seed, "width": W, "height": H, "depth_width": depth_w, "depth_height": depth_h,
             "depth_unit_m": 0.001, "table_m": cam.table_m, "k": cam.k, "d": list(cam.d),
             "distortion_model": "plumb_bob", "objects": objects}
    with open(f"{out}/truth.json", "w") as f:  # one key, or one object, a line
        rows = [f' "{k}": {json.dumps(v)}' for k, v in truth.items() if k != "objects"]
        objs = ",\n".join(f"  {json.dumps(o)}" for o in objects)
        f.write("{\n" + ",\n".join(rows) + f',\n "objects": [\n{objs}\n ]\n}}\n')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/depth")
    a = ap.parse_args()
    for name, (seed, dw, dh, dist) in SCENES.items():
        write_scene(f"{a.out}/{name}", seed, dw, dh, dist)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.out) for f in fs)
    print(f"wrote {len(SCENES)} scenes to {a.out} ({total / 1e3:.0f} KB)")


if __name__ == "__main__":
    main()
