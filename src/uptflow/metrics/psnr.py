"""Peak signal-to-noise ratio, plus the input handling shared by all metric modules.

Images are torch tensors ``(B, C, H, W)`` or ``(C, H, W)`` (float, values in [0, 1]) or numpy
arrays ``(H, W, C)`` (float in [0, 1], or uint8 which is divided by 255).  Every metric returns
one value per image: ``Tensor[B]`` for a batch, a 0-dim tensor for a single ``(C, H, W)``
tensor and a Python ``float`` for a numpy array.

The helpers :func:`prepare_pair` / :func:`per_image_output` live here (the first metric module)
so that ``ssim``, ``lpips`` and ``gt_mean`` share exactly one conversion path.
"""

from __future__ import annotations

from typing import Literal, Union

import numpy as np
import torch
from torch import Tensor

from uptflow.io.pixels import to_unit_float

ImageLike = Union[Tensor, np.ndarray]
InputKind = Literal["batch", "single", "numpy"]

__all__ = ["psnr", "prepare_pair", "to_batch", "per_image_output", "ImageLike"]


def to_batch(image: ImageLike, name: str = "image") -> tuple[Tensor, InputKind]:
    """Convert one metric input to a float tensor ``(B, C, H, W)``.

    Args:
        image: tensor ``(B, C, H, W)`` / ``(C, H, W)`` or numpy ``(H, W, C)``; float in [0, 1]
            or uint8 in [0, 255] (divided by 255 so all metrics see the same [0, 1] scale).
        name: argument name used in error messages.

    Returns:
        ``(batch, kind)`` where ``kind`` records the input layout so results can be returned in
        a matching form (see :func:`per_image_output`).  Float dtypes are preserved.
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3:
            raise ValueError(
                f"{name}: numpy images must be (H, W, C), got shape {tuple(image.shape)}"
            )
        array = np.ascontiguousarray(image) if image.flags.writeable else np.array(image)
        tensor = torch.from_numpy(array).permute(2, 0, 1)[None]
        kind: InputKind = "numpy"
    elif isinstance(image, Tensor):
        if image.ndim == 4:
            tensor, kind = image, "batch"
        elif image.ndim == 3:
            tensor, kind = image[None], "single"
        else:
            raise ValueError(
                f"{name}: tensors must be (B, C, H, W) or (C, H, W), got shape {tuple(image.shape)}"
            )
    else:
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(image).__name__}")

    if tensor.dtype == torch.uint8:
        tensor = to_unit_float(tensor)
    elif not tensor.is_floating_point():
        raise TypeError(f"{name}: expected a float image in [0, 1] or uint8, got dtype {tensor.dtype}")
    return tensor, kind


def prepare_pair(pred: ImageLike, target: ImageLike) -> tuple[Tensor, Tensor, InputKind]:
    """Convert ``pred`` and ``target`` with :func:`to_batch` and check that they match.

    Returns ``(pred, target, kind)`` with both tensors ``(B, C, H, W)`` on ``pred``'s device.
    Raises ``ValueError`` naming both shapes if they differ (after layout conversion).
    """
    p, kind = to_batch(pred, "pred")
    t, _ = to_batch(target, "target")
    if p.shape != t.shape:
        raise ValueError(
            f"pred shape {tuple(p.shape)} differs from target shape {tuple(t.shape)} "
            f"(given as {tuple(pred.shape)} and {tuple(target.shape)})"
        )
    return p, t.to(p.device), kind


def per_image_output(values: Tensor, kind: InputKind) -> Tensor | float:
    """Shape per-image ``values`` (``Tensor[B]``) to match the input layout ``kind``."""
    if kind == "batch":
        return values
    if kind == "single":
        return values[0]
    return float(values[0])


def psnr(pred: ImageLike, target: ImageLike, data_range: float = 1.0) -> Tensor | float:
    """PSNR in dB per image, ``10 log10(data_range^2 / MSE)`` with MSE over all channels and pixels.

    Matches ``skimage.metrics.peak_signal_noise_ratio(target, pred, data_range=data_range)``
    (the MSE is accumulated in float64, as scikit-image does).  Identical images give ``inf``.

    Args:
        pred, target: ``(B, C, H, W)`` / ``(C, H, W)`` tensors or ``(H, W, C)`` numpy arrays in
            [0, data_range].
        data_range: peak value (1.0 for images in [0, 1]).

    Returns:
        ``Tensor[B]`` (dtype of ``pred``), a 0-dim tensor, or a float (numpy input).
    """
    p, t, kind = prepare_pair(pred, target)
    mse = (p.double() - t.double()).pow(2).flatten(1).mean(dim=1)
    values = 10.0 * torch.log10(data_range**2 / mse)
    return per_image_output(values.to(p.dtype), kind)
