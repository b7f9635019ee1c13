"""import_onnx: the weights a model directory's graphs hold come back bit-exactly under their PyTorch names, so a
fresh clone can train on from the committed model; a directory that does not match its model.json is refused."""

import json
import os

import pytest
import torch

from models.pixel_sail import export as ex
from models.pixel_sail.import_onnx import TRAINING_ONLY, OnnxImportError, check_roundtrip, recover
from models.pixel_sail.model import CONFIGS, Config, build
from models.pixel_sail.tokenizer import token_ids
from tokenizers import Tokenizer

TOK = "models/tiny/tokenizer.json"


def _exported(tmp_path, **over):
    tok = Tokenizer.from_file(TOK)
    torch.manual_seed(1)
    cfg = Config(**{**CONFIGS["tiny"].to_dict(), "up_channels": CONFIGS["tiny"].up_channels,
                    "vocab": tok.get_vocab_size(), "hidden": 64, "heads": 2, "kv_heads": 1, "layers": 2,
                    "intermediate": 96, **over})
    m = build(cfg, token_ids(tok))
    with torch.no_grad():  # zero-initialised tables and unit norms would hide a mix-up; make every weight distinct
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    out = str(tmp_path / "model")
    ex.export(m, out, TOK, {"name": "test"})
    return m, out


@pytest.mark.parametrize("patch", [16, 32])
def test_recovers_every_inference_weight_exactly(tmp_path, patch):
    m, out = _exported(tmp_path, patch=patch)
    state, cfg, tokens, report = recover(out)
    assert cfg.patch == patch and cfg.hidden == 64
    original = m.state_dict()
    for name, p in m.named_parameters():
        if name.startswith(TRAINING_ONLY):
            assert name in report["fresh"]
        else:
            assert name in report["recovered"]
            assert torch.equal(state[name], original[name]), name
    assert set(state) == set(original)  # loads strictly into train --init-weights
    assert check_roundtrip(state, cfg, tokens, out) == 0.0


def test_refuses_graphs_that_do_not_match_model_json(tmp_path):
    _, out = _exported(tmp_path, patch=16)
    path = os.path.join(out, "model.json")
    with open(path) as f:
        meta = json.load(f)
    meta["config"]["intermediate"] = 128  # the graphs were exported with 96
    with open(path, "w") as f:
        json.dump(meta, f)
    with pytest.raises(OnnxImportError, match=r"expected shape \[.*128.*\], found \[.*96.*\]"):
        recover(out)
