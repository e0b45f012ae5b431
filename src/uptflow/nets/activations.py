"""Activations of strip-wise inference that reuse their input's memory.

Why: a strip's GELU input is always a fresh convolution output that nothing else reads, so
writing the activation into it (and the gate product into that) keeps the strip's working set
one buffer smaller -- fewer cold cache lines and allocator round trips per strip (issue 18).
With autograd on (training) the out-of-place ops run, so saved tensors are never overwritten.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gelu_owned(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU of ``x``, any shape; in place when autograd is off (``x`` must be a
    tensor the caller owns).  The same values as ``F.gelu(x)``, bit for bit."""
    if torch.is_grad_enabled():
        return F.gelu(x)
    return torch.ops.aten.gelu_(x)


def gated_gelu_owned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``GELU(a) * b`` (Restormer's gated feed-forward), same shapes; written into ``a`` when
    autograd is off.  Bit-identical to ``F.gelu(a) * b``."""
    if torch.is_grad_enabled():
        return F.gelu(a) * b
    return torch.ops.aten.gelu_(a).mul_(b)
