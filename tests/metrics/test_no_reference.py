"""No-reference naturalness measures (uptflow.metrics.no_reference) on constructed images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from uptflow.metrics.no_reference import (
    black_fraction,
    dark_fraction,
    lit_region_gain,
    luma,
    mean_luminance,
    naturalness,
    newly_blown,
    noise_sigma,
)


def _grey(level: float, h: int = 40, w: int = 50) -> np.ndarray:
    return np.full((h, w, 3), level, np.uint8)


def test_luma_is_bt601_on_the_0_255_scale() -> None:
    img = np.zeros((2, 2, 3), np.uint8)
    img[0, 0] = (255, 0, 0)
    img[0, 1] = (0, 255, 0)
    img[1, 0] = (0, 0, 255)
    np.testing.assert_allclose(luma(img), [[0.299 * 255, 0.587 * 255], [0.114 * 255, 0.0]])
    np.testing.assert_allclose(luma(img.astype(np.float32) / 255), luma(img), atol=1e-4)
    assert mean_luminance(_grey(100)) == pytest.approx(100.0)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_noise_sigma_recovers_known_gaussian_noise(sigma: float) -> None:
    rng = np.random.default_rng(0)
    # a smooth ramp (cancelled by the mask) plus noise, float so nothing is quantised or clipped
    yy, xx = np.mgrid[0:256, 0:256]
    base = 60.0 + 0.2 * xx + 0.1 * yy
    img = (base[..., None] + rng.normal(0, sigma, (256, 256, 1))).repeat(3, axis=-1) / 255.0
    assert noise_sigma(img) == pytest.approx(sigma, rel=0.03)
    assert noise_sigma(base[..., None].repeat(3, axis=-1) / 255.0) < 1e-9  # a linear ramp has no noise


def test_blown_fraction_counts_max_channel_at_250() -> None:
    inp = _grey(50, 10, 10)
    inp[0, :] = (251, 10, 10)  # 10 % already blown in the input (red channel)
    out = _grey(100, 10, 10)
    out[0, :] = (255, 255, 255)
    out[1:4, :] = (10, 250, 10)  # 30 % newly blown (exactly 250 counts)
    out[4, :] = (249, 249, 249)  # 249 is not blown
    assert newly_blown(inp, out) == pytest.approx(30.0)
    assert newly_blown(out, inp) == pytest.approx(-30.0)
    assert newly_blown(inp, inp) == 0.0


def test_lit_region_gain_uses_only_already_lit_input_pixels() -> None:
    inp = _grey(30, 10, 10)
    inp[:5] = 120  # lit (>= 110)
    out = _grey(200, 10, 10)  # the dark part was brightened a lot: irrelevant here
    out[:5] = 180
    assert lit_region_gain(inp, out) == pytest.approx(1.5)
    assert math.isnan(lit_region_gain(_grey(30), _grey(200)))  # nothing lit in the input
    inp[:5] = 109
    assert math.isnan(lit_region_gain(inp, out))


def test_dark_fraction_and_bundle() -> None:
    out = _grey(100, 10, 10)
    out[:2] = 19
    out[2] = 20  # not dark
    assert dark_fraction(out) == pytest.approx(20.0)
    s = naturalness(_grey(10, 10, 10), out)
    assert s.dark == pytest.approx(20.0) and s.newly_blown == 0.0 and math.isnan(s.lit_region_gain)
    assert set(s.as_dict()) == {"mean_luminance", "newly_blown", "lit_region_gain", "noise_sigma", "dark"}


def test_black_fraction_counts_only_pixels_without_signal() -> None:
    inp = _grey(5, 10, 10)
    inp[0] = 0  # black
    inp[1] = (0, 1, 0)  # luma 0.6, but a signal a curve can lift
    assert black_fraction(inp) == pytest.approx(10.0)
    assert black_fraction(inp.astype(np.float32) / 255.0) == pytest.approx(10.0)
    # a curve that maps 0 to 0 (gamma 0.4) leaves exactly the black pixels dark here: the floor
    out = (255.0 * (inp / 255.0) ** 0.4).round().astype(np.uint8)
    assert dark_fraction(out) == pytest.approx(20.0) and dark_fraction(out) >= black_fraction(inp)
    inp[1] = (0, 3, 0)
    out = (255.0 * (inp / 255.0) ** 0.4).round().astype(np.uint8)
    assert dark_fraction(out) == pytest.approx(black_fraction(inp))


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        newly_blown(_grey(1, 4, 4), _grey(1, 4, 5))
    with pytest.raises(ValueError):
        luma(np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError):
        luma(np.zeros((4, 4, 3), np.int32))
    with pytest.raises(ValueError):
        noise_sigma(_grey(1, 2, 8))
