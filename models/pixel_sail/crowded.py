"""Crowded tabletop scenes: many look-alike objects, so that commands need size and position words.

Each scene draws three colours and three shapes, then four to six objects from them (any size), placed with at
most 10 % overlap so every object stays in view and where it is stays clear. A command names one object with
the fewest words that pick it out under the scene's own truth — "the star", "the small blue circle", "the
leftmost red star" — or, in about 30 % of scenes, is absent: a colour and a shape that are both in view but never
on one object ("the red square" beside a red star and a blue square). Position words are the superlatives the
tokenizer holds (leftmost, rightmost, topmost, bottommost); it has no "smallest"/"largest" and no "middle", so
size is "small"/"large" (or "big") and a tie in position is never used.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import tabletop
from .expressions import POS_GAP, describe_object, visual_prompt, wrap
from .tabletop import Obj, Scene, shape_alpha
from .vocab import COLOURS, SHAPES

# Seed bases, disjoint from write_set.SPLITS (train 1,000,000+, val 2,000,000+, test 3,000,000+) and the
# tokenizer's corpus (10,000,000+).
SPLITS = {"crowded_val": 4_000_000, "crowded_test": 5_000_000}
ABSENT_SHARE = 0.3
MAX_OVERLAP = 0.1  # of the smaller object, on the coarse raster
# position word → (centre coordinate, +1 when the word picks the smallest value)
POSITIONS = {"leftmost": ("cx", 1), "rightmost": ("cx", -1), "topmost": ("cy", 1), "bottommost": ("cy", -1)}
ATTRIBUTES = ("size", "colour", "shape")


def sample_scene(seed: int) -> Scene:
    """The table, light and camera effects of tabletop.sample_scene(seed), with a crowded set of objects."""
    scene = tabletop.sample_scene(seed, n_objects=0)
    for attempt in range(20):  # a placement that runs out of room starts again on a fresh stream
        rng = np.random.default_rng([seed, attempt])
        colours = [COLOURS[i] for i in rng.choice(len(COLOURS), 3, replace=False)]
        shapes = [SHAPES[i] for i in rng.choice(len(SHAPES), 3, replace=False)]
        objects = _place(rng, int(rng.integers(4, 7)), colours, shapes)
        if objects is not None:
            scene.objects = objects
            return scene
    raise RuntimeError(f"crowded scene {seed}: no placement in 20 attempts")


def _place(rng, n, colours, shapes):
    grid_w, grid_h = 160, 120
    ys, xs = np.mgrid[0:grid_h, 0:grid_w]
    objects, occupied = [], []
    for _ in range(300):
        if len(objects) == n:
            return objects
        size = "small" if rng.random() < 0.5 else "large"
        diam = rng.uniform(0.06, 0.10) if size == "small" else rng.uniform(0.14, 0.22)
        rad_x, rad_y = diam / 2, diam / 2 * 4 / 3
        cx, cy = rng.uniform(rad_x + 0.01, 1 - rad_x - 0.01), rng.uniform(rad_y + 0.01, 1 - rad_y - 0.01)
        shape, colour = shapes[rng.integers(3)], colours[rng.integers(3)]
        angle = float(rng.uniform(0, 2 * np.pi)) if shape not in ("circle", "ring") else 0.0
        m = shape_alpha(shape, angle, (xs + 0.5) - cx * grid_w, (ys + 0.5) - cy * grid_h, diam / 2 * grid_w)
        area = m.sum()
        if area == 0 or any((m & o).sum() > MAX_OVERLAP * min(area, o.sum()) for o in occupied):
            continue
        sa = rng.uniform(0, 2 * np.pi)
        objects.append(Obj(shape, colour, size, float(cx), float(cy), float(diam), angle,
                           tabletop._colour_rgb(rng, colour),
                           (float(np.cos(sa)), float(np.sin(sa)), float(rng.uniform(0.05, 0.18)))))
        occupied.append(m)
    return objects if len(objects) == n else None


def resolve(scene: Scene, desc: dict) -> list:
    """Indices of the objects a descriptor ({"position"?, "size"?, "colour"?, "shape"?}) denotes: those with its
    attributes; with a position word, the one at that extreme, or every object within POS_GAP of the extreme
    (a tie, so more than one)."""
    group = [i for i, o in enumerate(scene.objects) if all(getattr(o, k) == desc[k] for k in ATTRIBUTES if k in desc)]
    if "position" not in desc or not group:
        return group
    key, sign = POSITIONS[desc["position"]]
    best = min(sign * getattr(scene.objects[i], key) for i in group)
    return [i for i in group if sign * getattr(scene.objects[i], key) - best < POS_GAP]


def n_words(desc: dict) -> int:
    """Words of the phrase: "the", the position word, size, colour, and the shape (or "object")."""
    return 2 + sum(k in desc for k in ("position", "size", "colour"))


def minimal_descriptors(scene: Scene, idx: int) -> list:
    """Every descriptor with the fewest words that denotes exactly object idx; at equal length, those without a
    position word when there are any (people name what an object is before where it is)."""
    t = scene.objects[idx]
    found = []
    for position in (None, *POSITIONS):
        for k in range(4):
            for keys in itertools.combinations(ATTRIBUTES, k):
                desc = {key: getattr(t, key) for key in keys}
                if position:
                    desc["position"] = position
                if resolve(scene, desc) == [idx]:
                    found.append(desc)
    if not found:
        return []
    fewest = min(n_words(d) for d in found)
    found = [d for d in found if n_words(d) == fewest]
    plain = [d for d in found if "position" not in d]
    return plain or found


def phrase(desc: dict, rng: np.random.Generator) -> str:
    words = ["the"]
    if "position" in desc:
        words.append(desc["position"])
    if "size" in desc:
        words.append("big" if desc["size"] == "large" and rng.random() < 0.3 else desc["size"])
    if "colour" in desc:
        words.append(desc["colour"])
    words.append(desc.get("shape", "object"))
    return " ".join(words)


def absent_pairs(scene: Scene) -> list:
    """(colour, shape) pairs both in view but on no one object."""
    colours = sorted({o.colour for o in scene.objects})
    shapes = sorted({o.shape for o in scene.objects})
    together = {(o.colour, o.shape) for o in scene.objects}
    return [(c, s) for c in colours for s in shapes if (c, s) not in together]


def naming(scene: Scene, idx: int, rng: np.random.Generator):
    """A fewest-words phrase for object idx, or None when no descriptor singles it out."""
    options = minimal_descriptors(scene, idx)
    return phrase(options[rng.integers(len(options))], rng) if options else None


def scene_queries(scene: Scene, labels: np.ndarray, rng: np.random.Generator, mask_path) -> list:
    """Query dicts (without the image field) for one crowded scene: one command (absent in ~30 % of scenes),
    one description of a named object and one visual-prompt description."""
    queries = []
    present = [i for i in range(len(scene.objects)) if (labels == i + 1).any()]
    nameable = [i for i in present if minimal_descriptors(scene, i)]
    pairs = absent_pairs(scene)
    absent = rng.random() < ABSENT_SHARE
    if pairs and (absent or not nameable):
        c, s = pairs[rng.integers(len(pairs))]
        queries.append({"task": "segment", "text": wrap(f"the {c} {s}", rng), "mask": None})
    elif nameable:
        i = nameable[rng.integers(len(nameable))]
        queries.append({"task": "segment", "text": wrap(naming(scene, i, rng), rng), "mask": mask_path(i)})
    if nameable:
        i = nameable[rng.integers(len(nameable))]
        queries.append({"task": "describe", "text": naming(scene, i, rng), "mask": mask_path(i),
                        "description": describe_object(scene, i)})
    j = present[rng.integers(len(present))]
    vp = visual_prompt(labels, j, rng, kind=["point", "box"][rng.integers(2)])
    queries.append({"task": "describe", **vp, "mask": mask_path(j), "description": describe_object(scene, j)})
    return queries
