"""repatch.halve_patch: a 16-px model made from 32-px weights computes on an image what the 32-px model
computes on that image scaled up 2× — exactly up to the upsampler's last kept stage."""

import torch
import torch.nn.functional as F

from models.pixel_sail.model import CONFIGS, Config, build
from models.pixel_sail.repatch import halve_patch
from models.tests.test_model import TOKENS


def _pair(abs_pos):
    torch.manual_seed(0)
    cfg = Config(**{**CONFIGS["tiny"].to_dict(), "up_channels": CONFIGS["tiny"].up_channels, "vocab": 64,
                    "abs_pos": abs_pos})
    old = build(cfg, TOKENS).eval()
    with torch.no_grad():  # trained skips and position tables are not zero; make sure the test sees them
        for p in old.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    state, new_cfg = halve_patch(old.state_dict(), cfg)
    new = build(new_cfg, TOKENS).eval()
    new.load_state_dict(state)  # strict: the converted state has exactly the new model's parameters
    return old, new


def _upsampled_features(m, pixels, kept):
    """The vision pass up to the output of upsampler stage `kept`."""
    with torch.no_grad():
        m.features = lambda fl, px: _stages(m, fl, px, kept)
        return m.vision(pixels, torch.zeros(1, 1, pixels.shape[2] // m.cfg.patch, pixels.shape[3] // m.cfg.patch),
                        torch.tensor([[10]]))


def _stages(m, fl, pixels, kept):
    from models.pixel_sail.model import space_to_depth
    x = m.proj_in(fl)
    for i, up in enumerate(m.ups[:kept + 1]):
        stride = m.cfg.patch // 2 ** (i + 1)
        x = up(x, space_to_depth(pixels, stride) if up.skip is not None else None)
    return x


def test_halved_model_sees_the_image_as_the_old_one_sees_it_upscaled():
    old, new = _pair(abs_pos=False)
    assert new.cfg.patch == 16 and len(new.ups) == len(old.ups) - 1
    img = torch.randn(1, 3, 4 * 16, 5 * 16)
    big = F.interpolate(img, scale_factor=2, mode="nearest")
    k_new, v_new, f_new = _upsampled_features(new, img, kept=1)
    k_old, v_old, f_old = _upsampled_features(old, big, kept=1)
    assert torch.allclose(k_new, k_old, atol=1e-4) and torch.allclose(v_new, v_old, atol=1e-4)
    assert f_new.shape == f_old.shape and torch.allclose(f_new, f_old, atol=1e-4)


def test_halved_model_keeps_place_and_the_feature_contract():
    old, new = _pair(abs_pos=True)
    assert torch.equal(new.row_embed[6], old.row_embed[3]) and torch.equal(new.col_embed[9], old.col_embed[4])
    with torch.no_grad():
        pk, _, feats = new.vision(torch.randn(1, 3, 96, 128), torch.zeros(1, 1, 6, 8), torch.tensor([[10]]))
    assert pk.shape[3] == 6 * 8 + 2
    assert tuple(feats.shape) == (1, new.cfg.feat_dim, 24, 32)  # stride 4, as the mask head's contract says


def test_only_halving_a_patch_with_an_upsampler():
    cfg = Config(**{**CONFIGS["tiny"].to_dict(), "up_channels": CONFIGS["tiny"].up_channels, "vocab": 64,
                    "patch": 8})
    try:
        halve_patch(build(cfg, TOKENS).state_dict(), cfg)
    except ValueError as e:
        assert "16 px or more" in str(e)
    else:
        raise AssertionError("an 8-px model was halved")
