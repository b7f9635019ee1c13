"""Export a checkpoint (or random weights) to the three ONNX graphs + model.json, and verify with onnxruntime.

    python -m models.pixel_sail.export --ckpt models/checkpoints/tiny.pt --out models/tiny
    python -m models.pixel_sail.export --config 0.5b --out /tmp/pixel-sail-0.5b     # random weights
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
from tokenizers import Tokenizer

from .model import CONFIGS, Config, build
from . import zoom
from .tokenizer import token_ids
from .vocab import COLOURS, PLACES, SHAPES, SIZES, TEMPLATES

OPSET = 17
# model.json's "vocabulary": the words the node's grounding policy reads (src/grounding/vocabulary.rs)
VOCABULARY = {
    "sizes": SIZES,
    "colours": COLOURS,
    "shapes": SHAPES,
    "places": [p for row in PLACES for p in row],
    "synonyms": {"big": "large"},
    "description": "a {size} {colour} {shape} {place}",
}
MAX_COMMANDS = 16
MAX_PROMPT_TOKENS = 32
MAX_NEW_TOKENS = 16
# The vision graph's batch axis N holds the crops of one frame's extra passes (one closer segmentation or one
# closer check per found object, each kind in one call): at most one per command.
MAX_CROPS = MAX_COMMANDS


class VisionGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixels, vp_masks, vp_ids):
        return self.m.vision(pixels, vp_masks, vp_ids)


class TextGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, position_ids, attention_mask, past_keys, past_values):
        return self.m.text(input_ids, position_ids, attention_mask, past_keys, past_values)


class MaskGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, features, seg_hidden):
        return self.m.mask_head(features, seg_hidden)


def tensor_specs(cfg: Config):
    L, kvh, hd, c, e, v = cfg.layers, cfg.kv_heads, cfg.head_dim, cfg.hidden, cfg.feat_dim, cfg.vocab
    f32, i64 = "float32", "int64"
    return {
        "vision": {
            "inputs": [{"name": "pixels", "dtype": f32, "shape": ["N", 3, "H_in", "W_in"]},
                       {"name": "vp_masks", "dtype": f32, "shape": ["N", "K", "gh", "gw"]},
                       {"name": "vp_ids", "dtype": i64, "shape": ["N", "K"]}],
            "outputs": [{"name": "past_keys", "dtype": f32, "shape": [L, "N", kvh, "S", hd]},
                        {"name": "past_values", "dtype": f32, "shape": [L, "N", kvh, "S", hd]},
                        {"name": "features", "dtype": f32, "shape": ["N", e, "H4", "W4"]}]},
        "text": {
            "inputs": [{"name": "input_ids", "dtype": i64, "shape": ["B", "T"]},
                       {"name": "position_ids", "dtype": i64, "shape": ["B", "T"]},
                       {"name": "attention_mask", "dtype": i64, "shape": ["B", "PT"]},
                       {"name": "past_keys", "dtype": f32, "shape": [L, "B", kvh, "P", hd]},
                       {"name": "past_values", "dtype": f32, "shape": [L, "B", kvh, "P", hd]}],
            "outputs": [{"name": "logits", "dtype": f32, "shape": ["B", "T", v]},
                        {"name": "hidden", "dtype": f32, "shape": ["B", "T", c]},
                        {"name": "present_keys", "dtype": f32, "shape": [L, "B", kvh, "PT", hd]},
                        {"name": "present_values", "dtype": f32, "shape": [L, "B", kvh, "PT", hd]}]},
        "mask_head": {
            "inputs": [{"name": "features", "dtype": f32, "shape": [1, e, "H4", "W4"]},
                       {"name": "seg_hidden", "dtype": f32, "shape": ["K", c]}],
            "outputs": [{"name": "mask_logits", "dtype": f32, "shape": ["K", "H4", "W4"]}]},
    }


def shape_ranges(cfg: Config, long_side: int):
    L, kvh, hd, c, e = cfg.layers, cfg.kv_heads, cfg.head_dim, cfg.hidden, cfg.feat_dim
    p = cfg.patch
    g_max = long_side // p
    # the grid of the typical input: the canonical 4:3 frame at the long side, padded to P
    oh, ow = -(-(long_side * 3 // 4) // p), -(-long_side // p)
    s_opt, s_max = oh * ow + 2, g_max * g_max + 2
    p_max = s_max + MAX_PROMPT_TOKENS + 8 + MAX_NEW_TOKENS
    mx, nc = MAX_COMMANDS, MAX_CROPS
    return {
        "vision.pixels": {"min": [1, 3, p, p], "opt": [1, 3, oh * p, ow * p], "max": [nc, 3, long_side, long_side]},
        "vision.vp_masks": {"min": [1, 1, 1, 1], "opt": [1, 1, oh, ow], "max": [nc, 4, g_max, g_max]},
        "vision.vp_ids": {"min": [1, 1], "opt": [1, 1], "max": [nc, 4]},
        "text.input_ids": {"min": [1, 1], "opt": [4, 16], "max": [mx, MAX_PROMPT_TOKENS + 8]},
        "text.position_ids": {"min": [1, 1], "opt": [4, 16], "max": [mx, MAX_PROMPT_TOKENS + 8]},
        "text.attention_mask": {"min": [1, 4], "opt": [4, s_opt + 16], "max": [mx, p_max]},
        "text.past_keys": {"min": [L, 1, kvh, 3, hd], "opt": [L, 4, kvh, s_opt, hd], "max": [L, mx, kvh, p_max, hd]},
        "text.past_values": {"min": [L, 1, kvh, 3, hd], "opt": [L, 4, kvh, s_opt, hd], "max": [L, mx, kvh, p_max, hd]},
        "mask_head.features": {"min": [1, e, p // 4, p // 4], "opt": [1, e, oh * p // 4, ow * p // 4],
                               "max": [1, e, long_side // 4, long_side // 4]},
        "mask_head.seg_hidden": {"min": [1, c], "opt": [4, c], "max": [mx, c]},
    }


def export(model, out_dir, tok_path, meta):
    os.makedirs(out_dir, exist_ok=True)
    export_graphs(model, {g: f"{out_dir}/{g}.onnx" for g in GRAPHS})
    tok = Tokenizer.from_file(tok_path)
    if os.path.abspath(tok_path) != os.path.abspath(f"{out_dir}/tokenizer.json"):
        tok.save(f"{out_dir}/tokenizer.json")
    write_model_json(model, out_dir, meta)


GRAPHS = ("vision", "text", "mask_head")


def export_graphs(model, paths, only=GRAPHS):
    """torch.onnx.export of the graphs named in `only` to `paths[graph]` (a graph over 2 GB is written by torch
    as one file per tensor beside its .onnx, so give such graphs a folder each)."""
    cfg = model.cfg
    model.eval()
    gh, gw, k, n = 8, 10, 1, 2
    pixels = torch.randn(n, 3, gh * cfg.patch, gw * cfg.patch)
    vpm, vpi = torch.zeros(n, k, gh, gw), torch.full((n, k), model.tokens["vp"][0], dtype=torch.long)
    with torch.no_grad():
        pk, pv, feats = model.vision(pixels, vpm, vpi)
    pk, pv, feats = pk[:, :1].contiguous(), pv[:, :1].contiguous(), feats[:1].contiguous()
    s, b, t = pk.shape[3], 2, 5
    ids = torch.randint(0, cfg.vocab, (b, t))
    pos = torch.arange(t).view(1, t).expand(b, t) + 12
    attn = torch.ones(b, s + t, dtype=torch.long)
    pkb, pvb = pk.expand(-1, b, -1, -1, -1).contiguous(), pv.expand(-1, b, -1, -1, -1).contiguous()
    seg = torch.randn(3, cfg.hidden)
    common = dict(opset_version=OPSET, dynamo=False, do_constant_folding=True)
    if "vision" in only:
        torch.onnx.export(VisionGraph(model), (pixels, vpm, vpi), paths["vision"],
                          input_names=["pixels", "vp_masks", "vp_ids"],
                          output_names=["past_keys", "past_values", "features"],
                          dynamic_axes={"pixels": {0: "N", 2: "H_in", 3: "W_in"},
                                        "vp_masks": {0: "N", 1: "K", 2: "gh", 3: "gw"}, "vp_ids": {0: "N", 1: "K"},
                                        "past_keys": {1: "N", 3: "S"}, "past_values": {1: "N", 3: "S"},
                                        "features": {0: "N", 2: "H4", 3: "W4"}}, **common)
    if "text" in only:
        torch.onnx.export(TextGraph(model), (ids, pos, attn, pkb, pvb), paths["text"],
                          input_names=["input_ids", "position_ids", "attention_mask", "past_keys", "past_values"],
                          output_names=["logits", "hidden", "present_keys", "present_values"],
                          dynamic_axes={"input_ids": {0: "B", 1: "T"}, "position_ids": {0: "B", 1: "T"},
                                        "attention_mask": {0: "B", 1: "PT"}, "past_keys": {1: "B", 3: "P"},
                                        "past_values": {1: "B", 3: "P"}, "logits": {0: "B", 1: "T"},
                                        "hidden": {0: "B", 1: "T"}, "present_keys": {1: "B", 3: "PT"},
                                        "present_values": {1: "B", 3: "PT"}}, **common)
    if "mask_head" in only:
        torch.onnx.export(MaskGraph(model), (feats, seg), paths["mask_head"],
                          input_names=["features", "seg_hidden"], output_names=["mask_logits"],
                          dynamic_axes={"features": {2: "H4", 3: "W4"}, "seg_hidden": {0: "K"},
                                        "mask_logits": {0: "K", 1: "H4", 2: "W4"}}, **common)


def write_model_json(model, out_dir, meta):
    cfg = model.cfg
    long_side = meta.get("long_side", 320)
    hashes = {}
    for g in ("vision", "text", "mask_head"):
        with open(f"{out_dir}/{g}.onnx", "rb") as f:
            hashes[g] = hashlib.sha256(f.read()).hexdigest()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    doc = {
        "name": meta.get("name", "pixel-sail-tiny"),
        "config": {**{k: cfg.to_dict()[k] for k in ("hidden", "layers", "heads", "kv_heads", "head_dim",
                                                     "intermediate", "vocab", "patch", "feat_dim", "rope_theta")},
                   "max_vp": 4, "max_prompt_tokens": MAX_PROMPT_TOKENS, "max_new_tokens": MAX_NEW_TOKENS,
                   "max_commands": MAX_COMMANDS, "upsampler": cfg.upsampler, "pixel_skip": cfg.pixel_skip,
                   "vp_mode": cfg.vp_mode},
        "input": {"resize": "long_side_triangle_antialias", "long_side": long_side, "pad_multiple": cfg.patch,
                  "pad_value": 0.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                  "canonical_frame": [640, 480], "input_size": meta.get("input_size", [256, 320])},
        "tokens": model.tokens,
        "templates": TEMPLATES,
        "positions": {"text_start": "max(gh, gw) + 2", "image_prefix": "<vision> <vpatch>*gh*gw </vision>"},
        "files": {"vision": "vision.onnx", "text": "text.onnx", "mask_head": "mask_head.onnx",
                  "tokenizer": "tokenizer.json"},
        "tensors": tensor_specs(cfg),
        "shapes": shape_ranges(cfg, long_side),
        "postprocess": {"mask_threshold": 0.0, "presence_margin": 0.0, "feature_stride": 4},  # calibrate.py sets the margin
        "region_zoom": zoom.DEFAULT,
        "mask_refine": zoom.REFINE_DEFAULT,
        "confirm_found": zoom.CONFIRM_DEFAULT,
        "wording": zoom.WORDING_DEFAULT,
        "vocabulary": VOCABULARY,
        "sha256": hashes,
        "provenance": {"exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "git_commit": commit, "opset": OPSET, "torch": torch.__version__, **meta.get("provenance", {})},
    }
    with open(f"{out_dir}/model.json", "w") as f:
        json.dump(doc, f, indent=1)


def verify(model, out_dir, seed=0, grid=(9, 5)):
    """onnxruntime vs PyTorch on fresh shapes (not the export example; `grid` = gh, gw): max |Δ| per output."""
    rng = np.random.default_rng(seed)
    cfg = model.cfg
    so = ort.SessionOptions()
    sess = {g: ort.InferenceSession(f"{out_dir}/{g}.onnx", so, providers=["CPUExecutionProvider"])
            for g in ("vision", "text", "mask_head")}
    (gh, gw), k = grid, 2
    px = rng.standard_normal((1, 3, gh * cfg.patch, gw * cfg.patch)).astype(np.float32)
    vpm = (rng.random((1, k, gh, gw)) > 0.8).astype(np.float32)
    vpi = np.array([model.tokens["vp"][:k]], np.int64)
    with torch.no_grad():
        ref = model.vision(torch.from_numpy(px), torch.from_numpy(vpm), torch.from_numpy(vpi))
    got = sess["vision"].run(None, {"pixels": px, "vp_masks": vpm, "vp_ids": vpi})
    diffs = {f"vision.{n}": float(np.abs(r.numpy() - g).max()) for n, r, g in zip(("keys", "values", "features"), ref, got)}
    b, t = 3, 7
    s = got[0].shape[3]
    ids = rng.integers(0, cfg.vocab, (b, t)).astype(np.int64)
    pos = (np.arange(t)[None] + max(gh, gw) + 2).repeat(b, 0).astype(np.int64)
    attn = np.ones((b, s + t), np.int64)
    attn[1, s + 5:] = 0
    pk, pv = np.repeat(got[0], b, 1), np.repeat(got[1], b, 1)
    with torch.no_grad():
        ref = model.text(*(torch.from_numpy(a) for a in (ids, pos, attn, pk, pv)))
    out = sess["text"].run(None, {"input_ids": ids, "position_ids": pos, "attention_mask": attn,
                                  "past_keys": pk, "past_values": pv})
    for n, r, g in zip(("logits", "hidden", "present_keys", "present_values"), ref, out):
        diffs[f"text.{n}"] = float(np.abs(r.numpy() - g).max())
    seg = out[1][:, -1].astype(np.float32)
    with torch.no_grad():
        ref = model.mask_head(torch.from_numpy(got[2]), torch.from_numpy(seg))
    g = sess["mask_head"].run(None, {"features": got[2], "seg_hidden": seg})[0]
    diffs["mask_head.mask_logits"] = float(np.abs(ref.numpy() - g).max())
    union = ((ref.numpy() > 0) | (g > 0)).sum()
    diffs["mask_head.iou"] = float(((ref.numpy() > 0) & (g > 0)).sum() / union) if union else 1.0
    return diffs


def load_checkpoint(path):
    state = torch.load(path, weights_only=False, map_location="cpu")
    cfg = Config(**{**state["config"], "up_channels": tuple(state["config"]["up_channels"])})
    model = build(cfg, state["tokens"])
    model.load_state_dict(state["model"])
    return model.eval(), state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="")
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--tokenizer", default="models/tiny/tokenizer.json")
    ap.add_argument("--out", default="models/tiny")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    if a.ckpt:
        model, state = load_checkpoint(a.ckpt)
        prov = {"checkpoint_step": state["step"], "trained": True, "note": a.note}
    else:
        tok = Tokenizer.from_file(a.tokenizer)
        base = CONFIGS[a.config]
        cfg = Config(**{**base.to_dict(), "up_channels": base.up_channels, "vocab": tok.get_vocab_size()})
        torch.manual_seed(0)
        model = build(cfg, token_ids(tok)).eval()
        prov = {"trained": False, "note": a.note or f"random weights, config {a.config}"}
    export(model, a.out, a.tokenizer, {"name": f"pixel-sail-{a.config}", "provenance": prov})
    print(json.dumps(verify(model, a.out), indent=1))


if __name__ == "__main__":
    main()
