#!/usr/bin/env python3
"""The Python side of `pixel-sail bench`: the Python reference (models/pixel_sail/reference.py) over the same
three ONNX graphs through onnxruntime's Python API, on the same frames, commands and loop as the Rust side,
timed stage by stage. Prints one JSON object (last line).

    .venv/bin/python scripts/bench_python.py --model models/tiny --image tests/fixtures/tabletop_640x480.jpg

Stage times come from timing each graph call of the reference's backend; what an encode or segment call
spends outside the graphs is preprocessing (numpy) or mask postprocessing (crop, bilinear resize, threshold).
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

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from models.pixel_sail.reference import OrtBackend, from_model_dir  # noqa: E402

COMMANDS = ["pick up the green triangle", "grab the blue triangle", "find the red square", "where is the white circle?"]


class TimedBackend:
    """The reference's ONNX Runtime backend with the milliseconds of every graph call recorded."""

    def __init__(self, inner):
        self.inner, self.tokens, self.calls = inner, inner.tokens, []

    def _timed(self, graph, fn, *args):
        t = time.perf_counter()
        out = fn(*args)
        self.calls.append((graph, (time.perf_counter() - t) * 1e3))
        return out

    def vision(self, *a):
        return self._timed("vision", self.inner.vision, *a)

    def text(self, *a):
        return self._timed("text", self.inner.text, *a)

    def mask_head(self, *a):
        return self._timed("mask_head", self.inner.mask_head, *a)

    def take(self):
        calls, self.calls = self.calls, []
        return calls


def ms(graph, calls):
    return sum(t for g, t in calls if g == graph)


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t) * 1e3


def frame(ref, be, img, cmds):
    """One frame end to end: {stage: ms} with preprocess and postprocess as the time outside the graphs."""
    st, enc_ms = timed(ref.encode, img)
    vis = ms("vision", be.take())
    _, seg_ms = timed(ref.segment, st, cmds)
    calls = be.take()
    prefill, head = ms("text", calls), ms("mask_head", calls)
    return {"pre": enc_ms - vis, "vis": vis, "prefill": prefill, "head": head,
            "post": (seg_ms - prefill - head) / len(cmds), "total": enc_ms + seg_ms}


def describe(ref, be, img, cmds):
    """(tokens generated, seconds in all, decoding steps, seconds in decoding steps) of one batched run."""
    st = ref.encode(img)
    be.take()
    out, total = timed(ref.describe, st, cmds)
    calls = [t for g, t in be.take() if g == "text"]
    return sum(len(ids) for _, ids in out), total / 1e3, len(calls) - 1, sum(calls[1:]) / 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/tiny")
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--spin", action="store_true")
    ap.add_argument("--describe-only", action="store_true", help="only the description timing (bench --decode-rounds)")
    a = ap.parse_args()
    # Session options as on the Rust side: spin-waiting off unless --spin, no memory pattern.
    be = TimedBackend(OrtBackend(a.model, a.threads, a.spin, mem_pattern=False))
    ref = from_model_dir(a.model, be)
    ref.max_new = min(a.max_tokens, ref.max_new)
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in (a.image or ["tests/fixtures/tabletop_640x480.jpg"])]
    one, four = COMMANDS[:1], COMMANDS
    for f in frames:  # warm-up
        if not a.describe_only:
            frame(ref, be, f, four)
        describe(ref, be, f, one)
    rec = {}
    for i in range(0 if a.describe_only else a.iters):
        for f in frames:
            for cmds in ((one, four) if i % 2 == 0 else (four, one)):
                n = len(cmds)
                for k, v in frame(ref, be, f, cmds).items():
                    key = k if k in ("pre", "vis", "post") else f"{k}{n}"
                    rec.setdefault(key, []).append(v)
    desc = []
    for cmds in (one, four):
        tok = secs = steps = step_secs = 0
        runs = max(a.iters // 2, 3)
        for _ in range(runs):
            t, s, n, ds = describe(ref, be, frames[0], cmds)
            tok, secs, steps, step_secs = tok + t, secs + s, steps + n, step_secs + ds
        desc.append({"batch": len(cmds), "tokens_per_s": tok / max(secs, 1e-9),
                     "ms_per_step": step_secs * 1e3 / steps if steps else float("nan"),
                     "tokens_per_description": tok / (runs * len(cmds))})
    if a.describe_only:
        print(json.dumps({"onnxruntime": ort.__version__, "describe": desc}))
        return
    med = {k: float(np.median(v)) for k, v in rec.items()}
    print(json.dumps({
        "onnxruntime": ort.__version__,
        "preprocess_ms": med["pre"], "vision_ms": med["vis"],
        "text_prefill_1_ms": med["prefill1"], "text_prefill_4_ms": med["prefill4"],
        "mask_head_1_ms": med["head1"], "mask_head_4_ms": med["head4"],
        "mask_postprocess_per_command_ms": med["post"],
        "frame_1_command_ms": med["total1"], "frame_4_commands_ms": med["total4"],
        "ratio_4_vs_1": med["total4"] / med["total1"], "describe": desc,
    }))


if __name__ == "__main__":
    main()
