"""The inference pipeline: from a low-light image to the enhanced one, in bounded memory.

Modules, in the order a call passes them:

- :mod:`.options`      ``EnhanceOptions``: the call's options, validated once (frozen)
- :mod:`.models`       ``--model`` resolution: path / preset / bundled default, cached per device
- :mod:`.memory`       memory per pixel (measured) and memory available now (RAM, cgroup, RLIMIT_AS, CUDA)
- :mod:`.plan`         THE decision: whole image or tiles, and the tile size (``MIN_TILE``)
- :mod:`.pipeline`     a tensor batch + options -> result (whole or tiled), non-finite outputs refused
- :mod:`.shared_stats` tiles sharing the whole image's pooled statistics
- :mod:`.tiles`        windows, core windows, raised-cosine blending (``run_tiled``)
- :mod:`.errors`       ``NonFiniteOutputError``, ``NotEnoughMemoryError`` (one-line ValueErrors)

:mod:`uptflow.api` is the public, type-preserving layer on top.  The network-level mechanisms
(:mod:`uptflow.nets.strips`, :mod:`uptflow.nets.pooled_stats`) stay with the network.

Only the light modules are imported here (``uptflow.model`` imports :mod:`.options`, so this
package must not import the model): import the pipeline, models, tiles from their modules.
"""

from __future__ import annotations

from uptflow.inference.errors import NonFiniteOutputError, NotEnoughMemoryError
from uptflow.inference.memory import (BYTES_PER_PIXEL_PER_WIDTH, available_memory_bytes, bytes_per_pixel,
                                      limit_allocator_caching, trim_heap)
from uptflow.inference.options import EnhanceOptions
from uptflow.inference.plan import MIN_TILE, Plan, make_plan

__all__ = ["BYTES_PER_PIXEL_PER_WIDTH", "MIN_TILE", "EnhanceOptions", "NonFiniteOutputError", "NotEnoughMemoryError",
           "Plan", "available_memory_bytes", "bytes_per_pixel", "limit_allocator_caching", "make_plan", "trim_heap"]
