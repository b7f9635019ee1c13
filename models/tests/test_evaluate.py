"""The scorer behind the model card's figures: exact-match descriptions, the per-attribute breakdown and
metrics.json keeping the sets it already holds."""

import json
import subprocess
import sys

import numpy as np

from models.pixel_sail.evaluate import GROUNDINGS, _DescriptionTally, _GroundingTally, scene_bootstrap
from conftest import ROOT


def test_description_tally_counts_exact_attributes_and_unparsed():
    t = _DescriptionTally()
    t.add("a small red ring at the bottom", "a small red ring at the bottom")      # all right
    t.add("a small red circle at the bottom", "a small red ring at the bottom")    # shape wrong
    t.add("a big red ring on the left", "a large red ring at the bottom")          # 'big' = large; place wrong
    t.add("a small red", "a small red ring at the bottom")                         # not a description
    assert t.accuracy() == 0.25
    b = t.breakdown()
    assert b == {"size": 0.75, "colour": 0.75, "shape": 0.5, "place": 0.5, "unparsed": 0.25}
    assert t.confusions() == {"shape": {"ring → circle": 1}, "place": {"at the bottom → on the left": 1}}


def test_a_named_object_not_found_is_not_described_and_counts_wrong():
    t = _DescriptionTally()
    t.add("a small red ring at the bottom", "a small red ring at the bottom")
    assert t.add(None, "a large blue star on the left") is False  # the node said nothing about it
    assert t.accuracy() == 0.5 and t.missing == 1
    assert t.breakdown()["unparsed"] == 0.0  # no words, not bad words


def test_the_reference_policy_switch_runs_the_model_alone(tmp_path):
    from PIL import Image
    from models.pixel_sail.reference import from_model_dir
    img = np.asarray(Image.open(f"{ROOT}/tests/fixtures/tabletop_640x480.jpg").convert("RGB"))
    commands = ["pick up the green triangle", "find the red square"]
    published, alone = from_model_dir(f"{ROOT}/models/tiny"), from_model_dir(f"{ROOT}/models/tiny", policy="model")
    st = alone.encode(img)
    first = alone.segment(st, commands)
    got = alone.segment_frame(img, st, commands)
    assert all("refined" not in r and "confirm" not in r for r in got)
    assert [r["found"] for r in got] == [r["found"] for r in first]
    assert any("refined" in r for r in published.segment_frame(img, st, commands))
    small = next(r for r in got if r["found"])["mask"]
    assert alone.describe_object(img, small)["zoom"] is None
    assert alone.describe_region(img, {"point": [337, 332]})["zoom"] is None  # the small red square
    assert published.describe_region(img, {"point": [337, 332]})["zoom"] is not None
    # a model.json without a vocabulary runs the model alone, as the node does
    for f in ("vision.onnx", "text.onnx", "mask_head.onnx", "tokenizer.json"):
        (tmp_path / f).symlink_to(f"{ROOT}/models/tiny/{f}")
    meta = json.load(open(f"{ROOT}/models/tiny/model.json"))
    del meta["vocabulary"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    assert from_model_dir(str(tmp_path)).policy == "model"


def test_named_descriptions_are_split_by_the_grounding_under_them():
    g = _GroundingTally()
    g.add(True, 0.9, True)
    g.add(True, 0.8, False)
    g.add(True, 0.5, False)   # half the union is not the object: another one, or mostly not it
    g.add(False, 0.0, True)   # not found (the tally itself takes any verdict)
    r = g.report()
    assert r["right_object"] == {"share": 0.5, "description_acc": 0.5}
    assert r["wrong_object"] == {"share": 0.25, "description_acc": 0.0}
    assert r["not_found"] == {"share": 0.25, "description_acc": 1.0}
    assert _GroundingTally().report()["not_found"] == {"share": 0.0, "description_acc": None}


def test_scene_bootstrap_intervals_are_as_wide_as_the_sample_allows():
    # 100 scenes, each with one description: half right → 0.5 with a binomial 95 % interval of about ±0.1
    rows = np.zeros((100, 10))
    rows[:, 7] = 1
    rows[:50, 6] = 1
    rows[:, 0:2] = (30, 40)  # every scene's mask 0.75: no spread, so no interval width
    iv = scene_bootstrap(rows)
    lo, hi = iv["description_acc"]
    assert lo < 0.5 < hi and 0.14 < hi - lo < 0.26
    assert iv["cIoU"] == [0.75, 0.75]
    assert "vp_description_acc" not in iv  # no such queries: no interval
    assert scene_bootstrap(rows) == iv  # seeded: the card's intervals reproduce


def test_json_out_keeps_other_sets(tmp_path):
    set_dir, out = tmp_path / "set", tmp_path / "metrics.json"
    out.write_text(json.dumps({"test_renderer_b": {"cIoU": 0.5}, "command_renderer_b": "kept"}))
    run = lambda *args: subprocess.run([sys.executable, "-m", *args], cwd=ROOT, check=True, capture_output=True)
    run("models.pixel_sail.write_set", "--split", "val", "--scenes", "2", "--out", str(set_dir))
    run("models.pixel_sail.evaluate", str(set_dir), "--json-out", str(out))
    m = json.loads(out.read_text())
    assert m["test_renderer_b"] == {"cIoU": 0.5} and m["command_renderer_b"] == "kept"
    assert m["command"].endswith(str(set_dir))
    t = m["test"]
    assert t["counts"]["describe"] == 2 and t["counts"]["vp_describe"] == 2  # one of each per scene
    for kind in ("named", "vp"):
        parts = t["description_attributes"][kind]
        assert set(parts) == {"size", "colour", "shape", "place", "unparsed"}
        assert all(0.0 <= v <= 1.0 for v in parts.values())
    assert set(t["interval95"]) == {"cIoU", "gIoU", "N-acc", "description_acc", "vp_description_acc"} - (
        set() if t["counts"]["no_target"] else {"N-acc"})
    by = t["named_by_grounding"]
    assert set(by) == set(GROUNDINGS) and abs(sum(v["share"] for v in by.values()) - 1.0) < 0.002
    # exact matches can only be as common as the rarest attribute that is right
    assert t["description_acc"] <= min(v for k, v in t["description_attributes"]["named"].items() if k != "unparsed")
