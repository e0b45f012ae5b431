"""SSIM recipes agree with scikit-image ("rgb", "gray") and with the BasicSR/Wang formula ("y")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from pair_files import kodak_crops, q8
from uptflow.metrics.ssim import ssim



@pytest.fixture(scope="module")
def pairs(shared_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(target, degraded) float64 HxWx3 pairs in [0, 1], 8-bit values: noise, darkening, blur."""
    rng = np.random.default_rng(0)
    out = []
    # 192x256 crops keep the test fast
    for img in kodak_crops(shared_dir, ("kodim01.png", "kodim05.png", "kodim23.png"), slice(100, 292), slice(200, 456)):
        out.append((img, q8(img + rng.normal(0, 0.06, img.shape))))
        out.append((img, q8(0.25 * img**1.4 + rng.normal(0, 0.01, img.shape))))
        out.append((img, q8(gaussian_filter(img, sigma=(1.5, 1.5, 0)))))
    return out


def _to_torch(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(a).permute(2, 0, 1) for a in arrays]).float()


def _luma(x: np.ndarray) -> np.ndarray:
    return x @ np.array([0.299, 0.587, 0.114])


def _y(x: np.ndarray) -> np.ndarray:
    return (x @ np.array([65.481, 128.553, 24.966]) + 16.0) / 255.0


def _basicsr_ssim(img1: np.ndarray, img2: np.ndarray) -> float:
    """BasicSR ``_ssim`` on single-channel images in [0, 255]: 11x11 Gaussian (sigma 1.5), valid region."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x = np.arange(11) - 5.0
    g = np.exp(-(x**2) / (2 * 1.5**2))
    g /= g.sum()

    def filt(a: np.ndarray) -> np.ndarray:  # separable 'valid' correlation == filter2D[5:-5, 5:-5]
        rows = sum(g[i] * a[i : a.shape[0] - 10 + i, :] for i in range(11))
        return sum(g[j] * rows[:, j : a.shape[1] - 10 + j] for j in range(11))

    mu1, mu2 = filt(img1), filt(img2)
    s1 = filt(img1**2) - mu1**2
    s2 = filt(img2**2) - mu2**2
    s12 = filt(img1 * img2) - mu1 * mu2
    smap = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
    return float(smap.mean())


def test_rgb_matches_skimage(pairs) -> None:
    ref = np.array([structural_similarity(t, p, channel_axis=-1, data_range=1.0) for t, p in pairs])
    got = ssim(_to_torch([p for _, p in pairs]), _to_torch([t for t, _ in pairs]), mode="rgb")
    assert got.shape == (len(pairs),)
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-4)
    assert ref.min() < 0.8  # the degradations are strong enough to test something


def test_gray_matches_skimage_on_bt601_luma(pairs) -> None:
    ref = np.array([structural_similarity(_luma(t), _luma(p), data_range=1.0) for t, p in pairs])
    got = ssim(_to_torch([p for _, p in pairs]), _to_torch([t for t, _ in pairs]), mode="gray")
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-4)


def test_y_matches_basicsr_formula_and_skimage_gaussian(pairs) -> None:
    got = ssim(_to_torch([p for _, p in pairs]), _to_torch([t for t, _ in pairs]), mode="y")
    for i, (t, p) in enumerate(pairs):
        basicsr = _basicsr_ssim(_y(p) * 255.0, _y(t) * 255.0)
        sk = structural_similarity(
            _y(t), _y(p), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
        )
        assert abs(basicsr - sk) < 1e-9  # the two references agree with each other
        assert abs(float(got[i]) - basicsr) < 1e-4


def test_single_and_numpy_inputs_match_batch(pairs) -> None:
    t, p = pairs[0]
    batched = ssim(_to_torch([p]), _to_torch([t]))
    single = ssim(_to_torch([p])[0], _to_torch([t])[0])
    from_numpy = ssim(p, t)
    assert single.ndim == 0 and isinstance(from_numpy, float)
    assert abs(float(single) - float(batched[0])) < 1e-7
    assert abs(from_numpy - float(batched[0])) < 1e-6


def test_identical_is_one_and_modes_differ() -> None:
    x = torch.rand(2, 3, 24, 24)
    for mode in ("rgb", "gray", "y"):
        torch.testing.assert_close(ssim(x, x, mode=mode), torch.ones(2))
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    values = {mode: float(ssim(x, y, mode=mode)[0]) for mode in ("rgb", "gray", "y")}
    assert len(set(values.values())) == 3


def test_errors() -> None:
    x = torch.rand(3, 16, 16)
    with pytest.raises(ValueError, match="unknown SSIM mode"):
        ssim(x, x, mode="ycbcr")
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim(torch.rand(3, 6, 16), torch.rand(3, 6, 16))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.rand(3, 10, 16), torch.rand(3, 10, 16), mode="y")
    with pytest.raises(ValueError, match="3-channel"):
        ssim(torch.rand(1, 16, 16), torch.rand(1, 16, 16), mode="gray")
    with pytest.raises(ValueError, match="differs"):
        ssim(x, torch.rand(3, 16, 17))
