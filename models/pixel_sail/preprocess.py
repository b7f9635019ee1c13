"""Frame → model input, exactly as the Rust node does it (models/README.md, "Preprocessing").

The resampler is written out here (not PIL) so the Rust side can mirror it operation for operation.
"""

from __future__ import annotations

import math

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def resized_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    s = long_side / max(width, height)
    return max(1, int(math.floor(width * s + 0.5))), max(1, int(math.floor(height * s + 0.5)))


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """Dense (n_out, n_in) triangle-filter matrix with antialiasing (support grows when shrinking)."""
    scale = n_out / n_in
    support = max(1.0 / scale, 1.0)
    w = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        centre = (i + 0.5) / scale
        lo = max(0, int(math.floor(centre - support)))
        hi = min(n_in, int(math.ceil(centre + support)))
        xs = np.arange(lo, hi, dtype=np.float32)
        k = np.maximum(0.0, 1.0 - np.abs(xs + 0.5 - centre) / support)
        total = k.sum()
        if total > 0:
            w[i, lo:hi] = k / total
    return w


def resize_rgb(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8/float HxWx3 → float32 height x width x 3 on 0..255 (horizontal pass, then vertical)."""
    src = img.astype(np.float32)
    h, w, c = src.shape
    if w != width:  # horizontal pass as one matrix product: (width x w) @ (w x h*c)
        src = (_weights(w, width) @ src.transpose(1, 0, 2).reshape(w, h * c)).reshape(width, h, c).transpose(1, 0, 2)
    if h != height:
        src = (_weights(h, height) @ src.reshape(h, -1)).reshape(height, width, c)
    return np.ascontiguousarray(src, dtype=np.float32)


def preprocess(img: np.ndarray, long_side: int = 320, patch: int = 32):
    """uint8 HxWx3 → (pixels [1,3,Hin,Win] float32, (rw, rh))."""
    h, w = img.shape[:2]
    rw, rh = resized_size(w, h, long_side)
    x = resize_rgb(img, rw, rh) if (rw, rh) != (w, h) else img.astype(np.float32)
    x = (x / 255.0 - MEAN) / STD
    hin, win = -(-rh // patch) * patch, -(-rw // patch) * patch
    out = np.zeros((1, 3, hin, win), np.float32)
    out[0, :, :rh, :rw] = x.transpose(2, 0, 1)
    return out, (rw, rh)


def vp_grid(prompt: dict, labels_mask: np.ndarray | None, frame_w: int, frame_h: int,
            rw: int, rh: int, patch: int = 32) -> np.ndarray:
    """Rasterise a visual prompt (point / box / mask, in frame pixels) onto the patch grid: coverage 0..1."""
    gh, gw = -(-rh // patch), -(-rw // patch)
    sx, sy = rw / frame_w, rh / frame_h
    grid = np.zeros((gh, gw), np.float32)
    if "point" in prompt:
        x, y = prompt["point"]
        c = min(gw - 1, max(0, int((x + 0.5) * sx) // patch))
        r = min(gh - 1, max(0, int((y + 0.5) * sy) // patch))
        grid[r, c] = 1.0
        return grid
    cover = np.zeros((gh * patch, gw * patch), np.float32)
    if "box" in prompt:
        x0, y0, x1, y1 = prompt["box"]
        c0, c1 = int(round(x0 * sx)), int(round(x1 * sx))
        r0, r1 = int(round(y0 * sy)), int(round(y1 * sy))
        cover[max(0, r0):min(rh, r1), max(0, c0):min(rw, c1)] = 1.0
    else:  # mask at frame resolution → nearest sample at model resolution
        ys = np.minimum(frame_h - 1, ((np.arange(rh) + 0.5) / sy).astype(np.int64))
        xs = np.minimum(frame_w - 1, ((np.arange(rw) + 0.5) / sx).astype(np.int64))
        cover[:rh, :rw] = (labels_mask[ys][:, xs] > 0).astype(np.float32)
    return cover.reshape(gh, patch, gw, patch).mean((1, 3))
