"""Tiled enhancement whose tiles share the whole image's pooled statistics.

Why: the channel attention, ECA and CBAM layers pool over their whole input (see
:mod:`uptflow.nets.pooled_stats`).  Tiles that pool only over themselves come out with a
different tone and colour than the whole image: with the default model, tiles of 128-256 px
are 18-32 dB PSNR away from the whole-image result and lose up to 3 dB against the ground
truth.  Tiles that *replay* the whole image's statistics are 41-45 dB away (only the local
context at cut edges differs) — but the whole image's statistics need a whole-image pass, which
is what did not fit in memory.  So they are estimated:

1. **Sub-sampled pass.** The network runs once on ``low[..., ::f, ::f]`` with ``f`` chosen so
   that pass has no more pixels than a tile, and records every pooled statistic.  Sub-sampling
   (not area down-scaling) keeps the per-pixel noise and texture the features respond to: on
   kodim23 its summed statistics are 3-4x closer to the full-size ones than those of an image
   area-down-scaled by 2 (CBAM's max: about the same), and tiles replaying them are 37.7 dB
   instead of 29.8 dB from the whole-image result.
2. **Refinement passes** (``refine``, default 1): a pass over the tiles that replays the
   current estimate and records each statistic again over the tiles' own, non-overlapping
   parts (:func:`uptflow.inference.tiles.core_windows`) — full-resolution features, every pixel counted
   once.
3. **Final pass** over the tiles replaying the last estimate; blended by
   :func:`uptflow.inference.tiles.run_tiled`.

Cost: ``1/f^2`` of a whole pass plus ``refine + 1`` tiled passes.  Measured numbers (PSNR to
the whole-image result, change of PSNR against ground truth) are in docs/DEVELOPMENT.md, from
``benchmarks/tiling_quality.py``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from uptflow.inference.errors import NonFiniteOutputError
from uptflow.inference.memory import trim_heap
from uptflow.inference.options import DEFAULT_REFINE
from uptflow.inference.tiles import core_windows, run_tiled, tile_windows
from uptflow.model import UPTFlow
from uptflow.nets.pooled_stats import Key, PooledStats, use

__all__ = ["DEFAULT_REFINE", "subsample_factor", "enhance_tiled"]


def subsample_factor(h: int, w: int, tile: int) -> int:
    """Smallest ``f >= 1`` with ``ceil(h / f) * ceil(w / f) <= tile**2``: the sub-sampled
    statistics pass then needs no more memory than one tile."""
    f = max(1, math.ceil(math.sqrt(h * w) / tile))
    while -(-h // f) * -(-w // f) > tile * tile:
        f += 1
    return f


def _record_subsampled(model: UPTFlow, low: torch.Tensor, factor: int) -> dict[Key, torch.Tensor]:
    """Pooled statistics of one pass over ``low[..., ::factor, ::factor]`` (z = 0)."""
    stats = PooledStats(record=True)
    with use(stats), torch.no_grad():
        stats.begin()
        model.enhance(low[..., ::factor, ::factor])
    return stats.finalize()


def enhance_tiled(model: UPTFlow, low: torch.Tensor, tile: int, overlap: int, temperature: float = 0.0,
                  generator: torch.Generator | None = None, refine: int = DEFAULT_REFINE,
                  progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Enhance ``low`` ``(B, 3, H, W)`` in ``[0, 1]`` in ``tile``-pixel tiles -> ``(B, 3, H, W)``.

    Args:
        model: the network (eval mode), on ``low``'s device.
        low: float32 low-light images.
        tile, overlap: tile side and minimum overlap (see :func:`uptflow.inference.tiles.tile_windows`).
        temperature, generator: as :meth:`UPTFlow.enhance`.  With ``temperature > 0`` one latent
            is drawn for the whole image and each tile decodes its crop of it (aligned to the
            latent grid), so overlapping tiles agree on the noise; the sub-sampled pass uses z = 0.
        refine: refinement passes over the tiles (``>= 0``); 0 replays the sub-sampled pass's
            statistics directly (fastest, least accurate).
        progress: ``progress(done, total)`` after the statistics pass and after every tile.

    Raises:
        NonFiniteOutputError: a tile came out with NaN or infinite values (checked per tile, so
            a broken model fails at the first tile, not after the whole image).

    Returns:
        float32 ``(B, 3, H, W)`` in ``[0, 1]``.  If the whole image has no more pixels than one
        tile it is enhanced in one pass (same memory, exact).
    """
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise ValueError(f"refine must be an integer >= 0, got {refine!r}")
    b, _, h, w = low.shape
    factor = subsample_factor(h, w, tile)
    if factor == 1:  # also when h, w <= tile
        with torch.no_grad():
            out = model.enhance(low, temperature=temperature, generator=generator)
        if progress is not None:
            progress(1, 1)
        return out
    windows = tile_windows(h, w, tile, overlap)
    cores = core_windows(h, w, tile, overlap)
    total = 1 + (refine + 1) * len(windows)
    stats = _record_subsampled(model, low, factor)
    if low.device.type == "cpu":
        trim_heap()
    if progress is not None:
        progress(1, total)

    s = model.config.size_multiple
    z_full = None
    if temperature > 0:
        # The draw model.enhance makes for the whole (padded) image; a tile starting at (y0, x0)
        # decodes rows y0 // s ... of it: floor(y0 / s) + ceil(th / s) <= ceil(h / s) always.
        z_full = model.sample_latent(low, temperature, generator)

    out = low
    for p in range(refine + 1):
        last = p == refine
        shared = PooledStats(replay=stats, record=not last)
        order = iter(zip(windows, cores))  # run_tiled visits the windows in this order

        def fn(t: torch.Tensor) -> torch.Tensor:
            (y0, _y1, x0, _x1), core = next(order)
            th, tw = t.shape[-2:]
            ph, pw = -(-th // s) * s, -(-tw // s) * s  # the tile padded as model.enhance pads it
            shared.begin(core, (ph, pw))
            z = None if z_full is None else z_full[:, :, y0 // s:y0 // s + ph // s, x0 // s:x0 // s + pw // s]
            y = model.enhance(t, z=z)
            if not bool(torch.isfinite(y).all()):
                raise NonFiniteOutputError(f"a tile at ({y0}, {x0})")
            if y.device.type == "cpu":
                trim_heap()  # the tile's activations are free now; keep the heap from growing
            return y

        offset = 1 + p * len(windows)
        report = None if progress is None else (lambda i, n, o=offset: progress(o + i, total))
        with use(shared), torch.no_grad():
            out = run_tiled(fn, low, tile, overlap, progress=report)
        if not last:
            stats = shared.finalize()
    return out
