"""Referring expressions, no-target commands, descriptions and visual prompts for a tabletop scene.

Rules (DESIGN.md §4): an expression names exactly one object with the fewest words that make it unique,
from colour, shape (or "object"/"shape"), size ("small"/"large"/"big"), and, when attributes cannot
separate identical objects, its position among the objects matching colour and shape.
"""

from __future__ import annotations

import itertools

import numpy as np

from .tabletop import Scene
from .vocab import COLOURS, PLACES, SHAPES, SIZES, WRAPPERS, description

POS_GAP = 0.05  # minimum separation (fraction of the frame) for a position word to be unambiguous


def place_of(cx: float, cy: float) -> str:
    return PLACES[min(2, int(cy * 3))][min(2, int(cx * 3))]


def describe_object(scene: Scene, idx: int) -> str:
    o = scene.objects[idx]
    return description(o.size, o.colour, o.shape, place_of(o.cx, o.cy))


def _matches(o, attrs: dict) -> bool:
    return all(getattr(o, k) == v for k, v in attrs.items())


def _phrase(attrs: dict, rng: np.random.Generator) -> str:
    words = ["the"]
    if "size" in attrs:
        words.append("big" if attrs["size"] == "large" and rng.random() < 0.3 else attrs["size"])
    if "colour" in attrs:
        words.append(attrs["colour"])
    words.append(attrs["shape"] if "shape" in attrs else ("object" if rng.random() < 0.6 else "shape"))
    return " ".join(words)


def _position_phrase(scene: Scene, idx: int, rng: np.random.Generator):
    """Phrase with a position word among objects sharing colour and shape, or None if ambiguous."""
    t = scene.objects[idx]
    attrs = {"colour": t.colour, "shape": t.shape}
    group = [o for o in scene.objects if _matches(o, attrs)]
    base = _phrase(attrs, rng)
    options = []
    if len(group) == 2:
        other = group[0] if group[1] is t else group[1]
        dx, dy = t.cx - other.cx, t.cy - other.cy
        if abs(dx) >= POS_GAP and abs(dx) >= abs(dy) * 0.75:
            options.append(f"{base} {'on the left' if dx < 0 else 'on the right'}")
        if abs(dy) >= POS_GAP and abs(dy) >= abs(dx) * 0.75:
            options.append(f"{base} {'at the top' if dy < 0 else 'at the bottom'}")
    else:
        rest = [o for o in group if o is not t]
        word = base.split(" ", 1)[1]
        for name, key, sign in (("leftmost", "cx", 1), ("rightmost", "cx", -1),
                                ("topmost", "cy", 1), ("bottommost", "cy", -1)):
            if all(sign * (getattr(o, key) - getattr(t, key)) >= POS_GAP for o in rest):
                options.append(f"the {name} {word}")
    return options[rng.integers(len(options))] if options else None


def referring_expression(scene: Scene, idx: int, rng: np.random.Generator, redundant: float = 0.0,
                         full: float = 0.0):
    """(phrase, n_words_of_attributes, uses_position) naming object idx uniquely, or None.
    The phrase uses the fewest attributes that single the object out; with probability `redundant` it names
    one more true attribute, as people do ("the red circle" when it is the only red thing): a model that only
    ever saw minimal phrases learns that a needless attribute means "not there". With probability `full` it
    states all three ("the small red circle"), so that three-word phrases are not mostly near misses."""
    t = scene.objects[idx]
    full_attrs = {"size": t.size, "colour": t.colour, "shape": t.shape}
    for k in (1, 2, 3):
        unique = []
        for keys in itertools.combinations(("colour", "shape", "size"), k):
            attrs = {key: full_attrs[key] for key in keys}
            if sum(_matches(o, attrs) for o in scene.objects) == 1:
                unique.append(attrs)
        if unique:
            attrs = unique[rng.integers(len(unique))]
            if full and k < 3 and rng.random() < full:  # no draw at 0, as below
                attrs = full_attrs
            elif redundant and k < 3 and rng.random() < redundant:  # no draw at 0: the splits stay as they were
                extra = [key for key in ("colour", "shape", "size") if key not in attrs]
                key = extra[rng.integers(len(extra))]
                attrs = {**attrs, key: full_attrs[key]}
            return _phrase(attrs, rng), len(attrs), False
    phrase = _position_phrase(scene, idx, rng)
    return (phrase, 2, True) if phrase else None


def _near_miss(scene: Scene, rng: np.random.Generator):
    """A present object's attributes with one changed so nothing matches ("the large red circle" beside a small
    red circle), in two or three words: the negative that teaches which attribute goes with which object."""
    o = scene.objects[rng.integers(len(scene.objects))]
    full = {"size": o.size, "colour": o.colour, "shape": o.shape}
    key = ("size", "colour", "shape")[rng.integers(3)]
    values = [v for v in {"size": SIZES, "colour": COLOURS, "shape": SHAPES}[key] if v != full[key]]
    full[key] = values[rng.integers(len(values))]
    keep = [k for k in full if k != key]
    if rng.random() < 0.5:  # two words: the changed attribute and one that the object has
        full.pop(keep[rng.integers(2)])
    if "colour" not in full and "shape" not in full:
        return None
    return None if any(_matches(x, full) for x in scene.objects) else _phrase(full, rng)


def no_target_expression(scene: Scene, rng: np.random.Generator, near_miss: float = 0.0) -> str:
    """A phrase whose stated attributes match no object in the scene; with probability `near_miss` one that
    differs from a present object in a single attribute (no draw at 0: the splits stay as they were)."""
    if near_miss and rng.random() < near_miss:
        for _ in range(20):
            phrase = _near_miss(scene, rng)
            if phrase:
                return phrase
    for _ in range(100):
        kind = rng.integers(4)
        attrs = {"colour": COLOURS[rng.integers(8)], "shape": SHAPES[rng.integers(6)]}
        if kind == 1:
            attrs.pop("shape")
        elif kind == 2:
            attrs.pop("colour")
        elif kind == 3:
            attrs = {"size": ["small", "large"][rng.integers(2)], "shape": attrs["shape"]}
        if not any(_matches(o, attrs) for o in scene.objects):
            return _phrase(attrs, rng)
    return "the green star" if not any(_matches(o, {"colour": "green", "shape": "star"})
                                       for o in scene.objects) else "the purple cross"


def wrap(phrase: str, rng: np.random.Generator) -> str:
    return WRAPPERS[rng.integers(len(WRAPPERS))].format(phrase)


def visual_prompt(labels: np.ndarray, idx: int, rng: np.random.Generator, kind: str | None = None):
    """A point, box or mask prompt on object idx's visible pixels: dict like the labelled-set form."""
    ys, xs = np.nonzero(labels == idx + 1)
    if len(xs) == 0:
        return None
    kind = kind or ["point", "box", "mask"][rng.integers(3)]
    if kind == "point":
        # prefer interior pixels: a random visible pixel near the visible centroid
        d = (xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2
        near = np.argsort(d)[: max(1, len(d) // 3)]
        j = near[rng.integers(len(near))]
        return {"point": [int(xs[j]), int(ys[j])]}
    if kind == "box":
        h, w = labels.shape
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        jit = 0.08 * max(x1 - x0, y1 - y0)
        x0, y0 = x0 + rng.uniform(-jit, jit * 0.5), y0 + rng.uniform(-jit, jit * 0.5)
        x1, y1 = x1 + rng.uniform(-jit * 0.5, jit), y1 + rng.uniform(-jit * 0.5, jit)
        return {"box": [int(max(0, x0)), int(max(0, y0)), int(min(w, x1)), int(min(h, y1))]}
    return {"mask": True}
