"""The full-size export's code path on a small configuration: vocabulary padding, 640×480 at P = 32, external
data forced on; onnxruntime matches PyTorch and the node's contract check accepts the folder."""

import json
import os
import subprocess

import onnx
import pytest
from tokenizers import Tokenizer

from models.pixel_sail.export import verify
from models.pixel_sail.export_fullsize import contract_problems, export_fullsize, padded_tokenizer
from models.pixel_sail.model import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TINY_TOKENIZER = os.path.join(ROOT, "models", "tiny", "tokenizer.json")
VOCAB = 1000  # stands in for 151,936: the same padding, a graph of a few MB
SMALL = Config(hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, intermediate=128, vocab=VOCAB, patch=32,
               feat_dim=16, up_channels=(32, 24, 16), rope_theta=1e6, distill_dim=8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("fullsize"))
    tok = padded_tokenizer(TINY_TOKENIZER, VOCAB)
    model, report = export_fullsize(SMALL, out, tok, "pixel-sail-small", threshold=0)
    return out, model, report


def test_padded_tokenizer_keeps_the_words_and_ids():
    small, padded = Tokenizer.from_file(TINY_TOKENIZER), padded_tokenizer(TINY_TOKENIZER, VOCAB)
    assert padded.get_vocab_size() == VOCAB
    for word, i in small.get_vocab().items():
        assert padded.token_to_id(word) == i
    text = "<|user|>segment the red circle<|assistant|>[SEG]"
    assert padded.encode(text, add_special_tokens=False).ids == small.encode(text, add_special_tokens=False).ids
    assert padded.id_to_token(VOCAB - 1) == f"<fill_{VOCAB - 1}>"
    with pytest.raises(ValueError, match="below"):
        padded_tokenizer(TINY_TOKENIZER, 10)


def test_every_graph_is_written_with_external_data(exported):
    out, _, report = exported
    for g in ("vision", "text", "mask_head"):
        info = report["graphs"][g]
        assert info["external_data"] and os.path.getsize(f"{out}/{g}.onnx.data") == info["data_bytes"] > 0
        m = onnx.load(f"{out}/{g}.onnx", load_external_data=False)
        locations = {e.value for t in m.graph.initializer for e in t.external_data if e.key == "location"}
        assert locations == {f"{g}.onnx.data"}, g
    assert not [f for f in os.listdir(out) if f.startswith(".")], "scratch folders removed"


def test_model_json_matches_tokenizer_and_frame(exported):
    out, _, _ = exported
    meta = json.load(open(f"{out}/model.json"))
    tok = Tokenizer.from_file(f"{out}/tokenizer.json")
    assert meta["config"]["vocab"] == tok.get_vocab_size() == VOCAB
    assert meta["tensors"]["text"]["outputs"][0]["shape"][-1] == VOCAB
    for name in ("seg", "none", "eot", "vpatch"):
        assert tok.id_to_token(meta["tokens"][name]) is not None
    assert meta["tokens"]["seg"] == tok.token_to_id("[SEG]")
    assert meta["input"]["long_side"] == 640 and meta["input"]["input_size"] == [480, 640]
    assert meta["shapes"]["vision.pixels"]["opt"] == [1, 3, 480, 640]
    assert set(meta["provenance"]["external_data"]) == {"vision", "text", "mask_head"}


def test_contract_check_without_weights(exported, tmp_path):
    out, _, _ = exported
    assert contract_problems(out) == []
    meta = json.load(open(f"{out}/model.json"))
    meta["tensors"]["text"]["outputs"][0]["shape"][-1] = VOCAB + 1
    meta["tensors"]["vision"]["inputs"][0]["name"] = "image"
    meta["files"] = {g: f"{out}/{f}" for g, f in meta["files"].items()}
    json.dump(meta, open(tmp_path / "model.json", "w"))
    problems = contract_problems(str(tmp_path))
    assert any("logits is float32 [None, None, 1000]" in p and "1001" in p for p in problems), problems
    assert any("missing input image" in p for p in problems) and any("unexpected inputs ['pixels']" in p
                                                                     for p in problems), problems


def test_onnxruntime_matches_pytorch_at_640x480(exported):
    out, model, _ = exported
    d = verify(model, out, grid=(15, 20))
    assert max(v for k, v in d.items() if k.startswith("vision")) < 1e-3
    assert d["text.logits"] < 1e-3 and d["text.hidden"] < 1e-3
    assert d["mask_head.mask_logits"] < 1e-3 and d["mask_head.iou"] >= 0.99


def _binary():
    candidates = (os.environ.get("PIXEL_SAIL_BIN", ""), f"{ROOT}/target/debug/pixel-sail",
                  f"{ROOT}/target/release/pixel-sail")
    for p in candidates:
        if p and os.access(p, os.X_OK):
            return p
    return None


@pytest.mark.skipif(_binary() is None, reason="no pixel-sail binary (scripts/test.sh builds it with cargo test first)")
def test_node_loads_the_export_and_runs_a_frame(exported):
    out, _, _ = exported
    r = subprocess.run([_binary(), "-q", "infer", "--model", out, "--image", "tests/fixtures/tabletop_640x480.jpg",
                        "--prompt", "the red circle", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["provider"] == "cpu" and res["commands"][0]["rle"]["size"] == [480, 640]


def test_pooled_weights_export_and_match_pytorch(tmp_path):
    tok = padded_tokenizer(TINY_TOKENIZER, VOCAB)
    model, report = export_fullsize(SMALL, str(tmp_path), tok, "pixel-sail-small", threshold=0, pooled=True,
                                    seed=3, pool_min_numel=4096)
    big = model.blocks[0].gate.weight
    assert big.untyped_storage().data_ptr() == model.embed.weight.untyped_storage().data_ptr(), "one pool"
    assert 0.015 < float(big.std()) < 0.025 and float(model.norm.weight.min()) == 1.0
    assert report["weights"] == "pooled" and report["graphs"]["text"]["external_data"]
    d = verify(model, str(tmp_path), grid=(15, 20))
    assert d["text.logits"] < 1e-3 and d["vision.features"] < 1e-3 and d["mask_head.iou"] >= 0.99
