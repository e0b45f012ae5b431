"""EvalProtocol / evaluate_pair / summarize, and the GT-mean correction."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from uptflow.metrics.gt_mean import gt_mean_correct
from uptflow.metrics.lpips import LPIPS, lpips
from uptflow.metrics.protocol import EvalProtocol, evaluate_pair, summarize
from uptflow.metrics.psnr import psnr
from uptflow.metrics.ssim import ssim



@pytest.fixture(scope="module")
def net(shared_dir: Path) -> LPIPS:
    return LPIPS.from_dir(shared_dir / "data" / "lpips")


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(3, 48, 64, generator=g)
    pred = (0.6 * target + 0.03 * torch.randn(3, 48, 64, generator=g)).clamp(0, 1)
    return pred, target


def test_describe_and_to_dict() -> None:
    default = EvalProtocol()
    text = default.describe()
    for needle in ("8 bit", "PSNR", "RGB in [0, 1]", "scikit-image", "7x7", "LPIPS", "v0.1", "AlexNet", "[-1, 1]", "OFF"):
        assert needle in text, needle
    assert default.to_dict() == {"gt_mean": False, "ssim_mode": "rgb", "lpips": True, "quantize_8bit": True}
    other = EvalProtocol(gt_mean=True, ssim_mode="y", lpips=False, quantize_8bit=False)
    other_text = other.describe()
    for needle in ("GT-mean is ON", "separately labelled", "Y channel", "Gaussian", "not computed", "no 8-bit"):
        assert needle in other_text, needle
    assert EvalProtocol(**other.to_dict()) == other
    with pytest.raises(dataclasses.FrozenInstanceError):
        default.gt_mean = True  # type: ignore[misc]
    with pytest.raises(ValueError, match="ssim_mode"):
        EvalProtocol(ssim_mode="lab")


def test_evaluate_pair_quantises_prediction(net: LPIPS) -> None:
    pred, target = _pair()
    row = evaluate_pair(pred, target, EvalProtocol(), lpips_net=net)
    assert set(row) == {"psnr", "ssim", "lpips"}
    q = torch.round(pred * 255) / 255
    assert row["psnr"] == pytest.approx(float(psnr(q, target)), abs=1e-5)
    assert row["ssim"] == pytest.approx(float(ssim(q, target)), abs=1e-6)
    assert row["lpips"] == pytest.approx(float(lpips(q, target, net=net)), abs=1e-6)
    raw = evaluate_pair(pred[None], target[None], EvalProtocol(lpips=False, quantize_8bit=False))
    assert set(raw) == {"psnr", "ssim"}
    assert raw["psnr"] == pytest.approx(float(psnr(pred, target)), abs=1e-5)
    assert raw["psnr"] != row["psnr"]


def test_evaluate_pair_gt_mean_and_ssim_mode() -> None:
    pred, target = _pair(1)
    plain = evaluate_pair(pred, target, EvalProtocol(lpips=False))
    corrected = evaluate_pair(pred, target, EvalProtocol(lpips=False, gt_mean=True))
    assert corrected["psnr"] > plain["psnr"] + 3.0  # the 0.6x brightness error is removed
    y_mode = evaluate_pair(pred, target, EvalProtocol(lpips=False, ssim_mode="y"))
    assert y_mode["ssim"] == pytest.approx(float(ssim(torch.round(pred * 255) / 255, target, mode="y")), abs=1e-6)


def test_evaluate_pair_errors() -> None:
    with pytest.raises(ValueError, match=r"\(3, 16, 16\).*\(3, 16, 20\)"):
        evaluate_pair(torch.rand(3, 16, 16), torch.rand(3, 16, 20), EvalProtocol(lpips=False))
    with pytest.raises(ValueError, match="single image"):
        evaluate_pair(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), EvalProtocol(lpips=False))


def test_summarize() -> None:
    rows = [{"psnr": 20.0, "ssim": 0.5}, {"psnr": 30.0, "ssim": 0.7}]
    assert summarize(rows) == pytest.approx({"psnr": 25.0, "ssim": 0.6})
    with pytest.raises(ValueError, match="no rows"):
        summarize([])
    with pytest.raises(ValueError, match="row 1"):
        summarize([{"psnr": 1.0}, {"ssim": 1.0}])


def test_gt_mean_correct_per_image() -> None:
    target = torch.full((2, 3, 8, 8), 0.4)
    target[1] = 0.2
    pred = torch.rand(2, 3, 8, 8) * 0.5
    out = gt_mean_correct(pred, target)
    assert out.shape == pred.shape
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), torch.tensor([0.4, 0.2]), atol=1e-6, rtol=0)
    bright = gt_mean_correct(torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.9))  # gain 9 would exceed 1
    assert bright.max() <= 1.0 and bright.ndim == 3
    black = gt_mean_correct(torch.zeros(3, 4, 4), torch.full((3, 4, 4), 0.5))  # no division by zero
    assert torch.isfinite(black).all()
    arr = gt_mean_correct(np.full((4, 4, 3), 0.25, dtype=np.float32), np.full((4, 4, 3), 0.5, dtype=np.float32))
    assert isinstance(arr, np.ndarray) and arr.shape == (4, 4, 3)
    np.testing.assert_allclose(arr, 0.5, atol=1e-6)
