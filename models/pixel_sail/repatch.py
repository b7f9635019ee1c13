"""Start a P/2-pixel-patch model from trained P-pixel weights (`train --init-weights W --patch 16`).

Why: the tiny model's 32-px patches leave it naming small objects' shapes about half the time (model card);
16-px patches give each token a quarter of the area, but a run from scratch costs what took the 32-px model
hours. The conversion makes the new model, on an image, compute what the old one computes on that image
scaled up 2× (nearest) — the old model's learnt colours, edges, text and mask head all carry over, and
training only has to teach it the new scale:

- patch embedding: a P/2 patch seen through the P-pixel weights of its 2×-upscaled self = the old kernel
  summed over 2×2 pixel blocks (exact);
- absolute row/column tables: row i of the new grid takes row i//2 of the old one (same place on the frame);
- upsampler: one stage fewer (stride P/2 → 4). The old stages keep their weights; a pixel skip new at a
  stage starts at zero (a no-op), and a kept skip is summed over 2×2 like the patch kernel (exact);
- the last old stage (its transposed conv and the output projection) folds into the new output projection,
  its transposed-conv kernel averaged over the four output positions (an approximation: that stage's
  residual block is dropped);
- everything else (transformer, text embeddings, heads) is copied.
"""

from __future__ import annotations

import math

import torch

from .model import Config


def _sum_pool(w: torch.Tensor, channels: int, side: int) -> torch.Tensor:
    """[..., channels·side·side] laid out (channel, y, x) → [..., channels·(side/2)²], summing 2×2 blocks."""
    lead = w.shape[:-1]
    w = w.reshape(*lead, channels, side // 2, 2, side // 2, 2).sum((-3, -1))
    return w.reshape(*lead, channels * (side // 2) ** 2)


def halve_patch(state: dict, old: Config) -> tuple[dict, Config]:
    """State dict of an `old`-config model → (state dict, config) of the same model with half the patch size."""
    if old.patch < 16 or old.patch & (old.patch - 1) or not old.upsampler:
        raise ValueError(f"can only halve a patch of 16 px or more with the upsampler on (got {old.patch} px, "
                         f"upsampler={old.upsampler})")
    new = Config(**{**old.to_dict(), "patch": old.patch // 2, "up_channels": tuple(old.up_channels)})
    out = {k: v.clone() for k, v in state.items()}
    p = old.patch
    out["patch_embed.weight"] = _sum_pool(state["patch_embed.weight"], 3, p)
    for name in ("row_embed", "col_embed"):
        if name in state:
            t = state[name]
            out[name] = t[torch.arange(t.shape[0]) // 2]
    n_old = int(math.log2(p // 4))
    for i in range(n_old - 1):  # the kept stages: same stride ratio, half the stride in pixels
        stride = new.patch // 2 ** (i + 1)
        key = f"ups.{i}.skip"
        if new.pixel_skip and stride <= 8:
            cout = out[f"ups.{i}.up.weight"].shape[1]
            if f"{key}.weight" in state:  # old stride 2s over the upscaled image = new stride s
                w = state[f"{key}.weight"].squeeze(-1).squeeze(-1)
                out[f"{key}.weight"] = _sum_pool(w, 3, 2 * stride).view(cout, -1, 1, 1)
            else:
                out[f"{key}.weight"] = torch.zeros(cout, 3 * stride * stride, 1, 1)
                out[f"{key}.bias"] = torch.zeros(cout)
    last = n_old - 1
    up_w, up_b = state[f"ups.{last}.up.weight"], state[f"ups.{last}.up.bias"]  # [cin, cout, 2, 2], [cout]
    po_w, po_b = state["proj_out.weight"].flatten(1), state["proj_out.bias"]  # [E, cout]
    fold = po_w @ up_w.mean((2, 3)).t()  # [E, cin]
    out["proj_out.weight"] = fold.view(*fold.shape, 1, 1)
    out["proj_out.bias"] = po_b + po_w @ up_b
    for k in [k for k in out if k.startswith(f"ups.{last}.")]:
        del out[k]
    return out, new
