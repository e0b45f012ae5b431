"""Highlight protection (uptflow.inference.highlights): never brighter than the model, dark scenes
untouched, lit regions held under the ceiling and kept in order, hue kept, batch = per image."""

from __future__ import annotations

import pytest
import torch

from uptflow.inference.highlights import BLOWN, CEILING, EXPOSED, KNEE, LIT, LIT_FRACTION, WORK_SIDE, ceiling, check_highlights, protect_highlights
from uptflow.inference.models import random_model
from uptflow.inference.options import EnhanceOptions
from uptflow.inference.pipeline import enhance_batch

BLOWN = 250.0 / 255.0


def _scene(h: int = 96, w: int = 128, lit: float = 0.6, gain: float = 4.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A dark room (0.02, noisy) with a lamp-lit wall (``lit``) in its middle, and the result of a
    model that brightened everything ``gain`` times (the wall clips)."""
    g = torch.Generator().manual_seed(0)
    low = 0.02 + 0.005 * torch.rand(1, 3, h, w, generator=g)
    low[..., h // 4: 3 * h // 4, w // 4: 3 * w // 4] = lit
    low[:, 2] *= 0.8  # warm light: less blue
    return low, (low * gain).clamp(0.0, 1.0)


def test_check_highlights() -> None:
    assert [check_highlights(m) for m in ("auto", "protect", "off")] == ["auto", "protect", "off"]
    assert EnhanceOptions().highlights == "auto"
    for bad in ("on", "", None, 1):
        with pytest.raises(ValueError, match="highlights must be one of auto, protect, off"):
            check_highlights(bad)
    with pytest.raises(ValueError, match="highlights"):
        EnhanceOptions(highlights="yes")


def test_ceiling_curve() -> None:
    i = torch.linspace(0.0, 1.0, 1001)
    c = ceiling(i)
    assert torch.all(c[i <= LIT] == CEILING)
    assert torch.all(c[1:] >= c[:-1])  # a brighter region may never be held lower
    assert c[-1] == pytest.approx(1.0)
    assert torch.all(c >= i - 1e-6)  # lit regions are never darkened below the low image


def test_never_brighter_than_the_model_and_same_factor_for_all_channels() -> None:
    low, res = _scene()
    out = protect_highlights(low, res)
    assert out.shape == res.shape and out.dtype == torch.float32
    assert torch.all(out <= res + 1e-6) and torch.all(out >= 0)
    ratio = out / res
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-5)  # hue and texture kept


def test_results_under_the_ceiling_are_unchanged() -> None:
    g = torch.Generator().manual_seed(1)
    low = 0.1 * torch.rand(2, 3, 70, 90, generator=g)
    low[..., 10:30, 10:40] = 0.6  # lit: the ceiling is active
    res = (CEILING - 0.05) * torch.rand(2, 3, 70, 90, generator=g)
    torch.testing.assert_close(protect_highlights(low, res), res, atol=1e-6, rtol=0)


def test_nothing_lit_nothing_protected() -> None:
    """Uniformly dark photos (the synthetic Kodak24 benchmark) come back as the model made them, however
    bright; the ceiling fades in with the share of lit pixels (LIT_FRACTION)."""
    h, w = 100, 100
    low = torch.full((1, 3, h, w), 0.1)
    res = torch.full((1, 3, h, w), 0.95)
    torch.testing.assert_close(protect_highlights(low, res), res, atol=1e-6, rtol=0)
    few = low.clone()
    few[..., :1, :10] = 0.6  # 0.1 % of the pixels lit: below LIT_FRACTION
    assert LIT_FRACTION[0] > 10 / (h * w)
    torch.testing.assert_close(protect_highlights(few, res), res, atol=1e-6, rtol=0)
    many = low.clone()
    many[..., :10, :50] = 0.6  # 5 %: fully on
    assert 500 / (h * w) > LIT_FRACTION[1]
    out = protect_highlights(many, res)
    assert out[..., 50:, :].mean().item() == pytest.approx(CEILING, abs=0.02)


def test_lit_wall_is_held_at_its_ceiling_and_the_dark_room_kept() -> None:
    low, res = _scene(lit=0.6)
    out = protect_highlights(low, res)
    wall = out[..., 36:60, 44:84]  # well inside the wall
    assert (res[..., 36:60, 44:84].amax(1) >= BLOWN).all()  # the model blew it out
    assert (wall.amax(1) < BLOWN).all()  # protected: nothing blown
    assert wall.amax(1).mean().item() == pytest.approx(ceiling(torch.tensor(0.6)).item(), abs=0.03)
    room = (slice(None), slice(None), slice(0, 12), slice(0, 20))
    torch.testing.assert_close(out[room], res[room], atol=1e-6, rtol=0)  # below the ceiling: untouched


def test_brighter_regions_stay_brighter() -> None:
    """No contrast reversal: a wall the model lifted past the ceiling does not outshine the lamp-lit one."""
    low = torch.full((1, 3, 64, 128), 0.2)
    low[..., 64:] = 0.6
    res = torch.cat([torch.full((1, 3, 64, 64), 0.9), torch.ones(1, 3, 64, 64)], dim=3)
    out = protect_highlights(low, res)
    assert out[..., :, 70:].mean() > out[..., :, :58].mean() + 0.05
    assert out[..., :, :58].mean().item() == pytest.approx(CEILING, abs=0.02)


def test_batch_equals_each_image() -> None:
    a_low, a_res = _scene(lit=0.6)
    b_low, b_res = _scene(lit=0.9, gain=2.0)
    both = protect_highlights(torch.cat([a_low, b_low]), torch.cat([a_res, b_res]))
    torch.testing.assert_close(both[:1], protect_highlights(a_low, a_res))
    torch.testing.assert_close(both[1:], protect_highlights(b_low, b_res))


def test_large_image_keeps_the_lamp_edge() -> None:
    """Above WORK_SIDE the maps are computed small and brought back along the low image's edges."""
    h, w = 600, 2 * WORK_SIDE + 100
    low, res = _scene(h, w, lit=0.7)
    out = protect_highlights(low, res)
    top, left = h // 4, w // 4
    assert (out[..., top + 6: 3 * h // 4 - 6, left + 6: 3 * w // 4 - 6].amax(1) < BLOWN).all()
    outside = (slice(None), slice(None), slice(top - 40, top - 8), slice(left, 3 * w // 4))
    assert (out[outside] / res[outside]).min() > 0.9  # the dark room next to the wall is not dimmed


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="must both be"):
        protect_highlights(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match="must both be"):
        protect_highlights(torch.rand(3, 8, 8), torch.rand(3, 8, 8))


def test_pipeline_applies_it_after_the_model() -> None:
    model = random_model("tiny", seed=0)
    low, _ = _scene(48, 64)
    plain = enhance_batch(model, low, EnhanceOptions(highlights="off"))
    for mode in ("protect", "auto"):
        got = enhance_batch(model, low, EnhanceOptions(highlights=mode))
        torch.testing.assert_close(got, protect_highlights(low, plain, mode))


def test_tiled_runs_protect_the_stitched_image() -> None:
    """With tiles the ceiling acts once on the whole stitched result (one illumination map, no seams)."""
    model = random_model("tiny", seed=0)
    low, _ = _scene(96, 128)
    plain = enhance_batch(model, low, EnhanceOptions(tile=64, overlap=16, highlights="off"))
    protected = enhance_batch(model, low, EnhanceOptions(tile=64, overlap=16, highlights="protect"))
    torch.testing.assert_close(protected, protect_highlights(low, plain))


def test_auto_leaves_dark_photos_to_the_model_and_protects_bright_ones() -> None:
    """``auto``: a dark night scene (mean max channel <= EXPOSED[0]) keeps the network's result, a photo
    that is not dark overall (>= EXPOSED[1]) gets the full ceiling, like ``protect``; ``off`` never acts."""
    dark_low, dark_res = _scene(lit=0.45)  # 96x128: a quarter lit, the rest at ~0.02
    assert dark_low.amax(1).mean() < EXPOSED[0]
    torch.testing.assert_close(protect_highlights(dark_low, dark_res, "auto"), dark_res, atol=1e-6, rtol=0)
    assert not torch.allclose(protect_highlights(dark_low, dark_res, "protect"), dark_res, atol=1e-3)
    bright_low, bright_res = _scene(lit=0.9, gain=2.0)
    bright_low[bright_low < 0.1] = 0.3  # a dim room, not a dark one
    bright_res = (2.0 * bright_low).clamp(0.0, 1.0)
    assert bright_low.amax(1).mean() > EXPOSED[1]
    torch.testing.assert_close(protect_highlights(bright_low, bright_res, "auto"),
                               protect_highlights(bright_low, bright_res, "protect"))
    for low, res in ((dark_low, dark_res), (bright_low, bright_res)):
        torch.testing.assert_close(protect_highlights(low, res, "off"), res)
    with pytest.raises(ValueError, match="highlights must be one of"):
        protect_highlights(dark_low, dark_res, "on")


def test_pixels_unblown_in_the_low_image_stay_unblown() -> None:
    """The ceiling bounds local means; the per-pixel shoulder keeps single bright pixels below white
    unless the low image was already blown there (those stay the brightest)."""
    g = torch.Generator().manual_seed(2)
    low = 0.03 * torch.rand(1, 3, 80, 80, generator=g)
    low[..., 20:60, 20:60] = 0.93 + 0.04 * torch.rand(1, 3, 40, 40, generator=g)  # a bright wall, max < BLOWN
    low[..., 30:34, 30:34] = 1.0  # a lamp, blown in the low image already
    res = (1.1 * low).clamp(0.0, 1.0)  # the model pushes the wall's brighter pixels to white
    assert (res[..., 20:60, 20:60].amax(1) >= 1.0).float().mean() > 0.3
    out = protect_highlights(low, res)
    was_blown = low.amax(1) >= BLOWN
    assert (out.amax(1)[~was_blown] < BLOWN).all()
    assert out.amax(1)[was_blown].min() > out.amax(1)[~was_blown].max()
    below = res.amax(1) <= KNEE  # below the knee only the (here inactive) ceiling could act
    torch.testing.assert_close(out.amax(1)[below], res.amax(1)[below], atol=1e-5, rtol=0)
