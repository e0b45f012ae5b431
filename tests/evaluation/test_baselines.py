from __future__ import annotations

import numpy as np
import pytest

from uptflow.evaluation.baselines import BASELINES, gamma_correction, histogram_equalization


def _dark(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.random((32, 48, 3)).astype(np.float32)
    return (base * 0.12 + 0.01).astype(np.float32)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_brighten_and_keep_range(name):
    low = _dark()
    out = BASELINES[name](low)
    assert out.shape == low.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.mean() > 2 * low.mean()


def test_gamma_hits_the_target_mean_of_the_value_channel():
    out = gamma_correction(_dark(1), target_mean=0.45)
    assert abs(out.max(axis=2).mean() - 0.45) < 0.08


def test_value_based_baselines_keep_channel_ratios():
    low = _dark(2)
    out = histogram_equalization(low)
    ratio_in = low[..., 0] / low[..., 1]
    ratio_out = out[..., 0] / np.maximum(out[..., 1], 1e-6)
    mask = out.max(axis=2) < 0.999  # unclipped pixels
    np.testing.assert_allclose(ratio_out[mask], ratio_in[mask], rtol=1e-4)
