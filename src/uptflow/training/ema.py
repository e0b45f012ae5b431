"""Exponential moving average (EMA) of the model weights, ``train.ema_decay`` (0 = off).

After every *applied* optimiser step (skipped non-finite steps do not count)::

    ema = decay * ema + (1 - decay) * weights          (floating-point parameters and buffers)

Integer/bool buffers (e.g. ActNorm's ``initialized``) are copied.  The average lives in a full
copy of the model (:attr:`WeightEMA.model`, eval mode, no gradients) so validation runs on it
directly.  Why: the averaged weights are less noisy than the last step's, which matters for a
flow trained with small batches.  The average is started from the weights after ActNorm's
data-dependent initialisation (or from the resumed weights, when a checkpoint without an EMA is
resumed with EMA on), never from the untrained model.

Checkpoints store the averaged state dict under ``"params_ema"`` (BasicSR's name, which
:func:`uptflow.checkpoints.load_model` already prefers over ``"model"``), so ``uptflow convert``,
``--model RUN/best.pt`` and ``--init-from`` use the averaged weights, while resume restores both.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import torch
from torch import nn

__all__ = ["WeightEMA", "EMA_KEY"]

EMA_KEY = "params_ema"


class WeightEMA:
    """The moving average of ``model``'s state dict (same keys, dtypes and device)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must lie in (0, 1), got {decay}")
        self.decay = float(decay)
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (call after an applied step)."""
        current = model.state_dict()
        for name, avg in self.model.state_dict().items():
            w = current[name].detach()
            if avg.is_floating_point():
                avg.lerp_(w.to(avg.dtype), 1.0 - self.decay)
            else:
                avg.copy_(w)
        self.updates += 1

    @torch.no_grad()
    def reset(self, model: nn.Module) -> None:
        """Restart the average at ``model``'s current weights."""
        self.model.load_state_dict(model.state_dict())
        self.updates = 0

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights (a model state dict)."""
        return self.model.state_dict()

    def meta(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates}

    def load(self, weights: Mapping[str, torch.Tensor], meta: Mapping[str, Any] | None) -> None:
        """Restore from a checkpoint's ``params_ema`` (and ``ema`` metadata)."""
        self.model.load_state_dict(weights)
        self.updates = int((meta or {}).get("updates", 0))
