"""Minimal vs over-specified target phrases on test-split scenes (seeds 3,000,000+): found-rate and cIoU; and
the split's no-target commands vs near misses (one attribute off a present object): share answered "not there".

    python -m models.pixel_sail.overspecified WEIGHTS [WEIGHTS ...]   # --weights-out files of `train`
    python -m models.pixel_sail.overspecified --node [MODEL_DIR]      # what the node publishes (models/tiny)

WEIGHTS are scored on the model's first pass (`Reference.segment`); `--node` scores the exported model as the
node answers — the closer segmentation and the closer check of each find included (`Reference.segment_frame`).

The labelled test split uses the shortest phrase that singles an object out; people often say more ("the red
circle" when it is the only red thing). This scores both phrasings of every object that has a longer one, and
three no-target commands of each kind per scene (the test split has only 34 no-target commands).
"""
import sys

import numpy as np

from .export import load_checkpoint
from .reference import TorchBackend, from_model_dir
from .tabletop import sample_scene, render
from .expressions import no_target_expression, referring_expression, wrap
from .vocab import COLOURS, SHAPES


def stated(text):
    """Which attributes a command states, e.g. "colour+shape"."""
    words = text.rstrip("?").split()
    kinds = [k for k, vocab in (("size", ("small", "large", "big")), ("colour", COLOURS), ("shape", SHAPES))
             if any(w in vocab for w in words)]
    return "+".join(kinds)


def main(paths):
    if paths[:1] == ["--node"]:
        model_dir = paths[1] if len(paths) > 1 else "models/tiny"
        refs = {f"{model_dir} (published)": from_model_dir(model_dir)}
    else:
        refs = {ck: from_model_dir('models/tiny', TorchBackend(load_checkpoint(ck)[0])) for ck in paths}
    node = paths[:1] == ["--node"]
    stats = {ck: {"minimal": [0, 0, 0, 0], "over-specified": [0, 0, 0, 0]} for ck in refs}  # found, n, I, U
    absent = {ck: {"split no-target": [0, 0], "near miss": [0, 0]} for ck in refs}  # said "not there", n
    for s in range(3_000_000, 3_000_060):
        sc = sample_scene(s)
        img, lab = render(sc, 640, 480)
        rng = np.random.default_rng(s)
        states = {ck: ref.encode(img) for ck, ref in refs.items()}
        for i in range(len(sc.objects)):
            m = referring_expression(sc, i, np.random.default_rng(s + i))
            r = referring_expression(sc, i, np.random.default_rng(s + i), 1.0)
            if m is None or r[1] == m[1]:
                continue
            gt = lab == i + 1
            cmds = {"minimal": wrap(m[0], rng), "over-specified": wrap(r[0], rng)}
            for ck, ref in refs.items():
                out = (ref.segment_frame(img, states[ck], list(cmds.values())) if node
                       else ref.segment(states[ck], list(cmds.values())))
                for (k, text), o in zip(cmds.items(), out):
                    for a in (stats[ck][k], stats[ck].setdefault(f"{k}: {stated(text)}", [0, 0, 0, 0])):
                        a[0], a[1] = a[0] + o["found"], a[1] + 1
                        a[2], a[3] = a[2] + int((gt & o["mask"]).sum()), a[3] + int((gt | o["mask"]).sum())
        nrng = np.random.default_rng([s, 1])
        cmds = {k: [wrap(no_target_expression(sc, nrng, near), nrng) for _ in range(3)]
                for k, near in (("split no-target", 0.0), ("near miss", 1.0))}
        for ck, ref in refs.items():
            for k, texts in cmds.items():
                out = ref.segment_frame(img, states[ck], texts) if node else ref.segment(states[ck], texts)
                absent[ck][k][0] += sum(not o["found"] for o in out)
                absent[ck][k][1] += len(out)
                for text, o in zip(texts, out):  # and by what the command states
                    a = absent[ck].setdefault(f"{k}: {stated(text)}", [0, 0])
                    a[0], a[1] = a[0] + (not o["found"]), a[1] + 1
    for ck, d in stats.items():
        print(ck, {k: f"found {a[0]}/{a[1]} cIoU {a[2]/max(a[3],1):.3f}" for k, a in sorted(d.items())})
        print(ck, {k: f"not there {a[0]}/{a[1]}" for k, a in sorted(absent[ck].items())})


if __name__ == "__main__":
    main(sys.argv[1:])
