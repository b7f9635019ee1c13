"""The presence calibration's sweep and choice (models/pixel_sail/calibrate.py), and that the reference applies
model.json's margin."""

import json
import os

import numpy as np

from models.pixel_sail.calibrate import best, sweep
from models.pixel_sail.reference import from_model_dir

# present: (margin, intersection, union, truth area); a missed object counts its whole area as union
PRESENT = np.array([[2.0, 80, 100, 90], [0.5, 40, 60, 50], [-0.4, 30, 50, 40], [-2.0, 10, 30, 20]], float)
ABSENT = np.array([-3.0, -1.0, -0.2, 1.0])
TINY = os.path.join(os.path.dirname(__file__), "..", "tiny")


def test_the_sweep_counts_finds_false_alarms_and_the_missed_objects_area():
    rows = {r["margin"]: r for r in sweep(PRESENT, ABSENT, grid=[-0.5, 0.0])}
    assert rows[0.0]["found"] == 0.5 and rows[0.0]["N-acc"] == 0.75
    assert rows[0.0]["cIoU"] == round(120 / (160 + 40 + 20), 4)
    assert rows[-0.5]["found"] == 0.75 and rows[-0.5]["N-acc"] == 0.5
    assert rows[-0.5]["cIoU"] == round(150 / (210 + 20), 4)
    assert rows[-0.5]["balanced"] == 0.625


def test_the_best_balance_wins_and_ties_go_to_the_models_own_line():
    rows = sweep(PRESENT, ABSENT, grid=[-2.5, -1.5, -0.5, 0.0, 1.5])
    assert best(rows)["margin"] == 0.0  # ties with −0.5 (found 0.5 + N-acc 0.75 against 0.75 + 0.5): nearer 0
    rows = sweep(PRESENT, np.array([-3.0, -2.5, -2.2, 1.0]), grid=[-1.5, 0.0])
    assert best(rows)["margin"] == -1.5  # found 3 of 4, every false alarm but one below the line


def test_the_closer_check_takes_back_the_finds_it_rejects():
    # the check rejects the second present object and the false alarm at -0.2: at -0.5 that is one more miss
    # and one fewer false alarm than without it
    ok_p, ok_a = np.array([True, False, True, True]), np.array([True, True, False, True])
    r = {x["margin"]: x for x in sweep(PRESENT, ABSENT, [-0.5], ok_p, ok_a)}[-0.5]
    assert r["found"] == 0.5 and r["N-acc"] == 0.75
    assert r["cIoU"] == round(110 / (150 + 50 + 20), 4)
    # the lower line now wins: 3 of 4 found at N-acc 0.75 with the check, where without it -0.5 tied with 0
    rows = sweep(PRESENT, ABSENT, [-0.5, 0.0], np.ones(4, bool), ok_a)
    assert best(rows)["margin"] == -0.5


def test_the_reference_reads_the_margin_from_model_json(tmp_path):
    meta = json.load(open(f"{TINY}/model.json"))
    for f in ("vision.onnx", "text.onnx", "mask_head.onnx", "tokenizer.json"):
        (tmp_path / f).symlink_to(os.path.abspath(f"{TINY}/{f}"))
    meta["postprocess"]["presence_margin"] = -1.25
    (tmp_path / "model.json").write_text(json.dumps(meta))
    assert from_model_dir(str(tmp_path)).presence_margin == -1.25
    del meta["postprocess"]["presence_margin"]  # models exported before it existed: the model's own argmax
    (tmp_path / "model.json").write_text(json.dumps(meta))
    assert from_model_dir(str(tmp_path)).presence_margin == 0.0
