"""A Glow step: ActNorm -> invertible 1x1 conv [-> cross-coupling conditioned on context]."""

from __future__ import annotations

from torch import nn

from uptflow.flows.actnorm import ActNorm
from uptflow.flows.base import FlowTransform
from uptflow.flows.coupling import CrossCoupling
from uptflow.flows.invconv import InvertibleConv1x1
from uptflow.flows.sequence import FlowSequence


class FlowStep(FlowSequence):
    """(B, c, H, W) -> (B, c, H, W). ``coupling=None`` makes a plain step (no context used)."""

    def __init__(self, channels: int, coupling: CrossCoupling | None = None) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.invconv = InvertibleConv1x1(channels)
        self.coupling = coupling

    def parts(self) -> list[FlowTransform]:
        return [self.actnorm, self.invconv] + ([] if self.coupling is None else [self.coupling])


def make_steps(channels: int, count: int, cond_channels: int | None, hidden: int, reduction: int) -> nn.ModuleList:
    """``count`` steps on ``channels``; with ``cond_channels`` they carry a cross-coupling."""
    return nn.ModuleList(
        FlowStep(channels, None if cond_channels is None else CrossCoupling(channels, cond_channels, hidden, reduction))
        for _ in range(count)
    )
