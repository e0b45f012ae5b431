"""Precision of the networks at inference: float32 (default) or bfloat16 / float16 autocast.

Two places take it: the encoder (MSFormer, ~78 % of an enhancement's arithmetic), which only
*conditions* the flow, and, when decoding, the coupling sub-networks (~22 %), which only
*predict* each coupling's scale and shift.  Both can run in a 16-bit float where the hardware has
one (CPUs with AVX512-BF16 or AMX, GPUs); their outputs are cast back to float32 before the flow
uses them, so the flow's own arithmetic -- the 1x1-conv inverses, the affine updates of z and the
log-determinants -- stays float32, and the likelihood path (``encode``, ``nll``) is not touched.
Results differ from float32 by a few 8-bit levels at most (measured by
``benchmarks/precision_quality.py``); float32 stays the default because it reproduces the
authors' numbers.

A context variable, like ``nets.strips``: one thread's (or request's) choice never leaks into
another's enhancement.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch

from uptflow.scoped import scoped

#: User-facing names -> dtypes.
PRECISIONS: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16,
                                      "float16": torch.float16}

_encoder_dtype: ContextVar[torch.dtype] = ContextVar("uptflow_encoder_dtype", default=torch.float32)


def check_precision(name: object) -> str:
    """``name`` if it is one of :data:`PRECISIONS`, else a one-line ``ValueError``."""
    if not isinstance(name, str) or name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    return name


@contextmanager
def encoder_precision(name: str) -> Iterator[None]:
    """Run the encoder in ``name`` (see :data:`PRECISIONS`) inside the block, this context only."""
    with scoped(_encoder_dtype, PRECISIONS[check_precision(name)]):
        yield


def encoder_dtype() -> torch.dtype:
    """The encoder dtype of the current context (float32 unless :func:`encoder_precision` says)."""
    return _encoder_dtype.get()


def _autocast_dtype(x: torch.Tensor) -> torch.dtype | None:
    """The 16-bit dtype to autocast a network on ``x`` to, or None: the context asks for float32,
    or ``x`` is not float32 (a caller that already runs in another precision)."""
    dtype = _encoder_dtype.get()
    return None if dtype == torch.float32 or x.dtype != torch.float32 else dtype


def run_encoder(encoder, low: torch.Tensor, up: torch.Tensor) -> list[torch.Tensor]:
    """``encoder(low, up)`` under the context's precision; the maps returned are float32 (or
    ``low``'s dtype) whatever ran inside.  Autograd-free callers only change anything here:
    training has its own autocast (``training.precision``)."""
    dtype = _autocast_dtype(low)
    if dtype is None:
        return encoder(low, up)
    with torch.autocast(low.device.type, dtype=dtype):
        maps = encoder(low, up)
    return [m.to(low.dtype) for m in maps]


def run_subnet(net, x: torch.Tensor, *features: torch.Tensor) -> torch.Tensor:
    """``net(x, *features)`` for a coupling sub-network while *decoding*, under the context's
    precision; the output is float32 (``x``'s dtype) whatever ran inside.  With gradients on
    (training) or a non-float32 input it is plain ``net(x, *features)``."""
    dtype = _autocast_dtype(x)
    if dtype is None or torch.is_grad_enabled():
        return net(x, *features)
    with torch.autocast(x.device.type, dtype=dtype):
        y = net(x, *features)
    return y.to(x.dtype)
