"""The optimiser and the gradient-norm check / clipping of one step."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from uptflow.training.config import OptimConfig

__all__ = ["build_optimizer", "grad_norm_and_clip"]


def build_optimizer(model: nn.Module, o: OptimConfig) -> torch.optim.Optimizer:
    """Adam over all parameters (the authors' optimiser), settings from ``optim.*``."""
    return torch.optim.Adam(model.parameters(), lr=o.lr, betas=tuple(o.betas), eps=o.eps,
                            weight_decay=o.weight_decay)


def grad_norm_and_clip(parameters: Iterable[torch.Tensor], clip: float) -> float:
    """Global L2 norm of the gradients (NaN when there are none); clipped to ``clip`` when > 0.

    A non-finite norm is returned as is and nothing is clipped: the caller skips that step.
    """
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return float("nan")
    utils = torch.nn.utils
    if hasattr(utils, "get_total_norm") and hasattr(utils, "clip_grads_with_norm_"):
        norm = utils.get_total_norm([p.grad for p in params])
        if clip > 0 and torch.isfinite(norm):
            utils.clip_grads_with_norm_(params, clip, norm)
    else:  # pragma: no cover - torch < 2.6
        norm = utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
    return float(norm)
