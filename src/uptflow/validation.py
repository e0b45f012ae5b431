"""Argument checks that turn user mistakes into one-line ``ValueError``/``TypeError``s.

Deep inside the network a wrong channel count surfaces as an obscure conv shape error; these
checks run at the API boundary and name the argument and the problem instead.
"""

from __future__ import annotations

import torch


def check_image(x: object, name: str, *, channels: int = 3, multiple: int | None = None,
                finite: bool = True) -> torch.Tensor:
    """Validate a (B, C, H, W) floating tensor; return it unchanged.

    Raises ``TypeError`` for non-tensors / non-float dtypes and ``ValueError`` for wrong rank,
    channel count, empty or non-finite tensors and (if ``multiple``) sizes that are not
    multiples of ``multiple``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, {channels}, H, W), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor with values in [0, 1], got dtype {x.dtype}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, {channels}, H, W), got {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    if multiple is not None and (x.shape[2] % multiple or x.shape[3] % multiple):
        raise ValueError(f"{name} height and width must be multiples of {multiple}, got {x.shape[2]}x{x.shape[3]}"
                         " (use enhance(), which pads, or pad the image yourself)")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_same_size(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` share batch size and spatial size."""
    if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have the same batch and spatial size")

