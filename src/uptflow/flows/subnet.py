"""The coupling sub-network NN(in, out) of the cross-coupling layer (SPEC §3).

``1x1 conv + ActNorm -> ReLU -> 3x3 conv + ActNorm -> ReLU -> CBAM -> zero-init 1x1 conv``.
It is an ordinary (non-invertible) network: it only produces shifts and scales.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uptflow.flows.actnorm import ActNorm
from uptflow.nets.pointwise import pointwise, pointwise_pair
from uptflow.nets.pooled_stats import pooled_max, pooled_mean


class Conv2dActNorm(nn.Conv2d):
    """Bias-free 'same' convolution followed by ActNorm (data-initialised like the flow's)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        nn.init.normal_(self.weight, std=0.05)
        self.actnorm = ActNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or self.training:
            # a 1x1 through nets.pointwise: oneDNN's kernel also when training on one thread
            y = pointwise(x, self.weight) if self.kernel_size == (1, 1) else super().forward(x)
            return self.actnorm(y)[0]
        weight, bias = self._folded()
        if self.kernel_size == (1, 1):
            return pointwise(x, weight, bias)  # oneDNN's kernel at any thread count (nets.pointwise)
        return F.conv2d(x, weight, bias, padding=self.padding)

    def _folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference weight and bias: ``(W x + b) e^s = (W e^s) x + b e^s``, one convolution instead
        of a convolution and two passes over its output (issue 18); same values up to rounding."""
        scale = torch.exp(self.actnorm.logs).view(-1)
        return self.weight * scale.view(-1, 1, 1, 1), self.actnorm.bias.view(-1) * scale

    def forward_split(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``forward(cat([x, features], dim=1))`` (inference) without building the concatenation.

        The 1x1 convolution is linear in its input channels, so it is computed as ``conv(features,
        W_f) + conv(x, W_x)`` (:func:`~uptflow.nets.pointwise.pointwise_pair`).  Why: at a flow level-1 the features are
        the wide part (6C channels) and the concatenation was a fresh map that size for every
        coupling, 16 per level: ~1 GiB of new pages per 400x600 enhancement (issue 18).
        """
        if self.kernel_size != (1, 1):  # (the sub-networks' first layer is 1x1)
            return self.forward(with_features(x, features))
        return pointwise_pair(x, features, *self._folded())


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
            return pointwise(x, self.weight, self.bias) * scale
        scale = scale.view(-1)  # inference: the scale folded into the weights, as in Conv2dActNorm
        return pointwise(x, self.weight * scale.view(-1, 1, 1, 1), self.bias * scale)


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

    def forward(self, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """``x * gate``; ``inplace`` (a map the caller owns, no autograd) scales ``x`` itself."""
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        gate = torch.sigmoid(self.conv(pooled))
        return x.mul_(gate) if inplace else x * gate


class CBAM(nn.Module):
    """Channel then spatial gate, with a residual: ``CBAM(x) = gates(x) + x``."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.channel_gate = ChannelGate(channels, reduction)
        self.spatial_gate = SpatialGate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.channel_gate(x)  # a fresh map
        if torch.is_grad_enabled():
            return self.spatial_gate(y) + x
        # inference: the spatial gate and the residual go into that map (the same values; two
        # full-size maps fewer per coupling, which at a 1160-px tile's flow level 1 are fresh pages)
        return self.spatial_gate(y, inplace=True).add_(x)


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

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """``NN(x)``, or with ``features`` (B, F, H, W) ``NN(cat([x, features], dim=1))``.

        In inference the concatenation is never built (:meth:`Conv2dActNorm.forward_split`) and
        the ReLUs and CBAM work in place on maps this network made (same values, fewer fresh
        full-size maps); with autograd (training) it is the plain network."""
        if torch.is_grad_enabled() or self.training:
            return self.net(x if features is None else with_features(x, features))
        first = self.net[0]
        y = first(x) if features is None else first.forward_split(x, features)
        for layer in self.net[1:]:
            y = F.relu(y, inplace=True) if isinstance(layer, nn.ReLU) else layer(y)
        return y


def with_features(z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``cat([z, h], dim=1)``, (B, c + cond, H, W), in ``h``'s layout.

    Why: the encoder hands over channels-last features (its strip-wise maps); ``torch.cat`` takes
    the first input's layout, so a plain NCHW ``z`` in front made every coupling transpose the
    whole (much wider) feature map and feed the sub-network's 1x1 convolution an NCHW map, which
    oneDNN runs ~3x slower on CPU than a channels-last one (issue 18).  Same values either way.
    """
    if h.dim() == 4 and not h.is_contiguous() and h.is_contiguous(memory_format=torch.channels_last):
        z = z.contiguous(memory_format=torch.channels_last)
    return torch.cat([z, h], dim=1)
