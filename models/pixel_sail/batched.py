"""The batched extra passes of one frame, as the Rust engine runs them (src/inference/batch.rs): every crop
in one vision call along the graph's batch axis `N` (one call per group of equal input size), every prompt
decoded or segmented in one text call over its own crop's prefix, the mask head once per crop. Each
function gives what the `Reference` method it names gives, one object at a time.
"""

from __future__ import annotations

import numpy as np

from . import zoom
from .preprocess import preprocess, vp_grid


def _groups(keys):
    out = {}
    for i, k in enumerate(keys):
        out.setdefault(k, []).append(i)
    return list(out.values())


def encode_batch(ref, items, long_side=None):
    """[(img, prompt, prompt_mask)] → one state each, as `ref.encode(img, prompt, prompt_mask)`; `long_side`
    (the engine's `--crop-long-side`) encodes them smaller than frames."""
    prepared = []
    for img, prompt, prompt_mask in items:
        h, w = img.shape[:2]
        pixels, (rw, rh) = preprocess(img, long_side or ref.long_side, ref.patch)
        gh, gw = pixels.shape[2] // ref.patch, pixels.shape[3] // ref.patch
        vpm = np.zeros((1, 1, gh, gw), np.float32)
        if prompt is not None:
            vpm[0, 0] = vp_grid(prompt, prompt_mask, w, h, rw, rh, ref.patch)
        prepared.append((pixels, vpm, {"grid": (gh, gw), "frame": (w, h), "resized": (rw, rh)}))
    states = [None] * len(items)
    for idx in _groups([p[0].shape for p in prepared]):
        pixels = np.concatenate([prepared[i][0] for i in idx])
        vpm = np.concatenate([prepared[i][1] for i in idx])
        vpi = np.full((len(idx), 1), ref.ids["vp"][0], np.int64)
        pk, pv, feats = ref.b.vision(pixels, vpm, vpi)
        for j, i in enumerate(idx):
            states[i] = {"pk": pk[:, j:j + 1], "pv": pv[:, j:j + 1], "feats": feats[j:j + 1], **prepared[i][2]}
    return states


def stack(states):
    """States of one grid as one state with a prefix per prompt (`Reference._prefill` takes it)."""
    return {"pk": np.concatenate([s["pk"] for s in states], 1), "pv": np.concatenate([s["pv"] for s in states], 1),
            "grid": states[0]["grid"]}


def segment_vp_batch(ref, states):
    """`ref.segment(st, [""], vp=True)[0]` for each state: one text call per grid, the mask head per state."""
    seq = ref.prompt_ids(ref.templates["segment_vp"]) + [ref.ids["seg"]]
    out = [None] * len(states)
    for idx in _groups([s["grid"] for s in states]):
        (logits, hidden, _, _), _, _ = ref._prefill(stack([states[i] for i in idx]), [seq] * len(idx))
        n = len(seq)
        for j, i in enumerate(idx):
            margin = float(logits[j, n - 2, ref.ids["seg"]] - logits[j, n - 2, ref.ids["none"]])
            ml = ref.b.mask_head(states[i]["feats"], hidden[j:j + 1, n - 1].astype(np.float32))
            out[i] = ref._post(states[i], ml[0], margin)
    return out


def describe_vp_batch(ref, states, max_new):
    """`ref.describe_vp(st, max_new)` for each state: one batched decode per grid."""
    seq = ref.prompt_ids(ref.templates["describe_vp"])
    out = [None] * len(states)
    for idx in _groups([s["grid"] for s in states]):
        ids, rows = ref.generate(stack([states[i] for i in idx]), [seq] * len(idx), max_new)
        for j, i in enumerate(idx):
            out[i] = (ref.tok.decode(ids[j]), ids[j], rows[j])
    return out


def _crop(img, rect, mask):
    x0, y0, x1, y1 = rect
    return np.ascontiguousarray(img[y0:y1, x0:x1]), {}, np.ascontiguousarray(mask[y0:y1, x0:x1])


def refine_batch(ref, img, masks, crop_long_side=None):
    """`ref.refine(img, mask)` for each mask, every crop in one batch."""
    out = [(m, None) for m in masks]
    crops = [(i, zoom.crop_around(m, ref.mask_refine)) for i, m in enumerate(masks)] if ref.mask_refine else []
    due = [(i, c[0]) for i, c in crops if c is not None]
    if not due:
        return out
    states = encode_batch(ref, [_crop(img, rect, masks[i]) for i, rect in due], crop_long_side)
    for (i, rect), close in zip(due, segment_vp_batch(ref, states)):
        if close["found"]:
            x0, y0, x1, y1 = rect
            m = masks[i].copy()
            m[y0:y1, x0:x1] = close["mask"]
            out[i] = (m, rect)
    return out


def confirm_batch(ref, img, masks, commands, crop_long_side=None):
    """`ref.confirm(img, mask, command)` for each pair, every crop in one batch."""
    out = [(True, None)] * len(masks)
    if ref.confirm_found is None or ref.vocabulary is None:
        return out
    due = []
    for i, (mask, command) in enumerate(zip(masks, commands)):
        colour, shape = ref.vocabulary.stated(command)
        crop = zoom.crop_around(mask, ref.region_zoom) if colour or shape else None
        if crop is not None:
            due.append((i, crop[0], crop[1], colour, shape))
    if not due:
        return out
    states = encode_batch(ref, [_crop(img, rect, piece) for _, rect, piece, _, _ in due], crop_long_side)
    looks = describe_vp_batch(ref, states, ref.vocabulary.attribute_words())
    for (i, rect, _, colour, shape), look in zip(due, looks):
        out[i] = ref.weigh(rect, *look, colour, shape)
    return out


def segment_frame(ref, img, st, texts, crop_long_side=None):
    """`ref.segment_frame` with the closer segmentations in one batch, then the closer checks in one batch."""
    out = ref.segment(st, texts)
    found = [i for i, r in enumerate(out) if r["found"]]
    for i in found:
        out[i]["confirm"] = None
    for i, (mask, rect) in zip(found, refine_batch(ref, img, [out[i]["mask"] for i in found], crop_long_side)):
        out[i]["mask"], out[i]["refined"] = mask, rect
    due = [i for i in found if ref.confirm_found is not None
           and out[i]["score"] < ref.confirm_found.get("max_score", float("inf"))]
    masks, commands = [out[i]["mask"] for i in due], [texts[i] for i in due]
    for i, (ok, look) in zip(due, confirm_batch(ref, img, masks, commands, crop_long_side)):
        out[i]["confirm"] = look
        if not ok:
            out[i]["found"], out[i]["mask"] = False, np.zeros_like(out[i]["mask"])
    return out
