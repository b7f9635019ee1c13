"""Calibrate the found / not-there decision on the validation split, and write it to model.json.

    python -m models.pixel_sail.write_set --split val --out /tmp/valset --scenes 1000
    python -m models.pixel_sail.calibrate /tmp/valset [--model models/tiny] [--write]

A segment command's answer is `[SEG]` or `<none>`; the node reports the object found when
logit([SEG]) − logit(<none>) exceeds model.json's `postprocess.presence_margin` (0 = the model's own argmax).
Where to put that line trades missed objects against "found" answers to commands naming nothing in view.
This picks the margin with the best balanced accuracy on the validation split — the mean of the share of
present objects found and the share of no-target commands answered "not there", each kind weighted
equally whatever their counts — and prints the whole sweep (found rate, N-acc, cIoU at each margin), so a
user who needs fewer misses or fewer false alarms can choose another. Never calibrate on the test split.

Where model.json has `confirm_found`, a find also has to pass the closer check against its command (it depends
on the mask and the command, not on the line), so the sweep counts a command found only when its margin clears
the line and the check lets it through: the check catches false finds, which moves the best line down.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from PIL import Image

from .reference import from_model_dir

GRID = np.round(np.arange(-3.0, 1.0001, 0.05), 2)


def passes_check(ref, img, st, r, command):
    """Would the node's closer check (`Reference.confirm_find`, on the refined mask) let this answer through if
    the line called it found? Answers no line on the grid could call found are not checked."""
    if ref.confirm_found is None or r["margin"] <= GRID[0]:
        return True
    _, mask = ref.upsample(st, r["logits"])
    if not mask.any():
        return True
    refined, _ = ref.refine(img, mask)
    return ref.confirm_find(img, {**r, "found": True, "mask": refined}, command)[0]


def collect(ref, set_dir, limit=0):
    """Per target-present command: (margin, intersection and union of its mask whatever the decision, the
    truth's area); per no-target command: its margin; and per command whether the closer check passes it."""
    present, absent, present_ok, absent_ok = [], [], [], []
    last, st = None, None
    queries = [json.loads(line) for line in open(f"{set_dir}/set.jsonl")]
    for q in queries[:limit] if limit else queries:
        if q["task"] != "segment":
            continue
        if q["image"] != last:
            last = q["image"]
            img = np.asarray(Image.open(f"{set_dir}/{last}").convert("RGB"))
            st = ref.encode(img)
        r = ref.segment(st, [q["text"]])[0]
        ok = passes_check(ref, img, st, r, q["text"])
        if q["mask"] is None:
            absent.append(r["margin"])
            absent_ok.append(ok)
            continue
        present_ok.append(ok)
        _, mask = ref.upsample(st, r["logits"])
        gt = np.asarray(Image.open(f"{set_dir}/{q['mask']}").convert("L")) > 127
        present.append((r["margin"], int((gt & mask).sum()), int((gt | mask).sum()), int(gt.sum())))
    return (np.array(present, dtype=np.float64).reshape(-1, 4), np.array(absent, dtype=np.float64),
            np.array(present_ok, dtype=bool), np.array(absent_ok, dtype=bool))


def sweep(present, absent, grid=GRID, present_ok=None, absent_ok=None):
    """Each margin's found rate, N-acc, balanced accuracy and cIoU (a missed object scores I = 0, U = its area).
    `present_ok` / `absent_ok`: whether the closer check passes each command (None: no check)."""
    present_ok = np.ones(len(present), bool) if present_ok is None else present_ok
    absent_ok = np.ones(len(absent), bool) if absent_ok is None else absent_ok
    rows = []
    for t in grid:
        found = (present[:, 0] > t) & present_ok
        inter = present[found, 1].sum()
        union = present[found, 2].sum() + present[~found, 3].sum()
        hit = float(found.mean()) if len(found) else 0.0
        nacc = float(((absent <= t) | ~absent_ok).mean()) if len(absent) else 1.0
        rows.append({"margin": float(t), "found": round(hit, 4), "N-acc": round(nacc, 4),
                     "balanced": round((hit + nacc) / 2, 4), "cIoU": round(float(inter / union), 4) if union else 0.0})
    return rows


def best(rows):
    """The best balanced accuracy; among equals, the margin nearest 0 (the model's own decision)."""
    return max(rows, key=lambda r: (r["balanced"], -abs(r["margin"])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir", help="a labelled validation set (write_set --split val)")
    ap.add_argument("--model", default="models/tiny")
    ap.add_argument("--limit", type=int, default=0, help="only the first N queries")
    ap.add_argument("--write", action="store_true", help="store the chosen margin in the model's model.json")
    a = ap.parse_args()
    present, absent, present_ok, absent_ok = collect(from_model_dir(a.model), a.set_dir, a.limit)
    rows = sweep(present, absent, GRID, present_ok, absent_ok)
    for r in rows[::5]:
        print(json.dumps(r))
    pick = best(rows)
    print(f"{len(present)} target-present and {len(absent)} no-target commands ({int((~present_ok).sum())} and "
          f"{int((~absent_ok).sum())} the closer check rejects); best balanced accuracy: {json.dumps(pick)}")
    if a.write:
        path = f"{a.model}/model.json"
        meta = json.load(open(path))
        meta["postprocess"]["presence_margin"] = pick["margin"]
        with open(path, "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        print(f"wrote postprocess.presence_margin = {pick['margin']} to {path}")


if __name__ == "__main__":
    main()
