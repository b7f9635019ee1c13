"""A second, independent renderer of the tabletop domain (DESIGN.md §4), for checking a model on scenes it
was not trained on.

Only the scene dataclasses are shared with tabletop.py, so that expressions.py (commands, no-target,
descriptions, visual prompts — part of the §4 contract, not of the look) works on these scenes unchanged.
Everything else is this file's own: its random streams, placement, HSV colour sampling, shape geometry
(PIL polygons on a supersampled canvas), wood-grain / linen / felt-speckle table textures, a point light
that both shades the objects and casts blurred offset shadows, and PIL camera effects. A seed gives a scene
of this renderer's own, not tabletop's scene for that seed redrawn: other objects, other counts.

    from models.pixel_sail import renderer_b
    img, labels = renderer_b.render(renderer_b.sample_scene(seed), 640, 480)

Interpretation of §4 where it leaves room: a shape's "diameter" is the diameter of its smallest enclosing
circle; overlap is measured between whole silhouettes (pixels with coverage >= 0.5); labels hold the
visible part (1 + object index, later objects drawn on top); placement keeps every object whole inside a
4:3 frame, as the canonical 640x480 camera frame.
"""

from __future__ import annotations

import colorsys
import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from .tabletop import Obj, Scene  # the data model only; no drawing code is shared
from .vocab import COLOURS, SHAPES

# Named hues in degrees (red wraps through 0); saturation and value are jittered per object.
HUE_DEG = {"red": (-10, 5), "orange": (20, 34), "yellow": (47, 58), "green": (100, 140),
           "blue": (205, 235), "purple": (265, 290)}
VALUE = {"yellow": (0.78, 0.95), "orange": (0.72, 0.95)}  # dark yellow/orange would read as olive/brown
TABLE_HSV = {"wood": (28, 0.40, 0.56), "grey": (0, 0.0, 0.52), "beige": (40, 0.22, 0.80),
             "dark felt": (150, 0.22, 0.24)}
SIZE_RANGE = {"small": (0.06, 0.10), "large": (0.14, 0.22)}
COUNT_P = [0.12, 0.18, 0.2, 0.2, 0.16, 0.14]  # 1..6 objects
SYMMETRY = {"square": math.pi / 2, "triangle": 2 * math.pi / 3, "star": 2 * math.pi / 5, "cross": math.pi / 2}
MAX_OVERLAP = 0.22  # checked on a 320x240 raster: a margin under §4's 25 % for rasterisation differences
MIN_VISIBLE = 0.6   # several later objects may each cover 22 %: keep most of every object in view
SS = 4              # supersampling factor for anti-aliased edges


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, 0xB])  # own streams, unrelated to tabletop's


def _hsv(h_deg: float, s: float, v: float) -> tuple:
    return colorsys.hsv_to_rgb((h_deg % 360) / 360, s, v)


def object_colour(rng: np.random.Generator, colour: str) -> tuple:
    """Base RGB (0..1) for a named colour: hue triangular inside the named range, s/v jittered."""
    if colour == "white":
        return _hsv(rng.uniform(0, 360), rng.uniform(0, 0.08), rng.uniform(0.86, 0.97))
    if colour == "black":
        return _hsv(rng.uniform(0, 360), rng.uniform(0, 0.3), rng.uniform(0.07, 0.2))
    lo, hi = HUE_DEG[colour]
    vlo, vhi = VALUE.get(colour, (0.58, 0.92))
    return _hsv(rng.triangular(lo, (lo + hi) / 2, hi), rng.uniform(0.6, 0.95), rng.uniform(vlo, vhi))


def outline(shape: str, angle: float) -> list:
    """[(points, fill)] of a shape with circumradius 1, drawn in order (fill 0 cuts the ring's hole)."""
    def ngon(n, r=1.0, phase=0.0):
        return [(r * math.cos(phase + 2 * math.pi * k / n), r * math.sin(phase + 2 * math.pi * k / n))
                for k in range(n)]

    def rot(pts):
        c, s = math.cos(angle), math.sin(angle)
        return [(x * c - y * s, x * s + y * c) for x, y in pts]

    if shape == "circle":
        return [(ngon(120), 255)]
    if shape == "ring":
        return [(ngon(120), 255), (ngon(120, 0.5), 0)]
    if shape == "square":
        return [(rot(ngon(4, 1.0, math.pi / 4)), 255)]
    if shape == "triangle":
        return [(rot(ngon(3, 1.0, -math.pi / 2)), 255)]
    if shape == "star":  # five tips on the unit circle, inner vertices at 0.48
        pts = [((1.0 if k % 2 == 0 else 0.48) * math.cos(-math.pi / 2 + math.pi * k / 5),
                (1.0 if k % 2 == 0 else 0.48) * math.sin(-math.pi / 2 + math.pi * k / 5)) for k in range(10)]
        return [(rot(pts), 255)]
    if shape == "cross":  # a plus whose arm-end corners touch the unit circle, arm half-width 0.36
        a = 0.36
        b = math.sqrt(1 - a * a)
        quarter = [(b, -a), (b, a), (a, a)]
        pts = []
        for q in range(4):  # the same three corners rotated by 90 degrees each time
            pts += [(x * round(math.cos(q * math.pi / 2)) - y * round(math.sin(q * math.pi / 2)),
                     x * round(math.sin(q * math.pi / 2)) + y * round(math.cos(q * math.pi / 2))) for x, y in quarter]
        return [(rot(pts), 255)]
    raise ValueError(shape)


def silhouette(o: Obj, width: int, height: int, ss: int = SS):
    """(x0, y0, alpha): coverage 0..1 (float32) of the whole object over a pixel box with corner (x0, y0)."""
    r = o.diam / 2 * width
    cx, cy = o.cx * width, o.cy * height
    x0, y0 = math.floor(cx - r) - 1, math.floor(cy - r) - 1
    x1, y1 = math.ceil(cx + r) + 1, math.ceil(cy + r) + 1
    canvas = Image.new("L", ((x1 - x0) * ss, (y1 - y0) * ss), 0)
    draw = ImageDraw.Draw(canvas)
    for pts, fill in outline(o.shape, o.angle):  # PIL puts integer coordinates at pixel centres: -0.5
        draw.polygon([((cx - x0 + px * r) * ss - 0.5, (cy - y0 + py * r) * ss - 0.5) for px, py in pts], fill=fill)
    alpha = canvas.resize((x1 - x0, y1 - y0), Image.BOX) if ss > 1 else canvas
    return x0, y0, np.asarray(alpha, np.float32) / 255


def _box(x0, y0, a, width, height):
    """Frame slices and the matching slices of a box array, clipped to the frame."""
    h, w = a.shape[:2]
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(width, x0 + w), min(height, y0 + h)
    return (slice(fy0, fy1), slice(fx0, fx1)), (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))


def full_mask(o: Obj, width: int, height: int, ss: int = SS) -> np.ndarray:
    """The whole object's silhouette (coverage >= 0.5) as a frame-sized bool mask."""
    x0, y0, a = silhouette(o, width, height, ss)
    m = np.zeros((height, width), bool)
    fr, bx = _box(x0, y0, a, width, height)
    m[fr] = a[bx] >= 0.5
    return m


def sample_scene(seed: int, n_objects: int | None = None) -> Scene:
    rng = _rng(seed, 1)
    table = list(TABLE_HSV)[rng.integers(len(TABLE_HSV))]
    h, s, v = TABLE_HSV[table]
    h = rng.uniform(0, 360) if s == 0 else h + rng.uniform(-6, 6)
    s = rng.uniform(0, 0.04) if s == 0 else s * rng.uniform(0.8, 1.2)
    base = _hsv(h, s, v * rng.uniform(0.88, 1.12))
    # light: a point in frame fractions, usually above the table's top half; strength of its falloff
    light = (float(rng.uniform(-0.3, 1.3)), float(rng.uniform(-0.6, 0.5)), float(rng.uniform(0.08, 0.25)))
    scene = Scene(table=table, table_rgb=tuple(255 * c for c in base), light=light,
                  noise=float(rng.uniform(2, 10)), blur=float(rng.uniform(0, 1.2)),
                  brightness=float(rng.uniform(0.85, 1.15)), contrast=float(rng.uniform(0.85, 1.15)),
                  jpeg=int(rng.integers(60, 96)) if rng.random() < 0.85 else 0, seed=seed)
    n = n_objects if n_objects is not None else 1 + int(rng.choice(6, p=COUNT_P))
    gw, gh = 320, 240  # placement raster
    masks, visible = [], []
    tries = 0
    while len(scene.objects) < n and tries < 400:
        tries += 1
        size = "large" if rng.random() < 0.45 else "small"
        diam = float(rng.uniform(*SIZE_RANGE[size]))
        rx, ry = diam / 2 + 0.012, (diam / 2 + 0.012) * 4 / 3  # whole object in frame, 4:3
        cx = float(rx + (1 - 2 * rx) * rng.beta(1.4, 1.4))  # mildly centre-biased
        cy = float(ry + (1 - 2 * ry) * rng.beta(1.4, 1.4))
        shape = SHAPES[rng.integers(len(SHAPES))]
        colour = COLOURS[rng.integers(len(COLOURS))]
        angle = float(rng.uniform(0, SYMMETRY[shape])) if shape in SYMMETRY else 0.0
        # shading brightens the side facing the light
        tx, ty = light[0] - cx, (light[1] - cy) * 3 / 4
        norm = math.hypot(tx, ty) or 1.0
        shade = (tx / norm, ty / norm, float(rng.uniform(0.08, 0.22)))
        o = Obj(shape, colour, size, cx, cy, diam, angle, object_colour(rng, colour), shade)
        m = full_mask(o, gw, gh, ss=2)
        area = m.sum()
        if any((m & p).sum() > MAX_OVERLAP * min(area, p.sum()) for p in masks):
            continue
        if any((vis & ~m).sum() < MIN_VISIBLE * p.sum() for vis, p in zip(visible, masks)):
            continue
        visible = [vis & ~m for vis in visible] + [m]
        masks.append(m)
        scene.objects.append(o)
    return scene


def _smooth_noise(rng, width, height, cell):
    """Unit-variance noise with blobs about `cell` pixels across: a coarse grid, bicubically upsampled."""
    g = rng.standard_normal((height // cell + 3, width // cell + 3)).astype(np.float32)
    up = Image.fromarray(g).resize((width + 3 * cell, height + 3 * cell), Image.BICUBIC)
    a = np.asarray(up, np.float32)[cell:cell + height, cell:cell + width]
    return (a - a.mean()) / (a.std() + 1e-6)


def _table(scene: Scene, width: int, height: int, rng) -> np.ndarray:
    k = width / 640  # textures are specified at the canonical frame size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if scene.table == "wood":  # planks: warped growth-ring stripes plus fine streaks along the grain
        th = float(rng.choice([0.0, math.pi / 2]) + rng.uniform(-0.12, 0.12))
        v = (-xs * math.sin(th) + ys * math.cos(th)) / k
        period = rng.uniform(14, 30)
        rings = (0.5 + 0.5 * np.sin(2 * np.pi * (v / period + 0.35 * _smooth_noise(rng, width, height, int(160 * k) + 1))))
        streak = rng.standard_normal(int(abs(v).max()) * 2 + 4).astype(np.float32)
        tex = 1 - 0.12 * rings ** 3 + 0.035 * streak[(v + abs(v).max() + 1).astype(int)]
    elif scene.table == "dark felt":  # sparse light and dark fibres on a mottled base
        fibres = (rng.random((height, width)) < 0.04) * rng.choice([-1.0, 1.0], (height, width))
        fib = np.asarray(Image.fromarray(((fibres + 1) * 127.5).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(0.6 * k)), np.float32) / 127.5 - 1
        tex = 1 + 0.5 * fib + 0.05 * _smooth_noise(rng, width, height, int(40 * k) + 1)
    elif scene.table == "beige":  # linen: a fine rotated weave and a little mottling
        th = rng.uniform(0, math.pi)
        u, v = xs * math.cos(th) + ys * math.sin(th), -xs * math.sin(th) + ys * math.cos(th)
        p = 3.2 * k
        tex = 1 + 0.018 * (np.sin(2 * np.pi * u / p) + np.sin(2 * np.pi * v / p)) \
            + 0.03 * _smooth_noise(rng, width, height, int(60 * k) + 1)
    else:  # grey laminate: fine grain and broad cloudy variation
        tex = 1 + 0.025 * _smooth_noise(rng, width, height, max(1, int(2 * k))) \
            + 0.035 * _smooth_noise(rng, width, height, int(120 * k) + 1)
    lx, ly, strength = scene.light
    d = np.hypot(xs / width - lx, (ys / height - ly) * height / width)
    light = 1 + strength * (1 - 2 * np.clip(d / 1.2, 0, 1))  # a radial falloff from the light point
    return np.array(scene.table_rgb, np.float32)[None, None, :] * (light * tex)[..., None]


def render(scene: Scene, width: int = 640, height: int = 480, effects: bool = True):
    """(rgb uint8 HxWx3, labels uint8 HxW): labels hold 1 + object index on the object's visible pixels."""
    rng = _rng(scene.seed, 1000 + width)  # textures and noise differ per frame size, fixed per seed
    img = _table(scene, width, height, rng)
    labels = np.zeros((height, width), np.uint8)
    lx, ly = scene.light[0] * width, scene.light[1] * height
    for i, o in enumerate(scene.objects):
        x0, y0, a = silhouette(o, width, height)
        r, cx, cy = o.diam / 2 * width, o.cx * width, o.cy * height
        # shadow: the silhouette shifted away from the light, blurred, darkening what lies below
        dist = math.hypot(cx - lx, cy - ly) or 1.0
        off = 0.006 * width + 0.06 * r
        sx, sy = round((cx - lx) / dist * off), round((cy - ly) / dist * off)
        blur = 0.006 * width + 0.05 * r
        pad = int(abs(sx) + abs(sy) + 3 * blur) + 2
        sh = Image.new("L", (a.shape[1] + 2 * pad, a.shape[0] + 2 * pad), 0)
        sh.paste(Image.fromarray((a * 255).astype(np.uint8)), (pad + sx, pad + sy))
        sh = np.asarray(sh.filter(ImageFilter.GaussianBlur(blur)), np.float32) / 255
        fr, bx = _box(x0 - pad, y0 - pad, sh, width, height)
        img[fr] *= (1 - 0.45 * sh[bx])[..., None]
        # body: a linear gradient toward the light and a slight darkening toward the rim
        gy, gx = np.mgrid[0:a.shape[0], 0:a.shape[1]].astype(np.float32)
        u, v = (x0 + gx + 0.5 - cx) / r, (y0 + gy + 0.5 - cy) / r
        mult = 1 + o.shade[2] * (u * o.shade[0] + v * o.shade[1]) - 0.08 * np.clip(u * u + v * v, 0, 1)
        col = np.array(o.rgb, np.float32)[None, None, :] * 255 * mult[..., None]
        fr, bx = _box(x0, y0, a, width, height)
        al = a[bx][..., None]
        img[fr] = img[fr] * (1 - al) + col[bx] * al
        labels[fr][a[bx] >= 0.5] = i + 1
    pil = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    if not effects:
        return np.asarray(pil).copy(), labels
    sigma = scene.blur * width / 640
    if sigma > 0.05:
        pil = pil.filter(ImageFilter.GaussianBlur(sigma))  # PIL's radius is the Gaussian's sigma
    pil = ImageEnhance.Contrast(ImageEnhance.Brightness(pil).enhance(scene.brightness)).enhance(scene.contrast)
    # sensor noise: partly shared across channels (luma), partly per channel; sigma per channel = scene.noise
    n = rng.standard_normal((height, width, 1)) * 0.8 + rng.standard_normal((height, width, 3)) * 0.6
    out = np.clip(np.asarray(pil, np.float32) + scene.noise * n + 0.5, 0, 255).astype(np.uint8)
    if scene.jpeg:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=scene.jpeg, subsampling=int(rng.choice([0, 2])))
        out = np.asarray(Image.open(buf).convert("RGB")).copy()
    return out, labels
