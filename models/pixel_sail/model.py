"""Pixel-SAIL: one decoder-only transformer over raw image patches and text (models/README.md).

The forward pass is split exactly as the ONNX graphs are: `vision` (patches + visual prompts → the image
prefix's KV cache for every layer and the upsampled stride-4 features), `text` (tokens over a past KV cache →
logits, hidden states, new cache) and `mask_head` ([SEG] states · features → mask logits). Training runs
the same three functions, so what is trained is what is exported.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    hidden: int = 192
    layers: int = 4
    heads: int = 6
    kv_heads: int = 2
    head_dim: int = 32
    intermediate: int = 512
    vocab: int = 64
    patch: int = 32
    feat_dim: int = 48
    up_channels: tuple = (96, 64, 48)
    pixel_skip: bool = True      # raw-pixel space-to-depth into the upsampler (our addition, see card)
    upsampler: bool = True       # False = the paper's "plain baseline": features straight from stride P
    vp_mode: str = "inject"      # "inject" (Pixel-SAIL) or "pool" (baseline: pooled patch embeddings)
    rope_theta: float = 10000.0
    rms_eps: float = 1e-6
    qkv_bias: bool = True
    distill_dim: int = 32
    embed_scale: bool = True     # text embeddings × √C as inputs (tied head keeps them small) [ours]
    abs_pos: bool = True         # learned row/column embeddings on the patches (RoPE alone is relative) [ours]

    def to_dict(self):
        d = asdict(self)
        d["up_channels"] = list(self.up_channels)
        return d


CONFIGS = {
    "tiny": Config(),
    # Qwen2.5 dimensions (random weights): full-size graphs with the same contract.
    "0.5b": Config(hidden=896, layers=24, heads=14, kv_heads=2, head_dim=64, intermediate=4864,
                   feat_dim=256, up_channels=(512, 384, 256), rope_theta=1e6, distill_dim=256),
    "3b": Config(hidden=2048, layers=36, heads=16, kv_heads=2, head_dim=128, intermediate=11008,
                 feat_dim=256, up_channels=(1024, 512, 256), rope_theta=1e6, distill_dim=256),
}


MAX_GRID = 64  # patch rows/columns the absolute position tables cover (2048 px at P = 32)

# classes of the patch-attribute auxiliary head: background + colours, shapes, sizes, places
ATTR_CLASSES = (9, 7, 3, 10)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_angles(cfg: Config, row: torch.Tensor, col: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [..., head_dim] for 2-D positions: the first half of the frequencies follow the row,
    the second half the column (text tokens have row == col, which is plain 1-D RoPE)."""
    half = cfg.head_dim // 2
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(half, dtype=torch.float32, device=row.device) / half))
    split = half // 2
    ang = torch.cat([row.unsqueeze(-1).float() * inv[:split], col.unsqueeze(-1).float() * inv[split:]], -1)
    ang = torch.cat([ang, ang], -1)
    return ang.cos(), ang.sin()


def apply_rope(x, cos, sin):  # x [B, H, T, D], cos/sin [B, T, D]
    d = x.shape[-1] // 2
    rot = torch.cat([-x[..., d:], x[..., :d]], -1)
    return x * cos.unsqueeze(1) + rot * sin.unsqueeze(1)


# PyTorch's fused attention kernel for training and evaluation (`bench_train` compares it with the plain ops,
# which the ONNX export always writes)
FUSED_ATTENTION = True


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        c, hd = cfg.hidden, cfg.head_dim
        self.norm1, self.norm2 = RMSNorm(c, cfg.rms_eps), RMSNorm(c, cfg.rms_eps)
        self.q = nn.Linear(c, cfg.heads * hd, bias=cfg.qkv_bias)
        self.k = nn.Linear(c, cfg.kv_heads * hd, bias=cfg.qkv_bias)
        self.v = nn.Linear(c, cfg.kv_heads * hd, bias=cfg.qkv_bias)
        self.o = nn.Linear(cfg.heads * hd, c, bias=False)
        self.gate = nn.Linear(c, cfg.intermediate, bias=False)
        self.up = nn.Linear(c, cfg.intermediate, bias=False)
        self.down = nn.Linear(cfg.intermediate, c, bias=False)

    def forward(self, x, cos, sin, bias, past_k=None, past_v=None):
        """x [B,T,C]; bias additive [B,1,T,P+T]; returns x and this layer's full K/V [B,KVH,P+T,D]."""
        cfg = self.cfg
        b, t, _ = x.shape
        h = self.norm1(x)
        q = self.q(h).view(b, t, cfg.heads, cfg.head_dim).transpose(1, 2)
        k = self.k(h).view(b, t, cfg.kv_heads, cfg.head_dim).transpose(1, 2)
        v = self.v(h).view(b, t, cfg.kv_heads, cfg.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if past_k is not None:
            k, v = torch.cat([past_k, k], 2), torch.cat([past_v, v], 2)
        rep = cfg.heads // cfg.kv_heads
        if torch.onnx.is_in_onnx_export() or not FUSED_ATTENTION:  # plain ops in the graphs: any runtime and opset
            kk = k.unsqueeze(2).expand(-1, -1, rep, -1, -1).reshape(b, cfg.heads, -1, cfg.head_dim)
            vv = v.unsqueeze(2).expand(-1, -1, rep, -1, -1).reshape(b, cfg.heads, -1, cfg.head_dim)
            att = (q @ kk.transpose(-1, -2)) / math.sqrt(cfg.head_dim) + bias
            out = att.softmax(-1) @ vv
        else:  # the fused kernel: the same sums, a CPU training step 1.32x as fast (BENCHMARKS.md)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, enable_gqa=rep > 1)
        x = x + self.o(out.transpose(1, 2).reshape(b, t, -1))
        h = self.norm2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h)), k, v


class UpBlock(nn.Module):
    """×2: transposed conv, depth-wise conv, norm, GELU, pointwise — the paper's up-sampling stage."""

    def __init__(self, cin, cout, skip_in):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.dw = nn.Conv2d(cout, cout, 3, padding=1, groups=cout)
        self.norm = nn.GroupNorm(1, cout)
        self.pw = nn.Conv2d(cout, cout, 1)
        self.skip = nn.Conv2d(skip_in, cout, 1) if skip_in else None

    def forward(self, x, pixels=None):
        x = self.up(x)
        if self.skip is not None:
            x = x + self.skip(pixels)
        return x + self.pw(F.gelu(self.norm(self.dw(x))))


def space_to_depth(x, s):
    b, c, h, w = x.shape
    return x.view(b, c, h // s, s, w // s, s).permute(0, 1, 3, 5, 2, 4).reshape(b, c * s * s, h // s, w // s)


class PixelSAIL(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        c = cfg.hidden
        self.embed = nn.Embedding(cfg.vocab, c)
        self.patch_embed = nn.Linear(3 * cfg.patch * cfg.patch, c, bias=False)
        if cfg.abs_pos:
            # where a patch is on the frame ("in the top left", "the leftmost …") is absolute; 2-D RoPE only
            # tells tokens how far apart they are. Zero-initialised: a no-op until training uses it.
            self.row_embed = nn.Parameter(torch.zeros(MAX_GRID, c))
            self.col_embed = nn.Parameter(torch.zeros(MAX_GRID, c))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(c, cfg.rms_eps)
        n_up = int(math.log2(cfg.patch // 4))
        chans = list(cfg.up_channels)[:n_up]
        self.proj_in = nn.Conv2d(c, chans[0], 1)
        ups, cin = [], chans[0]
        for i, cout in enumerate(chans):
            stride = cfg.patch // 2 ** (i + 1)
            ups.append(UpBlock(cin, cout, 3 * stride * stride if cfg.pixel_skip and stride <= 8 else 0))
            cin = cout
        self.ups = nn.ModuleList(ups)
        self.proj_out = nn.Conv2d(cin if cfg.upsampler else c, cfg.feat_dim, 1)
        self.seg_mlp = nn.Sequential(nn.Linear(c, c), nn.GELU(), nn.Linear(c, cfg.feat_dim + 1))
        self.distill = nn.Conv2d(cfg.feat_dim, cfg.distill_dim, 1)  # training only
        # training only: each patch state predicts colour/shape/size/place of the object under it [ours]
        self.attr_head = nn.Linear(c, sum(ATTR_CLASSES))
        # the same at half depth: text tokens read the image's keys/values layer by layer, so what the last
        # layer alone knows about a patch (its shape, its place) comes too late for them to gather [ours]
        self.attr_head_mid = nn.Linear(c, sum(ATTR_CLASSES))
        # training only: the [SEG] state (or a description's last prompt state) predicts the named object's
        # attributes, a dense signal that starts grounding before the mask loss finds it [ours]
        self.query_head = nn.Linear(c, sum(ATTR_CLASSES))
        self.tokens = None  # dict of special ids, set by the builder
        # small embeddings (as Qwen, std 0.02): the LM head is tied, unit-variance rows would give huge logits
        nn.init.normal_(self.embed.weight, std=0.02)
        # the VP map is E[<vp_i>] (std 0.02) times a learned gain, so the painted prompt starts on the scale of
        # the patch embeddings (~0.6 per channel) instead of ~3 % of it [ours]
        self.vp_gain = nn.Parameter(torch.tensor(25.0))

    # -- the three graphs -------------------------------------------------------------------------
    def vision(self, pixels, vp_masks, vp_ids):
        """pixels [B,3,H,W]; vp_masks [B,K,gh,gw]; vp_ids [B,K] → (keys, values [L,B,KVH,S,D], features)."""
        cfg, tok = self.cfg, self.tokens
        b, _, hh, ww = pixels.shape
        p = cfg.patch
        gh, gw = hh // p, ww // p
        patches = pixels.view(b, 3, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, 3 * p * p)
        pe = self.patch_embed(patches)
        if cfg.abs_pos:
            pe = pe + (self.row_embed[:gh].unsqueeze(1) + self.col_embed[:gw].unsqueeze(0)).reshape(gh * gw, -1)
        x = pe + self.embed.weight[tok["vpatch"]]
        vp_emb = self.embed(vp_ids)  # [B,K,C]
        if cfg.vp_mode == "inject":
            x = x + self.vp_gain * torch.einsum("bkn,bkc->bnc", vp_masks.flatten(2), vp_emb)
        else:  # ablation "pool": the plain baseline's region feature = mean patch embedding under prompt 1
            w = vp_masks[:, 0].flatten(1)
            self.vp_pooled = (w.unsqueeze(-1) * pe).sum(1) / w.sum(1, keepdim=True).clamp(min=1e-6)
        ends = self.embed.weight[[tok["vision"], tok["vision_end"]]].unsqueeze(0).expand(b, -1, -1)
        x = torch.cat([ends[:, :1], x, ends[:, 1:]], 1)
        dev = pixels.device
        rows = torch.arange(gh, device=dev).view(gh, 1).expand(gh, gw).reshape(-1) + 1
        cols = torch.arange(gw, device=dev).view(1, gw).expand(gh, gw).reshape(-1) + 1
        end = torch.maximum(rows.max(), cols.max()).view(1) + 1  # tensor math keeps it dynamic in ONNX
        zero = torch.zeros(1, dtype=torch.long, device=dev)
        row = torch.cat([zero, rows, end]).unsqueeze(0).expand(b, -1)
        col = torch.cat([zero, cols, end]).unsqueeze(0).expand(b, -1)
        cos, sin = rope_angles(cfg, row, col)
        bias = torch.zeros(1, 1, 1, 1, device=dev)  # image tokens attend to each other bidirectionally
        keys, values = [], []
        for i, blk in enumerate(self.blocks):
            x, k, v = blk(x, cos, sin, bias)
            keys.append(k)
            values.append(v)
            if self.training and i == cfg.layers // 2 - 1:
                self.patch_states_mid = self.norm(x)[:, 1:-1]  # read by the training loss only
        h = self.norm(x)[:, 1:-1]  # F_l: patch states after the final norm
        self.patch_states = h  # read by the training loss only
        fl = h.transpose(1, 2).reshape(b, cfg.hidden, gh, gw)
        feats = self.features(fl, pixels)
        return torch.stack(keys), torch.stack(values), feats

    def features(self, fl, pixels):
        if not self.cfg.upsampler:  # plain baseline: stride-P features, bilinearly brought to the stride-4 contract
            return F.interpolate(self.proj_out(fl), scale_factor=self.cfg.patch // 4, mode="bilinear",
                                 align_corners=False)
        x = self.proj_in(fl)
        for i, up in enumerate(self.ups):
            stride = self.cfg.patch // 2 ** (i + 1)
            x = up(x, space_to_depth(pixels, stride) if up.skip is not None else None)
        return self.proj_out(x)

    def text(self, input_ids, position_ids, attention_mask, past_keys, past_values, vp_embed=None):
        """One chunk of text over a past cache (the image prefix, then any earlier text).
        vp_embed [B,C] (pool ablation only) replaces the <vp_1> token's embedding."""
        cfg = self.cfg
        b, t = input_ids.shape
        p = past_keys.shape[3]
        x = self.embed(input_ids)
        if cfg.embed_scale:  # put words on the residual scale of the patch embeddings
            x = x * math.sqrt(cfg.hidden)
        if vp_embed is not None:
            x = torch.where((input_ids == self.tokens["vp"][0]).unsqueeze(-1), vp_embed.unsqueeze(1), x)
        cos, sin = rope_angles(cfg, position_ids, position_ids)
        qi = torch.arange(t, device=x.device).view(t, 1)
        kj = torch.arange(p + t, device=x.device).view(1, p + t)
        allowed = (kj <= qi + p).unsqueeze(0) & (attention_mask.view(b, 1, p + t) > 0)
        bias = torch.where(allowed, 0.0, -1e9).unsqueeze(1).to(x.dtype)
        keys, values = [], []
        for i, blk in enumerate(self.blocks):
            x, k, v = blk(x, cos, sin, bias, past_keys[i], past_values[i])
            keys.append(k)
            values.append(v)
        h = self.norm(x)
        logits = h @ self.embed.weight.t()  # tied LM head
        return logits, h, torch.stack(keys), torch.stack(values)

    def mask_head(self, features, seg_hidden):
        """features [1,E,h,w] or [K,E,h,w]; seg_hidden [K,C] → mask logits [K,h,w]."""
        e = self.seg_mlp(seg_hidden)
        kern, bias = e[:, :-1], e[:, -1]
        if features.shape[0] == 1:
            out = torch.einsum("ke,ehw->khw", kern, features[0])
        else:
            out = torch.einsum("ke,kehw->khw", kern, features)
        return out / math.sqrt(self.cfg.feat_dim) + bias.view(-1, 1, 1)


def build(cfg: Config, tokens: dict) -> PixelSAIL:
    m = PixelSAIL(cfg)
    m.tokens = tokens
    return m
