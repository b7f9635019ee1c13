"""Score a crowded set (write_set --split crowded_val|crowded_test) with evaluate.py, plus what crowding asks.

    python -m models.pixel_sail.crowded_eval /tmp/crowded-test --policy published \
        --json-out models/tiny/metrics.json --split-name crowded_test

The figures are evaluate.py's (cIoU, N-acc, descriptions, intervals), and `commands` splits the segment commands
by the words they need: `position` (a leftmost/rightmost/topmost/bottommost word), `attributes` (size, colour,
shape only) and `absent` (a colour and a shape both in view, never together). For the two named kinds it gives
the share whose mask overlaps the target at IoU > 0.5 (`hit`), with a 95 % bootstrap interval over scenes; for
`absent`, the share answered "not there". `--policy model` runs the model alone: model.json without the passes
around the model (mask_refine, confirm_found, region_zoom, wording), in a temporary model folder beside links to
the same graphs and tokenizer; the presence margin (postprocess) is the shipped one in both policies.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from .crowded import POSITIONS
from .evaluate import evaluate, load_mask
from .reference import OrtBackend, from_model_dir

POLICY_KEYS = ("mask_refine", "confirm_found", "region_zoom", "wording")  # model.json's passes around the model
KINDS = ("position", "attributes", "absent")


def model_alone_dir(model_dir: str, into: str) -> str:
    """A model folder at `into` whose model.json lacks POLICY_KEYS; the graphs and tokenizer are links."""
    meta = json.load(open(f"{model_dir}/model.json"))
    for name in meta["files"].values():
        os.symlink(os.path.abspath(f"{model_dir}/{name}"), f"{into}/{name}")
    with open(f"{into}/model.json", "w") as f:
        json.dump({k: v for k, v in meta.items() if k not in POLICY_KEYS}, f, indent=1)
    return into


def command_kind(text: str, has_target: bool) -> str:
    if not has_target:
        return "absent"
    return "position" if any(w in POSITIONS for w in text.rstrip("?").split()) else "attributes"


class _Recorder:
    """Passes every call to the reference and keeps what segment_frame answered for each command, in order."""

    def __init__(self, ref, progress=0):
        self.ref, self.answers, self.progress = ref, [], progress

    def __getattr__(self, name):
        return getattr(self.ref, name)

    def segment_frame(self, img, st, texts, *args, **kwargs):
        out = self.ref.segment_frame(img, st, texts, *args, **kwargs)
        self.answers.extend((t, r["found"], r["mask"]) for t, r in zip(texts, out))
        if self.progress and len(self.answers) % self.progress == 0:
            print(f"{time.strftime('%H:%M:%S')} {len(self.answers)} commands", file=sys.stderr, flush=True)
        return out


def command_rows(set_dir: str, answers: list, limit=None):
    """Per scene, [hits, commands] for each of KINDS (absent: answered "not there"), from the segment
    commands' answers (which are in the set's order, interleaved with the named descriptions' own)."""
    queries = [json.loads(line) for line in open(f"{set_dir}/set.jsonl")][: limit or None]
    texts = [q for q in queries if "text" in q]
    if len(texts) != len(answers):
        raise ValueError(f"{len(answers)} answers for {len(texts)} commands: evaluate.py no longer segments each "
                         "command once")
    rows = {}
    for q, (text, found, mask) in zip(texts, answers):
        if text != q["text"]:
            raise ValueError(f"answer for {text!r} where {q['text']!r} was due")
        row = rows.setdefault(q["image"], np.zeros(2 * len(KINDS)))
        if q["task"] != "segment":
            continue
        k = KINDS.index(command_kind(q["text"], q["mask"] is not None))
        if q["mask"] is None:
            hit = not found
        else:
            gt = load_mask(set_dir, q["mask"])
            u = int((gt | mask).sum())
            hit = found and u > 0 and int((gt & mask).sum()) / u > 0.5
        row[2 * k: 2 * k + 2] += (hit, 1)
    return np.array(list(rows.values())).reshape(-1, 2 * len(KINDS))


def command_figures(rows: np.ndarray, reps=2000, seed=0) -> dict:
    """Each kind's share (hit, or "not there" for absent), count and 95 % interval, resampling scenes."""
    pick = np.random.default_rng(seed).integers(0, len(rows), (reps, len(rows)))
    sums = rows[pick].sum(1)
    totals = rows.sum(0)
    out = {}
    for k, name in enumerate(KINDS):
        n = int(totals[2 * k + 1])
        ok = sums[:, 2 * k + 1] > 0
        lo, hi = np.percentile(sums[ok, 2 * k] / sums[ok, 2 * k + 1], [2.5, 97.5]) if n else (0.0, 0.0)
        out[name] = {"share" if name == "absent" else "hit": round(float(totals[2 * k] / n), 3) if n else None,
                     "n": n, "interval95": [round(float(lo), 3), round(float(hi), 3)]}
    return out


def evaluate_crowded(ref, set_dir: str, limit=None, progress=0) -> dict:
    rec = _Recorder(ref, progress)
    res = evaluate(rec, set_dir, limit)
    res["commands"] = command_figures(command_rows(set_dir, rec.answers, limit))
    res["position_word_hit"] = res["commands"]["position"]["hit"]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir")
    ap.add_argument("--model", default="models/tiny")
    ap.add_argument("--policy", default="published", choices=["published", "model"])
    ap.add_argument("--limit", type=int, default=0, help="queries (three a scene)")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    ap.add_argument("--json-out", default="", help="also write the figures here under --split-name/--policy")
    ap.add_argument("--split-name", default="crowded_test")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = a.model if a.policy == "published" else model_alone_dir(a.model, tmp)
        t0 = time.time()
        ref = from_model_dir(model_dir, OrtBackend(model_dir, a.threads) if a.threads else None)
        res = evaluate_crowded(ref, a.set_dir, a.limit or None, progress=50)
    res["seconds"] = round(time.time() - t0, 1)
    res["policy"] = a.policy
    print(json.dumps(res, indent=1))
    if a.json_out:
        try:
            with open(a.json_out) as f:
                out = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            out = {}
        out.setdefault(a.split_name, {})[a.policy] = res
        out["command_" + a.split_name] = (f"python -m models.pixel_sail.write_set --split {a.split_name} --out "
                                          f"/tmp/{a.split_name} && python -m models.pixel_sail.crowded_eval "
                                          f"/tmp/{a.split_name} --policy published|model")
        with open(a.json_out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
