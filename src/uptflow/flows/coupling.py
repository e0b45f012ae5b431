"""Cross-coupling conditional affine layer (SPEC §3): four affine sub-steps per layer.

Two sub-steps are conditioned on the encoder features alone (``nn_f*``: a conditional
ActNorm-like affine of all channels), two are classic affine couplings where one half of z
(plus the features) scales and shifts the other half (``nn_a*``), crossing halves in between.
"""

from __future__ import annotations

import torch

from uptflow.flows.base import FlowTransform, logdet_wanted, zero_logdet
from uptflow.flows.subnet import CouplingNet
from uptflow.nets.precision import run_subnet

SCALE_OFFSET = 2.0
SCALE_EPS = 3e-4


def _scale_shift(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a sub-network output "cross": even channels shift, odd channels scale.

    The scale is ``sigmoid(pre + 2) + 3e-4`` in (3e-4, 1+3e-4): bounded, so the flow cannot blow
    up, and ~0.88 at initialisation.
    """
    shift = h[:, 0::2]
    scale = torch.sigmoid(h[:, 1::2] + SCALE_OFFSET) + SCALE_EPS
    return scale, shift


def _sum_log(scale: torch.Tensor) -> torch.Tensor:
    """Per-sample ``sum(log scale)`` of a (B, c, H, W) scale map -> [B].

    Reduced over the non-batch axes in place: ``flatten(1)`` of the channels-last scales the
    sub-networks produce copied every log map once more (issue 18)."""
    return torch.log(scale).sum(dim=tuple(range(1, scale.dim())))


class CrossCoupling(FlowTransform):
    """z (B, c, H, W), context h (B, cond, H, W) -> z' (B, c, H, W), logdet [B].

    Forward: a) ``z = (z + t) s`` with ``s, t = nn_f1(h)``; b) ``z2 = (z2 + t) s`` with
    ``s, t = nn_a1([z1, h])``; c) as a) with ``nn_f2``; d) ``z1 = (z1 + t) s`` with
    ``s, t = nn_a2([z2, h])``.  The inverse undoes d, c, b, a.
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int, reduction: int) -> None:
        super().__init__()
        self.c1 = channels // 2
        self.c2 = channels - self.c1
        self.nn_f1 = CouplingNet(cond_channels, 2 * channels, hidden, reduction)
        self.nn_a1 = CouplingNet(self.c1 + cond_channels, 2 * self.c2, hidden, reduction)
        self.nn_f2 = CouplingNet(cond_channels, 2 * channels, hidden, reduction)
        self.nn_a2 = CouplingNet(self.c2 + cond_channels, 2 * self.c1, hidden, reduction)

    def feature_affines(self, h: torch.Tensor, decoding: bool = False
                        ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """The two z-independent affines ``(s, t)`` of steps a) and c); they depend on h only.
        ``decoding``: run the sub-networks under the inference precision (:func:`run_subnet`)."""
        if decoding:
            return _scale_shift(run_subnet(self.nn_f1, h)), _scale_shift(run_subnet(self.nn_f2, h))
        return _scale_shift(self.nn_f1(h)), _scale_shift(self.nn_f2(h))

    def forward(self, z, context=None):
        h = context
        (s_a, t_a), (s_c, t_c) = self.feature_affines(h)
        z = (z + t_a) * s_a
        logdet = _sum_log(s_a)
        z1, z2 = z[:, : self.c1], z[:, self.c1:]
        s, t = _scale_shift(self.nn_a1(z1, h))
        z2 = (z2 + t) * s
        logdet = logdet + _sum_log(s)
        z = torch.cat([z1, z2], dim=1)
        z = (z + t_c) * s_c
        logdet = logdet + _sum_log(s_c)
        z1, z2 = z[:, : self.c1], z[:, self.c1:]
        s, t = _scale_shift(self.nn_a2(z2, h))
        z1 = (z1 + t) * s
        logdet = logdet + _sum_log(s)
        return torch.cat([z1, z2], dim=1), logdet

    def inverse(self, z, context=None):
        h = context
        # decoding: the sub-networks under the inference precision (float32 unless asked; nets.precision)
        (s_a, t_a), (s_c, t_c) = self.feature_affines(h, decoding=True)
        scales = []  # the log-det's terms, in the order they are summed
        z1, z2 = z[:, : self.c1], z[:, self.c1:]
        s, t = _scale_shift(run_subnet(self.nn_a2, z2, h))
        z1 = z1 / s - t
        scales += [s, s_c]
        z = torch.cat([z1, z2], dim=1)
        z = z / s_c - t_c
        z1, z2 = z[:, : self.c1], z[:, self.c1:]
        s, t = _scale_shift(run_subnet(self.nn_a1, z1, h))
        z2 = z2 / s - t
        scales += [s, s_a]
        z = torch.cat([z1, z2], dim=1)
        z = z / s_a - t_a
        if not logdet_wanted():  # an image-only decode (flows.base.without_logdet)
            return z, zero_logdet(z)
        logdet = _sum_log(scales[0])
        for scale in scales[1:]:
            logdet = logdet + _sum_log(scale)
        return z, -logdet
