"""Tests for spatially varying illumination (uptflow.data.illumination) and its use in synthesize."""

from __future__ import annotations

import numpy as np
import pytest

from uptflow.data.illumination import (
    area_light,
    cct_to_linear_rgb,
    draw_illumination,
    light_tint,
    point_light,
    render_field,
    vignette,
)
from uptflow.data.synthesis import SynthParams, synthesize, synthesize_pair, synthesize_with_info

_LUMA601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_Y709 = np.array([0.2126, 0.7152, 0.0722])
# one point light in the middle-ish, no vignetting, no JPEG/tone/cast: isolates the light
_ONE_LIGHT = dict(global_prob=0.0, n_point=1, n_area=0, vignette=0.0, bright_place_prob=0.0, jpeg_prob=0.0,
                  tone_prob=0.0, gain_rgb=(1.0, 1.0, 1.0))


def _scene(h: int = 64, w: int = 80) -> np.ndarray:
    """A colourful (h, w, 3) float scene in [0.15, 0.9] (nothing clipped), with edges."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.3 + 0.5 * xx / w, 0.35 + 0.4 * yy / h, 0.5 + 0.3 * np.sin(xx / 7.0)], axis=-1)
    img[h // 3 : h // 2, w // 4 : w // 2] = 0.85
    return np.clip(img, 0.15, 0.9).astype(np.float32)


def _lit_fraction(low: np.ndarray) -> float:
    """Fraction of pixels with BT.601 luma >= 110/255 (the 'lit' threshold of issue 14)."""
    return float(((np.round(low * 255) @ _LUMA601) >= 110).mean())


# --------------------------------------------------------------------------- physics of the pieces
def test_colour_temperature_orders_chromaticity() -> None:
    """Warmer (lower K) light is redder and less blue; every colour has unit luminance."""
    temps = [1900, 2200, 2700, 3000, 4000, 5000, 6500, 9000]
    rgb = np.array([cct_to_linear_rgb(t) for t in temps])
    np.testing.assert_allclose(rgb @ _Y709, 1.0, rtol=1e-6)
    r_over_b = rgb[:, 0] / rgb[:, 2]
    assert np.all(np.diff(r_over_b) < 0), r_over_b
    assert 0.9 < r_over_b[temps.index(6500)] < 1.15  # ~ D65 white
    np.testing.assert_allclose(light_tint(3000, 3000), 1.0, rtol=1e-6)  # white-balanced light is neutral
    sodium, led = light_tint(2000, 4000), light_tint(6000, 4000)
    assert sodium[0] > sodium[1] > sodium[2] and led[2] > led[1] > led[0]


def test_vignette_centre_corner_and_monotone() -> None:
    v = vignette(101, 101, 0.4)
    assert v[50, 50] == pytest.approx(1.0, abs=1e-3)
    assert v[0, 0] == pytest.approx(0.6, abs=0.02)  # half the diagonal away: 1 - strength
    assert np.all(np.diff(v[50, 50:]) < 0) and np.all(np.diff(v[50, :51]) > 0)
    np.testing.assert_array_equal(vignette(8, 9, 0.0), np.ones((8, 9), np.float32))
    with pytest.raises(ValueError):
        vignette(8, 8, 1.0)


def test_point_light_is_an_inverse_square_lamp_and_area_light_a_soft_box() -> None:
    p = point_light(101, 101, 50.5, 50.5, height=10.0)
    assert p[50, 50] == pytest.approx(1.0, abs=1e-6)
    assert p[50, 60] == pytest.approx(2 ** -1.5, rel=1e-4)  # d = h: (1 + 1)^-1.5
    assert p[50, 100] == pytest.approx((1 + 25) ** -1.5, rel=1e-4)  # ~ 1/d^3 far away (cosine x 1/d^2)
    a = area_light(100, 100, 50.5, 50.5, 20.0, 10.0)
    assert a[50, 50] == pytest.approx(1.0, abs=1e-5) and a[50, 85] < 0.01 and a[95, 50] < 0.01
    assert a[50, 58] > a[50, 62] > a[50, 68]  # a ramp, not a step


def test_field_is_smooth() -> None:
    """No steps: the log field changes per pixel by at most 1.5 / height (lamps) or 1 / ramp scale
    (area lights, scale = half the shorter half-side); a photo edge changes by order 1."""
    h = w = 200
    guide = np.full((h, w), 0.2, np.float32)
    for seed in range(5):
        draw = draw_illumination(np.random.default_rng(seed), h, w, guide, vignette_strength=(0.0, 0.5),
                                 n_point=(1, 3), n_area=(0, 2), light_size=(0.05, 0.05), light_level=(0.1, 2.0),
                                 light_kelvin=((2000.0, 6000.0),), wb_kelvin=(4000.0, 4000.0), bright_place_prob=0.0)
        log_f = np.log(render_field(draw, h, w, guide, exposure=0.05))
        size = 0.05 * np.hypot(h, w)
        bound = max(1.5 / size, 1.0 / (size / np.sqrt(2.5) / 2))  # aspect <= 2.5 -> half-side >= size/1.58
        steps = max(np.abs(np.diff(log_f, axis=0)).max(), np.abs(np.diff(log_f, axis=1)).max())
        assert steps < bound, (seed, steps, bound)
    assert bound < 0.25
    assert np.abs(np.diff(np.log(_scene() + 1e-3), axis=1)).max() > 0.5  # a photo edge, for contrast


# --------------------------------------------------------------------------- in synthesize
def test_relit_output_is_deterministic_quantised_and_in_range() -> None:
    img = _scene()
    for seed in range(6):
        a = synthesize(img, np.random.default_rng(seed), global_prob=0.0)
        b = synthesize(img, np.random.default_rng(seed), global_prob=0.0)
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.float32 and a.shape == img.shape and 0.0 <= a.min() and a.max() <= 1.0
        np.testing.assert_allclose(a * 255, np.round(a * 255), atol=1e-4)
    assert not np.array_equal(synthesize(img, np.random.default_rng(1), global_prob=0.0),
                              synthesize(img, np.random.default_rng(2), global_prob=0.0))


def test_lit_regions_appear_at_the_configured_rate() -> None:
    """Every re-lit image has lit (>= 110/255) pixels, no global-only one does, and the share of
    re-lit images follows 1 - global_prob."""
    img = _scene(48, 64)
    for global_prob in (0.3, 0.7):
        relit = []
        for seed in range(60):
            low, info = synthesize_with_info(img, np.random.default_rng(seed), global_prob=global_prob)
            is_relit = info["illumination"] is not None
            assert (_lit_fraction(low) > 0) == is_relit, (seed, _lit_fraction(low), info["illumination"])
            relit.append(is_relit)
        rate = float(np.mean(relit))
        assert abs(rate - (1 - global_prob)) < 0.2, (global_prob, rate)  # binomial sd ~0.06
    _, info = synthesize_with_info(img, np.random.default_rng(0), global_prob=1.0)
    assert info["illumination"] is None


def test_bright_lights_clip_the_low_image_but_not_the_target() -> None:
    img = _scene()
    low, normal = synthesize_pair(img, np.random.default_rng(3), **_ONE_LIGHT, light_level=3.0, light_size=0.06)
    clipped = low.max(axis=-1) >= 1.0
    assert clipped.sum() >= 5
    assert normal[clipped].max() < 1.0  # the target keeps its content there...
    assert normal[clipped].std() > 0.02  # ...which is not flat (the model must learn it, not a constant)
    assert low[~clipped].mean() < 0.25  # the rest stays a dark capture


def test_moderate_light_gives_lit_unclipped_region() -> None:
    low = synthesize(_scene(), np.random.default_rng(3), **_ONE_LIGHT, light_level=0.3, light_size=0.08)
    assert _lit_fraction(low) > 0.005 and (low >= 1.0).mean() < 0.001


def test_colour_temperature_tints_the_lit_region() -> None:
    """A sodium lamp under a 4000 K white balance makes the lit region red/orange; an LED blue."""
    grey = np.full((64, 64, 3), 0.5, np.float32)
    kw = dict(_ONE_LIGHT, light_level=0.4, light_size=0.1, wb_kelvin=4000.0, shot=1e-7, read=1e-6)
    sodium = synthesize(grey, np.random.default_rng(5), light_kelvin=((2000.0, 2000.0),), **kw)
    led = synthesize(grey, np.random.default_rng(5), light_kelvin=((6000.0, 6000.0),), **kw)
    lit = (sodium @ _LUMA601) >= np.quantile(sodium @ _LUMA601, 0.9)
    rs, bs = sodium[lit][:, 0].mean(), sodium[lit][:, 2].mean()
    rl, bl = led[lit][:, 0].mean(), led[lit][:, 2].mean()
    assert rs > bs * 1.3 and bl > rl * 1.1, (rs, bs, rl, bl)


def test_new_parameters_are_validated() -> None:
    for bad in (dict(global_prob=1.5), dict(vignette=(0.0, 1.0)), dict(light_kelvin=((1000.0, 2000.0),)),
                dict(light_level=(0.0, 1.0)), dict(light_kelvin=()), dict(bright_place_prob=-0.1)):
        with pytest.raises(ValueError):
            SynthParams(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        synthesize(_scene(), np.random.default_rng(0), light_kelvin=2000.0)
    # scalars become fixed ranges, like the older parameters
    _, info = synthesize_with_info(_scene(), np.random.default_rng(0), **_ONE_LIGHT, light_level=0.5)
    assert [l["level"] for l in info["illumination"]["lights"]] == [0.5]
