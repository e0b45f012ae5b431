"""Tests for the calibration-only measurements in benchmarks/noise_stats.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import noise_stats as ns  # noqa: E402


def test_flat_patch_noise_measures_known_white_noise() -> None:
    rng = np.random.default_rng(0)
    img = np.clip(0.1 + rng.normal(0, 4 / 255, (128, 128, 3)), 0, 1).astype(np.float32)
    pn = ns.flat_patch_noise(img)
    assert np.median(pn.noise) == pytest.approx(4.0 * np.sqrt(24 / 25), rel=0.1)
    assert np.median(pn.brightness) == pytest.approx(25.5, abs=1.0)
    with pytest.raises(ValueError):
        ns.flat_patch_noise(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError):
        ns.mean_brightness(np.zeros((8, 8), np.float32))


def test_local_stats_on_a_constructed_frame() -> None:
    img = np.full((64, 128, 3), 20, np.uint8)
    img[:32, :32] = 255  # one lit, blown block out of 8
    s = ns.local_stats(img)
    assert s["lit"] == pytest.approx(100 / 8) and s["blown"] == pytest.approx(100 / 8)
    assert s["p99"] == pytest.approx(255.0, abs=0.01)
    means = np.array([255.0] + [20.0] * 7)
    assert s["block_std"] == pytest.approx(means.std(), rel=1e-5)
    flat = ns.local_stats(np.full((64, 64, 3), 20, np.uint8))
    assert flat["lit"] == 0 and flat["block_std"] == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(ValueError):
        ns.block_means(np.zeros((8, 8), np.float32))
