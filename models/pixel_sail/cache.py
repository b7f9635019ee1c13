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
CHUNK = 100  # scenes per pool task: the granularity of build's max_seconds


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
    """Render seeds [start, start + n) straight into the shared .npy files at rows [row, row + n): only the
    scenes travel back through the pool's pipe, not the pixels (~30 MB a chunk)."""
    path, row, start, n = args
    imgs = np.load(path + ".imgs.npy", mmap_mode="r+")
    labs = np.load(path + ".labels.npy", mmap_mode="r+")
    scenes = []
    for i in range(n):
        img, lab, scene = render_one(TRAIN_SEED0 + start + i)
        imgs[row + i], labs[row + i] = img, lab
        scenes.append(scene)
    imgs.flush()
    labs.flush()
    return scenes


def build(n: int, path: str, workers: int = 2, offset: int = 0, max_seconds: float = 0.0):
    """max_seconds > 0 stops the render there and keeps the chunks finished in order: a GPU lease's training
    time must not hang on how fast its CPUs render (load() reads only as many rows as there are scenes)."""
    t0 = time.time()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    np.lib.format.open_memmap(path + ".imgs.npy", mode="w+", dtype=np.uint8, shape=(n, H, W, 3)).flush()
    np.lib.format.open_memmap(path + ".labels.npy", mode="w+", dtype=np.uint8, shape=(n, H, W)).flush()
    chunks = [(path, s, offset + s, min(CHUNK, n - s)) for s in range(0, n, CHUNK)]
    scenes = []
    with Pool(workers) as pool:
        for part in pool.imap(_chunk, chunks):
            scenes.extend(part)
            if max_seconds > 0 and time.time() - t0 > max_seconds and len(scenes) < n:
                print(f"cache: stopped at {max_seconds:.0f} s with {len(scenes)} of {n} scenes", flush=True)
                pool.terminate()
                break
    with open(path + ".scenes.pkl", "wb") as f:
        pickle.dump(scenes, f)
    # 12,000 scenes once took 410 s on a GPU lease's 16 cores: each process ran 16 BLAS threads (resize_rgb), so
    # gpu_train.sh sets OMP_NUM_THREADS=1 — 231 scenes/s since
    print(f"cache: {len(scenes)} scenes in {time.time() - t0:.0f} s ({workers} processes, "
          f"{len(scenes) / max(1e-9, time.time() - t0):.1f} scenes/s)", flush=True)


def load(path: str, in_memory: bool = True):
    """in_memory=False keeps the arrays memory-mapped: processes training side by side share one copy."""
    imgs = np.load(path + ".imgs.npy", mmap_mode="r")
    labs = np.load(path + ".labels.npy", mmap_mode="r")
    with open(path + ".scenes.pkl", "rb") as f:
        scenes = pickle.load(f)
    # a render stopped early (build's max_seconds) leaves unused rows at the end
    imgs, labs = imgs[: len(scenes)], labs[: len(scenes)]
    if not in_memory:
        return imgs, labs, scenes
    return np.ascontiguousarray(imgs), np.ascontiguousarray(labs), scenes


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--out", default="models/cache/train")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=0.0, help="stop rendering here, keep what is done")
    a = ap.parse_args()
    build(a.n, a.out, a.workers, a.offset, a.max_seconds)
