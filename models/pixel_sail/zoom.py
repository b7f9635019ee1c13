"""A second, closer look at small described objects, clicked or named (mirrored in Rust `src/grounding/zoom.rs`).

The model sees a 640×480 frame at 320×240, so a small object (6–10 % of the width) covers one or two 16-px
patches and its shape is half-guessed: on the 1,000-scene test split, 22 % of small-object shapes came out
wrong against 7 % of large ones. The region's mask tells us where to look: crop the frame around it so the
object fills about the share of the view a large object does, encode the crop with the mask as the visual
prompt, and read the object's colour and shape from that pass. Size and place are relative to the whole
frame, so they stay the first pass's words. Every number here is in model.json ("region_zoom"); the words are
the model's vocabulary (vocabulary.py, model.json "vocabulary").
"""

from __future__ import annotations

import math

import numpy as np

from .vocabulary import Vocabulary

DEFAULT = {"object_fraction": 0.18, "min_crop_fraction": 0.25, "max_crop_fraction": 0.8}
# the second, closer segmentation of found objects (Reference.refine; model.json "mask_refine"): the object at a
# quarter of the crop's width — 0.25 and 0.3 gave cIoU +0.02 on 300 validation scenes, 0.45 and 0.6 lost (the
# object grows past the scales the model trained on), 0.2 gained half as much — and any object under 0.24 of
# the frame's width gets one
REFINE_DEFAULT = {"object_fraction": 0.25, "min_crop_fraction": 0.25, "max_crop_fraction": 0.95}
# a found object is dropped when the closer look names another colour or shape than the command, and is surer
# of its word than of the command's by more than this (log-odds; Reference.confirm; model.json "confirm_found"):
# on 300 validation scenes, of the found objects the closer look checked, 2.0 dropped 18 of 30 wrong objects and 4
# of 4 no-target finds for 4 of 282 right ones; any disagreement (0) dropped 10 right ones. Finds scored at least
# max_score (margin ≈ 3.9) are not checked: that skipped ~60 % of the checks and 1 of the 18 wrong objects
CONFIRM_DEFAULT = {"min_log_odds": 2.0, "max_score": 0.98}
# how a found object's words are settled (model.json "wording"; Reference.word_object): the shape both looks are
# surer of together, the place where the mask's main piece is. On 1,000 validation scenes, named descriptions
# 0.849 → 0.878 (place) → 0.891 (and shape); visual prompts 0.882 → 0.902 → 0.911 (models/README.md)
WORDING_DEFAULT = {"joint_shape": True, "place_from_mask": True}


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The mask's largest 4-connected piece (the first in raster order on a tie): stray pixels on another
    object would otherwise stretch the box and hide how small the object is."""
    h, w = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    best = []
    for start in np.flatnonzero(mask):
        if seen.flat[start]:
            continue
        seen.flat[start] = True
        piece, stack = [], [int(start)]
        while stack:
            i = stack.pop()
            piece.append(i)
            y, x = divmod(i, w)
            for j, ok in ((i - w, y > 0), (i + w, y < h - 1), (i - 1, x > 0), (i + 1, x < w - 1)):
                if ok and mask.flat[j] and not seen.flat[j]:
                    seen.flat[j] = True
                    stack.append(j)
        if len(piece) > len(best):
            best = piece
    out = np.zeros_like(mask, dtype=bool)
    out.flat[best] = True
    return out


def crop_rect(bbox, frame_w: int, frame_h: int, params: dict = DEFAULT):
    """[x0, y0, x1, y1) of the crop around an object's end-exclusive bbox, with the frame's aspect ratio, or
    None when the object is already big enough in the frame (the crop would be most of it)."""
    x0, y0, x1, y1 = bbox
    side = max(x1 - x0, (y1 - y0) * frame_w / frame_h)  # the object's extent in frame-width units
    want = side / params["object_fraction"]
    if want > params["max_crop_fraction"] * frame_w:
        return None
    cw = min(frame_w, max(math.ceil(want), math.ceil(params["min_crop_fraction"] * frame_w)))
    ch = min(frame_h, max(1, math.floor(cw * frame_h / frame_w + 0.5)))
    cx0 = min(max(0, (x0 + x1 - cw) // 2), frame_w - cw)
    cy0 = min(max(0, (y0 + y1 - ch) // 2), frame_h - ch)
    return [cx0, cy0, cx0 + cw, cy0 + ch]


def crop_around(mask: np.ndarray, params: dict):
    """The crop around a frame-size mask's largest piece, as (rect, piece), or None when the mask is empty or the
    object is already big enough (crop_rect). Both second passes start here: the closer look and the closer
    segmentation."""
    piece = largest_component(mask)
    ys, xs = np.nonzero(piece)
    if len(xs) == 0:
        return None
    h, w = mask.shape
    rect = crop_rect([int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1], w, h, params)
    return None if rect is None else (rect, piece)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64) - x.max()
    return x - np.log(np.exp(x).sum())


def shape_scores(first, close, shape_ids, step):
    """How sure the two looks at an object are together of each shape word (`shape_ids[i]` is the token of the
    vocabulary's i-th shape; the shape is the `step`-th generated word, Vocabulary.shape_step): each look's logits
    at that step, as log-probabilities over the shape words, summed. `first` and `close` are (token ids, logits
    rows) of the two descriptions. None when either did not put a shape word at the shape step. The closer look
    sees a small object's outline better, the whole frame sees it less cut off; where one is unsure the other
    decides (the closer look alone named the clip's small star a triangle whenever its crop's scale moved). The
    joint shape is the vocabulary's shapes[argmax]."""
    scores = np.zeros(len(shape_ids))
    for ids, rows in (first, close):
        if len(ids) <= step or len(rows) <= step or ids[step] not in shape_ids:
            return None
        scores += _log_softmax(np.asarray(rows[step])[shape_ids])
    return scores


def place_of_mask(mask: np.ndarray, vocabulary: Vocabulary):
    """The vocabulary's place phrase for this mask: the 3×3 cell (DESIGN.md §4) of its largest piece's centroid,
    pixel centres in frame fractions; None for an empty mask. The largest piece, because a refined mask can keep
    a stray bit of the first pass's far away."""
    ys, xs = np.nonzero(largest_component(mask))
    if len(xs) == 0:
        return None
    h, w = mask.shape
    cx, cy = (xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h
    return vocabulary.place(min(2, int(cy * 3)) * 3 + min(2, int(cx * 3)))
