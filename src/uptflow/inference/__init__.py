"""The inference pipeline: from a low-light image to the enhanced one, in bounded memory.

Modules, in the order a call passes them:

- :mod:`.options`      ``EnhanceOptions``: the call's options, validated once (frozen)
- :mod:`.models`       ``--model`` resolution: path / preset / bundled default, cached per device
- :mod:`.memory`       memory per pixel (measured) and memory available now (RAM, cgroup, RLIMIT_AS, CUDA)
- :mod:`.plan`         THE decision: whole image or tiles, and the tile size (``MIN_TILE``)
- :mod:`.pipeline`     a tensor batch + options -> result (whole or tiled), non-finite outputs refused
- :mod:`.shared_stats` tiles sharing the whole image's pooled statistics
- :mod:`.tiles`        windows, core windows, raised-cosine blending (``run_tiled``)
- :mod:`.errors`       ``NonFiniteOutputError``

:mod:`uptflow.api` is the public, type-preserving layer on top.  The network-level mechanisms
(:mod:`uptflow.nets.strips`, :mod:`uptflow.nets.pooled_stats`) stay with the network.

Only the light modules are imported here (``uptflow.model`` imports :mod:`.options`); the names
of the others load on first use, so importing this package never imports the model.
"""

from __future__ import annotations

import importlib
from typing import Any

from uptflow.inference.errors import NonFiniteOutputError
from uptflow.inference.memory import (BYTES_PER_PIXEL_PER_WIDTH, available_memory_bytes, bytes_per_pixel,
                                      limit_allocator_caching, trim_heap)
from uptflow.inference.options import EnhanceOptions
from uptflow.inference.plan import MIN_TILE, Plan, make_plan

_LAZY = {
    "enhance_batch": "uptflow.inference.pipeline",
    "enhance_samples": "uptflow.inference.pipeline",
    "enhance_tiled": "uptflow.inference.shared_stats",
    "load_cached": "uptflow.inference.models",
    "resolve_device": "uptflow.inference.models",
}

__all__ = ["BYTES_PER_PIXEL_PER_WIDTH", "MIN_TILE", "EnhanceOptions", "NonFiniteOutputError", "Plan",
           "available_memory_bytes", "bytes_per_pixel", "limit_allocator_caching", "make_plan", "trim_heap",
           *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'uptflow.inference' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
