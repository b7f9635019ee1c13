"""Pre-rendered scene cache for training: rendering during training would cost ~25 % throughput on 2 cores.

Half the scenes are rendered straight at model resolution, half at a camera size (480x360 … 800x600) and
brought down with the node's own resampler, so the model sees both looks (the "scale" augmentation).
Commands are drawn fresh for every use, so a cached scene serves many different samples.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from multiprocessing import Pool

import numpy as np

from .preprocess import resize_rgb
from .tabletop import render, sample_scene

W, H = 320, 240
CAMERA_SIZES = [(480, 360), (640, 480), (800, 600)]
TRAIN_SEED0 = 1_000_000  # train scenes: seeds TRAIN_SEED0 + i; val/test use other ranges (splits.py)


def _labels_resize(lab: np.ndarray, w: int, h: int) -> np.ndarray:
    ys = np.minimum(lab.shape[0] - 1, ((np.arange(h) + 0.5) * lab.shape[0] / h).astype(np.int64))
    xs = np.minimum(lab.shape[1] - 1, ((np.arange(w) + 0.5) * lab.shape[1] / w).astype(np.int64))
    return lab[ys][:, xs]


def render_one(seed: int):
    scene = sample_scene(seed)
    rng = np.random.default_rng(seed + 17)
    if rng.random() < 0.5:
        img, lab = render(scene, W, H)
    else:
        cw, ch = CAMERA_SIZES[rng.integers(len(CAMERA_SIZES))]
        big, lab_big = render(scene, cw, ch)
        img = np.clip(resize_rgb(big, W, H) + 0.5, 0, 255).astype(np.uint8)
        lab = _labels_resize(lab_big, W, H)
    return img, lab, scene


def _chunk(args):
    start, n = args
    out = [render_one(TRAIN_SEED0 + start + i) for i in range(n)]
    return (np.stack([o[0] for o in out]), np.stack([o[1] for o in out]), [o[2] for o in out])


def build(n: int, path: str, workers: int = 2, offset: int = 0):
    t0 = time.time()
    chunks = [(offset + s, min(250, n - s)) for s in range(0, n, 250)]
    with Pool(workers) as pool:
        parts = pool.map(_chunk, chunks)
    t1 = time.time()
    imgs = np.concatenate([p[0] for p in parts])
    labs = np.concatenate([p[1] for p in parts])
    scenes = [s for p in parts for s in p[2]]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    np.save(path + ".imgs.npy", imgs)
    np.save(path + ".labels.npy", labs)
    with open(path + ".scenes.pkl", "wb") as f:
        pickle.dump(scenes, f)
    # the two apart: a GPU lease's 12,000 scenes took 410 s on 16 cores, the pace of one core here
    print(f"cache: rendered {n} scenes in {t1 - t0:.0f} s ({workers} processes), wrote "
          f"{(imgs.nbytes + labs.nbytes) / 1e9:.1f} GB in {time.time() - t1:.0f} s", flush=True)


def load(path: str, in_memory: bool = True):
    """in_memory=False keeps the arrays memory-mapped: processes training side by side share one copy."""
    imgs = np.load(path + ".imgs.npy", mmap_mode="r")
    labs = np.load(path + ".labels.npy", mmap_mode="r")
    with open(path + ".scenes.pkl", "rb") as f:
        scenes = pickle.load(f)
    if not in_memory:
        return imgs, labs, scenes
    return np.ascontiguousarray(imgs), np.ascontiguousarray(labs), scenes


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--out", default="models/cache/train")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    build(a.n, a.out, a.workers, a.offset)
