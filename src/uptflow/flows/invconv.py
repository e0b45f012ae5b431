"""Invertible 1x1 convolution (Glow), plain (not LU) as in the paper model."""

from __future__ import annotations

import torch
from torch import nn

from uptflow.derived import cached
from uptflow.flows.base import FlowTransform, logdet_wanted, zero_logdet
from uptflow.nets.pointwise import pointwise


class InvertibleConv1x1(FlowTransform):
    """``y = W x`` at every pixel; log-det ``H W log|det W|``.

    The inverse weight is computed in float64 and then cast: a float32 inverse alone moves the
    decode of a non-zero latent by ~1e-4.  In inference (no autograd) the inverse is cached per
    weight version, so decoding a batch of images inverts each matrix once.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        w = torch.linalg.qr(torch.randn(channels, channels))[0]
        self.weight = nn.Parameter(w)

    def _logabsdet(self) -> torch.Tensor:
        w = self.weight
        if torch.is_grad_enabled() and w.requires_grad:
            return torch.linalg.slogdet(w.double())[1].to(w.dtype)
        # Inference: one LU per weight version, like the inverse below.
        return cached(self, "_logdet_cache", w, lambda v: torch.linalg.slogdet(v.double())[1].to(v.dtype))

    def inverse_weight(self) -> torch.Tensor:
        """W^-1 computed in float64, cast to the weight's dtype; (C, C)."""
        w = self.weight
        if torch.is_grad_enabled() and w.requires_grad:
            return torch.linalg.inv(w.double()).to(w.dtype)
        return cached(self, "_inverse_cache", w, lambda v: torch.linalg.inv(v.double()).to(v.dtype))

    def forward(self, x, context=None):
        c = self.weight.shape[0]
        logdet = (self._logabsdet() * (x.shape[2] * x.shape[3])).expand(x.shape[0])
        return pointwise(x, self.weight.view(c, c, 1, 1)), logdet

    def inverse(self, y, context=None):
        c = self.weight.shape[0]
        x = pointwise(y, self.inverse_weight().view(c, c, 1, 1))
        if not logdet_wanted():
            return x, zero_logdet(y)
        return x, (-self._logabsdet() * (y.shape[2] * y.shape[3])).expand(y.shape[0])
