"""Score a labelled set with the Python reference (the model card's figures come from here).

    python -m models.pixel_sail.evaluate SET_DIR [--model models/tiny | --ckpt models/checkpoints/tiny.pt]

Metrics (DESIGN.md §4): cIoU = ΣI/ΣU over target-present commands; gIoU = mean per-command IoU with a
no-target command scoring 1 when predicted empty, else 0; N-acc = share of no-target commands predicted
empty; description accuracy (named object) and visual-prompt description accuracy = share of descriptions
whose size, colour, shape and place all match. `description_attributes` breaks both down: the share right
per attribute and the share that did not parse as a description at all (what the model has yet to learn).
`description_confusions` lists the commonest wrong answers per attribute ("star → cross"), and
`interval95` each figure's 95 % interval from a bootstrap over the set's scenes. `named_by_grounding` splits the
named descriptions by what the command's segmentation did first — found the right object (IoU > 0.5), found
another one, or found nothing — with each part's share and description accuracy: the node describes what the
mask shows, so a description can only be as right as the grounding under it. A named object the node did not
find gets no description, as on the robot: it counts as a wrong description and, apart, as `not_described`.
Queries are answered through the reference's three operations under its policy (`ref.policy`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
from PIL import Image

from .reference import TorchBackend, from_model_dir
from .vocab import parse_description


def load_mask(set_dir, rel):
    return np.asarray(Image.open(f"{set_dir}/{rel}").convert("L")) > 127


ATTRIBUTES = ("size", "colour", "shape", "place")
# per-scene columns: mask intersection, union, gIoU sum, gIoU count (every segment command), no-target commands
# answered "not there", no-target commands, named descriptions right, named, VP descriptions right, VP
FIGURES = {"cIoU": (0, 1), "gIoU": (2, 3), "N-acc": (4, 5), "description_acc": (6, 7), "vp_description_acc": (8, 9)}


class _DescriptionTally:
    """Exact-match and per-attribute counts for one kind of description query."""

    def __init__(self):
        self.n, self.exact, self.unparsed, self.missing = 0, 0, 0, 0
        self.right = np.zeros(len(ATTRIBUTES), dtype=int)
        self.confused = {a: Counter() for a in ATTRIBUTES}  # "truth → answer" per attribute

    def add(self, text, truth) -> bool:
        """Counts one description (None: none was made, a wrong one); True when it matches the truth exactly."""
        self.n += 1
        if text is None:
            self.missing += 1
            return False
        got, want = parse_description(text), parse_description(truth)
        if got is None:
            self.unparsed += 1
            return False
        self.exact += int(got == want)
        self.right += np.array([a == b for a, b in zip(got, want)], dtype=int)
        for name, g, w in zip(ATTRIBUTES, got, want):
            if g != w:
                self.confused[name][f"{w} → {g}"] += 1
        return got == want

    def confusions(self, top=6):
        """The commonest wrong answers per attribute, e.g. {"shape": {"star → cross": 7, …}, …}."""
        return {a: dict(c.most_common(top)) for a, c in self.confused.items() if c}

    def accuracy(self):
        return self.exact / self.n if self.n else 0.0

    def breakdown(self):
        d = {k: round(float(v) / self.n, 3) if self.n else 0.0 for k, v in zip(ATTRIBUTES, self.right)}
        d["unparsed"] = round(self.unparsed / self.n, 3) if self.n else 0.0
        return d


GROUNDINGS = ("right_object", "wrong_object", "not_found")


class _GroundingTally:
    """Named descriptions split by the grounding under them (GROUNDINGS): how many, and how many right."""

    def __init__(self):
        self.n = dict.fromkeys(GROUNDINGS, 0)
        self.right = dict.fromkeys(GROUNDINGS, 0)

    @staticmethod
    def kind(found: bool, iou: float) -> str:
        return "not_found" if not found else "right_object" if iou > 0.5 else "wrong_object"

    def add(self, found: bool, iou: float, described_right: bool):
        k = self.kind(found, iou)
        self.n[k] += 1
        self.right[k] += int(described_right)

    def report(self):
        total = sum(self.n.values())
        return {k: {"share": round(self.n[k] / total, 3) if total else 0.0,
                    "description_acc": round(self.right[k] / self.n[k], 3) if self.n[k] else None}
                for k in GROUNDINGS}


def evaluate(ref, set_dir, limit=None):
    queries = [json.loads(line) for line in open(f"{set_dir}/set.jsonl")]
    if limit:
        queries = queries[:limit]
    named, vp, grounding = _DescriptionTally(), _DescriptionTally(), _GroundingTally()
    cache = {}
    scene = {}  # per image, FIGURES' columns: each figure is a ratio of their totals, the bootstrap resamples them
    for q in queries:
        row = scene.setdefault(q["image"], np.zeros(10))
        if q["image"] not in cache:
            cache.clear()
            img = np.asarray(Image.open(f"{set_dir}/{q['image']}").convert("RGB"))
            cache[q["image"]] = (img, ref.encode(img))
        img, st = cache[q["image"]]
        if q["task"] == "segment":
            r = ref.segment_frame(img, st, [q["text"]])[0]
            if q["mask"] is None:
                row[4:6] += (not r["found"], 1)
                row[2:4] += (not r["found"], 1)
            else:
                gt = load_mask(set_dir, q["mask"])
                i, u = int((gt & r["mask"]).sum()), int((gt | r["mask"]).sum())
                row[0:2] += (i, u)
                row[2:4] += (i / u if u else 1.0, 1)
        elif "text" in q:
            seg = ref.segment_frame(img, st, [q["text"]])[0]
            # as the node does: describe what the command's mask shows, nothing when it found nothing
            text = ref.describe_object(img, seg["mask"])["text"] if seg["found"] else None
            right = named.add(text, q["description"])
            row[6:8] += (right, 1)
            gt = load_mask(set_dir, q["mask"])
            u = int((gt | seg["mask"]).sum())
            grounding.add(seg["found"], int((gt & seg["mask"]).sum()) / u if u else 0.0, right)
        else:
            prompt = {k: q[k] for k in ("point", "box") if k in q}
            text = ref.describe_region(img, prompt)["text"]
            row[8:10] += (vp.add(text, q["description"]), 1)
    rows = np.array(list(scene.values())).reshape(-1, 10)
    totals = rows.sum(0)
    return {
        **{name: float(totals[num] / totals[den]) if totals[den] else 0.0 for name, (num, den) in FIGURES.items()},
        "description_attributes": {"named": named.breakdown(), "vp": vp.breakdown()},
        "description_confusions": {"named": named.confusions(), "vp": vp.confusions()},
        "named_by_grounding": grounding.report(),
        "counts": {"segment": int(totals[3]), "no_target": int(totals[5]), "describe": named.n,
                   "not_described": named.missing, "vp_describe": vp.n},
        "interval95": scene_bootstrap(rows),
    }


def scene_bootstrap(rows, reps=2000, seed=0):
    """95 % intervals of each figure, resampling whole scenes (a scene's queries share one image, so they are
    not independent): on 200 scenes a description accuracy of 0.84 was 0.84 ± ~0.05."""
    if len(rows) == 0:
        return {}
    pick = np.random.default_rng(seed).integers(0, len(rows), (reps, len(rows)))
    sums = rows[pick].sum(1)  # [reps, 10]
    out = {}
    for name, (num, den) in FIGURES.items():
        ok = sums[:, den] > 0
        if ok.any():
            lo, hi = np.percentile(sums[ok, num] / sums[ok, den], [2.5, 97.5])
            out[name] = [round(float(lo), 3), round(float(hi), 3)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir")
    ap.add_argument("--model", default="models/tiny")
    ap.add_argument("--ckpt", default="")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json-out", default="",
                    help="also write the figures here under --split-name (e.g. models/tiny/metrics.json); other "
                         "sets already in the file are kept")
    ap.add_argument("--split-name", default="test", help="e.g. test_renderer_b for the independent renderer")
    a = ap.parse_args()
    if a.ckpt:
        from .export import load_checkpoint
        model, _ = load_checkpoint(a.ckpt)
        ref = from_model_dir(a.model, TorchBackend(model))
    else:
        ref = from_model_dir(a.model)
    t0 = time.time()
    res = evaluate(ref, a.set_dir, a.limit or None)
    res["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(res, indent=1))
    if a.json_out:
        try:
            with open(a.json_out) as f:
                out = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            out = {}
        out[a.split_name] = res
        # "command" for the test split (what tests/eval_split.rs and the card quote), "command_<set>" for others
        key = "command" if a.split_name == "test" else "command_" + a.split_name.removeprefix("test_")
        out[key] = "python -m models.pixel_sail.evaluate " + a.set_dir
        with open(a.json_out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
