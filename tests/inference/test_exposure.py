"""Exposure control (uptflow.inference.exposure): identity at 0, monotone, linear-light gain, no new clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from uptflow.inference.exposure import KNEE, apply_exposure, check_exposure, shoulder

RAMP = np.linspace(0.0, 1.0, 4097)  # float64 grey ramp, includes exact 0 and 1


def _lin(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def test_zero_ev_is_exactly_the_identity() -> None:
    img = np.random.default_rng(0).random((8, 9, 3)).astype(np.float32)
    assert apply_exposure(img, 0.0) is img
    t = torch.rand(2, 3, 5, 5)
    assert torch.equal(apply_exposure(t, 0), t)


def test_small_ev_is_close_to_identity() -> None:
    """The shoulder fades in continuously: no jump between EV 0 and EV 0+."""
    np.testing.assert_allclose(apply_exposure(RAMP, 1e-6), RAMP, atol=1e-5)
    np.testing.assert_allclose(apply_exposure(RAMP, -1e-6), RAMP, atol=1e-6)


def test_gain_is_in_linear_light_below_the_knee() -> None:
    out = apply_exposure(RAMP, 1.0)
    below = _lin(RAMP) * 2 <= KNEE
    np.testing.assert_allclose(_lin(out[below]), 2 * _lin(RAMP[below]), rtol=1e-9, atol=1e-12)
    dark = apply_exposure(RAMP, -2.0)
    np.testing.assert_allclose(_lin(dark), _lin(RAMP) / 4, rtol=1e-9, atol=1e-12)


def test_monotone_in_input_and_in_ev() -> None:
    evs = [-3.0, -1.0, -0.1, 0.0, 0.05, 0.5, 1.0, 2.0, 4.0, 8.0]
    outs = np.stack([apply_exposure(RAMP, ev) for ev in evs])
    assert np.all(np.diff(outs, axis=1) >= 0), "decreasing somewhere in the input"
    moderate = outs[[evs.index(e) for e in (-1.0, 0.05, 1.0, 2.0)]]
    assert np.all(np.diff(moderate, axis=1) > 0), "not strictly increasing in the input"  # (float64 resolves it)
    assert np.all(np.diff(outs[:, 1:-1], axis=0) >= 0), "decreasing in EV somewhere"
    assert np.all(np.diff(outs[:, 1:-100], axis=0) > 0), "not increasing in EV (inputs inside (0, 0.98))"
    np.testing.assert_array_equal(outs[:, 0], 0.0)
    np.testing.assert_allclose(outs[evs.index(0.0):, -1], 1.0, atol=1e-12)  # white stays white for EV >= 0
    np.testing.assert_allclose(outs[: evs.index(0.0), -1], (2.0 ** np.array(evs[: evs.index(0.0)])) ** (1 / 2.4) * 1.055
                               - 0.055, rtol=1e-9)  # darkening: white -> sRGB(2^EV)


def test_no_new_clipping() -> None:
    """An input below 1 stays below 1 for every EV; in float32 at least for 8-bit inputs <= 254."""
    for ev in (0.3, 1.0, 2.0, 3.0, 6.0, 10.0):
        out = apply_exposure(RAMP[:-1], ev)
        assert out.max() < 1.0, ev
        assert np.all(np.diff(out) > 0), ev  # and no plateau just below 1 either
    u8 = np.arange(255, dtype=np.float32) / 255.0  # 0..254
    for ev in (0.5, 1.0, 2.0, 4.0, 8.0):
        assert apply_exposure(u8, ev).max() < 1.0
    # the naive version would clip a large share
    assert np.mean(np.clip(_lin(RAMP) * 4, 0, 1) >= 1.0) > 0.3


def test_shoulder_is_smooth_at_the_knee() -> None:
    scale = 4.0
    eps = 1e-6
    y = torch.tensor([KNEE - eps, KNEE, KNEE + eps], dtype=torch.float64)
    f = shoulder(y, scale)
    left, right = (f[1] - f[0]) / eps, (f[2] - f[1]) / eps
    assert float(left) == pytest.approx(1.0, abs=1e-6) and float(right) == pytest.approx(1.0, abs=1e-4)
    assert float(shoulder(torch.tensor([scale], dtype=torch.float64), scale)) == pytest.approx(1.0, abs=1e-12)


def test_types_shapes_and_devices_are_kept() -> None:
    a32 = np.random.default_rng(1).random((4, 6, 3)).astype(np.float32)
    out = apply_exposure(a32, 1.0)
    assert out.dtype == np.float32 and out.shape == a32.shape and out.mean() > a32.mean()
    t = torch.rand(1, 3, 4, 4, dtype=torch.float16)
    out_t = apply_exposure(t, -1.0)
    assert out_t.dtype == torch.float16 and out_t.shape == t.shape


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, float("nan")])
def test_non_finite_ev_is_a_one_line_error(bad: float) -> None:
    with pytest.raises(ValueError, match="finite") as info:
        apply_exposure(RAMP, bad)
    assert "\n" not in str(info.value)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        check_exposure("1")
    with pytest.raises(TypeError):
        check_exposure(True)
    with pytest.raises(ValueError):
        check_exposure(11.0)
    with pytest.raises(TypeError):
        apply_exposure(np.zeros((2, 2, 3), np.uint8), 1.0)
    with pytest.raises(TypeError):
        apply_exposure([0.5], 1.0)  # type: ignore[type-var]
    assert check_exposure(np.float32(1.5)) == 1.5


def test_api_exposure_hook() -> None:
    """uptflow.enhance(exposure=EV) equals the plain result passed through apply_exposure."""
    from uptflow import api
    from uptflow.inference import models as reg

    model = reg.random_model("tiny", seed=0)
    img = (np.random.default_rng(0).random((16, 24, 3)) * 0.3).astype(np.float32)
    plain = api.enhance(img, model=model)
    np.testing.assert_array_equal(api.enhance(img, model=model, exposure=0.0), plain)
    np.testing.assert_allclose(api.enhance(img, model=model, exposure=1.0), apply_exposure(plain, 1.0), atol=1e-6)
    t = torch.from_numpy(img).permute(2, 0, 1)
    out_t = api.enhance(t, model=model, exposure=-1.0)
    np.testing.assert_allclose(out_t.permute(1, 2, 0).numpy(), apply_exposure(plain, -1.0), atol=1e-5)
    with pytest.raises(ValueError, match="finite"):
        api.enhance(img, model=model, exposure=float("inf"))
