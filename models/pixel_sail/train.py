"""Train Pixel-SAIL tiny on the cached tabletop scenes; resumable in stretches.

    python -m models.pixel_sail.train --minutes 30           # runs 30 min, saves, exits; run again to go on

The schedule (warm-up + cosine over --total-steps) lives in the checkpoint, so stretches continue it.
Runs on CUDA when present (fp32/TF32), otherwise on CPU fp32 (bf16 is ~25x slower on these CPUs).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import batches as mix
from . import cache as scene_cache
from .batches import Encoder, make_batch, model_pixels
from .expert import Expert
from .model import ATTR_CLASSES, CONFIGS, Config, build
from .repatch import halve_patch
from .tokenizer import token_ids
from .vocab import SHAPES
from tokenizers import Tokenizer


def text_positions(grid, t, b):
    start = max(grid) + 2
    return (start + torch.arange(t)).unsqueeze(0).expand(b, -1)


# from the sixth session on, shape counts double in the attribute heads (colour, shape, size, place) and a
# description's shape word three times in the answer loss: shape was what held descriptions, visual-prompt
# descriptions and shape-only no-target commands back (VP descriptions named the right shape 45 % of the time,
# size and colour over 95 %)
ATTR_GROUP_WEIGHTS = (1.0, 2.0, 1.0, 1.0)
SHAPE_TOKEN_WEIGHT = 3.0


def losses(model, batch, expert=None, dev="cpu", token_weights=None):
    """The weighted parts of the training loss. token_weights: per vocabulary entry, how much an answer token's
    cross-entropy counts (shape words more, `shape_token_weights`); None = a plain mean."""
    cfg, ids = model.cfg, model.tokens
    pixels = model_pixels(batch, cfg, dev)
    keys, values, feats = model.vision(pixels, batch["vp_masks"].to(dev), batch["vp_ids"].to(dev))
    owners = batch["owners"].to(dev)
    pk, pv = keys[:, owners], values[:, owners]
    bk, t = batch["input_ids"].shape
    attn = torch.cat([torch.ones(bk, pk.shape[3], dtype=torch.long), batch["attn"]], 1).to(dev)
    pos = text_positions(batch["grid"], t, bk).to(dev)
    vp_embed = model.vp_pooled[owners] if cfg.vp_mode == "pool" else None
    logits, hidden, _, _ = model.text(batch["input_ids"].to(dev), pos, attn, pk, pv, vp_embed)
    tg = batch["targets"].to(dev)
    lm = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.reshape(-1), ignore_index=-100,
                         reduction="none")
    if token_weights is None:
        lm = lm.sum() / (tg >= 0).sum().clamp(min=1)
    else:
        tw = token_weights.to(dev)[tg.clamp(min=0)].reshape(-1) * (tg >= 0).reshape(-1)
        lm = (lm * tw).sum() / tw.sum().clamp(min=1e-6)
    rows = torch.arange(bk, device=dev)
    dec_rows = (tg[rows, batch["decide_pos"].to(dev)] >= 0) & (batch["seg_pos"].to(dev) > 0)
    dl = logits[rows, batch["decide_pos"].to(dev)][:, [ids["seg"], ids["none"]]]
    dt = (tg[rows, batch["decide_pos"].to(dev)] == ids["none"]).long()
    w = torch.where(dt == 1, 2.0, 1.0)
    decide = (F.cross_entropy(dl, dt, reduction="none") * w * dec_rows).sum() / dec_rows.sum().clamp(min=1)
    out = {"lm": lm, "decide": decide}
    if batch["has_mask"].any():  # decided on the host: no device sync
        hm = batch["has_mask"]
        r = torch.nonzero(hm).squeeze(1).to(dev)
        seg_h = hidden[r, batch["seg_pos"].to(dev)[r]]
        ml = model.mask_head(feats[owners[r]], seg_h)
        tgt = batch["soft_masks"][hm].to(dev)
        valid = batch["valid"].to(dev)
        bce = (F.binary_cross_entropy_with_logits(ml, tgt, reduction="none") * valid).sum() / (valid.sum() * len(r))
        p = torch.sigmoid(ml) * valid
        dice = 1 - (2 * (p * tgt).sum((1, 2)) + 1) / (p.sum((1, 2)) + tgt.sum((1, 2)) + 1)
        out["bce"], out["dice"] = bce, dice.mean()
    pa = batch["patch_attrs"].to(dev).flatten(1, 2)  # [B, gh*gw, 4]
    # object patches ×5: ~85 % of patches are table, and an average over all of them let shape and place
    # (what descriptions miss) hide behind easy background
    pw = (1.0 + 4.0 * (pa[..., 0] > 0)).flatten()
    for name, head, states in (("attr", model.attr_head, model.patch_states),
                               ("attr_mid", model.attr_head_mid, model.patch_states_mid)):
        logits_attr = head(states).split(list(ATTR_CLASSES), -1)
        out[name] = sum(ATTR_GROUP_WEIGHTS[g] * (F.cross_entropy(lg.flatten(0, 1), pa[..., g].flatten(),
                                                                  reduction="none") * pw).sum()
                        for g, lg in enumerate(logits_attr)) / (sum(ATTR_GROUP_WEIGHTS) * pw.sum())
    if (batch["query_attr"][:, 0] >= 0).any():
        qa = batch["query_attr"].to(dev)
        qh = hidden[rows, batch["query_pos"].to(dev)]
        logits_q = model.query_head(qh).split(list(ATTR_CLASSES), -1)
        out["query"] = sum(ATTR_GROUP_WEIGHTS[g] * F.cross_entropy(lg, qa[:, g], ignore_index=-100)
                           for g, lg in enumerate(logits_q)) / sum(ATTR_GROUP_WEIGHTS)
    if expert is not None:
        target = expert.targets(pixels)
        out["distill"] = F.mse_loss(model.distill(feats), target)
    return out


def shape_token_weights(tok, vocab: int) -> torch.Tensor:
    """Answer-token weights: the shape word of a description counts SHAPE_TOKEN_WEIGHT times."""
    w = torch.ones(vocab)
    for shape in SHAPES:
        w[tok.token_to_id(shape)] = SHAPE_TOKEN_WEIGHT
    return w


WEIGHTS = {"lm": 1.0, "decide": 1.0, "bce": 2.0, "dice": 0.5, "distill": 0.5, "attr": 0.5, "attr_mid": 0.5, "query": 0.5}


POSITION_TABLES = ("row_embed", "col_embed")


def group_spec(params, names):
    """An optimiser group over named parameters. The absolute position tables start at zero and at the base
    rate stay ~1 % of the patch embeddings' scale for thousands of steps: 10x rate, no decay."""
    extra = {"lr_scale": 10.0, "weight_decay": 0.0} if set(names) <= set(POSITION_TABLES) else {}
    return {"params": [params[n] for n in names], **extra}


def lr_at(step, frac, base, warmup=100):
    """Warm-up, then cosine to 2 % over the planned schedule; frac = progress through it (steps or time)."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


class Batches(torch.utils.data.IterableDataset):
    """Endless training batches, built in DataLoader workers (each with its own generator) so a GPU is not
    kept waiting on Python; the curriculum's share of easy scenes comes from a value the loop updates."""

    def __init__(self, cache_path, tokenizer, cfg, batch, seed):
        tok = Tokenizer.from_file(tokenizer)
        self.enc = Encoder(tok, token_ids(tok))
        self.imgs, self.labs, self.scenes = scene_cache.load(cache_path, in_memory=False)
        self.cfg, self.batch, self.seed = cfg, batch, seed
        n_obj = np.array([len(s.objects) for s in self.scenes])
        self.easy = np.nonzero(n_obj <= 3)[0]
        self.easy_share = multiprocessing.Value("d", 0.7, lock=False)  # shared with forked workers

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([*self.seed, info.id if info else 0])
        n, b = len(self.scenes), self.batch
        while True:
            idxs = np.where(rng.random(b) < self.easy_share.value,
                            self.easy[rng.integers(0, len(self.easy), b)], rng.integers(0, n, b))
            yield make_batch(self.imgs, self.labs, self.scenes, idxs, rng, self.enc, self.cfg)


def _worker_init(_):
    torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="tiny", choices=list(CONFIGS))
    ap.add_argument("--ckpt", default="models/checkpoints/tiny.pt")
    ap.add_argument("--cache", default="models/cache/train")
    ap.add_argument("--tokenizer", default="models/tiny/tokenizer.json")
    ap.add_argument("--expert", default="models/checkpoints/expert.pt", help="'' disables distillation")
    ap.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of this stretch")
    ap.add_argument("--total-steps", type=int, default=6000)
    ap.add_argument("--plan-minutes", type=float, default=0.0,
                    help="schedule by wall-clock instead: the cosine ends after this much training time")
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--no-upsampler", action="store_true", help="ablation: the plain baseline")
    ap.add_argument("--vp-pool", action="store_true", help="ablation: pooled visual prompts")
    ap.add_argument("--patch", type=int, default=0,
                    help="a fresh run's patch size in pixels (the config's, 32, by default; 16 = 4x the image tokens); "
                         "with --init-weights of twice this patch, the weights are converted (repatch.py)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0, help="batch-building processes (0 = in the loop)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-every", type=float, default=180.0, help="seconds between checkpoint saves")
    ap.add_argument("--weights-out", default="", help="also save the weights alone here (no optimiser state)")
    ap.add_argument("--init-weights", default="",
                    help="a fresh run (new optimiser, warm-up, schedule) starting from these weights (--weights-out)")
    ap.add_argument("--restart-schedule", action="store_true",
                    help="on resume, start a fresh cosine (no warm-up) over --plan-minutes from here")
    ap.add_argument("--vp-rate", type=float, default=None, help=f"share of scenes with a visual prompt "
                    f"(default {mix.VP_RATE})")
    ap.add_argument("--describe-share", type=float, default=None, help=f"share of the other prompts that are "
                    f"descriptions (default {mix.DESCRIBE})")
    a = ap.parse_args()
    if a.vp_rate is not None:
        mix.VP_RATE = a.vp_rate
    if a.describe_share is not None:
        if not 0.0 <= a.describe_share <= 1.0 - mix.NO_TARGET:
            raise SystemExit(f"--describe-share must lie in [0, {1.0 - mix.NO_TARGET:.2f}] "
                             f"({mix.NO_TARGET} of the prompts are no-target commands)")
        mix.DESCRIBE = a.describe_share
    print(f"prompt mix: visual prompts in {mix.VP_RATE:.2f} of scenes; no-target {mix.NO_TARGET:.2f}, "
          f"descriptions {mix.DESCRIBE:.2f} of the other prompts", flush=True)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    tok = Tokenizer.from_file(a.tokenizer)
    ids = token_ids(tok)
    state = torch.load(a.ckpt, weights_only=False, map_location="cpu") if os.path.exists(a.ckpt) else None
    init = torch.load(a.init_weights, weights_only=False, map_location="cpu") if a.init_weights and not state else None
    if state or init:
        saved = (state or init)["config"]
        cfg = Config(**{**saved, "up_channels": tuple(saved["up_channels"])})
        if init and a.patch and a.patch != cfg.patch:
            if a.patch * 2 != cfg.patch:
                raise SystemExit(f"--patch {a.patch} with --init-weights of {cfg.patch}-px patches: only halving "
                                 f"is supported (--patch {cfg.patch // 2})")
            init["model"], cfg = halve_patch(init["model"], cfg)
            print(f"converted the {cfg.patch * 2}-px weights to {cfg.patch}-px patches (repatch.py)", flush=True)
    else:
        cfg = Config(**{**CONFIGS[a.config].to_dict(), "vocab": tok.get_vocab_size(),
                        "up_channels": CONFIGS[a.config].up_channels,
                        "upsampler": not a.no_upsampler, "vp_mode": "pool" if a.vp_pool else "inject",
                        "patch": a.patch or CONFIGS[a.config].patch})
    model = build(cfg, ids).to(dev)
    params = dict(model.named_parameters())
    step, total = 0, a.total_steps
    plan, trained_min = a.plan_minutes, 0.0
    expert_path = a.expert
    # parameter names per optimiser group; a checkpoint keeps its own, and parameters it lacks (a head added
    # mid-run) join as a group of their own
    groups = [[n for n in params if n not in POSITION_TABLES], [n for n in params if n in POSITION_TABLES]]
    added = []
    if state:
        groups = state.get("opt_groups") or [[n for n in params if n in state["model"]]]
        added = [n for n in params if not any(n in g for g in groups)]
        model.load_state_dict(state["model"], strict=not added)
    elif init:
        model.load_state_dict(init["model"])
        print(f"starting from the weights in {a.init_weights} (their step {init['step']})", flush=True)
    groups = [g for g in groups if g]
    opt = torch.optim.AdamW([group_spec(params, g) for g in groups], lr=a.lr, betas=(0.9, 0.95),
                            weight_decay=0.05, fused=dev == "cuda")
    if state:
        opt.load_state_dict(state["opt"])
        if added:
            opt.add_param_group(group_spec(params, added))
            groups.append(added)
            print(f"new parameters: {added}", flush=True)
        step, total, expert_path = state["step"], state["total_steps"], state["expert"]
        plan = a.plan_minutes or state.get("plan_minutes", 0.0)  # a stretch may re-plan the end
        trained_min = state.get("trained_minutes", 0.0)
        if a.restart_schedule:  # a fresh schedule from here: --plan-minutes of training, or --total-steps more
            trained_min, plan, total = 0.0, a.plan_minutes, step + a.total_steps
        print(f"resumed at step {step}/{total}", flush=True)
    expert = None
    if expert_path and not os.path.exists(expert_path):
        raise SystemExit(f"the distillation teacher {expert_path} is missing: train it first "
                         f"(python -m models.pixel_sail.expert --minutes 6) or pass --expert '' to train without it")
    if expert_path:
        expert = Expert().to(dev)
        expert.load_state_dict(torch.load(expert_path, map_location="cpu"))
        expert.eval()
    token_w = shape_token_weights(tok, cfg.vocab).to(dev)
    t0 = last_save = time.time()

    def progress():
        if plan:
            return (trained_min + (time.time() - t0) / 60) / plan
        return max(0, step - 100) / max(1, total - 100)

    # curriculum: early on most scenes have 1–3 objects, fading to the natural mix by 20 % of the plan; a run
    # started from trained weights has no use for it (and its resumed stretches remember that)
    curriculum = state.get("curriculum", True) if state else not init

    def easy_share():
        return max(0.0, 0.7 * (1 - progress() / 0.2)) if curriculum else 0.0

    data = Batches(a.cache, a.tokenizer, cfg, a.batch, (a.seed, step))  # a resumed run draws fresh batches
    data.easy_share.value = easy_share()  # before the workers start prefetching
    batches = iter(torch.utils.data.DataLoader(
        data, batch_size=None, num_workers=a.workers, worker_init_fn=_worker_init, pin_memory=dev == "cuda",
        prefetch_factor=4 if a.workers else None, persistent_workers=a.workers > 0))
    sums, n_sum = {}, 0

    def save():
        os.makedirs(os.path.dirname(a.ckpt) or ".", exist_ok=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "opt_groups": groups, "step": step, "total_steps": total,
                    "config": cfg.to_dict(), "expert": expert_path,
                    "plan_minutes": plan, "trained_minutes": trained_min + (time.time() - t0) / 60,
                    "tokens": ids, "curriculum": curriculum}, a.ckpt + ".tmp")
        os.replace(a.ckpt + ".tmp", a.ckpt)
        if a.weights_out:  # what export/evaluate need (load_checkpoint), a third of the size
            weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            torch.save({"model": weights, "config": cfg.to_dict(), "tokens": ids, "step": step,
                        "expert": expert_path, "trained_minutes": trained_min + (time.time() - t0) / 60},
                       a.weights_out + ".tmp")
            os.replace(a.weights_out + ".tmp", a.weights_out)

    model.train()
    while step < total and progress() < 1.0 and time.time() - t0 < a.minutes * 60:
        data.easy_share.value = easy_share()
        batch = next(batches)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, progress(), a.lr) * g.get("lr_scale", 1.0)
        parts = losses(model, batch, expert, dev, token_w)
        loss = sum(WEIGHTS[k] * v for k, v in parts.items())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        for k, v in parts.items():  # summed on the device, read every 25 steps: no per-step sync
            sums[k] = sums.get(k, 0.0) + v.detach()
        n_sum += 1
        if step % 25 == 0:
            el = time.time() - t0
            print(f"step {step} {el / 60:.1f} min progress {progress():.3f} lr {lr_at(step, progress(), a.lr):.2e} "
                  + " ".join(f"{k} {float(v) / n_sum:.3f}" for k, v in sums.items()), flush=True)
            sums, n_sum = {}, 0
        if time.time() - last_save > a.save_every:
            save()
            last_save = time.time()
    save()
    print(f"saved step {step}/{total} to {a.ckpt}", flush=True)


if __name__ == "__main__":
    main()
