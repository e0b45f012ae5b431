"""The 3-level conditional flow of UPT-Flow (Glow-style, no split; SPEC §3)."""

from __future__ import annotations

from torch import nn

from uptflow.config import UPTFlowConfig
from uptflow.flows.base import FlowTransform
from uptflow.flows.sequence import FlowSequence
from uptflow.flows.squeeze import Squeeze
from uptflow.flows.step import make_steps


class FlowLevel(FlowSequence):
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

    def parts(self) -> list[FlowTransform]:
        return [self.squeeze, *self.plain, *self.steps]


class ConditionalFlow(FlowSequence):
    """Image (B, 3, H, W) <-> latent (B, 3*4^L, H/2^L, W/2^L), conditioned per level.

    ``contexts[l]`` conditions level ``l + 1`` and has that level's resolution (H/2, H/4, H/8).
    ``forward(x, contexts, intermediates=None)`` encodes; ``inverse(z, contexts, intermediates)``
    decodes, deepest level first.  If ``intermediates`` is a list, each level's output is
    appended to it in the order the levels run.
    """

    def __init__(self, config: UPTFlowConfig) -> None:
        super().__init__()
        self.levels = nn.ModuleList(FlowLevel(3 * 4 ** i, config) for i in range(config.levels))

    def parts(self) -> list[FlowTransform]:
        return list(self.levels)
