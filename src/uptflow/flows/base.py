"""The transform contract every flow layer follows (after nflows).

Direction names are fixed across the package: ``forward`` maps data to latent (the *encode*
direction, normal-light image -> z), ``inverse`` maps latent to data (*decode*).  Both return
``(output, logabsdet)`` with ``logabsdet`` of shape [B]: the log |det J| of the map that was
applied, so ``inverse``'s log-det is exactly minus ``forward``'s.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch
from torch import nn

from uptflow.scoped import scoped

_logdet_wanted: ContextVar[bool] = ContextVar("uptflow_logdet_wanted", default=True)


class FlowTransform(nn.Module):
    """Base class: ``forward(x, context) -> (y, logdet[B])``, ``inverse(y, context) -> (x, logdet[B])``."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


def zero_logdet(x: torch.Tensor) -> torch.Tensor:
    """A [B] zero log-det with the dtype and device of ``x``."""
    return x.new_zeros(x.shape[0])


@contextmanager
def without_logdet() -> Iterator[None]:
    """Inside the block (this thread or task only), ``inverse`` computes no log-determinants and
    returns a zero log-det.  For decoding an image, which discards it: the coupling layers'
    per-pixel log maps and their sums are ~1 % of an enhancement (issue 18)."""
    with scoped(_logdet_wanted, False):
        yield


def logdet_wanted() -> bool:
    """False inside :func:`without_logdet`: ``inverse`` then returns a zero log-det."""
    return _logdet_wanted.get()
