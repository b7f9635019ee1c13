"""One training step's losses off the CPU: every tensor the loss and the model make must follow the model's
device, or `train` breaks on CUDA. The meta device raises on any CPU/other mix, so this runs without a GPU."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from models.pixel_sail import batches as mix
from models.pixel_sail.batches import Encoder, augment, make_batch, scene_prompts
from models.pixel_sail.cache import TRAIN_SEED0, render_one
from models.pixel_sail.cache import build as build_cache
from models.pixel_sail.export import load_checkpoint
from models.pixel_sail.expert import Expert
from models.pixel_sail.model import CONFIGS, Config, build
from models.pixel_sail.tokenizer import token_ids
from models.pixel_sail.train import SHAPE_TOKEN_WEIGHT, WEIGHTS, losses, shape_token_weights
from models.pixel_sail.vocab import SHAPES

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _batch(cfg):
    tok = Tokenizer.from_file("models/tiny/tokenizer.json")
    ids = token_ids(tok)
    out = [render_one(TRAIN_SEED0 + i) for i in range(3)]
    imgs, labs, scenes = np.stack([o[0] for o in out]), np.stack([o[1] for o in out]), [o[2] for o in out]
    batch = make_batch(imgs, labs, scenes, np.arange(3), np.random.default_rng(1), Encoder(tok, ids), cfg)
    return batch, ids


def _step(dev, **overrides):
    base = CONFIGS["tiny"]
    cfg = Config(**{**base.to_dict(), "up_channels": base.up_channels, **overrides})
    batch, ids = _batch(cfg)
    model = build(cfg, ids).to(dev).train()
    expert = Expert().to(dev).eval()
    parts = losses(model, batch, expert, dev)
    loss = sum(WEIGHTS[k] * v for k, v in parts.items())
    loss.backward()
    return parts, model


# the shipped model, the model card's ablations (plain baseline without upsampler, pooled visual prompts) and
# 16-px patches (what `scripts/gpu_train.sh` tries next for shape)
@pytest.mark.parametrize("overrides", [{}, {"upsampler": False}, {"vp_mode": "pool"}, {"patch": 16}])
def test_losses_follow_the_model_device(overrides):
    parts, model = _step("meta", **overrides)
    # every loss the schedule weighs is computed (a batch of 3 scenes × 4 prompts has masks and queries)
    assert set(parts) == set(WEIGHTS)
    assert all(v.device.type == "meta" for v in parts.values())
    assert model.patch_embed.weight.grad is not None and model.patch_embed.weight.grad.device.type == "meta"


@pytest.mark.parametrize("patch", [32, 16])
def test_losses_are_finite_on_cpu(patch):
    torch.manual_seed(0)
    parts, model = _step("cpu", patch=patch)
    assert all(torch.isfinite(v) for v in parts.values())
    assert torch.isfinite(model.row_embed.grad).all() and model.row_embed.grad.abs().sum() > 0


def test_fused_attention_trains_what_the_exported_plain_ops_compute(monkeypatch):
    """Training uses PyTorch's fused attention kernel, the graphs the plain ops: the losses and every gradient
    agree, image (bidirectional) and text (causal, padded) attention alike."""
    from models.pixel_sail import model as model_mod

    cfg = CONFIGS["tiny"]
    batch, ids = _batch(cfg)
    torch.manual_seed(0)
    model = build(cfg, ids).train()
    runs = []
    for fused in (True, False):
        monkeypatch.setattr(model_mod, "FUSED_ATTENTION", fused)
        torch.manual_seed(1)  # the same augmentation noise for both
        model.zero_grad()
        parts = losses(model, batch)
        sum(WEIGHTS[k] * v for k, v in parts.items()).backward()
        runs.append(({k: float(v.detach()) for k, v in parts.items()},
                     {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (l_fused, g_fused), (l_plain, g_plain) = runs
    assert l_fused.keys() == l_plain.keys() and "lm" in l_fused and "dice" in l_fused
    for k in l_fused:
        assert abs(l_fused[k] - l_plain[k]) <= 1e-5 * max(1.0, abs(l_plain[k])), k
    assert g_fused.keys() == g_plain.keys() and "blocks.0.q.weight" in g_fused
    for n in g_fused:
        assert (g_fused[n] - g_plain[n]).abs().max() <= 1e-4 * g_plain[n].abs().max() + 1e-9, n


def _train(tmp_path, *args):
    cmd = [sys.executable, "-m", "models.pixel_sail.train", "--cache", str(tmp_path / "cache"),
           "--ckpt", str(tmp_path / "run.pt"), "--weights-out", str(tmp_path / "weights.pt"), "--batch", "2",
           "--threads", "1", "--save-every", "5", "--expert", "", *args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_training_command_saves_resumes_and_exports(tmp_path):
    """The documented command end to end on a tiny cache: batches from a DataLoader worker, a checkpoint that
    the next stretch resumes (the step count goes on), and a weights file that export's loader reads."""
    build_cache(6, str(tmp_path / "cache"), workers=1)
    first = _train(tmp_path, "--workers", "1", "--total-steps", "4", "--minutes", "2")
    assert "saved step 4/4" in first
    assert torch.load(tmp_path / "run.pt", weights_only=False)["step"] == 4
    again = _train(tmp_path, "--total-steps", "2", "--restart-schedule", "--minutes", "2")  # 2 more
    assert "resumed at step 4/" in again and "saved step 6/6" in again
    model, state = load_checkpoint(str(tmp_path / "weights.pt"))
    assert state["step"] == 6 and "opt" not in state
    # a fresh schedule from those weights: new optimiser, the weights it starts from are the saved ones
    os.remove(tmp_path / "run.pt")
    init = _train(tmp_path, "--init-weights", str(tmp_path / "weights.pt"), "--total-steps", "1", "--lr", "0",
                  "--minutes", "2", "--describe-share", "0.4", "--vp-rate", "0.5")
    assert "their step 6" in init and "saved step 1/1" in init
    assert "visual prompts in 0.50 of scenes; no-target 0.22, descriptions 0.40" in init
    after, _ = load_checkpoint(str(tmp_path / "weights.pt"))
    assert torch.equal(after.patch_embed.weight, model.patch_embed.weight)  # lr 0: unchanged


def test_shape_words_weigh_more_in_the_answer_loss():
    """The answer loss with unit weights is the plain mean, and `shape_token_weights` raises exactly the six
    shape words (a description's shape is what the model misses most)."""
    cfg = CONFIGS["tiny"]
    batch, ids = _batch(cfg)
    torch.manual_seed(0)
    model = build(cfg, ids).train()  # train mode keeps the patch states the attribute heads read
    tok = Tokenizer.from_file("models/tiny/tokenizer.json")
    weights = shape_token_weights(tok, cfg.vocab)
    raised = {tok.id_to_token(i) for i in torch.nonzero(weights != 1).flatten().tolist()}
    assert raised == set(SHAPES) and (weights[weights != 1] == SHAPE_TOKEN_WEIGHT).all()
    with torch.no_grad():
        plain = losses(model, batch)["lm"]
        unit = losses(model, batch, token_weights=torch.ones(cfg.vocab))["lm"]
        shaped = losses(model, batch, token_weights=weights)["lm"]
    assert torch.allclose(plain, unit, rtol=1e-4)
    assert not torch.allclose(plain, shaped)  # the batch's descriptions name shapes


def _neutral(b, **changes):
    p = {"gain": np.ones((b, 1, 1, 1)), "contrast": np.ones((b, 1, 1, 1)), "channel": np.ones((b, 3, 1, 1)),
         "noise": np.zeros((b, 1, 1, 1)), "blur": np.zeros((b, 1, 1, 1), bool), "light": np.zeros((b, 2, 1, 1)),
         "saturation": np.ones((b, 1, 1, 1)), "grain": np.zeros((b, 1, 1, 1))}
    return {**p, **changes}


def test_augmentation_lights_across_the_frame_and_varies_saturation():
    x = torch.full((1, 3, 24, 32), 100.0)
    x[:, 0] = 160.0  # a reddish flat image
    assert torch.allclose(augment(x, _neutral(1)), x)  # neutral parameters leave the image alone
    lit = augment(x, _neutral(1, light=np.array([0.3, 0.0]).reshape(1, 2, 1, 1)))
    # brighter on the right than the left by ~30 %, the same down each column
    ratio = lit[0, :, :, -1].mean() / lit[0, :, :, 0].mean()
    assert 1.2 < ratio < 1.4 and torch.allclose(lit[0, :, 0], lit[0, :, -1])
    grey = augment(x, _neutral(1, saturation=np.zeros((1, 1, 1, 1))))
    assert torch.allclose(grey[0, 0], grey[0, 1]) and torch.allclose(grey[0, 1], grey[0, 2])
    grain = augment(x, _neutral(1, grain=np.full((1, 1, 1, 1), 8.0)))
    # coarse grain: neighbouring pixels move together (unlike the per-pixel noise)
    d = grain - x
    assert d.std() > 1 and (d[..., 1:] - d[..., :-1]).abs().mean() < 0.5 * d.abs().mean()


def test_prompt_mix_follows_its_settings(monkeypatch):
    """--describe-share / --vp-rate move the mix the way they say, and leave no-target commands alone."""
    tok = Tokenizer.from_file("models/tiny/tokenizer.json")
    enc = Encoder(tok, token_ids(tok))
    scenes = [render_one(TRAIN_SEED0 + i) for i in range(40)]

    def shares(vp_rate, describe):
        monkeypatch.setattr(mix, "VP_RATE", vp_rate)
        monkeypatch.setattr(mix, "DESCRIBE", describe)
        rng, kinds, vps = np.random.default_rng(3), [], 0
        for _ in range(5):
            for img, lab, scene in scenes:
                out, vp = scene_prompts(scene, lab, rng, enc)
                vps += vp is not None
                kinds += [kind for _, _, kind, _ in out[2 if vp else 0:]]  # the prompts after the visual-prompt pair
        n = len(kinds)
        return vps / (5 * len(scenes)), kinds.count("describe") / n, kinds.count("none") / n

    vp0, d0, none0 = shares(0.35, 0.25)
    vp1, d1, none1 = shares(1.0, 0.45)
    assert 0.2 < vp0 < 0.5 and vp1 == 1.0
    assert 0.17 < d0 < 0.33 and 0.37 < d1 < 0.53
    assert abs(none0 - none1) < 0.08 and 0.15 < none1 < 0.3
    assert shares(0.0, 0.0)[:2] == (0.0, 0.0)


def test_cache_rows_are_the_rendered_scenes_and_a_stopped_render_keeps_its_prefix(tmp_path, monkeypatch):
    from models.pixel_sail import cache

    monkeypatch.setattr(cache, "CHUNK", 2)
    path = str(tmp_path / "c")
    cache.build(5, path, workers=2, offset=3)
    imgs, labs, scenes = cache.load(path)
    assert imgs.shape == (5, cache.H, cache.W, 3) and labs.shape == (5, cache.H, cache.W) and len(scenes) == 5
    for row in (0, 4):
        img, lab, scene = render_one(TRAIN_SEED0 + 3 + row)
        assert np.array_equal(imgs[row], img) and np.array_equal(labs[row], lab) and scenes[row] == scene
    # a render over its time budget stops after the chunk in hand and keeps only finished, in-order rows
    cache.build(6, path, workers=1, max_seconds=1e-6)
    imgs, labs, scenes = cache.load(path, in_memory=False)
    assert len(scenes) == 2 and imgs.shape[0] == 2 and labs.shape[0] == 2
    assert np.array_equal(imgs[1], render_one(TRAIN_SEED0 + 1)[0])
