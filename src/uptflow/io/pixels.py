"""Small pixel conventions used across the package, written once.

* :func:`to_unit_float`: integer pixels -> float32 in ``[0, 1]`` (uint8 / 255, uint16 / 65535).
  Division (not multiplication by a reciprocal) so every reader gives bit-identical values.
* :data:`LUMA_BT601` / :func:`luma_bt601`: ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B``
  (what PIL's ``convert("L")`` and scikit-image's ``rgb2gray`` of gamma-encoded values use).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

__all__ = ["LUMA_BT601", "UINT_MAX", "to_unit_float", "luma_bt601"]

LUMA_BT601: tuple[float, float, float] = (0.299, 0.587, 0.114)
"""BT.601 luma weights of gamma-encoded R, G, B (they sum to 1)."""

UINT_MAX: dict[str, float] = {"uint8": 255.0, "uint16": 65535.0}
"""Full-scale value of each integer pixel type :func:`to_unit_float` accepts."""

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def to_unit_float(a: ArrayT) -> ArrayT:
    """Integer pixels -> float32 in ``[0, 1]``; float input is returned as float32, unchanged in value.

    Args:
        a: numpy array (uint8, uint16 or float) or torch tensor (uint8 or float), any shape.
    Returns:
        float32 array / tensor of the same shape: uint8 divided by 255, uint16 by 65535.  Float
        values are NOT clipped (callers decide whether out-of-range values are an error).
    Raises:
        TypeError: another integer type (e.g. int32: its full scale is unknown) or bool.
    """
    if isinstance(a, torch.Tensor):
        if a.dtype == torch.uint8:
            return a.float() / 255.0
        if a.dtype == torch.uint16:
            return a.float() / 65535.0
        if not a.is_floating_point():
            raise TypeError(f"expected uint8, uint16 or float pixels, got {a.dtype}")
        return a.float()
    scale = UINT_MAX.get(a.dtype.name)
    if scale is not None:
        return a.astype(np.float32) / np.float32(scale)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"expected uint8, uint16 or float pixels, got {a.dtype}")
    return a.astype(np.float32)


def luma_bt601(rgb: ArrayT, channel_axis: int = -1) -> ArrayT:
    """BT.601 luma of RGB values; the channel axis is removed.

    Args:
        rgb: float array / tensor with 3 channels on ``channel_axis`` (numpy ``(H, W, 3)`` uses the
            default -1; torch ``(B, 3, H, W)`` passes ``channel_axis=1``).
    Returns:
        The weighted channel sum, same dtype, one axis fewer (values stay in the input's range).
    """
    if rgb.shape[channel_axis] != 3:
        raise ValueError(f"luma_bt601: expected 3 channels on axis {channel_axis}, got shape {tuple(rgb.shape)}")
    if isinstance(rgb, torch.Tensor):
        shape = [1] * rgb.ndim
        shape[channel_axis] = 3
        w = torch.tensor(LUMA_BT601, dtype=rgb.dtype, device=rgb.device).view(shape)
        return (rgb * w).sum(dim=channel_axis)
    w = np.asarray(LUMA_BT601, dtype=rgb.dtype if np.issubdtype(rgb.dtype, np.floating) else np.float32)
    return np.moveaxis(rgb, channel_axis, -1) @ w
