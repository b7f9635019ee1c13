"""Compares two `pixel-sail infer --json` results of the same frame and commands: the x86_64 build against the
aarch64 build run under qemu. Same found flags, the same description words, and masks that overlap (IoU at
least --min-iou, 0.99 by default: the two builds run different ONNX Runtime kernels, AVX2 against NEON, so
scores differ in the last digits and a mask edge may move by a pixel). Prints what it measured; exits 1 naming
every difference.

usage: compare_infer.py X86.json AARCH64.json [--min-iou 0.99]
"""

import argparse
import json
import sys

import numpy as np


def decode_rle(rle):
    """COCO uncompressed RLE (column-major, first run background) to a flat 0/1 array in the same order."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.sum() != h * w:
        raise ValueError(f"RLE counts sum to {counts.sum()}, expected {h}x{w}")
    return np.repeat(np.arange(len(counts)) % 2, counts).astype(bool)


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def words(text):
    return (text or "").split()


class Comparison:
    def __init__(self, min_iou):
        self.min_iou = min_iou
        self.differences = []
        self.ious = []

    def differ(self, what):
        self.differences.append(what)

    def segment(self, name, want, got):
        """One segmentation (a command's, or the visual prompt's region): found flag and mask."""
        if want["found"] != got["found"]:
            self.differ(f"{name}: found {want['found']} on x86_64, {got['found']} on aarch64")
        if want["rle"]["size"] != got["rle"]["size"]:
            self.differ(f"{name}: mask size {want['rle']['size']} against {got['rle']['size']}")
            return
        a, b = decode_rle(want["rle"]), decode_rle(got["rle"])
        value = iou(a, b)
        self.ious.append(value)
        print(
            f"  {name}: found {got['found']}, score {want['score']:.5f} / {got['score']:.5f} "
            f"(diff {abs(want['score'] - got['score']):.2e}), mask {a.sum()} / {b.sum()} px, IoU {value:.5f}, "
            f"bbox {want['bbox']} / {got['bbox']}"
        )
        if value < self.min_iou:
            self.differ(f"{name}: mask IoU {value:.5f} < {self.min_iou} ({a.sum()} px on x86_64, {b.sum()} on aarch64)")

    def text(self, name, want, got):
        if words(want) != words(got):
            self.differ(f"{name}: description {want!r} on x86_64, {got!r} on aarch64")
        else:
            print(f"  {name}: {' '.join(words(got)) or '(none)'}")


def compare(want, got, min_iou):
    c = Comparison(min_iou)
    w_cmds, g_cmds = want["commands"], got["commands"]
    if [x["command"] for x in w_cmds] != [x["command"] for x in g_cmds]:
        c.differ(f"commands differ: {[x['command'] for x in w_cmds]} against {[x['command'] for x in g_cmds]}")
        return c
    for w, g in zip(w_cmds, g_cmds):
        name = f"command {w['index'] + 1} {w['command']!r}"
        c.segment(name, w, g)
        c.text(name, w.get("description"), g.get("description"))
    w_reg, g_reg = want.get("region"), got.get("region")
    if (w_reg is None) != (g_reg is None):
        c.differ(f"region: {'present' if w_reg else 'absent'} on x86_64, {'present' if g_reg else 'absent'} on aarch64")
    elif w_reg is not None:
        name = f"region {json.dumps(w_reg['prompt'])}"
        c.segment(name, w_reg, g_reg)
        c.text(name, w_reg["description"], g_reg["description"])
        w_look, g_look = w_reg.get("close_look"), g_reg.get("close_look")
        if (w_look is None) != (g_look is None):
            c.differ(f"{name}: closer look {w_look} on x86_64, {g_look} on aarch64")
        elif w_look is not None:
            print(f"  {name}: closer look crop {w_look['crop']} / {g_look['crop']}")
            c.text(f"{name} closer look", w_look["description"], g_look["description"])
    return c


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("x86")
    p.add_argument("aarch64")
    p.add_argument("--min-iou", type=float, default=0.99)
    args = p.parse_args()
    with open(args.x86) as f:
        want = json.load(f)
    with open(args.aarch64) as f:
        got = json.load(f)
    print(f"{args.x86} (x86_64, {want['milliseconds']:.0f} ms) against {args.aarch64} (aarch64, {got['milliseconds']:.0f} ms):")
    c = compare(want, got, args.min_iou)
    if c.differences:
        print(f"FAIL: the aarch64 build differs from the x86_64 build in {len(c.differences)} place(s):", file=sys.stderr)
        for d in c.differences:
            print(f"  - {d}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {len(c.ious)} masks, lowest IoU {min(c.ious):.5f}; found flags and description words identical")


if __name__ == "__main__":
    main()
