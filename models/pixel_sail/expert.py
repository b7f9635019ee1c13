"""The vision expert for distillation: a small convolutional segmenter trained on the tabletop data.

The paper distils Mask2Former pixel-decoder and SAM2 features onto the up-sampled features. Neither can be
fetched here, so we train an expert we can have: a dilated conv net that labels every stride-4 cell with
its object's colour and shape and marks object boundaries. Its 32-channel stride-4 features are the
distillation target; it is used in training only and never exported.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import cache as scene_cache
from .preprocess import MEAN, STD
from .vocab import COLOURS, SHAPES


class Expert(nn.Module):
    def __init__(self, dim=32):
        super().__init__()

        def cbr(cin, cout, stride=1, dil=1):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dil, dilation=dil),
                                 nn.GroupNorm(4, cout), nn.GELU())

        self.stem = nn.Sequential(cbr(3, 24, 2), cbr(24, 48, 2))
        self.body = nn.ModuleList([cbr(48, 48, dil=d) for d in (1, 2, 4, 8, 1)])
        self.out = nn.Conv2d(48, dim, 1)
        self.colour = nn.Conv2d(dim, len(COLOURS) + 1, 1)
        self.shape = nn.Conv2d(dim, len(SHAPES) + 1, 1)
        self.edge = nn.Conv2d(dim, 1, 1)

    def forward(self, x):
        h = self.stem(x)
        for blk in self.body:
            h = h + blk(h)
        f = self.out(h)
        return f, self.colour(f), self.shape(f), self.edge(f)

    @torch.no_grad()
    def targets(self, pixels):
        """Normalised distillation targets (unit RMS per channel) for a batch of model inputs."""
        f = self.forward(pixels)[0]
        return f / (f.pow(2).mean((0, 2, 3), keepdim=True).sqrt() + 1e-6)


def dense_targets(labs, scenes, idxs):
    lab = torch.from_numpy(np.ascontiguousarray(labs[idxs][:, 2::4, 2::4])).long()
    colour = torch.zeros_like(lab)
    shape = torch.zeros_like(lab)
    for n, i in enumerate(idxs):
        for k, o in enumerate(scenes[i].objects):
            m = lab[n] == k + 1
            colour[n][m] = COLOURS.index(o.colour) + 1
            shape[n][m] = SHAPES.index(o.shape) + 1
    edge = (F.max_pool2d(lab.float().unsqueeze(1), 3, 1, 1) != -F.max_pool2d(-lab.float().unsqueeze(1), 3, 1, 1))
    return colour, shape, edge.float()


def to_pixels(imgs, idxs, patch=32):
    x = torch.from_numpy(np.ascontiguousarray(imgs[idxs])).permute(0, 3, 1, 2).float()
    x = (x / 255.0 - torch.from_numpy(MEAN).view(1, 3, 1, 1)) / torch.from_numpy(STD).view(1, 3, 1, 1)
    hh, ww = x.shape[2:]
    out = torch.zeros(x.shape[0], 3, -(-hh // patch) * patch, -(-ww // patch) * patch)
    out[:, :, :hh, :ww] = x
    return out


def train(cache_path, out, minutes=4.0, batch=16, seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    imgs, labs, scenes = scene_cache.load(cache_path)
    model = Expert()
    if os.path.exists(out):  # resume: a short schedule can run in several stretches
        model.load_state_dict(torch.load(out))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    t0, step = time.time(), 0
    while time.time() - t0 < minutes * 60:
        idxs = rng.integers(0, len(scenes), batch)
        x = to_pixels(imgs, idxs)
        colour, shape, edge = dense_targets(labs, scenes, idxs)
        hh, ww = colour.shape[1:]
        _, lc, ls, le = model(x)
        loss = (F.cross_entropy(lc[:, :, :hh, :ww], colour) + F.cross_entropy(ls[:, :, :hh, :ww], shape)
                + F.binary_cross_entropy_with_logits(le[:, :, :hh, :ww], edge))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            with torch.no_grad():
                fg = colour > 0
                acc_c = (lc[:, :, :hh, :ww].argmax(1) == colour)[fg].float().mean().item()
                acc_s = (ls[:, :, :hh, :ww].argmax(1) == shape)[fg].float().mean().item()
            print(f"expert step {step} loss {loss.item():.3f} colour acc {acc_c:.3f} shape acc {acc_s:.3f}",
                  flush=True)
    torch.save(model.state_dict(), out)
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="models/cache/train")
    ap.add_argument("--out", default="models/checkpoints/expert.pt")
    ap.add_argument("--minutes", type=float, default=4.0)
    a = ap.parse_args()
    train(a.cache, a.out, a.minutes)
