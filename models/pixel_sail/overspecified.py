"""Minimal vs over-specified target phrases on test-split scenes (seeds 3,000,000+): found-rate and cIoU.

    python -m models.pixel_sail.overspecified WEIGHTS [WEIGHTS ...]   # --weights-out files of `train`

The labelled test split uses the shortest phrase that singles an object out; people often say more ("the red
circle" when it is the only red thing). This scores both phrasings of every object that has a longer one.
"""
import sys

import numpy as np

from .export import load_checkpoint
from .reference import TorchBackend, from_model_dir
from .tabletop import sample_scene, render
from .expressions import referring_expression, wrap


def main(paths):
    refs = {ck: from_model_dir('models/tiny', TorchBackend(load_checkpoint(ck)[0])) for ck in paths}
    stats = {ck: {"minimal": [0, 0, 0, 0], "over-specified": [0, 0, 0, 0]} for ck in refs}  # found, n, I, U
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
                out = ref.segment(states[ck], list(cmds.values()))
                for (k, _), o in zip(cmds.items(), out):
                    a = stats[ck][k]
                    a[0], a[1] = a[0] + o["found"], a[1] + 1
                    a[2], a[3] = a[2] + int((gt & o["mask"]).sum()), a[3] + int((gt | o["mask"]).sum())
    for ck, d in stats.items():
        print(ck, {k: f"found {a[0]}/{a[1]} cIoU {a[2]/max(a[3],1):.3f}" for k, a in d.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
