"""ActNorm (Glow): a per-channel affine map with data-dependent initialisation."""

from __future__ import annotations

import torch
from torch import nn

from uptflow.flows.base import FlowTransform, logdet_wanted, zero_logdet


class ActNorm(FlowTransform):
    """``y = (x + bias) * exp(logs)``, log-det ``H W sum(logs)``.

    On the first forward call in training mode the parameters are set so the batch has zero
    mean and unit variance per channel.  Whether that happened is a *buffer*
    (``initialized``), so it survives ``state_dict`` save/load and a loaded model never
    re-initialises.  x: (B, C, H, W) of any range.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Data-dependent init from a (B, C, H, W) batch."""
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(0, 2, 3), keepdim=True).sqrt()
        self.bias.copy_(-mean)
        self.logs.copy_(torch.log(1.0 / (std + 1e-6)))
        self.initialized.fill_(True)

    def _maybe_initialize(self, x: torch.Tensor) -> None:
        if self.training and not bool(self.initialized):
            self.initialize(x)

    def _logdet(self, x: torch.Tensor) -> torch.Tensor:
        return (self.logs.sum() * (x.shape[2] * x.shape[3])).expand(x.shape[0])

    def forward(self, x, context=None):
        self._maybe_initialize(x)
        return (x + self.bias) * torch.exp(self.logs), self._logdet(x)

    def inverse(self, y, context=None):
        x = y * torch.exp(-self.logs) - self.bias
        return x, (-self._logdet(y) if logdet_wanted() else zero_logdet(y))
