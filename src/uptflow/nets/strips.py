"""Row-strip evaluation of local sub-networks, to bound inference memory.

The feed-forward parts of MSFormer (1x1 conv -> 3x3 depth-wise conv -> 1x1 conv) widen the
features 4-5x at full resolution; on a whole 400x600 image those hidden maps dominate the peak
memory.  They are *local* (each output pixel depends on a (2r+1)-row neighbourhood), so running
them over horizontal strips with ``r`` halo rows gives exactly the same numbers per pixel while
only one strip's hidden maps exist at a time.  Used only without autograd (inference); with
gradients enabled the whole map is processed at once, so training is unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F

from uptflow.scoped import scoped

#: Pixels per strip by default (rows = this // width, at least ``_MIN_ROWS``).
DEFAULT_STRIP_PIXELS = 1 << 12
_MIN_ROWS = 16

#: The strip size of the current context (``None`` disables strips).  A context variable, not a
#: module global, so one thread (or asyncio task) changing it never affects another's pass.
_strip_pixels: ContextVar[int | None] = ContextVar("uptflow_strip_pixels", default=DEFAULT_STRIP_PIXELS)


def strip_pixels() -> int | None:
    """The current strip size in pixels (``None``: strips disabled)."""
    return _strip_pixels.get()


@contextmanager
def strip_size(pixels: int | None) -> Iterator[None]:
    """Set the strip size in pixels inside the block, for this thread / context only
    (``None`` = whole map at once, the reference)."""
    if pixels is not None and int(pixels) < 1:
        raise ValueError(f"strip size must be a positive number of pixels or None, got {pixels}")
    with scoped(_strip_pixels, None if pixels is None else int(pixels)):
        yield


def strip_bounds(h: int, w: int, radius: int) -> list[tuple[int, int, int, int]] | None:
    """Row strips of an (h, w) map for a local op of vertical radius ``radius``.

    Returns ``[(r0, r1, a0, a1), ...]``: output rows ``r0:r1`` are computed from input rows
    ``a0:a1`` (the strip plus up to ``radius`` halo rows each side), or ``None`` when the map
    should be processed whole (strips disabled, autograd on, or the map fits in one strip).
    """
    pixels = _strip_pixels.get()
    if pixels is None or torch.is_grad_enabled():
        return None
    rows = max(_MIN_ROWS, pixels // max(w, 1), radius + 1)
    if rows >= h:
        return None
    return [(r0, min(r0 + rows, h), max(r0 - radius, 0), min(r0 + rows + radius, h)) for r0 in range(0, h, rows)]


def conv3x3_rows(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, lo: int = 0,
                 hi: int | None = None, groups: int = 1) -> torch.Tensor:
    """Rows ``lo:hi`` (``hi`` None: to the end) of ``F.conv2d(x, weight, bias, padding=1,
    groups=groups)`` for a 3x3 ``weight`` and a slab ``x`` (B, C, h, W): (B, C', hi - lo, W).

    When the slab holds a real row above and below the wanted ones (an interior strip with its
    halo: ``lo == 1``, ``hi == h - 1``) the convolution runs without vertical padding, so it
    computes exactly the wanted rows; padded and cropped it also computed the two halo rows'
    outputs and dropped them (2 of 18 rows of a 16-row strip: the depth-wise convolutions of a
    level-1 strip ran 8-15 % faster without them, one-off timing, issue 18).  Same values.
    """
    hi = x.shape[-2] if hi is None else hi
    if lo == 1 and hi == x.shape[-2] - 1:
        return F.conv2d(x, weight, bias, padding=(0, 1), groups=groups)
    return F.conv2d(x, weight, bias, padding=1, groups=groups)[:, :, lo:hi]


def empty_like_layout(x: torch.Tensor, channels: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """An uninitialised (B, ``channels``, H, W) tensor in ``x``'s memory format (channels-last or not)."""
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) \
        and not x.is_contiguous() else torch.contiguous_format
    b, _, h, w = x.shape
    return torch.empty((b, channels, h, w), dtype=dtype or x.dtype, device=x.device, memory_format=fmt)


def strip_map(fn: Callable[[torch.Tensor, int, int], torch.Tensor], x: torch.Tensor, radius: int) -> torch.Tensor:
    """A local op ``fn`` of vertical radius ``radius`` over ``x``, strip by strip when inferring.

    ``fn(slab, lo, hi)`` returns rows ``lo:hi`` of its result on ``slab`` (B, C, h, W) -> (B, C',
    hi - lo, W), with zero padding at the slab's top/bottom border (like a 'same' conv); it must
    be local: output row ``i`` depends only on input rows ``i-r..i+r``.  Each strip is evaluated
    with up to ``r`` real neighbouring rows above and below, and ``fn`` is asked for the strip's
    own rows only, so interior strip edges see true data and the image borders see the same zero
    padding as in one whole pass.  Handing ``lo:hi`` to ``fn`` lets it drop the halo rows as soon
    as its spatial op has used them and skip the per-pixel work after it (e.g. a feed-forward's
    output projection) on rows that would be cut off anyway.  The whole-map path calls
    ``fn(x, 0, h)``.  Output has ``x``'s memory format.
    """
    return _over_strips(fn, x, radius, add=False)


def strip_add_(fn: Callable[[torch.Tensor, int, int], torch.Tensor], x: torch.Tensor, radius: int) -> torch.Tensor:
    """``x += op(x)`` in place, for the local op of :func:`strip_map` (same ``fn`` contract).

    Inference only (the caller owns ``x`` and autograd is off).  The residual is added strip by
    strip, so no full-size output map is ever allocated: a map the size of ``x`` less at the
    peak, and, for maps above glibc's mmap threshold (32 MiB: a 400x600 level-1 map is 88 MiB),
    no fresh pages to fault in and zero per block (issue 18).  Same numbers as
    ``x.add_(strip_map(fn, x, radius))``.
    """
    return _over_strips(fn, x, radius, add=True)


def _over_strips(fn: Callable[[torch.Tensor, int, int], torch.Tensor], x: torch.Tensor, radius: int,
                 add: bool) -> torch.Tensor:
    """:func:`strip_map` (``add`` False) or :func:`strip_add_` (``add`` True)."""
    bounds = strip_bounds(x.shape[-2], x.shape[-1], radius) if x.dim() == 4 else None
    if bounds is None:
        y = fn(x, 0, x.shape[-2])
        return x.add_(y) if add else y
    return write_strips(strip_results(fn, x, bounds), x, add=add)


def strip_results(fn: Callable[[torch.Tensor, int, int], torch.Tensor], x: torch.Tensor,
                  bounds: list[tuple[int, int, int, int]]) -> Iterator[tuple[int, int, torch.Tensor]]:
    """``(r0, r1, y)`` for each strip of ``bounds`` (:func:`strip_bounds`): ``y`` is ``fn`` (the
    contract of :func:`strip_map`) on the strip with its halo rows, computed when asked for."""
    return ((r0, r1, fn(x[:, :, a0:a1], r0 - a0, r1 - a0)) for r0, r1, a0, a1 in bounds)


def write_strips(strips: Iterable[tuple[int, int, torch.Tensor]], x: torch.Tensor, add: bool = False) -> torch.Tensor:
    """Collect strip results ``(r0, r1, y)``, computed lazily and in row order from ``x``.

    Without ``add``: a fresh (B, C', H, W) map in ``x``'s memory format holding each ``y`` at
    rows ``r0:r1``.  With ``add``: each ``y`` is added into ``x[:, :, r0:r1]`` in place, *one
    strip late* -- the next strip still reads up to ``radius`` halo rows of this strip's input,
    and strips are at least ``radius + 1`` rows high (:func:`strip_bounds`), so by the time strip
    ``k`` is written no later strip reads its rows.  Returns the map, or ``x``.
    """
    out: torch.Tensor | None = None
    pending: tuple[int, int, torch.Tensor] | None = None
    for r0, r1, y in strips:  # y of the next strip is computed when the loop asks for it
        if add:
            if pending is not None:
                x[:, :, pending[0]:pending[1]].add_(pending[2])
            pending = (r0, r1, y)
            continue
        if out is None:
            out = empty_like_layout(x, y.shape[1], y.dtype)
        out[:, :, r0:r1] = y
    if add:
        if pending is not None:
            x[:, :, pending[0]:pending[1]].add_(pending[2])
        return x
    assert out is not None
    return out
