"""The coupling sub-network NN(in, out) of the cross-coupling layer (SPEC §3).

``1x1 conv + ActNorm -> ReLU -> 3x3 conv + ActNorm -> ReLU -> CBAM -> zero-init 1x1 conv``.
It is an ordinary (non-invertible) network: it only produces shifts and scales.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uptflow.flows.actnorm import ActNorm
from uptflow.nets.pooled_stats import pooled_max, pooled_mean


class Conv2dActNorm(nn.Conv2d):
    """Bias-free 'same' convolution followed by ActNorm (data-initialised like the flow's)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        nn.init.normal_(self.weight, std=0.05)
        self.actnorm = ActNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or self.training:
            return self.actnorm(super().forward(x))[0]
        # inference: ``(W x + b) e^s = (W e^s) x + b e^s``, one convolution instead of a convolution
        # and two passes over its output (issue 18); same values up to float rounding
        scale = torch.exp(self.actnorm.logs).view(-1)
        return F.conv2d(x, self.weight * scale.view(-1, 1, 1, 1), self.actnorm.bias.view(-1) * scale,
                        padding=self.padding)


class Conv2dZeros(nn.Conv2d):
    """Zero-initialised 1x1 conv with a per-channel log-scale: ``(W x + b) * exp(3 logs)``.

    Zero init makes every coupling start as the identity map (scale sigmoid(2)+eps, shift 0 up
    to the constant), the standard Glow trick for stable early training.
    """

    logscale_factor = 3.0

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 1)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)
        self.logs = nn.Parameter(torch.zeros(out_channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.exp(self.logs * self.logscale_factor)
        if torch.is_grad_enabled():
            return super().forward(x) * scale
        scale = scale.view(-1)  # inference: the scale folded into the weights, as in Conv2dActNorm
        return F.conv2d(x, self.weight * scale.view(-1, 1, 1, 1), self.bias * scale)


class ChannelGate(nn.Module):
    """CBAM channel gate: shared MLP on avg- and max-pooled vectors, summed, sigmoid."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, channels // reduction), nn.ReLU(),
                                 nn.Linear(channels // reduction, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # pooled_* = global avg / max pool, or the whole image's when tiles share statistics
        att = self.mlp(pooled_mean(self, "avg", x)) + self.mlp(pooled_max(self, "max", x))
        return x * torch.sigmoid(att)[:, :, None, None]


class SpatialGate(nn.Module):
    """CBAM spatial gate: channel max and mean (in that order) -> 7x7 conv -> sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, padding=3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Module):
    """Channel then spatial gate, with a residual: ``CBAM(x) = gates(x) + x``."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.channel_gate = ChannelGate(channels, reduction)
        self.spatial_gate = SpatialGate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial_gate(self.channel_gate(x)) + x


class CouplingNet(nn.Module):
    """NN(in, out): (B, in, H, W) -> (B, out, H, W); index layout matches the authors' ``model.N``."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int, reduction: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            Conv2dActNorm(in_channels, hidden, 1),
            nn.ReLU(),
            Conv2dActNorm(hidden, hidden, 3),
            nn.ReLU(),
            CBAM(hidden, reduction),
            Conv2dZeros(hidden, out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
