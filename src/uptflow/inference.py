"""Inference helpers: bounded allocator caching, measured memory per pixel, memory-bounded enhance.

The network's own inference path is already the fast one (channels-last encoder, fused
LayerNorm, strip-wise feed-forwards and band-wise window attention, see ``uptflow.nets``).
What is left here is process-level: glibc keeps freed large blocks in its heap, which on this
network makes the peak RSS ~1.5x the peak of live tensors, and a per-pixel memory estimate so
callers can tile images that would not fit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import torch

from uptflow.config import UPTFlowConfig

__all__ = ["limit_allocator_caching", "trim_heap", "bytes_per_pixel", "BYTES_PER_PIXEL_PER_WIDTH", "enhance_bounded"]

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter ids (malloc.h)

#: Peak inference memory per input pixel divided by the encoder width ``C`` (float32, batch 1,
#: CPU, default allocator).  Measured with ``python benchmarks/inference_memory.py`` (slope of the
#: peak RSS between two input sizes, fresh process each).  See docs/DEVELOPMENT.md for the
#: figures; the constant is their upper envelope, so the estimate errs on the safe side.
BYTES_PER_PIXEL_PER_WIDTH = 80.0


def limit_allocator_caching(threshold_bytes: int = 1 << 20) -> bool:
    """Serve allocations >= ``threshold_bytes`` by mmap so freed activations go back to the OS.

    glibc raises its mmap threshold dynamically after large frees and then keeps freed
    activation buffers in the heap; on this network that adds ~50 % to the peak RSS.  Pinning
    the threshold (as ``MALLOC_MMAP_THRESHOLD_`` would) is process-wide, so it is opt-in: call
    it once at the start of an inference program.  Returns False where glibc is not available.
    """
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt(_M_MMAP_THRESHOLD, int(threshold_bytes))) if mallopt is not None else False


def trim_heap() -> bool:
    """Give the heap's free pages back to the OS now (glibc ``malloc_trim(0)``; False elsewhere).

    Cheap (milliseconds).  Called between tiles: each tile frees all of its activations, and
    without a trim glibc keeps that memory and fragments it, so the process's peak RSS drifts up
    tile after tile.
    """
    malloc_trim = getattr(_libc(), "malloc_trim", None)
    return bool(malloc_trim(0)) if malloc_trim is not None else False


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once (``None`` where it cannot be found or loaded)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def bytes_per_pixel(config: UPTFlowConfig) -> float:
    """Estimated peak memory of one enhancement pass per input pixel (bytes) for ``config``.

    Proportional to the width ``C``: the full-resolution ``C``/``2C``-channel maps dominate the
    peak.  Used to decide when and how finely to tile (CLI, API, :func:`enhance_bounded`).
    """
    return BYTES_PER_PIXEL_PER_WIDTH * float(config.width)


def enhance_bounded(model, low: torch.Tensor, budget_bytes: int, overlap: int = 32,
                    temperature: float = 0.0) -> torch.Tensor:
    """``model.enhance(low)`` whole if it fits in ``budget_bytes``, else tiled to fit.

    low: (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1].  Tiles share the whole image's
    pooled statistics (:func:`uptflow.tiled_enhance.enhance_tiled`), so a tiled result stays
    close to a whole-image one.
    """
    from uptflow.tiled_enhance import enhance_tiled
    from uptflow.tiling import auto_tile_size

    if not isinstance(low, torch.Tensor) or low.dim() != 4:
        raise ValueError(f"low must be a (B, 3, H, W) tensor, got {getattr(low, 'shape', type(low))}")
    h, w = low.shape[-2:]
    tile = auto_tile_size(h, w, bytes_per_pixel(model.config), int(budget_bytes))
    if tile is None:
        with torch.no_grad():
            return model.enhance(low, temperature)
    return enhance_tiled(model, low, tile, min(overlap, tile - 1), temperature)
