"""Training batches: for each cached scene, one image (optionally with a painted visual prompt) and K prompts.

Mix per prompt (after a scene's visual-prompt pair, in VP_RATE of the scenes): ~22 % no-target segment
commands, ~53 % segment commands with hard expressions (two attributes or a position word) oversampled 3:1,
~25 % descriptions (the defaults; `train --vp-rate/--describe-share` shift them).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .expressions import (describe_object, no_target_expression, place_of, referring_expression, visual_prompt,
                          wrap)
from .preprocess import MEAN, STD, vp_grid
from .vocab import COLOURS, PLACES, SHAPES, SIZES, TEMPLATES

K_PROMPTS = 4
VP_RATE = 0.35  # share of scenes with a painted visual prompt (a describe + segment pair)
NO_TARGET = 0.22  # shares of the other prompts: no-target commands, descriptions, and target commands between
DESCRIBE = 0.25  # train --vp-rate / --describe-share change these for a run


class Encoder:
    """Token ids for templates and answers, with a small memo (the vocabulary is tiny and repetitive)."""

    def __init__(self, tok, ids):
        self.tok, self.ids, self.memo = tok, ids, {}

    def __call__(self, text):
        if text not in self.memo:
            self.memo[text] = self.tok.encode(text, add_special_tokens=False).ids
        return self.memo[text]


# share of target commands that name one needless true attribute ("the red circle", the only red thing): the
# test split's phrases are minimal, and a model trained on minimal phrases alone answered "not there" to them
REDUNDANT = 0.3
# share of no-target commands that differ from a present object in one attribute ("the large red circle" beside
# a small one): with needless attributes in target commands, a longer phrase must not come to mean "present"
NEAR_MISS = 0.5
# share of target commands that state size, colour and shape: half the near misses have three words, and a model
# that only met three-word phrases as near misses learnt that three words mean "not there" (8 of 17 found)
FULL = 0.15


def _pick_target(scene, rng):
    exprs = [(i, referring_expression(scene, i, rng, REDUNDANT, FULL)) for i in range(len(scene.objects))]
    exprs = [(i, e) for i, e in exprs if e is not None]
    if not exprs:
        return None
    w = np.array([3.0 if (e[1] >= 2 or e[2]) else 1.0 for _, e in exprs])
    j = rng.choice(len(exprs), p=w / w.sum())
    return exprs[j]


def scene_prompts(scene, labels, rng, enc):
    """[(input_ids, target_ids, kind, object_index)] — targets aligned with inputs (-100 = no loss)."""
    ids = enc.ids
    out = []
    vp = None
    visible = [i for i in range(len(scene.objects)) if (labels == i + 1).any()]
    if visible and rng.random() < VP_RATE:
        j = visible[rng.integers(len(visible))]
        vp = (j, visual_prompt(labels, j, rng))
        desc = enc(describe_object(scene, j))
        p = enc(TEMPLATES["describe_vp"])
        out.append((p + desc, [-100] * (len(p) - 1) + desc + [ids["eot"]], "describe", j))
        p = enc(TEMPLATES["segment_vp"])
        out.append((p + [ids["seg"]], [-100] * (len(p) - 1) + [ids["seg"], -100], "segment", j))
    while len(out) < K_PROMPTS:
        r = rng.random()
        tgt = _pick_target(scene, rng) if r >= NO_TARGET else None
        if tgt is None:
            p = enc(TEMPLATES["segment"].format(text=wrap(no_target_expression(scene, rng, NEAR_MISS), rng)))
            out.append((p + [ids["none"]], [-100] * (len(p) - 1) + [ids["none"], -100], "none", -1))
        elif r < 1.0 - DESCRIBE:
            p = enc(TEMPLATES["segment"].format(text=wrap(tgt[1][0], rng)))
            out.append((p + [ids["seg"]], [-100] * (len(p) - 1) + [ids["seg"], -100], "segment", tgt[0]))
        else:
            p = enc(TEMPLATES["describe"].format(text=tgt[1][0]))
            desc = enc(describe_object(scene, tgt[0]))
            out.append((p + desc, [-100] * (len(p) - 1) + desc + [ids["eot"]], "describe", tgt[0]))
    return out, vp


def augment_params(b: int, rng: np.random.Generator) -> dict:
    """Per-image photometric jitter, drawn where the batch is built (the data workers)."""
    return {"gain": rng.uniform(0.88, 1.12, (b, 1, 1, 1)), "contrast": rng.uniform(0.85, 1.15, (b, 1, 1, 1)),
            "channel": rng.uniform(0.95, 1.05, (b, 3, 1, 1)), "noise": rng.uniform(0, 6, (b, 1, 1, 1)),
            "blur": (rng.random(b) < 0.3).reshape(b, 1, 1, 1),
            # from the sixth session: the look of another renderer (renderer b) cost 0.17 of description
            # accuracy, so light that falls across the frame, saturation, and coarse table grain vary too
            "light": rng.uniform(-0.3, 0.3, (b, 2, 1, 1)), "saturation": rng.uniform(0.75, 1.25, (b, 1, 1, 1)),
            "grain": rng.uniform(0, 8, (b, 1, 1, 1))}


def augment(x: torch.Tensor, params: dict) -> torch.Tensor:
    """Photometric jitter on 0..255 images [B,3,H,W] wherever they are (the training device):
    brightness, contrast, gain, saturation, a linear lighting gradient, fine noise, coarse grain, blur."""
    t = {k: torch.as_tensor(v).float().to(x.device) for k, v in params.items()}  # numpy or collated
    b, _, h, w = x.shape
    mean = x.mean((1, 2, 3), keepdim=True)
    x = ((x - mean) * t["contrast"] + mean) * t["gain"] * t["channel"]
    grey = x.mean(1, keepdim=True)
    x = grey + (x - grey) * t["saturation"]
    v = torch.linspace(-0.5, 0.5, h, device=x.device).view(1, 1, h, 1)
    u = torch.linspace(-0.5, 0.5, w, device=x.device).view(1, 1, 1, w)
    x = x * (1 + t["light"][:, :1] * u + t["light"][:, 1:] * v)
    coarse = torch.randn(b, 1, (h + 7) // 8, (w + 7) // 8, device=x.device)
    x = x + F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False) * t["grain"]
    x = x + torch.randn_like(x) * t["noise"]
    k = torch.tensor([0.25, 0.5, 0.25], device=x.device)
    k2 = (k[:, None] * k[None, :]).view(1, 1, 3, 3).repeat(3, 1, 1, 1)
    xb = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k2, groups=3)
    return (x * (1 - t["blur"]) + xb * t["blur"]).clamp(0, 255)


def model_pixels(batch: dict, cfg, dev="cpu") -> torch.Tensor:
    """The batch's uint8 images → augmented (training), normalised, zero-padded model input on `dev`."""
    x = batch["images"].to(dev, non_blocking=True).permute(0, 3, 1, 2).float()
    if batch["aug"] is not None:
        x = augment(x, batch["aug"])
    mean = torch.from_numpy(MEAN).view(1, 3, 1, 1).to(dev)
    std = torch.from_numpy(STD).view(1, 3, 1, 1).to(dev)
    b, _, hh, ww = x.shape
    gh, gw = batch["grid"]
    pixels = torch.zeros(b, 3, gh * cfg.patch, gw * cfg.patch, device=dev)
    pixels[:, :, :hh, :ww] = (x / 255.0 - mean) / std
    return pixels


PLACE_LIST = [p for row in PLACES for p in row]


def object_attributes(scene, i):
    """Class ids (colour, shape, size, place), each counted from 1 (0 = background)."""
    o = scene.objects[i]
    return np.array([COLOURS.index(o.colour) + 1, SHAPES.index(o.shape) + 1, SIZES.index(o.size) + 1,
                     PLACE_LIST.index(place_of(o.cx, o.cy)) + 1])


def patch_attributes(scene, lab, gh, gw, patch, min_share=0.2):
    """[gh,gw,4] class ids (colour, shape, size, place; 0 = background) of the object that covers
    the most of each patch, if it covers at least min_share of it."""
    full = np.zeros((gh * patch, gw * patch), np.int64)
    full[:lab.shape[0], :lab.shape[1]] = lab
    n = len(scene.objects) + 1
    cell = (np.arange(gh * patch)[:, None] // patch) * gw + np.arange(gw * patch)[None, :] // patch
    counts = np.bincount((cell * n + full).ravel(), minlength=gh * gw * n).reshape(gh, gw, n)[..., 1:]
    table = np.zeros((n, 4), np.int64)
    for i in range(len(scene.objects)):
        table[i + 1] = object_attributes(scene, i)
    if counts.shape[-1] == 0:
        return np.zeros((gh, gw, 4), np.int64)
    best = counts.argmax(-1) + 1
    best[counts.max(-1) < min_share * patch * patch] = 0
    return table[best]


def make_batch(imgs, labs, scenes, idxs, rng, enc, cfg, train=True):
    ids = enc.ids
    b = len(idxs)
    hh, ww = imgs.shape[1], imgs.shape[2]
    hin, win = -(-hh // cfg.patch) * cfg.patch, -(-ww // cfg.patch) * cfg.patch
    gh, gw = hin // cfg.patch, win // cfg.patch
    images = torch.from_numpy(np.ascontiguousarray(imgs[idxs]))  # uint8 [B,H,W,3]: model_pixels finishes them
    aug = augment_params(b, rng) if train else None
    vp_masks = torch.zeros(b, 1, gh, gw)
    vp_ids = torch.full((b, 1), ids["vp"][0], dtype=torch.long)
    rows, owners = [], []
    attrs = torch.zeros(b, gh, gw, 4, dtype=torch.long)
    for n, i in enumerate(idxs):
        lab = labs[i]
        attrs[n] = torch.from_numpy(patch_attributes(scenes[i], lab, gh, gw, cfg.patch))
        prompts, vp = scene_prompts(scenes[i], lab, rng, enc)
        if vp is not None:
            j, prompt = vp
            vp_masks[n, 0] = torch.from_numpy(vp_grid(prompt, lab == j + 1, ww, hh, ww, hh, cfg.patch))
        rows += prompts
        owners += [n] * len(prompts)
    t = max(len(r[0]) for r in rows)
    bk = len(rows)
    input_ids = torch.full((bk, t), ids["pad"], dtype=torch.long)
    targets = torch.full((bk, t), -100, dtype=torch.long)
    attn = torch.zeros(bk, t, dtype=torch.long)
    seg_pos = torch.zeros(bk, dtype=torch.long)
    decide_pos = torch.zeros(bk, dtype=torch.long)
    has_mask = torch.zeros(bk, dtype=torch.bool)
    soft = torch.zeros(bk, hin // 4, win // 4)  # stride-4 share of each 4x4 cell inside the target
    # training only: the state that must know which object is meant ([SEG] for segment prompts, the last
    # prompt token for descriptions) also predicts that object's attributes
    query_pos = torch.zeros(bk, dtype=torch.long)
    query_attr = torch.full((bk, 4), -100, dtype=torch.long)
    for r, (inp, tg, kind, obj) in enumerate(rows):
        if obj >= 0:
            query_attr[r] = torch.from_numpy(object_attributes(scenes[idxs[owners[r]]], obj))
            query_pos[r] = len(inp) - 1 if kind == "segment" else next(k for k, v in enumerate(tg) if v >= 0)
        input_ids[r, :len(inp)] = torch.tensor(inp)
        targets[r, :len(tg)] = torch.tensor(tg)
        attn[r, :len(inp)] = 1
        if kind in ("segment", "none"):
            seg_pos[r] = len(inp) - 1
            decide_pos[r] = len(inp) - 2
        if kind == "segment":
            has_mask[r] = True
            m = labs[idxs[owners[r]]][:hh // 4 * 4, :ww // 4 * 4] == obj + 1
            soft[r, :hh // 4, :ww // 4] = torch.from_numpy(m.reshape(hh // 4, 4, ww // 4, 4).mean((1, 3)))
    valid = torch.zeros(1, hin // 4, win // 4)
    valid[:, :hh // 4, :ww // 4] = 1
    return {
        "images": images, "aug": aug, "vp_masks": vp_masks, "vp_ids": vp_ids, "input_ids": input_ids,
        "targets": targets, "attn": attn, "owners": torch.tensor(owners), "seg_pos": seg_pos,
        "decide_pos": decide_pos, "has_mask": has_mask, "soft_masks": soft, "valid": valid,
        "grid": (gh, gw), "labels_idx": idxs, "patch_attrs": attrs,
        "query_pos": query_pos, "query_attr": query_attr,
    }
