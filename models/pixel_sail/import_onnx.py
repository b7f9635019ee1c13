"""Recover trainable PyTorch weights from an exported model directory (the three ONNX graphs + model.json).

    python -m models.pixel_sail.import_onnx --model models/tiny --out models/checkpoints/shipped_w.pt
    python -m models.pixel_sail.train --init-weights models/checkpoints/shipped_w.pt --ckpt models/checkpoints/tiny.pt ...

Why: checkpoints stay out of git, so a fresh clone (or a GPU lease) could only train from scratch — hours of
CPU the committed model already holds. The graphs hold every weight inference uses, but not under their
PyTorch names: constant folding transposes the tied LM head, gathers single embedding rows, and names the
results `onnx::MatMul_123`. So we do not guess the mapping; we measure it. A model of the same config whose
every parameter element carries its own code (an integer-valued float, exact in fp32) is exported with the
same exporter; each element of each initializer of that export then names the parameter element it came
from, and the shipped initializer at the same place gives its value. What inference never reads (the
training-only heads: distillation adapter, attribute heads) keeps a fresh initialisation, and the result is
checked by re-exporting it: every initializer must come out bit-identical to the shipped one.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from . import export as ex
from .model import CONFIGS, Config, build

GRAPHS = ("vision", "text", "mask_head")
TRAINING_ONLY = ("distill.", "attr_head.", "attr_head_mid.", "query_head.")
CODE_BASE = 1_000_003  # codes start far from the small literal constants a graph holds (1.0, 2.0, 0.5 …)


class OnnxImportError(RuntimeError):
    """The graphs do not match model.json or this exporter, or a weight inference reads did not come back whole."""


def config_of(model_dir: str, base: str) -> tuple[Config, dict, dict]:
    with open(os.path.join(model_dir, "model.json")) as f:
        meta = json.load(f)
    saved = meta["config"]
    full = CONFIGS[base].to_dict()
    keys = [k for k in full if k in saved]
    cfg = Config(**{**full, **{k: saved[k] for k in keys}, "up_channels": tuple(full["up_channels"])})
    return cfg, meta["tokens"], meta


def constants(path: str) -> dict[str, np.ndarray]:
    """Float initializers and Constant-node tensors of a graph, by name."""
    g = onnx.load(path).graph
    out = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].type == onnx.AttributeProto.TENSOR:
            out[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return {k: v for k, v in out.items() if v.dtype == np.float32}


def _export(model, tok_path: str, out_dir: str):
    ex.export(model, out_dir, tok_path, {"name": "import-probe"})


def recover(model_dir: str, base: str = "tiny", seed: int = 0) -> tuple[dict, Config, dict, dict]:
    """→ (state dict, config, tokens, report). Raises OnnxImportError when an inference weight is not recovered."""
    cfg, tokens, meta = config_of(model_dir, base)
    tok_path = os.path.join(model_dir, "tokenizer.json")
    probe = build(cfg, tokens)
    params = dict(probe.named_parameters())
    spans, offset = {}, CODE_BASE
    with torch.no_grad():
        for name, p in params.items():
            n = p.numel()
            if offset + n >= 2 ** 24:
                raise OnnxImportError(f"{sum(q.numel() for q in params.values())} parameters is too many to code "
                                   f"exactly in fp32 (at most {2 ** 24 - CODE_BASE}); import works for small configs")
            p.copy_(torch.arange(offset, offset + n, dtype=torch.float32).view_as(p))
            spans[name] = (offset, n)
            offset += n
    starts = sorted((s, n, name) for name, (s, n) in spans.items())
    start_arr = np.array([s for s, _, _ in starts])
    values = {name: np.full(n, np.nan, np.float32) for name, (_, n) in spans.items()}
    with tempfile.TemporaryDirectory() as tmp:
        _export(probe, tok_path, tmp)
        for g in GRAPHS:
            coded, shipped = constants(f"{tmp}/{g}.onnx"), constants(os.path.join(model_dir, f"{g}.onnx"))
            if set(coded) != set(shipped):
                raise OnnxImportError(f"{g}.onnx: its constants are not the ones this exporter writes "
                                   f"(expected {len(coded)}, found {len(shipped)}; exported with torch "
                                   f"{meta.get('provenance', {}).get('torch')}, this is torch {torch.__version__})")
            for key, c in coded.items():
                s = shipped[key]
                if c.shape != s.shape:
                    raise OnnxImportError(f"{g}.onnx constant {key}: expected shape {list(c.shape)}, found {list(s.shape)}")
                c, s = c.reshape(-1).astype(np.float64), s.reshape(-1)
                if c.size == 0 or not np.all(c == np.round(c)) or c.min() < CODE_BASE or c.max() >= offset:
                    continue  # not (all) parameter elements: a folded product, a RoPE table, a literal
                idx = np.searchsorted(start_arr, c, side="right") - 1
                if not np.all(idx == idx[0]):
                    continue
                _, n, name = starts[idx[0]]
                pos = (c - spans[name][0]).astype(np.int64)
                prev = values[name][pos]
                clash = ~np.isnan(prev) & (prev != s)
                if clash.any():
                    raise OnnxImportError(f"{name}: two graphs disagree on {int(clash.sum())} of its values")
                values[name][pos] = s
    torch.manual_seed(seed)
    fresh = build(cfg, tokens)
    state = {k: v.detach().clone() for k, v in fresh.state_dict().items()}
    report = {"recovered": [], "fresh": [], "partial": []}
    for name, v in values.items():
        got = ~np.isnan(v)
        if got.all():
            state[name] = torch.from_numpy(v.copy()).view_as(params[name])
            report["recovered"].append(name)
        elif name.startswith(TRAINING_ONLY) and not got.any():
            report["fresh"].append(name)
        else:
            report["partial"].append(f"{name} ({int(got.sum())}/{got.size})")
    if report["partial"]:
        raise OnnxImportError(f"weights inference reads but the graphs did not give whole: {report['partial']}")
    return state, cfg, tokens, report


def check_roundtrip(state: dict, cfg: Config, tokens: dict, model_dir: str) -> float:
    """Re-export the recovered weights; → the largest difference from the shipped constants (0.0 expected)."""
    m = build(cfg, tokens)
    m.load_state_dict(state)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        _export(m, os.path.join(model_dir, "tokenizer.json"), tmp)
        for g in GRAPHS:
            a, b = constants(f"{tmp}/{g}.onnx"), constants(os.path.join(model_dir, f"{g}.onnx"))
            for k in a:
                worst = max(worst, float(np.abs(a[k].astype(np.float64) - b[k]).max(initial=0.0)))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/tiny", help="an exported model directory")
    ap.add_argument("--out", required=True, help="weights file for train --init-weights / export / evaluate --ckpt")
    ap.add_argument("--config", default="tiny", choices=list(CONFIGS), help="the config the model was built from")
    a = ap.parse_args()
    try:
        state, cfg, tokens, report = recover(a.model, a.config)
    except OnnxImportError as e:
        raise SystemExit(f"import_onnx: {a.model}: {e}")
    worst = check_roundtrip(state, cfg, tokens, a.model)
    if worst > 0.0:
        raise SystemExit(f"import_onnx: re-exported weights differ from {a.model} by up to {worst:g}")
    with open(os.path.join(a.model, "model.json")) as f:
        prov = json.load(f).get("provenance", {})
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    torch.save({"model": state, "config": cfg.to_dict(), "tokens": tokens, "step": prov.get("checkpoint_step", 0),
                "expert": "", "trained_minutes": 0.0, "imported_from": os.path.abspath(a.model)}, a.out)
    print(f"recovered {len(report['recovered'])} tensors bit-exactly (re-export identical); fresh "
          f"(training only): {', '.join(report['fresh']) or 'none'} → {a.out}")


if __name__ == "__main__":
    main()
