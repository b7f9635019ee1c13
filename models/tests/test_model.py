"""Model shapes for every config, masks from the head, and the batched text path vs. one-by-one."""

import numpy as np
import pytest
import torch

from models.pixel_sail.model import CONFIGS, Config, build
from models.pixel_sail.vocab import SPECIAL_TOKENS

TOKENS = {"pad": 0, "unk": 1, "user": 2, "assistant": 3, "eot": 4, "vision": 5, "vision_end": 6, "vpatch": 7,
          "seg": 8, "none": 9, "vp": [10, 11, 12, 13]}


def make(name, device="cpu"):
    base = CONFIGS[name]
    cfg = Config(**{**base.to_dict(), "up_channels": base.up_channels, "vocab": 64})
    with torch.device(device):
        return build(cfg, TOKENS).eval()


@pytest.mark.parametrize("name", ["tiny", "0.5b", "3b"])
def test_graph_shapes(name):
    # the full-size configs run on the meta device: shapes without allocating gigabytes
    dev = "cpu" if name == "tiny" else "meta"
    m = make(name, dev)
    c = m.cfg
    with torch.device(dev), torch.no_grad():
        gh, gw = 8, 10
        pk, pv, feats = m.vision(torch.zeros(1, 3, gh * 32, gw * 32), torch.zeros(1, 2, gh, gw),
                                 torch.tensor([[10, 11]]))
        s = gh * gw + 2
        assert tuple(pk.shape) == (c.layers, 1, c.kv_heads, s, c.head_dim) == tuple(pv.shape)
        assert tuple(feats.shape) == (1, c.feat_dim, gh * 8, gw * 8)
        b, t = 3, 6
        logits, hidden, k2, v2 = m.text(torch.zeros(b, t, dtype=torch.long), torch.zeros(b, t, dtype=torch.long),
                                        torch.ones(b, s + t, dtype=torch.long), pk.expand(-1, b, -1, -1, -1),
                                        pv.expand(-1, b, -1, -1, -1))
        assert tuple(logits.shape) == (b, t, 64) and tuple(hidden.shape) == (b, t, c.hidden)
        assert tuple(k2.shape) == (c.layers, b, c.kv_heads, s + t, c.head_dim)
        ml = m.mask_head(feats, hidden[:, -1])
        assert tuple(ml.shape) == (b, gh * 8, gw * 8)


def test_image_tokens_never_see_text_and_padding_is_inert():
    torch.manual_seed(0)
    m = make("tiny")
    px = torch.randn(1, 3, 256, 320)
    with torch.no_grad():
        pk, pv, feats = m.vision(px, torch.zeros(1, 1, 8, 10), torch.tensor([[10]]))
        s = pk.shape[3]
        ids = torch.tensor([[2, 20, 21, 3, 8], [2, 22, 3, 8, 0]])
        pos = torch.arange(5).view(1, 5).expand(2, 5) + 12
        attn = torch.ones(2, s + 5, dtype=torch.long)
        attn[1, -1] = 0
        logits, hidden, _, _ = m.text(ids, pos, attn, pk.expand(-1, 2, -1, -1, -1), pv.expand(-1, 2, -1, -1, -1))
        # row 1 alone, without its padding, gives the same states
        l1, h1, _, _ = m.text(ids[1:, :4], pos[1:, :4], torch.ones(1, s + 4, dtype=torch.long), pk, pv)
    assert torch.allclose(hidden[1, :4], h1[0], atol=1e-5)
    assert torch.allclose(logits[1, :4], l1[0], atol=1e-4)


def test_kv_cache_decoding_matches_full_recompute():
    torch.manual_seed(1)
    m = make("tiny")
    with torch.no_grad():
        pk, pv, _ = m.vision(torch.randn(1, 3, 128, 160), torch.zeros(1, 1, 4, 5), torch.tensor([[10]]))
        s = pk.shape[3]
        ids = torch.tensor([[2, 30, 31, 32, 3, 40, 41]])
        full, _, _, _ = m.text(ids, torch.arange(7).view(1, 7) + 7, torch.ones(1, s + 7, dtype=torch.long), pk, pv)
        part, _, k, v = m.text(ids[:, :5], torch.arange(5).view(1, 5) + 7, torch.ones(1, s + 5, dtype=torch.long), pk, pv)
        step, _, _, _ = m.text(ids[:, 5:6], torch.tensor([[12]]), torch.ones(1, s + 6, dtype=torch.long), k, v)
    assert torch.allclose(full[0, 5], step[0, 0], atol=1e-4)


def test_visual_prompt_injection_changes_only_prompted_features():
    torch.manual_seed(2)
    m = make("tiny")
    px = torch.randn(1, 3, 128, 160)
    vpm = torch.zeros(1, 1, 4, 5)
    with torch.no_grad():
        a = m.vision(px, vpm, torch.tensor([[10]]))[0]
        vpm[0, 0, 1, 2] = 1.0
        b = m.vision(px, vpm, torch.tensor([[10]]))[0]
    assert not torch.allclose(a, b)


def test_special_tokens_cover_the_contract():
    for t in ("<vision>", "</vision>", "<vpatch>", "[SEG]", "<none>", "<|eot|>", "<vp_1>"):
        assert t in SPECIAL_TOKENS
