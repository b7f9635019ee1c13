"""Re-export chosen graphs of a shipped model from weights recovered by `import_onnx`, in place: the graph
files, and model.json's `tensors`, `shapes` and `sha256` (everything else in model.json — calibrated margins,
policy sections, provenance — is kept).

    python -m models.pixel_sail.import_onnx --model models/tiny --out /tmp/w.pt   # with the previous exporter
    python -m models.pixel_sail.reexport --weights /tmp/w.pt --model models/tiny --graphs vision

Why: a change to a graph's interface (the vision graph's batch axis `N`) should not need a training run or
a new checkpoint. Before writing, the new graph is run beside the old one on random inputs of several sizes
(batch 1) and on a batch of different images, whose rows must equal the images one by one; the largest
difference is printed and anything above `--tol` refuses the write.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import onnxruntime as ort

from . import export as ex
from .export import load_checkpoint


def _run(path: str, feeds: dict) -> list[np.ndarray]:
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)


def _vision_feeds(rng, n: int, gh: int, gw: int, patch: int, vp: list[int]) -> dict:
    return {"pixels": rng.standard_normal((n, 3, gh * patch, gw * patch)).astype(np.float32),
            "vp_masks": (rng.random((n, 1, gh, gw)) > 0.7).astype(np.float32),
            "vp_ids": np.full((n, 1), vp[0], np.int64)}


def check_vision(old: str, new: str, patch: int, vp: list[int], seed: int = 0) -> float:
    """Largest |Δ| between the old graph (batch 1, one image at a time) and the new one, batch 1 and batched."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for gh, gw in ((15, 20), (20, 15), (16, 20), (9, 5)):
        feeds = _vision_feeds(rng, 3, gh, gw, patch, vp)
        batched = _run(new, feeds)
        for i in range(3):
            one = {k: v[i:i + 1] for k, v in feeds.items()}
            ref, single = _run(old, one), _run(new, one)
            rows = [batched[0][:, i:i + 1], batched[1][:, i:i + 1], batched[2][i:i + 1]]
            for r, a, b in zip(ref, single, rows):
                worst = max(worst, float(np.abs(r - a).max()), float(np.abs(r - b).max()))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="import_onnx's output for this model")
    ap.add_argument("--model", default="models/tiny")
    ap.add_argument("--graphs", nargs="+", default=["vision"], choices=list(ex.GRAPHS))
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    model, _ = load_checkpoint(a.weights)
    meta_path = os.path.join(a.model, "model.json")
    with open(meta_path) as f:
        meta = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {g: os.path.join(tmp, f"{g}.onnx") for g in a.graphs}
        ex.export_graphs(model, paths, only=tuple(a.graphs))
        if "vision" in a.graphs:
            worst = check_vision(os.path.join(a.model, "vision.onnx"), paths["vision"], model.cfg.patch,
                                 meta["tokens"]["vp"])
            print(f"vision: largest |new - shipped| over batch-1 and batched runs: {worst:.3g}")
            if worst > a.tol:
                raise SystemExit(f"reexport: the new vision graph differs from the shipped one by {worst:g}")
        specs, ranges = ex.tensor_specs(model.cfg), ex.shape_ranges(model.cfg, meta["input"]["long_side"])
        for g in a.graphs:
            shutil.copyfile(paths[g], os.path.join(a.model, f"{g}.onnx"))
            with open(os.path.join(a.model, f"{g}.onnx"), "rb") as f:
                meta["sha256"][g] = hashlib.sha256(f.read()).hexdigest()
            meta["tensors"][g] = specs[g]
            for key, r in ranges.items():
                if key.startswith(f"{g}."):
                    meta["shapes"][key] = r
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote {', '.join(a.graphs)} and model.json ({meta_path})")


if __name__ == "__main__":
    main()
