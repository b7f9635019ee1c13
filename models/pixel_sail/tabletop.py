"""Procedural tabletop scenes per DESIGN.md §4: sampling and rendering, deterministic by seed.

A scene is sampled in frame-independent units (centres as fractions of width/height, diameters as a
fraction of width) and can be rendered at any size. Rendering works inside each object's bounding box
so a 320x240 scene takes a few milliseconds and a 640x480 one a few tens.
"""

from __future__ import annotations

import colorsys
import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .vocab import COLOURS, SHAPES

TABLES = {  # base RGB of the neutral table colours
    "wood": (150, 111, 74), "light wood": (186, 150, 110), "grey": (128, 128, 128),
    "light grey": (175, 175, 170), "beige": (205, 190, 160), "dark felt": (48, 62, 55),
}
HUES = {"red": (-8, 8), "orange": (22, 34), "yellow": (50, 58), "green": (100, 140),
        "blue": (205, 232), "purple": (268, 290)}


@dataclass
class Obj:
    shape: str
    colour: str
    size: str          # "small" | "large"
    cx: float          # centre, fraction of width
    cy: float          # centre, fraction of height
    diam: float        # diameter, fraction of width
    angle: float       # radians
    rgb: tuple         # base colour, 0..1
    shade: tuple       # (dx, dy, strength) of the shading gradient


@dataclass
class Scene:
    table: str
    table_rgb: tuple
    light: tuple       # (dx, dy, strength) of the lighting gradient
    noise: float       # per-pixel noise sigma on 0..255
    objects: list = field(default_factory=list)
    blur: float = 0.0  # sigma in pixels at 640 width
    brightness: float = 1.0
    contrast: float = 1.0
    jpeg: int = 0      # JPEG quality, 0 = none
    seed: int = 0


def _colour_rgb(rng: np.random.Generator, colour: str) -> tuple:
    if colour == "white":
        h, s, v = rng.uniform(0, 1), rng.uniform(0.0, 0.1), rng.uniform(0.86, 0.98)
    elif colour == "black":
        h, s, v = rng.uniform(0, 1), rng.uniform(0.0, 0.25), rng.uniform(0.06, 0.18)
    else:
        lo, hi = HUES[colour]
        h = (rng.uniform(lo, hi) % 360) / 360.0
        s, v = rng.uniform(0.65, 0.95), rng.uniform(0.62, 0.95)
    return colorsys.hsv_to_rgb(h, s, v)


def shape_alpha(shape: str, angle: float, xs: np.ndarray, ys: np.ndarray, radius: float) -> np.ndarray:
    """Coverage (0/1) of points (xs, ys) relative to the centre, for a shape of the given radius."""
    c, s = np.cos(angle), np.sin(angle)
    u, v = (xs * c + ys * s) / radius, (-xs * s + ys * c) / radius
    r = np.hypot(u, v)
    if shape == "circle":
        return r <= 1.0
    if shape == "ring":
        return (r <= 1.0) & (r >= 0.55)
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.78
    if shape == "cross":
        w = 0.32
        return ((np.abs(u) <= w) & (np.abs(v) <= 0.95)) | ((np.abs(v) <= w) & (np.abs(u) <= 0.95))
    if shape == "triangle":  # equilateral, circumradius 1, pointing "up" in (u, v)
        inside = v <= 0.5
        for a in (np.pi / 6, 5 * np.pi / 6):
            inside &= (u * np.cos(a) - v * np.sin(a)) <= 0.5
        return inside
    if shape == "star":  # five points: outer radius 1, inner 0.42, linear in angle between
        theta = np.mod(np.arctan2(v, u) + np.pi / 2, 2 * np.pi / 5) / (2 * np.pi / 5)
        lim = 0.42 + 0.58 * np.abs(1 - 2 * theta)
        return r <= lim
    raise ValueError(shape)


def sample_scene(seed: int, n_objects: int | None = None) -> Scene:
    rng = np.random.default_rng(seed)
    table = list(TABLES)[rng.integers(len(TABLES))]
    base = np.array(TABLES[table], np.float32) * rng.uniform(0.9, 1.1)
    ang = rng.uniform(0, 2 * np.pi)
    scene = Scene(table=table, table_rgb=tuple(np.clip(base, 0, 255)),
                  light=(float(np.cos(ang)), float(np.sin(ang)), float(rng.uniform(0.05, 0.25))),
                  noise=float(rng.uniform(2, 10)), blur=float(rng.uniform(0, 1.2)),
                  brightness=float(rng.uniform(0.85, 1.15)), contrast=float(rng.uniform(0.85, 1.15)),
                  jpeg=int(rng.integers(45, 95)) if rng.random() < 0.5 else 0, seed=seed)
    n = n_objects if n_objects is not None else int(rng.integers(1, 7))
    grid_w, grid_h = 160, 120  # overlap is checked on a coarse raster
    occupied = []
    tries = 0
    while len(scene.objects) < n and tries < 200:
        tries += 1
        size = "small" if rng.random() < 0.5 else "large"
        diam = rng.uniform(0.06, 0.10) if size == "small" else rng.uniform(0.14, 0.22)
        rad_x, rad_y = diam / 2, diam / 2 * 4 / 3  # radius in width / height fractions (4:3 frame)
        cx, cy = rng.uniform(rad_x + 0.01, 1 - rad_x - 0.01), rng.uniform(rad_y + 0.01, 1 - rad_y - 0.01)
        shape = SHAPES[rng.integers(len(SHAPES))]
        colour = COLOURS[rng.integers(len(COLOURS))]
        angle = float(rng.uniform(0, 2 * np.pi)) if shape not in ("circle", "ring") else 0.0
        ys, xs = np.mgrid[0:grid_h, 0:grid_w]
        m = shape_alpha(shape, angle, (xs + 0.5) - cx * grid_w, (ys + 0.5) - cy * grid_h, diam / 2 * grid_w)
        area = m.sum()
        if area == 0 or any((m & o).sum() > 0.25 * min(area, o.sum()) for o in occupied):
            continue
        sa = rng.uniform(0, 2 * np.pi)
        scene.objects.append(Obj(shape, colour, size, float(cx), float(cy), float(diam), angle,
                                 _colour_rgb(rng, colour),
                                 (float(np.cos(sa)), float(np.sin(sa)), float(rng.uniform(0.05, 0.18)))))
        occupied.append(m)
    return scene


def _box_blur(a: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return a
    pad = k // 2
    p = np.pad(a, ((pad, pad), (pad, pad)), mode="edge").cumsum(0).cumsum(1)
    p = np.pad(p, ((1, 0), (1, 0)))
    h, w = a.shape
    return (p[k:k + h, k:k + w] - p[:h, k:k + w] - p[k:k + h, :w] + p[:h, :w]) / (k * k)


def _gauss_blur_rgb(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma < 0.3:
        return img
    r = int(np.ceil(2.5 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    out = np.pad(img, ((r, r), (0, 0), (0, 0)), mode="edge")
    out = sum(k[i] * out[i:i + img.shape[0]] for i in range(2 * r + 1))
    out = np.pad(out, ((0, 0), (r, r), (0, 0)), mode="edge")
    return sum(k[i] * out[:, i:i + img.shape[1]] for i in range(2 * r + 1))


def render(scene: Scene, width: int = 640, height: int = 480, effects: bool = True):
    """Render to (rgb uint8 HxWx3, labels uint8 HxW) — labels hold 1 + object index of the visible part."""
    rng = np.random.default_rng(scene.seed + 7919 * width)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy, st = scene.light
    light = 1 + st * (((xs / width - 0.5) * dx + (ys / height - 0.5) * dy) * 2)
    grain = _box_blur(rng.normal(0, 1, (height, width)).astype(np.float32), max(1, width // 160))
    img = np.array(scene.table_rgb, np.float32)[None, None, :] * (light * (1 + 0.04 * grain))[..., None]
    labels = np.zeros((height, width), np.uint8)
    ss = 2  # supersampling for anti-aliased edges
    for idx, o in enumerate(scene.objects):
        rad = o.diam / 2 * width
        cx, cy = o.cx * width, o.cy * height
        x0, x1 = max(0, int(cx - rad - 4)), min(width, int(np.ceil(cx + rad + 4)))
        y0, y1 = max(0, int(cy - rad - 4)), min(height, int(np.ceil(cy + rad + 4)))
        if x1 <= x0 or y1 <= y0:
            continue
        sy, sx = np.mgrid[0:(y1 - y0) * ss, 0:(x1 - x0) * ss].astype(np.float32)
        sub = shape_alpha(o.shape, o.angle, x0 + (sx + 0.5) / ss - cx, y0 + (sy + 0.5) / ss - cy, rad)
        alpha = sub.reshape(y1 - y0, ss, x1 - x0, ss).mean((1, 3)).astype(np.float32)
        # soft shadow: offset, blurred, darkens what is below
        off = max(1, int(round(0.006 * width)))
        sh = _box_blur(alpha, max(3, int(0.01 * width) | 1)) * 0.35
        region = img[y0:y1, x0:x1]
        shy0, shx0 = min(off, y1 - y0), min(off, x1 - x0)
        region[shy0:, shx0:] *= (1 - sh[:region.shape[0] - shy0, :region.shape[1] - shx0])[..., None]
        lx, ly = (sx[::ss, ::ss] / ss + x0 - cx) / rad, (sy[::ss, ::ss] / ss + y0 - cy) / rad
        shade = 1 + o.shade[2] * (lx * o.shade[0] + ly * o.shade[1])
        col = np.array(o.rgb, np.float32)[None, None, :] * 255 * shade[..., None]
        region[:] = region * (1 - alpha[..., None]) + col * alpha[..., None]
        labels[y0:y1, x0:x1][alpha >= 0.5] = idx + 1
    if effects:
        img = _gauss_blur_rgb(img, scene.blur * width / 640)
        img = (img - 128) * scene.contrast + 128 * scene.brightness
        img += rng.normal(0, scene.noise, img.shape).astype(np.float32)
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if effects and scene.jpeg:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=scene.jpeg)
        img = np.asarray(Image.open(buf).convert("RGB")).copy()
    return img, labels
