"""Depth images, intrinsics and 3-D ground truth for tabletop scenes, seen by a camera looking straight down.

Each object of a scene is a prism standing on the table: its top face is the shape `tabletop.render` draws,
its height is fixed by the object (`object_height_mm`). The camera's optical axis is perpendicular to the
table, so every surface is a plane of constant depth: the table at `Camera.table_m`, an object's top at
table − height. A depth pixel holds the top of the topmost object covering it, in the colour renderer's
painter's order, blended at edges by the same anti-aliased coverage as the colour image — so borders carry
mixed ("flying") depths between an object and what lies below, as real sensors give. Depth is 16UC1: whole
millimetres, heights are whole millimetres too, so a fully covered top pixel holds its depth exactly.

Pixel coordinates follow ROS/OpenCV: pixel (u, v) = (column, row) has its centre at (u, v), so the image
centre of a W×H image is ((W − 1) / 2, (H − 1) / 2). The camera optical frame is x right, y down, z forward
(toward the table), in metres.

This module only reads scenes; it imports nothing into `tabletop.render`, whose output stays as it was.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .tabletop import Scene, shape_alpha

TABLE_M = 0.80        # distance from the camera to the table plane
FOCAL_640 = 525.0     # fx = fy at 640 pixels wide, scaled with the width
HEIGHT_MM = (20, 100)  # object heights, inclusive
SUPERSAMPLE = 2       # as tabletop.render: its edge coverage is what the depth blends by


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with plumb_bob distortion (k1, k2, p1, p2, k3) over the table, for width×height."""
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    d: tuple = (0.0, 0.0, 0.0, 0.0, 0.0)
    table_m: float = TABLE_M
    name: str = "tabletop"

    @classmethod
    def looking_down(cls, width: int, height: int, d: tuple = (0.0,) * 5, table_m: float = TABLE_M) -> Camera:
        f = FOCAL_640 * width / 640
        return cls(width, height, f, f, (width - 1) / 2, (height - 1) / 2, tuple(float(x) for x in d), table_m)

    @property
    def k(self) -> list:
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]

    def distort(self, x: np.ndarray, y: np.ndarray):
        """Normalised undistorted coordinates → normalised distorted ones (the plumb_bob model)."""
        k1, k2, p1, p2, k3 = self.d
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        return (x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y)

    def project(self, x: np.ndarray, y: np.ndarray, z: np.ndarray):
        """Points in the optical frame → pixel coordinates (u, v)."""
        xd, yd = self.distort(np.asarray(x) / z, np.asarray(y) / z)
        return self.fx * xd + self.cx, self.fy * yd + self.cy

    def back_project(self, u: np.ndarray, v: np.ndarray, z: float | np.ndarray):
        """Pixel coordinates at depth z → (x, y) in the optical frame, undistorting by fixed-point iteration."""
        xd = (np.asarray(u, np.float64) - self.cx) / self.fx
        yd = (np.asarray(v, np.float64) - self.cy) / self.fy
        x, y = xd.copy(), yd.copy()
        if any(self.d):
            for _ in range(100):
                ex, ey = self.distort(x, y)
                x, y = x + (xd - ex), y + (yd - ey)
            ex, ey = self.distort(x, y)
            if max(np.abs(ex - xd).max(initial=0), np.abs(ey - yd).max(initial=0)) > 1e-12:
                raise ValueError(f"undistortion did not converge for distortion {self.d}")
        return x * z, y * z


def camera_info_yaml(cam: Camera) -> str:
    """The calibration YAML in the layout ROS camera_calibration writes (and camera_info_manager reads)."""
    def row(values):
        return "[" + ", ".join("%8f" % v for v in values) + "]"
    p = [cam.fx, 0.0, cam.cx, 0.0, 0.0, cam.fy, cam.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return (f"image_width: {cam.width}\nimage_height: {cam.height}\ncamera_name: {cam.name}\n"
            f"camera_matrix:\n  rows: 3\n  cols: 3\n  data: {row(cam.k)}\n"
            f"distortion_model: plumb_bob\n"
            f"distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: {row(cam.d)}\n"
            f"rectification_matrix:\n  rows: 3\n  cols: 3\n  data: {row([1, 0, 0, 0, 1, 0, 0, 0, 1])}\n"
            f"projection_matrix:\n  rows: 3\n  cols: 4\n  data: {row(p)}\n")


def object_height_mm(o) -> int:
    """The object's height: fixed by its shape, colour, size and diameter (not by its place, angle or the scene's
    seed), so an object keeps its height while it moves, and scenes sample nothing new."""
    key = f"{o.shape}|{o.colour}|{o.size}|{o.diam:.6f}".encode()
    n = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
    return HEIGHT_MM[0] + n % (HEIGHT_MM[1] - HEIGHT_MM[0] + 1)


def object_coverage(o, width: int, height: int):
    """(y0, y1, x0, x1, alpha) — the object's anti-aliased coverage inside its box, exactly as `render` computes
    it; None when the box is empty."""
    rad = o.diam / 2 * width
    cx, cy = o.cx * width, o.cy * height
    x0, x1 = max(0, int(cx - rad - 4)), min(width, int(np.ceil(cx + rad + 4)))
    y0, y1 = max(0, int(cy - rad - 4)), min(height, int(np.ceil(cy + rad + 4)))
    if x1 <= x0 or y1 <= y0:
        return None
    ss = SUPERSAMPLE
    sy, sx = np.mgrid[0:(y1 - y0) * ss, 0:(x1 - x0) * ss].astype(np.float32)
    sub = shape_alpha(o.shape, o.angle, x0 + (sx + 0.5) / ss - cx, y0 + (sy + 0.5) / ss - cy, rad)
    alpha = sub.reshape(y1 - y0, ss, x1 - x0, ss).mean((1, 3)).astype(np.float32)
    return y0, y1, x0, x1, alpha


def render_depth(scene: Scene, width: int, height: int, camera: Camera) -> np.ndarray:
    """Depth in millimetres (uint16 height×width, 16UC1) of the scene at this resolution. The values do not depend
    on the intrinsics (every surface is parallel to the image plane), so a depth image at another resolution than
    the colour camera's is the same scene sampled more coarsely."""
    table_mm = round(camera.table_m * 1000)
    depth = np.full((height, width), float(table_mm))
    for o in scene.objects:
        cov = object_coverage(o, width, height)
        if cov is None:
            continue
        y0, y1, x0, x1, alpha = cov
        region = depth[y0:y1, x0:x1]
        region[:] = region * (1 - alpha) + (table_mm - object_height_mm(o)) * alpha
    return np.round(depth).astype(np.uint16)


def visible_tops(scene: Scene, width: int, height: int):
    """(labels, tops): labels as `render` returns them (1 + index where an object covers at least half a pixel,
    later objects over earlier ones); tops[i] the pixels object i covers fully with nothing drawn over them."""
    labels = np.zeros((height, width), np.uint8)
    covs = [object_coverage(o, width, height) for o in scene.objects]
    for idx, cov in enumerate(covs):
        if cov is not None:
            y0, y1, x0, x1, alpha = cov
            labels[y0:y1, x0:x1][alpha >= 0.5] = idx + 1
    tops = [np.zeros((height, width), bool) for _ in covs]
    later = np.zeros((height, width), bool)  # touched by an object drawn after the current one
    for idx in reversed(range(len(covs))):
        if covs[idx] is None:
            continue
        y0, y1, x0, x1, alpha = covs[idx]
        tops[idx][y0:y1, x0:x1] = (alpha == 1.0) & ~later[y0:y1, x0:x1]
        later[y0:y1, x0:x1] |= alpha > 0
    return labels, tops


def truth_3d(scene: Scene, camera: Camera) -> list:
    """Per object, in scene order: its label, attributes, height and the 3-D truth of its visible top surface at
    the camera's resolution — centroid [x, y, z] (m, the mean of every fully covered visible top pixel
    back-projected at z = table − height), extent [x, y, 0] (m, between the outermost of those pixels' centres),
    pixels (how many there are) and label_pixels (the object's pixels in the labels image). An object with no
    fully covered visible pixel has centroid and extent None."""
    labels, tops = visible_tops(scene, camera.width, camera.height)
    out = []
    for idx, o in enumerate(scene.objects):
        h_mm = object_height_mm(o)
        z = (round(camera.table_m * 1000) - h_mm) / 1000
        vs, us = np.nonzero(tops[idx])
        entry = {"label": idx + 1, "shape": o.shape, "colour": o.colour, "size": o.size, "height_m": h_mm / 1000,
                 "centroid": None, "extent": None, "pixels": int(len(us)),
                 "label_pixels": int((labels == idx + 1).sum())}
        if len(us):
            x, y = camera.back_project(us, vs, z)
            # micrometres: far finer than any estimate, and the JSON stays short
            entry["centroid"] = [round(float(x.mean()), 6), round(float(y.mean()), 6), z]
            entry["extent"] = [round(float(x.max() - x.min()), 6), round(float(y.max() - y.min()), 6), 0.0]
        out.append(entry)
    return out
