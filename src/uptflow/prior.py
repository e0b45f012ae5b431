"""The unbalanced-point (UP) map: which pixels have distorted R/G/B shares.

Low-light captures lose colour first in dark and saturated pixels: one channel's share of
``R+G+B`` collapses.  UPT-Flow marks such pixels so the window attention can take its queries
and keys from them (SPEC §1).
"""

from __future__ import annotations

import torch


def up_map(image: torch.Tensor, threshold: float = 0.1, eps: float = 1e-4) -> torch.Tensor:
    """Compute the UP map of an RGB image.

    Args:
        image: (B, 3, H, W) in [0, 1].
        threshold: a channel share ``<= threshold`` counts as collapsed.
        eps: added to ``R+G+B`` so black pixels do not divide by zero.

    Returns:
        (B, 1, H, W) with values in {0, 1} and the dtype of ``image``: 1 marks a *balanced*
        pixel (all three shares above the threshold), 0 an unbalanced one (black included).
    """
    total = image.sum(dim=1, keepdim=True) + eps
    shares = image / total
    shares = torch.where(shares <= threshold, torch.zeros_like(shares), shares)
    product = shares.prod(dim=1, keepdim=True)
    return (product != 0).to(image.dtype)
