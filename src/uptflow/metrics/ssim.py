"""Structural similarity (SSIM) in torch, vectorised over the batch.

Three recipes, because LLIE papers report different ones and they are not comparable:

- ``"rgb"`` (default): the scikit-image recipe the UPT-Flow authors used,
  ``structural_similarity(channel_axis=-1, data_range=1.0)``: 7x7 uniform window, K1=0.01,
  K2=0.03, sample covariance (N/(N-1)), SSIM map averaged over the valid region, then over the
  three RGB channels.
- ``"gray"``: the same recipe on ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B``.
- ``"y"``: BasicSR ``calculate_ssim(test_y_channel=True)``: the YCbCr Y channel
  ``(65.481 R + 128.553 G + 24.966 B + 16) / 255`` (range [16, 235] / 255), 11x11 Gaussian
  window with sigma 1.5, population covariance (Wang et al. 2004).

Computation runs in float64 (the variance terms ``E[x^2] - E[x]^2`` cancel badly in float32).
Only the valid part of the filtered maps is averaged, which is exactly what scikit-image does
(it crops the filter radius after reflect padding) and what BasicSR does (``[5:-5, 5:-5]``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from uptflow.io.pixels import LUMA_BT601

from .psnr import ImageLike, per_image_output, prepare_pair

__all__ = ["ssim", "SSIM_MODES"]

SSIM_MODES = ("rgb", "gray", "y")

_Y_COEFFS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)
_Y_OFFSET = 16.0 / 255.0


def _uniform_window(size: int) -> Tensor:
    """1-D box filter ``[size]`` summing to 1; applied along H and W it is scipy's ``uniform_filter``."""
    return torch.full((size,), 1.0 / size, dtype=torch.float64)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """1-D Gaussian ``[size]`` summing to 1 (``cv2.getGaussianKernel``); the 2-D window is its outer product."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _project(x: Tensor, coeffs: tuple[float, float, float], offset: float = 0.0) -> Tensor:
    """``(B, 3, H, W)`` -> ``(B, 1, H, W)`` weighted channel sum plus ``offset``."""
    w = torch.tensor(coeffs, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True) + offset


def _ssim_per_image(
    x: Tensor, y: Tensor, window: Tensor, sample_covariance: bool, data_range: float = 1.0
) -> Tensor:
    """Mean SSIM of ``x`` vs ``y`` (``(B, C, H, W)`` float64) over channels and valid pixels -> ``[B]``.

    ``window`` is the 1-D factor of the separable 2-D window; filtering rows then columns costs
    2k instead of k^2 multiplications per pixel and equals the dense 2-D convolution up to rounding.
    """
    b, c, h, w = x.shape
    k = window.shape[-1]
    if h < k or w < k:
        raise ValueError(f"SSIM needs images of at least {k}x{k} pixels, got {h}x{w}")
    stack = torch.stack([x, y, x * x, y * y, x * y], dim=1).reshape(b * 5 * c, 1, h, w)
    kernel = window.to(device=x.device, dtype=x.dtype)
    filtered = F.conv2d(F.conv2d(stack, kernel.view(1, 1, 1, k)), kernel.view(1, 1, k, 1))
    filtered = filtered.reshape(b, 5, c, h - k + 1, w - k + 1)
    ux, uy, uxx, uyy, uxy = filtered.unbind(dim=1)

    n = k * k
    cov_norm = n / (n - 1.0) if sample_covariance else 1.0
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(1).mean(dim=1)


def ssim(pred: ImageLike, target: ImageLike, mode: str = "rgb") -> Tensor | float:
    """SSIM per image for images in [0, 1] (see the module docstring for the three recipes).

    Args:
        pred, target: ``(B, 3, H, W)`` / ``(3, H, W)`` tensors or ``(H, W, 3)`` numpy arrays in
            [0, 1]; ``"rgb"`` also accepts any channel count.  ``H, W >= 7`` (11 for ``"y"``).
        mode: ``"rgb"``, ``"gray"`` or ``"y"``.

    Returns:
        ``Tensor[B]`` (dtype of ``pred``), a 0-dim tensor, or a float (numpy input); 1.0 means
        identical.  Differentiable.
    """
    if mode not in SSIM_MODES:
        raise ValueError(f"unknown SSIM mode {mode!r}; expected one of {SSIM_MODES}")
    p, t, kind = prepare_pair(pred, target)
    x, y = p.double(), t.double()
    if mode in ("gray", "y") and x.shape[1] != 3:
        raise ValueError(f"SSIM mode {mode!r} needs 3-channel RGB images, got {x.shape[1]} channels")

    if mode == "rgb":
        values = _ssim_per_image(x, y, _uniform_window(7), sample_covariance=True)
    elif mode == "gray":
        x, y = _project(x, LUMA_BT601), _project(y, LUMA_BT601)
        values = _ssim_per_image(x, y, _uniform_window(7), sample_covariance=True)
    else:
        x, y = _project(x, _Y_COEFFS, _Y_OFFSET), _project(y, _Y_COEFFS, _Y_OFFSET)
        values = _ssim_per_image(x, y, _gaussian_window(11, 1.5), sample_covariance=False)
    return per_image_output(values.to(p.dtype), kind)
