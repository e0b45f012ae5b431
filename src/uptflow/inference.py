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

import torch

from uptflow.config import UPTFlowConfig, presets

__all__ = ["limit_allocator_caching", "bytes_per_pixel", "MEASURED_BYTES_PER_PIXEL", "enhance_bounded"]

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter ids (malloc.h)

#: Peak RSS growth per input pixel of ``UPTFlow.enhance`` (float32, CPU, 2 threads, with
#: :func:`limit_allocator_caching`), measured with ``benchmarks/speed.py --tile none`` at
#: 400x600 as (peak RSS - RSS before the first run) / pixels: paper-lol 5.90 KiB, small
#: 2.06 KiB (at 256x256 the per-pixel figures are higher, 7.20 and 3.25 KiB, because fixed
#: costs weigh more).  ``paper`` (window 8) was not measured; it uses paper-lol's figure.
MEASURED_BYTES_PER_PIXEL: dict[str, float] = {
    "paper-lol": 5.90 * 1024,
    "paper": 5.90 * 1024,
    "small": 2.06 * 1024,
}


def limit_allocator_caching(threshold_bytes: int = 1 << 20) -> bool:
    """Serve allocations >= ``threshold_bytes`` by mmap so freed activations go back to the OS.

    glibc raises its mmap threshold dynamically after large frees and then keeps freed
    activation buffers in the heap; on this network that adds ~50 % to the peak RSS.  Pinning
    the threshold (as ``MALLOC_MMAP_THRESHOLD_`` would) is process-wide, so it is opt-in: call
    it once at the start of an inference program.  Returns False where glibc is not available.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold_bytes)))
    except (OSError, AttributeError):
        return False


def bytes_per_pixel(config: UPTFlowConfig) -> float:
    """Estimated peak inference memory per input pixel for ``config`` (bytes).

    Exact presets use :data:`MEASURED_BYTES_PER_PIXEL`; other configs scale the nearest
    measurement (``paper-lol`` for width >= 32, else ``small``) linearly with the width, the
    channel count of the full-resolution maps that dominate the peak.
    """
    for name, cfg in presets.items():
        if cfg == config and name in MEASURED_BYTES_PER_PIXEL:
            return MEASURED_BYTES_PER_PIXEL[name]
    ref = "paper-lol" if config.width >= 32 else "small"
    return MEASURED_BYTES_PER_PIXEL[ref] * config.width / presets[ref].width


def enhance_bounded(model, low: torch.Tensor, budget_bytes: int, overlap: int = 32,
                    temperature: float = 0.0) -> torch.Tensor:
    """``model.enhance(low)`` whole if it fits in ``budget_bytes``, else tiled to fit.

    low: (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1].  Tiles are blended by
    :func:`uptflow.tiling.run_tiled`; a tiled result differs slightly from a whole-image one
    (the encoder's channel attention and pooling see the whole input).
    """
    from uptflow.tiling import auto_tile_size, run_tiled

    if not isinstance(low, torch.Tensor) or low.dim() != 4:
        raise ValueError(f"low must be a (B, 3, H, W) tensor, got {getattr(low, 'shape', type(low))}")
    h, w = low.shape[-2:]
    tile = auto_tile_size(h, w, bytes_per_pixel(model.config), int(budget_bytes))
    with torch.no_grad():
        return run_tiled(lambda t: model.enhance(t, temperature), low, tile, overlap)
