"""A tensor derived from a parameter, computed once per version of that parameter (inference).

Decoding and enhancing call the same layers many times (bands, tiles, frames) with unchanged
weights, so a value that only depends on a weight -- an inverse, a log-determinant, a gathered
bias -- is kept on its module and recomputed only when the weight changes: an in-place update
(optimizer step, ``load_state_dict``) bumps its version, a move to another dtype or device gives
it new storage.  While ``torch.export`` / ``torch.compile`` or a TorchScript trace runs, tensors
are symbolic: nothing is cached then (and no cached value is read into the graph).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def tracing() -> bool:
    """True while ``torch.export`` / ``torch.compile`` or a TorchScript trace runs the model."""
    is_compiling = getattr(torch.compiler, "is_compiling", None)  # torch >= 2.3
    return bool(is_compiling is not None and is_compiling()) or torch.jit.is_tracing()


def cached(owner: nn.Module, slot: str, source: torch.Tensor,
           compute: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``compute(source.detach())``, kept in ``owner``'s attribute ``slot`` until ``source``
    changes (version, storage, dtype, device).  Callers use it without autograd only; while
    tracing it is computed afresh.  One tuple assignment per update: safe with several threads."""
    if tracing():
        return compute(source.detach())
    key = (source._version, source.data_ptr(), source.dtype, source.device)
    entry = getattr(owner, slot, None)
    if entry is None or entry[0] != key:
        entry = (key, compute(source.detach()))
        setattr(owner, slot, entry)
    return entry[1]
