"""Conversions between image arrays ``(H, W, 3)`` and model tensors ``(1, 3, H, W)``.

torch is imported inside the functions: reading and writing images must not pay for importing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["to_tensor", "to_numpy"]


def to_tensor(rgb: np.ndarray) -> "torch.Tensor":
    """``(H, W, 3)`` array in ``[0, 1]`` -> ``(1, 3, H, W)`` float32 CPU tensor (values unchanged)."""
    import torch

    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"to_tensor expects an (H,W,3) array, got shape {a.shape}")
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return t.permute(2, 0, 1).unsqueeze(0).contiguous()


def to_numpy(t: "torch.Tensor") -> np.ndarray:
    """``(1, 3, H, W)`` or ``(3, H, W)`` tensor -> ``(H, W, 3)`` float32 array (not clipped)."""
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError(f"to_numpy expects a batch of one image, got shape {tuple(t.shape)}")
        t = t[0]
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"to_numpy expects a (1,3,H,W) or (3,H,W) tensor, got {tuple(t.shape)}")
    import torch

    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy())
