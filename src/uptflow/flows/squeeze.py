"""Squeeze: space-to-depth by 2, volume preserving (log-det 0)."""

from __future__ import annotations

import torch.nn.functional as F

from uptflow.flows.base import FlowTransform, zero_logdet


class Squeeze(FlowTransform):
    """(B, C, H, W) -> (B, 4C, H/2, W/2), output channel ``c*4 + 2i + j`` (pixel-unshuffle order)."""

    def forward(self, x, context=None):
        return F.pixel_unshuffle(x, 2), zero_logdet(x)

    def inverse(self, y, context=None):
        return F.pixel_shuffle(y, 2), zero_logdet(y)
