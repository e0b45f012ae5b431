"""PSNR agrees with scikit-image on real (Kodak) images with synthetic degradations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from pair_files import kodak_crops, q8
from uptflow.metrics.psnr import psnr



@pytest.fixture(scope="module")
def pairs(shared_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(target, degraded) float64 HxWx3 pairs in [0, 1], both quantised to 8 bit."""
    rng = np.random.default_rng(0)
    pairs = []
    for img in kodak_crops(shared_dir, ("kodim03.png", "kodim07.png", "kodim19.png"), slice(128, 384), slice(128, 384)):
        pairs.append((img, q8(img + rng.normal(0, 0.05, img.shape))))
        pairs.append((img, q8(0.35 * img**1.3)))
    return pairs


def test_matches_skimage_per_image_and_batched(pairs) -> None:
    ref = np.array([peak_signal_noise_ratio(t, p, data_range=1.0) for t, p in pairs])
    preds = torch.stack([torch.from_numpy(p).permute(2, 0, 1) for _, p in pairs]).float()
    targets = torch.stack([torch.from_numpy(t).permute(2, 0, 1) for t, _ in pairs]).float()
    batched = psnr(preds, targets)
    assert batched.shape == (len(pairs),)
    assert batched.dtype == torch.float32
    np.testing.assert_allclose(batched.numpy(), ref, rtol=0, atol=1e-4)
    for i, (t, p) in enumerate(pairs):
        single = psnr(preds[i], targets[i])
        assert single.ndim == 0
        assert abs(float(single) - ref[i]) < 1e-4
        from_numpy = psnr(p, t)
        assert isinstance(from_numpy, float)
        assert abs(from_numpy - ref[i]) < 1e-4


def test_uint8_numpy_is_divided_by_255() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ref = peak_signal_noise_ratio(a, b, data_range=255)
    assert abs(psnr(b, a) - ref) < 1e-4


def test_data_range_and_identical_images() -> None:
    x = torch.rand(2, 3, 8, 8)
    y = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(psnr(255 * x, 255 * y, data_range=255.0), psnr(x, y))
    assert torch.isinf(psnr(x, x)).all()


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(1, 3, 8, 8\).*\(1, 3, 8, 9\)"):
        psnr(torch.rand(3, 8, 8), torch.rand(3, 8, 9))


def test_rejects_bad_inputs() -> None:
    with pytest.raises(TypeError):
        psnr(torch.ones(3, 4, 4, dtype=torch.int64), torch.ones(3, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="tensors must be"):
        psnr(torch.rand(4, 4), torch.rand(4, 4))
    with pytest.raises(TypeError):
        psnr([[0.0]], [[0.0]])  # type: ignore[arg-type]
