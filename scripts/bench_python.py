#!/usr/bin/env python3
"""The Python side of `pixel-sail bench`: the same three ONNX graphs on the same frames through onnxruntime's
Python API, stage by stage, with the same commands and the same loop. Prints one JSON object (last line).

    .venv/bin/python scripts/bench_python.py --model models/tiny --image tests/fixtures/tabletop_640x480.jpg

Preprocessing is models/pixel_sail/preprocess.py (numpy); mask postprocessing is a numpy bilinear resize with
half-pixel centres, as the Rust side does it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image
from tokenizers import Tokenizer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from models.pixel_sail.preprocess import preprocess  # noqa: E402

COMMANDS = ["pick up the green triangle", "grab the blue triangle", "find the red square", "where is the white circle?"]


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) interpolation weights, align_corners=False."""
    m = np.zeros((n_out, n_in), np.float32)
    src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    f = (src - i0).astype(np.float32)
    m[np.arange(n_out), i0] += 1 - f
    m[np.arange(n_out), i1] += f
    return m


class Bench:
    def __init__(self, model_dir, threads, spin):
        self.meta = json.load(open(f"{model_dir}/model.json"))
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        # Same setting as the Rust side (which turns spin-waiting off unless --spin).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self.s = {g: ort.InferenceSession(f"{model_dir}/{self.meta['files'][g]}", opts, providers=["CPUExecutionProvider"])
                  for g in ("vision", "text", "mask_head")}
        self.tok = Tokenizer.from_file(f"{model_dir}/{self.meta['files']['tokenizer']}")
        self.t = self.meta["tokens"]
        self.max_prompt = self.meta["config"]["max_prompt_tokens"]

    def ids(self, template, text):
        pre, _, post = template.partition("{text}")
        enc = lambda s: self.tok.encode(s, add_special_tokens=False).ids if s else []
        return enc(pre) + enc(text)[: self.max_prompt] + enc(post)

    def encode(self, img):
        t0 = time.perf_counter()
        pixels, (rw, rh) = preprocess(img, self.meta["input"]["long_side"], self.meta["config"]["patch"])
        t1 = time.perf_counter()
        gh, gw = pixels.shape[2] // 32, pixels.shape[3] // 32
        vpm = np.zeros((1, 1, gh, gw), np.float32)
        vpi = np.array([[self.t["vp"][0]]], np.int64)
        pk, pv, feats = self.s["vision"].run(None, {"pixels": pixels, "vp_masks": vpm, "vp_ids": vpi})
        t2 = time.perf_counter()
        st = {"pk": pk, "pv": pv, "feats": feats, "grid": (gh, gw), "resized": (rw, rh), "frame": img.shape[1::-1]}
        return st, (t1 - t0) * 1e3, (t2 - t1) * 1e3

    def prefill(self, st, seqs):
        b, t = len(seqs), max(len(s) for s in seqs)
        s = st["pk"].shape[3]
        ids = np.full((b, t), self.t["pad"], np.int64)
        attn = np.zeros((b, s + t), np.int64)
        attn[:, :s] = 1
        for i, q in enumerate(seqs):
            ids[i, : len(q)] = q
            attn[i, s : s + len(q)] = 1
        pos = np.broadcast_to(np.arange(t, dtype=np.int64) + max(st["grid"]) + 2, (b, t)).copy()
        pk, pv = np.repeat(st["pk"], b, 1), np.repeat(st["pv"], b, 1)
        out = self.s["text"].run(None, {"input_ids": ids, "position_ids": pos, "attention_mask": attn,
                                        "past_keys": pk, "past_values": pv})
        return out, attn, pos

    def segment(self, st, cmds):
        seqs = [self.ids(self.meta["templates"]["segment"], c) + [self.t["seg"]] for c in cmds]
        t0 = time.perf_counter()
        (logits, hidden, _, _), _, _ = self.prefill(st, seqs)
        n = np.array([len(q) for q in seqs])
        rows = np.arange(len(seqs))
        margin = logits[rows, n - 2, self.t["seg"]] - logits[rows, n - 2, self.t["none"]]
        seg_h = np.ascontiguousarray(hidden[rows, n - 1])
        t1 = time.perf_counter()
        ml = self.s["mask_head"].run(None, {"features": st["feats"], "seg_hidden": seg_h})[0]
        t2 = time.perf_counter()
        (w, h), (rw, rh) = st["frame"], st["resized"]
        ch, cw = -(-rh // 4), -(-rw // 4)
        my, mx = bilinear_matrix(ch, h), bilinear_matrix(cw, w)
        masks = [(my @ ml[k, :ch, :cw] @ mx.T) > 0.0 for k in range(len(cmds))]
        _ = [m.any() and margin[k] > 0 for k, m in enumerate(masks)]
        t3 = time.perf_counter()
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3 / len(cmds)

    def describe(self, st, cmds, max_tokens):
        seqs = [self.ids(self.meta["templates"]["describe"], c) for c in cmds]
        t0 = time.perf_counter()
        (logits, _, pk, pv), attn, pos = self.prefill(st, seqs)
        b = len(seqs)
        n = np.array([len(q) for q in seqs])
        last = logits[np.arange(b), n - 1]
        done, tokens, steps = np.zeros(b, bool), 0, 0
        next_pos = pos[:, 0] + n
        t1 = time.perf_counter()
        max_tokens = min(max_tokens, self.meta["config"]["max_new_tokens"])
        counts = np.zeros(b, int)
        while True:
            nxt = last.argmax(-1)
            for i in range(b):
                if not done[i]:
                    if nxt[i] == self.t["eot"]:
                        done[i] = True
                    else:
                        counts[i] += 1
                        tokens += 1
                        done[i] = counts[i] >= max_tokens
            if done.all():
                break
            attn = np.concatenate([attn, np.ones((b, 1), np.int64)], 1)
            logits, _, pk, pv = self.s["text"].run(None, {
                "input_ids": np.where(done, self.t["pad"], nxt).astype(np.int64)[:, None],
                "position_ids": next_pos[:, None].astype(np.int64) + steps, "attention_mask": attn,
                "past_keys": pk, "past_values": pv})
            last = logits[:, 0]
            steps += 1
        t2 = time.perf_counter()
        return tokens, (t2 - t0), steps, (t2 - t1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/tiny")
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--spin", action="store_true")
    a = ap.parse_args()
    b = Bench(a.model, a.threads, a.spin)
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in (a.image or ["tests/fixtures/tabletop_640x480.jpg"])]
    one, four = COMMANDS[:1], COMMANDS
    for f in frames:  # warm-up
        st, _, _ = b.encode(f)
        b.segment(st, four)
        b.describe(st, one, 2)
    rec = {k: [] for k in ("pre", "vis", "p1", "p4", "h1", "h4", "post", "f1", "f4")}
    for i in range(a.iters):
        for f in frames:
            for n in ((1, 4) if i % 2 == 0 else (4, 1)):
                t = time.perf_counter()
                st, pre, vis = b.encode(f)
                p, h, post = b.segment(st, one if n == 1 else four)
                total = (time.perf_counter() - t) * 1e3
                rec["pre"].append(pre)
                rec["vis"].append(vis)
                rec[f"p{n}"].append(p)
                rec[f"h{n}"].append(h)
                rec["post"].append(post)
                rec[f"f{n}"].append(total)
    med = {k: float(np.median(v)) for k, v in rec.items()}
    desc = []
    for cmds in (one, four):
        tok = secs = steps = step_secs = 0
        runs = max(a.iters // 2, 3)
        for _ in range(runs):
            st, _, _ = b.encode(frames[0])
            t, s, n, ds = b.describe(st, cmds, a.max_tokens)
            tok, secs, steps, step_secs = tok + t, secs + s, steps + n, step_secs + ds
        desc.append({"batch": len(cmds), "tokens_per_s": tok / max(secs, 1e-9),
                     "ms_per_step": step_secs * 1e3 / steps if steps else float("nan"),
                     "tokens_per_description": tok / (runs * len(cmds))})
    print(json.dumps({
        "onnxruntime": ort.__version__,
        "preprocess_ms": med["pre"], "vision_ms": med["vis"],
        "text_prefill_1_ms": med["p1"], "text_prefill_4_ms": med["p4"],
        "mask_head_1_ms": med["h1"], "mask_head_4_ms": med["h4"],
        "mask_postprocess_per_command_ms": med["post"],
        "frame_1_command_ms": med["f1"], "frame_4_commands_ms": med["f4"],
        "ratio_4_vs_1": med["f4"] / med["f1"], "describe": desc,
    }))


if __name__ == "__main__":
    main()
