"""The 3-level conditional flow of UPT-Flow (Glow-style, no split; SPEC §3)."""

from __future__ import annotations

import torch
from torch import nn

from uptflow.config import UPTFlowConfig
from uptflow.flows.base import FlowTransform
from uptflow.flows.squeeze import Squeeze
from uptflow.flows.step import make_steps


class FlowLevel(FlowTransform):
    """Squeeze, ``plain_steps`` plain steps, ``K`` coupling steps conditioned on one scale.

    (B, c, H, W) -> (B, 4c, H/2, W/2); context (B, 6C, H/2, W/2).
    """

    def __init__(self, in_channels: int, config: UPTFlowConfig) -> None:
        super().__init__()
        c = in_channels * 4
        self.squeeze = Squeeze()
        self.plain = make_steps(c, config.plain_steps, None, 0, 1)
        self.steps = make_steps(c, config.flow_steps, config.cond_channels, config.coupling_hidden,
                                config.cbam_reduction)

    def forward(self, x, context=None):
        x, logdet = self.squeeze(x)
        for step in self.plain:
            x, ld = step(x)
            logdet = logdet + ld
        for step in self.steps:
            x, ld = step(x, context)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y, context=None):
        logdet = y.new_zeros(y.shape[0])
        for step in reversed(self.steps):
            y, ld = step.inverse(y, context)
            logdet = logdet + ld
        for step in reversed(self.plain):
            y, ld = step.inverse(y)
            logdet = logdet + ld
        y, ld = self.squeeze.inverse(y)
        return y, logdet + ld


class ConditionalFlow(nn.Module):
    """Image (B, 3, H, W) <-> latent (B, 3*4^L, H/2^L, W/2^L), conditioned per level.

    ``contexts[l]`` conditions level ``l + 1`` and has that level's resolution (H/2, H/4, H/8).
    """

    def __init__(self, config: UPTFlowConfig) -> None:
        super().__init__()
        self.levels = nn.ModuleList(FlowLevel(3 * 4 ** i, config) for i in range(config.levels))

    def forward(self, x: torch.Tensor, contexts: list[torch.Tensor],
                intermediates: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode. If ``intermediates`` is a list, each level's output is appended to it."""
        logdet = x.new_zeros(x.shape[0])
        for level, ctx in zip(self.levels, contexts):
            x, ld = level(x, ctx)
            logdet = logdet + ld
            if intermediates is not None:
                intermediates.append(x)
        return x, logdet

    def inverse(self, z: torch.Tensor, contexts: list[torch.Tensor],
                intermediates: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode, deepest level first; ``intermediates`` gets each level's output in that order."""
        logdet = z.new_zeros(z.shape[0])
        for level, ctx in zip(reversed(self.levels), reversed(contexts)):
            z, ld = level.inverse(z, ctx)
            logdet = logdet + ld
            if intermediates is not None:
                intermediates.append(z)
        return z, logdet
