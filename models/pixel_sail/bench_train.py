"""Time training steps of the tiny model with PyTorch's fused attention kernel and with the plain ops the ONNX
graphs hold (model.FUSED_ATTENTION), on the same batches, in one run (BENCHMARKS.md).

    python -m models.pixel_sail.bench_train --ckpt models/checkpoints/tiny_w.pt --cache models/cache/train16

Without --cache it renders its scenes (a few seconds each on two cores). Batches are built before timing:
this measures the step (forward, backward, optimiser), not batch building.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from tokenizers import Tokenizer

from . import cache as scene_cache
from . import model as model_mod
from .batches import Encoder, make_batch
from .export import load_checkpoint
from .model import CONFIGS, build
from .tokenizer import token_ids
from .train import WEIGHTS, losses, shape_token_weights


def _scenes(cache_path, n):
    if cache_path:
        return scene_cache.load(cache_path, in_memory=False)
    out = [scene_cache.render_one(scene_cache.TRAIN_SEED0 + i) for i in range(n)]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out]), [o[2] for o in out]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default="", help="weights to start from (default: a fresh tiny model, 16-px patches)")
    ap.add_argument("--cache", default="")
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--steps", type=int, default=8, help="timed steps per variant (after one untimed)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = Tokenizer.from_file("models/tiny/tokenizer.json")
    ids = token_ids(tok)
    if a.ckpt:
        model, _ = load_checkpoint(a.ckpt)
    else:
        base = CONFIGS["tiny"]
        model = build(type(base)(**{**base.to_dict(), "up_channels": base.up_channels, "patch": 16}), ids)
    model.train()
    imgs, labs, scenes = _scenes(a.cache, a.batch * 2)
    rng = np.random.default_rng(0)
    batches = [make_batch(imgs, labs, scenes, rng.integers(0, len(scenes), a.batch), rng, Encoder(tok, ids),
                          model.cfg) for _ in range(a.steps + 1)]
    weights = shape_token_weights(tok, model.cfg.vocab)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    results = {}
    for fused in (True, False, True):  # fused twice: the first pass also warms the allocator
        model_mod.FUSED_ATTENTION = fused
        model.load_state_dict(start)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
        times = []
        for i, batch in enumerate(batches):
            t0 = time.perf_counter()
            parts = losses(model, batch, None, "cpu", weights)
            opt.zero_grad()
            sum(WEIGHTS[k] * v for k, v in parts.items()).backward()
            opt.step()
            if i:
                times.append(time.perf_counter() - t0)
        results[fused] = float(np.median(times))
    model_mod.FUSED_ATTENTION = True
    print(f"{a.batch} scenes x 4 prompts per step, {a.threads} threads, median of {a.steps} steps:")
    print(f"  plain attention ops  {results[False]:.3f} s/step")
    print(f"  fused kernel         {results[True]:.3f} s/step  ({results[False] / results[True]:.2f}x)")


if __name__ == "__main__":
    main()
