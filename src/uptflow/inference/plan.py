"""THE decision of how to run one enhancement: the whole image at once, or in tiles of which size.

Nothing else chooses a tile.  The inputs are the image size, the model's memory per pixel
(:func:`uptflow.inference.memory.bytes_per_pixel`), the memory available now
(:func:`~uptflow.inference.memory.available_memory_bytes`: free RAM, cgroup and ``RLIMIT_AS``
headroom, or free CUDA memory) and the user's options.  The CLI asks for the plan before it
runs (to say that it tiles) and hands the same plan to the pipeline, so the decision is made
once.

A tiled run needs a tile's pass (``tile^2`` x bytes per pixel) *plus* buffers the size of the
whole image (input, blend accumulator and weights, output, latent): :data:`IMAGE_BYTES_PER_PIXEL`
per pixel.  Ignoring them let a 10000x9000 image under a 6 GB address-space cap run out of
memory with "fitting" tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from uptflow.config import UPTFlowConfig
from uptflow.inference.errors import NotEnoughMemoryError
from uptflow.inference.memory import available_memory_bytes, bytes_per_pixel

if TYPE_CHECKING:
    from uptflow.inference.options import EnhanceOptions

__all__ = ["MIN_TILE", "TILE_MULTIPLE", "MEMORY_FRACTION", "IMAGE_BYTES_PER_PIXEL", "Plan", "make_plan",
           "auto_tile_size", "max_overlap", "tiled_bytes"]

#: Smallest tile, asked for or chosen: below it the window attention and the pooled statistics
#: see too little context and seams show.  An automatic plan whose floor tile does not fit is
#: refused (:class:`~uptflow.inference.errors.NotEnoughMemoryError`); an explicit tile is followed.
MIN_TILE = 64

#: Automatic tiles are multiples of this (the network's size multiple).
TILE_MULTIPLE = 8

#: Share of the available memory one enhancement may plan to use (the estimate is rough and the
#: process needs memory for other things too: decoded files, the output encoder).
MEMORY_FRACTION = 0.6

#: Image-sized float32 buffers of a tiled run per pixel and batch item, besides a tile's pass:
#: input (12 B), blend accumulator (12), weight sum (4), normalised output (12), the latent
#: drawn for the whole image at temperature > 0 (12), the caller's float copy of the result (12).
IMAGE_BYTES_PER_PIXEL = 64.0


def max_overlap(tile: int) -> int:
    """Largest overlap for ``tile``-px tiles: the stride must stay >= a quarter tile.

    Below that the number of tiles explodes (a stride of 1 px is ``(H - tile) * (W - tile)``
    tiles) while the result does not improve.
    """
    return tile - -(-tile // 4)


@dataclass(frozen=True)
class Plan:
    """How to run: ``tile`` is None for one whole-image pass, else the tile side in pixels.

    ``overlap`` is the tile overlap to use (<= :func:`max_overlap`); ``automatic`` says the tile
    was chosen to fit ``budget_bytes`` (so a caller can tell the user); ``estimated_bytes`` is
    the estimated peak of the chosen way.
    """

    tile: int | None
    overlap: int
    automatic: bool = False
    budget_bytes: int | None = None
    estimated_bytes: float = 0.0

    @property
    def tiled(self) -> bool:
        return self.tile is not None


def tiled_bytes(h: int, w: int, tile: int, config: UPTFlowConfig, batch: int = 1) -> float:
    """Estimated peak memory of a tiled enhancement of ``batch`` ``h x w`` images (bytes)."""
    return batch * (tile * tile * bytes_per_pixel(config) + IMAGE_BYTES_PER_PIXEL * h * w)


def make_plan(h: int, w: int, config: UPTFlowConfig, device: str | torch.device, options: EnhanceOptions,
              batch: int = 1) -> Plan:
    """The plan for a batch of ``batch`` ``h x w`` images on ``device`` under ``options``.

    ``options.tile``: ``0`` never tiles; ``N`` tiles in ``N``-px tiles unless the image fits in
    one; ``None`` tiles only if the whole-image estimate exceeds ``options.budget_bytes``
    (default :data:`MEMORY_FRACTION` of the available memory), with the largest tile that fits
    together with the image-sized buffers, never below :data:`MIN_TILE`.

    Raises:
        NotEnoughMemoryError: automatic tiling, and even :data:`MIN_TILE` tiles exceed the budget:
            the image-sized buffers alone take it (a 10000x9000 image under a 6 GB address-space
            cap would otherwise crawl through ~80,000 64-px tiles towards an out-of-memory end).
    """
    if h < 1 or w < 1 or batch < 1:
        raise ValueError(f"image size and batch must be positive, got {h}x{w}, batch {batch}")
    whole = batch * h * w * bytes_per_pixel(config)
    if options.tile == 0:
        return Plan(None, options.overlap, estimated_bytes=whole)
    if options.tile is not None:
        if h <= options.tile and w <= options.tile:
            return Plan(None, options.overlap, estimated_bytes=whole)
        return Plan(options.tile, options.overlap, estimated_bytes=tiled_bytes(h, w, options.tile, config, batch))
    limit = options.budget_bytes if options.budget_bytes is not None else available_memory_bytes(device)
    budget = limit if options.budget_bytes is not None else int(MEMORY_FRACTION * limit)
    tile = auto_tile_size(h, w, batch * bytes_per_pixel(config), budget,
                          fixed_bytes=batch * IMAGE_BYTES_PER_PIXEL * h * w)
    if tile is None:
        return Plan(None, options.overlap, budget_bytes=budget, estimated_bytes=whole)
    need = tiled_bytes(h, w, tile, config, batch)
    if need > budget:  # only the floor tile can exceed it: the image-sized buffers alone do not fit
        share = "" if options.budget_bytes is not None else \
            f" ({MEMORY_FRACTION:.0%} of {limit / 2**30:.2f} GiB free)"
        raise NotEnoughMemoryError(
            f"{w}x{h} needs about {need / 2**30:.2f} GiB even in {tile}-px tiles but may use "
            f"{budget / 2**30:.2f} GiB{share}; free memory or raise the limit (ulimit -v / container)")
    return Plan(tile, min(options.overlap, max_overlap(tile)), automatic=True, budget_bytes=budget,
                estimated_bytes=need)


def auto_tile_size(h: int, w: int, bytes_per_pixel: float, budget_bytes: int, multiple: int = TILE_MULTIPLE,
                   min_tile: int = MIN_TILE, fixed_bytes: float = 0.0) -> int | None:
    """Choose a square tile side so one pass fits in ``budget_bytes``.

    ``bytes_per_pixel`` is the estimated peak memory of one pass per input pixel (memory is
    assumed linear in pixel count); ``fixed_bytes`` what a tiled run needs besides a tile's pass.

    Returns:
        ``None`` if the whole ``h x w`` image fits (no tiling needed); otherwise the largest
        multiple of ``multiple`` whose square tile fits beside ``fixed_bytes``, but never less
        than ``min_tile`` (rounded up to ``multiple``) -- a tile that small is the floor even if
        it exceeds the budget, because smaller tiles give poor results.  Monotone: a larger
        budget never gives a smaller tile.
    """
    if h < 1 or w < 1:
        raise ValueError(f"image size must be positive, got {h}x{w}")
    if bytes_per_pixel <= 0:
        raise ValueError(f"bytes_per_pixel must be positive, got {bytes_per_pixel}")
    if multiple < 1 or min_tile < 1:
        raise ValueError(f"multiple and min_tile must be positive, got {multiple}, {min_tile}")
    if h * w * bytes_per_pixel <= budget_bytes:
        return None
    side = math.isqrt(int(max(budget_bytes - fixed_bytes, 0) // bytes_per_pixel))
    side = (side // multiple) * multiple
    floor = -(-min_tile // multiple) * multiple
    return max(side, floor)
