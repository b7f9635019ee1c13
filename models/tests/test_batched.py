"""The batched extra passes (models/pixel_sail/batched.py) against the one-at-a-time reference, on the
shipped graphs: the same crops, masks, closer looks and verdicts, within float noise."""

import json
import os

import numpy as np
from PIL import Image

from conftest import ROOT
from models.pixel_sail import batched
from models.pixel_sail.reference import from_model_dir

MODEL = os.path.join(ROOT, "models/tiny")


def _scene():
    img = np.asarray(Image.open(os.path.join(ROOT, "models/sample/still.jpg")).convert("RGB"))
    commands = [c for c in open(os.path.join(ROOT, "models/sample/commands.txt")).read().splitlines() if c]
    return img, commands


def test_the_vision_graph_takes_a_batch_whose_rows_are_the_images_alone():
    meta = json.load(open(os.path.join(MODEL, "model.json")))
    assert meta["tensors"]["vision"]["inputs"][0]["shape"][0] == "N"
    assert meta["shapes"]["vision.pixels"]["max"][0] == meta["config"]["max_commands"]
    ref = from_model_dir(MODEL)
    img, _ = _scene()
    crops = [img[40:280, 100:420], img[200:440, 300:620], img[0:240, 0:320]]
    masks = [np.zeros(c.shape[:2], bool) for c in crops]
    for m, (y, x) in zip(masks, ((100, 150), (50, 60), (120, 200))):
        m[y:y + 40, x:x + 40] = True
    items = [(np.ascontiguousarray(c), {}, m) for c, m in zip(crops, masks)]
    states = batched.encode_batch(ref, items)
    for item, st in zip(items, states):
        one = ref.encode(*item)
        for k in ("pk", "pv", "feats"):
            assert np.abs(one[k] - st[k]).max() < 1e-4, k
        assert one["grid"] == st["grid"]


def test_a_frame_with_every_crop_in_one_batch_publishes_what_one_by_one_does():
    ref = from_model_dir(MODEL)
    img, commands = _scene()
    st = ref.encode(img)
    one = ref.segment_frame(img, st, commands)
    many = batched.segment_frame(ref, img, st, commands)
    assert sum(r["found"] for r in one) >= 2, "the sample frame must exercise the extra passes"
    assert any(r.get("refined") is not None for r in one) and any(r.get("confirm") for r in one)
    for a, b in zip(one, many):
        assert a["found"] == b["found"]
        assert (a["mask"] != b["mask"]).sum() <= 0.001 * a["mask"].size
        assert a.get("refined") == b.get("refined")
        la, lb = a.get("confirm"), b.get("confirm")
        assert (la is None) == (lb is None)
        if la is not None:
            assert la["rect"] == lb["rect"] and la["text"] == lb["text"]
            for w, v in la["against"].items():
                assert abs(v - lb["against"][w]) < 1e-3


def test_crops_encoded_at_a_smaller_long_side_get_a_smaller_grid():
    ref = from_model_dir(MODEL)
    img, _ = _scene()
    crop = np.ascontiguousarray(img[0:240, 0:320])
    (st,) = batched.encode_batch(ref, [(crop, None, None)], long_side=160)
    assert st["grid"] == (8, 10) and st["resized"] == (160, 120)
