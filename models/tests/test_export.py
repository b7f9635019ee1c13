"""Export parity: onnxruntime runs the three graphs like PyTorch; the shipped model reproduces its fixtures."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image
from tokenizers import Tokenizer

from models.pixel_sail.export import VOCABULARY, export, verify
from models.pixel_sail.model import CONFIGS, Config, build
from models.pixel_sail.reference import from_model_dir
from models.pixel_sail.tokenizer import token_ids

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "models", "tiny")
FIX = os.path.join(ROOT, "tests", "fixtures", "parity")


@pytest.mark.parametrize("patch", [32, 16])  # the shipped size, and the 16-px patches the next GPU run tries
def test_export_matches_pytorch(tmp_path, patch):
    tok = Tokenizer.from_file(f"{MODEL}/tokenizer.json")
    base = CONFIGS["tiny"]
    cfg = Config(**{**base.to_dict(), "up_channels": base.up_channels, "vocab": tok.get_vocab_size(), "patch": patch})
    torch.manual_seed(5)
    model = build(cfg, token_ids(tok)).eval()
    export(model, str(tmp_path), f"{MODEL}/tokenizer.json", {"name": "test"})
    d = verify(model, str(tmp_path))
    assert max(v for k, v in d.items() if k.startswith("vision")) < 1e-3
    assert d["text.logits"] < 1e-3 and d["mask_head.mask_logits"] < 1e-3
    assert d["mask_head.iou"] >= 0.99
    meta = json.load(open(tmp_path / "model.json"))
    assert set(meta["tensors"]) == {"vision", "text", "mask_head"}
    assert meta["vocabulary"] == VOCABULARY  # a re-export keeps the words the grounding policy reads
    assert meta["config"]["patch"] == patch and meta["input"]["pad_multiple"] == patch
    for key, rng in meta["shapes"].items():
        assert all(a <= b <= c for a, b, c in zip(rng["min"], rng["opt"], rng["max"])), key


def test_model_json_declares_the_contract():
    meta = json.load(open(f"{MODEL}/model.json"))
    for k in ("config", "input", "tokens", "templates", "files", "tensors", "shapes", "provenance"):
        assert k in meta
    tok = Tokenizer.from_file(f"{MODEL}/tokenizer.json")
    assert meta["tokens"]["seg"] == tok.token_to_id("[SEG]") and meta["config"]["vocab"] == tok.get_vocab_size()
    total = sum(os.path.getsize(f"{MODEL}/{f}") for f in os.listdir(MODEL))
    assert total <= 30e6


def _iou(a, b):
    u = (a | b).sum()
    return 1.0 if u == 0 else (a & b).sum() / u


def test_shipped_onnx_reproduces_pytorch_fixtures():
    cases = json.load(open(f"{FIX}/cases.json"))["cases"]
    ref = from_model_dir(MODEL)  # onnxruntime backend
    for case in cases:
        img = np.asarray(Image.open(f"{FIX}/{case['frame']}").convert("RGB"))
        st = ref.encode(img)
        got = ref.segment(st, [s["command"] for s in case["segment"]])
        for want, r in zip(case["segment"], got):
            assert r["found"] == want["found"], want["command"]
            gt = np.asarray(Image.open(f"{FIX}/{want['mask']}")) > 127
            assert _iou(gt, r["mask"]) >= 0.99
        descs = ref.describe(st, [d["command"] for d in case["describe"]])
        assert [ids for _, ids in descs] == [d["ids"] for d in case["describe"]]
        for vp in case["visual_prompts"]:
            r = ref.describe_region(img, {"point": vp["point"]})
            assert r["ids"] == vp["ids"] and r["text"] == vp["text"]
            assert (r["zoom"] is None) == (vp["close_look"] is None)
            if r["zoom"]:
                assert r["zoom"]["rect"] == vp["close_look"]["rect"] and r["zoom"]["ids"] == vp["close_look"]["ids"]
