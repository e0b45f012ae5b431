"""The training objective: NLL in bits/dim of the normal-light image given the low-light one [+ L1].

Per sample: exactly ``UPTFlow.nll`` of the dequantised normal image, plus
``l1_weight * L1(decode(z=0), normal)`` (weight 0 in the authors' recipe), optionally weighted
toward the regions already lit in the low image (``l1_highlight``, see :func:`highlight_weights`).
The dequantisation noise is a function of ``(seed, iteration)`` and of the GLOBAL batch, so resume
is bit-exact and N DDP ranks see the same noise as one process.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from uptflow.model import UPTFlow, bits_per_dim

__all__ = ["TrainingObjective", "bits_per_dim", "highlight_weights", "iteration_seed", "dequantization_noise",
           "dequantize"]

#: Max-channel level of the low image (0..1) from which a pixel counts as lit, and the level at
#: which its extra weight is full: 110/255 is where the naturalness benchmark's "lit region"
#: starts (``benchmarks/naturalness.py``), the ramp starts half-way there so the weight is smooth.
LIT_FROM, LIT_FULL = 55.0 / 255.0, 110.0 / 255.0


def highlight_weights(low: torch.Tensor, extra: float) -> torch.Tensor:
    """Per-pixel L1 weights (B, 1, H, W) ``1 + extra * ramp(max_channel(low))``.

    ``low`` (B, 3, H, W) in [0, 1].  The ramp is 0 below ``LIT_FROM``, 1 from ``LIT_FULL`` and
    linear in between.  Why: in a night scene most pixels are dark and a plain mean L1 is theirs;
    lamps, windows and lit walls are a few per cent of the pixels, so a model that blows them
    out pays almost nothing.  Weighting the pixels that were already lit in the low image puts
    that failure back into the loss.
    """
    lit = ((low.amax(dim=1, keepdim=True) - LIT_FROM) / (LIT_FULL - LIT_FROM)).clamp(0.0, 1.0)
    return 1.0 + float(extra) * lit


class TrainingObjective(nn.Module):
    """Per-sample training losses; an ``nn.Module`` so DDP can wrap its ``forward``.

    ``forward(low, normal_deq, normal=None)`` with images (B, 3, H, W) ([0, 1]; ``normal_deq`` =
    normal + (U - 1/2)/q) returns ``(nll [B] bits/dim, l1 [B] or None)``; ``l1`` is computed only
    when ``l1_weight > 0`` and ``normal`` is given; ``l1_highlight > 0`` weights its pixels by
    :func:`highlight_weights` (mean of ``w * |out - normal|``, so dark scenes are unaffected).

    Precision: ``amp_dtype`` (bf16/fp16 or None) applies to the encoder (the conditioning) only;
    the flow -- log-dets, the 1x1-conv inverse, the bits/dim reduction -- runs in float32, where
    half precision would lose the log-det sums.
    """

    def __init__(self, model: UPTFlow, l1_weight: float = 0.0, amp_dtype: torch.dtype | None = None,
                 l1_highlight: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.l1_weight = float(l1_weight)
        self.l1_highlight = float(l1_highlight)
        self.amp_dtype = amp_dtype

    def forward(self, low: torch.Tensor, normal_deq: torch.Tensor,
                normal: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        model = self.model
        device_type = low.device.type
        with torch.autocast(device_type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            contexts = model.condition(low)
        contexts = [c.float() for c in contexts]
        with torch.autocast(device_type, enabled=False):
            z, logdet = model.encode(normal_deq, low, contexts=contexts)
            dims = normal_deq.shape[1] * normal_deq.shape[2] * normal_deq.shape[3]
            nll = bits_per_dim(z.float(), logdet.float(), dims, model.config.quantization)
            l1 = None
            if self.l1_weight > 0 and normal is not None:
                out = model.decode(torch.zeros_like(z), low, contexts=contexts)
                err = (out - normal).abs()
                if self.l1_highlight > 0:
                    err = err * highlight_weights(low.float(), self.l1_highlight)
                l1 = err.flatten(1).mean(dim=1)
        return nll, l1


def iteration_seed(seed: int, iteration: int) -> int:
    """A 63-bit seed for the dequantisation generator of ``iteration`` (SeedSequence hash)."""
    a, b = np.random.SeedSequence([int(seed), int(iteration), 0x6465_7175]).generate_state(2, dtype=np.uint32)
    return ((int(a) << 32) | int(b)) & ((1 << 63) - 1)


def dequantization_noise(seed: int, iteration: int, shape: tuple[int, ...]) -> torch.Tensor:
    """U(0, 1) noise of the GLOBAL batch ``shape`` (G, 3, H, W) for ``iteration``, float32 on CPU.

    Drawn on the CPU so it is identical on every device and every rank (rank ``r`` uses rows
    ``[r B/W, (r+1) B/W)``); cheap next to a training step.
    """
    g = torch.Generator(device="cpu")
    g.manual_seed(iteration_seed(seed, iteration))
    return torch.rand(shape, generator=g, dtype=torch.float32)


def dequantize(normal: torch.Tensor, noise: torch.Tensor, quantization: int) -> torch.Tensor:
    """``normal + (noise - 1/2) / q``: spread each 8-bit level over its bin (noise in [0, 1))."""
    return normal + (noise - 0.5) / quantization
