"""Full-size graphs for speed: the `0.5b` / `3b` configurations at the paper's sizes, with random weights.

    python -m models.pixel_sail.export_fullsize --config 0.5b --out /tmp/pixel-sail-0.5b-full --verify --bench

Qwen2.5 widths and depths (model.CONFIGS), Qwen2.5's 151,936-row embedding and LM head, P = 32 and a 640×480
input (long side 640, grid 20×15). The tokenizer is synthetic: the tiny model's word-level tokenizer with
`<fill_N>` entries appended up to the vocabulary size, so its special ids, model.json's and the graphs' agree.
A graph whose weights pass `--external-threshold` bytes (protobuf caps one file at 2 GB) is saved as
`<graph>.onnx` + `<graph>.onnx.data` (ONNX external data, one file per graph). Each graph is exported into a
scratch folder of its own first: torch writes a graph over 2 GB as one file per tensor, and two graphs' tensor
names would collide in one folder.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx.external_data_helper import ExternalDataInfo, load_external_data_for_model, uses_external_data
import torch
from tokenizers import Tokenizer

from .export import GRAPHS, export_graphs, verify, write_model_json
from .model import CONFIGS, Config, RMSNorm, build
from .tokenizer import token_ids

QWEN_VOCAB = 151_936
LONG_SIDE = 640  # a 640×480 frame goes in unscaled: 20×15 patches of 32 px
PROTOBUF_SAFE = 1_800_000_000  # weights above this go to external data (protobuf's hard limit is 2 GiB)
FRAME = (480, 640)


def padded_tokenizer(src: str, size: int) -> Tokenizer:
    """The word-level tokenizer at `src` with `<fill_N>` entries appended so it has exactly `size` ids."""
    doc = json.loads(Tokenizer.from_file(src).to_str())
    vocab = doc["model"]["vocab"]
    n = len(vocab)
    if sorted(vocab.values()) != list(range(n)):
        raise ValueError(f"{src}: ids are not 0..{n - 1}; cannot pad")
    if size < n:
        raise ValueError(f"vocabulary size {size} is below the tokenizer's {n} entries")
    vocab.update({f"<fill_{i}>": i for i in range(n, size)})
    return Tokenizer.from_str(json.dumps(doc))


def full_config(name: str, vocab: int) -> Config:
    base = CONFIGS[name]
    return Config(**{**base.to_dict(), "up_channels": base.up_channels, "vocab": vocab})


def pooled_model(cfg: Config, tokens: dict, seed: int = 0, min_numel: int = 1 << 20):
    """The model with random weights that cost one matrix of memory: every weight of `min_numel` or more values is
    a window at a random offset into one pool of N(0, 0.02²) values (as big as the largest such weight), the
    rest are drawn on their own (norm gains 1, biases ~N(0, 0.02²)). A graph's file sizes and speed are those of
    independent weights. 3b needs it: the 0.5b export with its own weights peaked at 4.2× their 2 GB, and 3b has
    12.4 GB of them; pooled, 3b's export peaked at 4.8 GB."""
    with torch.device("meta"):
        model = build(cfg, tokens)
    g = torch.Generator().manual_seed(seed)
    big = max(p.numel() for p in model.parameters())
    pool = torch.empty(big + (1 << 24)).normal_(0.0, 0.02, generator=g)
    for mod in model.modules():
        for name, p in list(mod._parameters.items()):
            if p is None:  # a layer without bias
                continue
            n = p.numel()
            if n >= min_numel:
                o = int(torch.randint(0, pool.numel() - n + 1, (1,), generator=g))
                value = pool[o:o + n].view(p.shape)
            elif isinstance(mod, (RMSNorm, torch.nn.GroupNorm)):
                value = torch.ones(p.shape) if name == "weight" else torch.zeros(p.shape)
            elif name == "vp_gain":
                value = torch.tensor(25.0)
            else:
                value = torch.empty(p.shape).normal_(0.0, 0.02, generator=g)
            mod._parameters[name] = torch.nn.Parameter(value, requires_grad=False)
    return model.eval()


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def repack(tmp_path: str, path: str, threshold: int, align: int = 4096) -> dict:
    """Save the graph at `tmp_path` (torch's layout) to `path`: one file, or, when its weights pass `threshold`
    bytes, `.onnx` + one `.onnx.data` with each tensor over 1 kB at a page-aligned offset (so a runtime can map
    it). Streams one tensor at a time: a 3b graph (12 GB) never sits in memory whole."""
    src = os.path.dirname(tmp_path)
    m = onnx.load(tmp_path, load_external_data=False)
    sizes = [ExternalDataInfo(t).length or os.path.getsize(os.path.join(src, ExternalDataInfo(t).location))
             if uses_external_data(t) else len(t.raw_data) for t in m.graph.initializer]
    weights = sum(sizes)
    data = path + ".data"
    for f in (path, data):
        if os.path.exists(f):
            os.remove(f)
    external = weights > threshold
    if not external:
        load_external_data_for_model(m, src)
        onnx.save_model(m, path)
        return {"weights_bytes": weights, "external_data": False, "onnx_bytes": os.path.getsize(path), "data_bytes": 0}
    with open(data, "wb") as out:
        for t, n in zip(m.graph.initializer, sizes):
            if uses_external_data(t):
                info = ExternalDataInfo(t)
                with open(os.path.join(src, info.location), "rb") as f:
                    f.seek(info.offset or 0)
                    raw = f.read(n)
            elif n > 1024:
                raw = t.raw_data
            else:
                continue
            out.write(b"\0" * (-out.tell() % align))
            offset = out.tell()
            out.write(raw)
            del raw
            t.ClearField("raw_data")
            del t.external_data[:]
            t.data_location = onnx.TensorProto.EXTERNAL
            for k, v in (("location", os.path.basename(data)), ("offset", str(offset)), ("length", str(n))):
                entry = t.external_data.add()
                entry.key, entry.value = k, v
    onnx.save_model(m, path)
    return {"weights_bytes": weights, "external_data": True, "onnx_bytes": os.path.getsize(path),
            "data_bytes": os.path.getsize(data)}


def export_fullsize(cfg: Config, out_dir: str, tokenizer: Tokenizer, name: str, threshold: int = PROTOBUF_SAFE,
                    long_side: int = LONG_SIDE, seed: int = 0, pooled: bool = False, pool_min_numel: int = 1 << 20):
    """Random weights (independent, or `pooled_model`'s) → the three graphs, tokenizer.json and model.json in
    `out_dir`. Returns (model, report)."""
    os.makedirs(out_dir, exist_ok=True)
    if tokenizer.get_vocab_size() != cfg.vocab:
        raise ValueError(f"tokenizer has {tokenizer.get_vocab_size()} ids, the config's vocabulary {cfg.vocab}")
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    tokens = token_ids(tokenizer)
    model = pooled_model(cfg, tokens, seed, pool_min_numel) if pooled else build(cfg, tokens).eval()
    report = {"build_s": round(time.perf_counter() - t0, 1), "weights": "pooled" if pooled else "independent",
              "graphs": {}}
    for g in GRAPHS:  # one graph at a time: torch's copy of a graph is freed before the next is traced
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=f".{g}-") as tmp:
            export_graphs(model, {g: f"{tmp}/{g}.onnx"}, only=(g,))
            t2 = time.perf_counter()
            info = repack(f"{tmp}/{g}.onnx", f"{out_dir}/{g}.onnx", threshold)
        gc.collect()
        info.update(export_s=round(t2 - t1, 1), repack_s=round(time.perf_counter() - t2, 1),
                    peak_rss_gb=round(peak_rss_gb(), 2))  # the process's peak so far
        report["graphs"][g] = info
    tokenizer.save(f"{out_dir}/tokenizer.json")
    p = cfg.patch
    input_size = [-(-(long_side * FRAME[0] // FRAME[1]) // p) * p, -(-long_side // p) * p]
    external = {g: f"{g}.onnx.data" for g, i in report["graphs"].items() if i["external_data"]}
    base_words = sum(1 for t in tokenizer.get_vocab() if not t.startswith("<fill_"))
    write_model_json(model, out_dir, {
        "name": name, "long_side": long_side, "input_size": input_size,
        "provenance": {"trained": False, "external_data": external, "weights": report["weights"],
                       "note": f"{name}, random weights ({report['weights']}); synthetic tokenizer: {base_words} "
                               f"words of the tiny model padded with <fill_N> entries to {cfg.vocab} ids"}})
    report["export_s"] = round(time.perf_counter() - t0, 1)
    report["peak_rss_gb"] = round(peak_rss_gb(), 2)
    return model, report


ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64"}


def contract_problems(out_dir: str) -> list[str]:
    """model.json's `tensors` against each graph's declared inputs and outputs — names, dtypes, ranks, fixed sizes,
    what the node checks at load (src/inference/contract.rs) — read without the weights, so a graph too big to
    open a session for here is still checked."""
    meta = json.load(open(f"{out_dir}/model.json"))
    problems = []
    for g, sig in meta["tensors"].items():
        graph = onnx.load(os.path.join(out_dir, meta["files"][g]), load_external_data=False).graph
        for kind, specs, values in (("input", sig["inputs"], graph.input), ("output", sig["outputs"], graph.output)):
            found = {v.name: v.type.tensor_type for v in values}
            if kind == "input" and set(found) - {s["name"] for s in specs}:
                problems.append(f"{g}: unexpected inputs {sorted(set(found) - {s['name'] for s in specs})}")
            for spec in specs:
                t = found.get(spec["name"])
                if t is None:
                    problems.append(f"{g}: missing {kind} {spec['name']}")
                    continue
                dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
                if ONNX_DTYPES.get(t.elem_type) != spec["dtype"] or len(dims) != len(spec["shape"]) or any(
                        isinstance(w, int) and d is not None and d != w for w, d in zip(spec["shape"], dims)):
                    problems.append(f"{g}: {kind} {spec['name']} is {ONNX_DTYPES.get(t.elem_type)} {dims}, "
                                    f"model.json says {spec['dtype']} {spec['shape']}")
    return problems


def bench(out_dir: str) -> dict:
    """Per graph: onnxruntime CPU session load time, then two runs at 640×480 (the first and a second one)."""
    meta = json.load(open(f"{out_dir}/model.json"))
    tok, p = meta["tokens"], meta["config"]["patch"]
    gh, gw = -(-FRAME[0] // p), -(-FRAME[1] // p)
    rng = np.random.default_rng(0)
    feeds = {"vision": {"pixels": rng.standard_normal((1, 3, gh * p, gw * p)).astype(np.float32),
                        "vp_masks": np.zeros((1, 1, gh, gw), np.float32),
                        "vp_ids": np.array([[tok["vp"][0]]], np.int64)}}
    out, prev = {}, None
    for g in GRAPHS:
        t0 = time.perf_counter()
        sess = ort.InferenceSession(f"{out_dir}/{g}.onnx", providers=["CPUExecutionProvider"])
        load_s = time.perf_counter() - t0
        if g == "text":  # a 12-token prompt over the image prefix, then one decode step
            s, t = prev[0].shape[3], 12
            ids = np.array([[tok["user"]] + [tok["vp"][0]] * (t - 2) + [tok["assistant"]]], np.int64)
            feeds[g] = {"input_ids": ids, "position_ids": np.arange(t, dtype=np.int64)[None] + max(gh, gw) + 2,
                        "attention_mask": np.ones((1, s + t), np.int64), "past_keys": prev[0], "past_values": prev[1]}
        if g == "mask_head":
            feeds[g] = {"features": prev[2], "seg_hidden": prev[3][:, -1]}
        runs = []
        for _ in range(2):
            t0 = time.perf_counter()
            res = sess.run(None, feeds[g])
            runs.append(round(time.perf_counter() - t0, 3))
        out[g] = {"load_s": round(load_s, 2), "first_run_s": runs[0], "run_s": runs[1]}
        if g == "vision":
            prev = res
        elif g == "text":
            prev = [prev[0], prev[1], prev[2], res[1]]
            step = {"input_ids": ids[:, -1:], "position_ids": feeds[g]["position_ids"][:, -1:] + 1,
                    "attention_mask": np.ones((1, s + t + 1), np.int64), "past_keys": res[2], "past_values": res[3]}
            t0 = time.perf_counter()
            sess.run(None, step)
            out[g]["decode_step_s"] = round(time.perf_counter() - t0, 3)
        del sess
        gc.collect()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=["0.5b", "3b"], default="0.5b")
    ap.add_argument("--out", required=True, help="output folder, outside the repository (graphs are GBs)")
    ap.add_argument("--tokenizer", default="models/tiny/tokenizer.json", help="word-level tokenizer to pad")
    ap.add_argument("--vocab", type=int, default=QWEN_VOCAB)
    ap.add_argument("--external-threshold", type=int, default=PROTOBUF_SAFE,
                    help="weights in bytes above which a graph is saved with external data")
    ap.add_argument("--weights", choices=["independent", "pooled"], default=None,
                    help="pooled: big weights are windows into one random pool (default for 3b; see pooled_model)")
    ap.add_argument("--verify", action="store_true", help="onnxruntime vs PyTorch at 640x480 (max |diff|)")
    ap.add_argument("--bench", action="store_true", help="per-graph load and run time on the CPU")
    a = ap.parse_args()
    if os.path.abspath(a.out).startswith(os.path.abspath(os.path.dirname(__file__) + "/../..") + os.sep):
        ap.error("--out is inside the repository; full-size graphs are never committed")
    cfg = full_config(a.config, a.vocab)
    pooled = (a.weights or ("pooled" if a.config == "3b" else "independent")) == "pooled"
    model, report = export_fullsize(cfg, a.out, padded_tokenizer(a.tokenizer, a.vocab), f"pixel-sail-{a.config}",
                                    a.external_threshold, pooled=pooled)
    print(json.dumps({"export": report, "contract_problems": contract_problems(a.out)}, indent=1), flush=True)
    if a.verify:
        d = verify(model, a.out, grid=(FRAME[0] // cfg.patch, FRAME[1] // cfg.patch))
        print(json.dumps({"max_abs_diff": d, "peak_rss_gb": round(peak_rss_gb(), 2)}, indent=1), flush=True)
    del model
    gc.collect()
    if a.bench:
        print(json.dumps({"bench_cpu": bench(a.out), "peak_rss_gb": round(peak_rss_gb(), 2)}, indent=1))


if __name__ == "__main__":
    main()
