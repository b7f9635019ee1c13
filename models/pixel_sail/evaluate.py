"""Score a labelled set with the Python reference (the model card's figures come from here).

    python -m models.pixel_sail.evaluate SET_DIR [--model models/tiny | --ckpt models/checkpoints/tiny.pt]

Metrics (DESIGN.md §4): cIoU = ΣI/ΣU over target-present commands; gIoU = mean per-command IoU with a
no-target command scoring 1 when predicted empty, else 0; N-acc = share of no-target commands predicted
empty; description accuracy (named object) and visual-prompt description accuracy = share of descriptions
whose size, colour, shape and place all match.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from PIL import Image

from .reference import TorchBackend, from_model_dir
from .vocab import parse_description


def load_mask(set_dir, rel):
    return np.asarray(Image.open(f"{set_dir}/{rel}").convert("L")) > 127


def evaluate(ref, set_dir, limit=None, by_kind=False):
    queries = [json.loads(line) for line in open(f"{set_dir}/set.jsonl")]
    if limit:
        queries = queries[:limit]
    inter = union = 0
    g_ious, n_ok, n_total = [], 0, 0
    desc_ok, desc_n, vp_ok, vp_n = 0, 0, 0, 0
    cache = {}
    for q in queries:
        if q["image"] not in cache:
            cache.clear()
            img = np.asarray(Image.open(f"{set_dir}/{q['image']}").convert("RGB"))
            cache[q["image"]] = (img, ref.encode(img))
        img, st = cache[q["image"]]
        if q["task"] == "segment":
            r = ref.segment(st, [q["text"]])[0]
            if q["mask"] is None:
                n_total += 1
                n_ok += int(not r["found"])
                g_ious.append(float(not r["found"]))
            else:
                gt = load_mask(set_dir, q["mask"])
                i, u = int((gt & r["mask"]).sum()), int((gt | r["mask"]).sum())
                inter, union = inter + i, union + u
                g_ious.append(i / u if u else 1.0)
        elif "text" in q:
            text, _ = ref.describe(st, [q["text"]])[0]
            desc_n += 1
            desc_ok += int(parse_description(text) is not None
                           and parse_description(text) == parse_description(q["description"]))
        else:
            prompt = {k: q[k] for k in ("point", "box") if k in q}
            vst = ref.encode(img, prompt)
            text, _ = ref.describe(vst, [""], vp=True)[0]
            vp_n += 1
            vp_ok += int(parse_description(text) is not None
                         and parse_description(text) == parse_description(q["description"]))
    return {
        "cIoU": inter / union if union else 0.0,
        "gIoU": float(np.mean(g_ious)) if g_ious else 0.0,
        "N-acc": n_ok / n_total if n_total else 0.0,
        "description_acc": desc_ok / desc_n if desc_n else 0.0,
        "vp_description_acc": vp_ok / vp_n if vp_n else 0.0,
        "counts": {"segment": len(g_ious), "no_target": n_total, "describe": desc_n, "vp_describe": vp_n},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir")
    ap.add_argument("--model", default="models/tiny")
    ap.add_argument("--ckpt", default="")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json-out", default="", help="also write the figures here (e.g. models/tiny/metrics.json)")
    ap.add_argument("--split-name", default="test")
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
        with open(a.json_out, "w") as f:
            json.dump({a.split_name: res, "command": "python -m models.pixel_sail.evaluate " + a.set_dir}, f, indent=1)


if __name__ == "__main__":
    main()
