"""The transform contract every flow layer follows (after nflows).

Direction names are fixed across the package: ``forward`` maps data to latent (the *encode*
direction, normal-light image -> z), ``inverse`` maps latent to data (*decode*).  Both return
``(output, logabsdet)`` with ``logabsdet`` of shape [B]: the log |det J| of the map that was
applied, so ``inverse``'s log-det is exactly minus ``forward``'s.
"""

from __future__ import annotations

import torch
from torch import nn


class FlowTransform(nn.Module):
    """Base class: ``forward(x, context) -> (y, logdet[B])``, ``inverse(y, context) -> (x, logdet[B])``."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


def zero_logdet(x: torch.Tensor) -> torch.Tensor:
    """A [B] zero log-det with the dtype and device of ``x``."""
    return x.new_zeros(x.shape[0])
