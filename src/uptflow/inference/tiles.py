"""Memory-bounded tiled inference with seam-hiding blending.

Large photos do not fit in memory in one forward pass, so :func:`run_tiled` runs a function over
overlapping tiles and blends the results.  Tiling is not free for this network: its attention and
pooling layers see the whole input, so a tile's output differs from the same region of a
whole-image pass — a lot unless the tiles share the image's pooled statistics
(:mod:`uptflow.inference.shared_stats`, using :func:`core_windows`), and then still slightly near the
tile's cut edges.  Blending weights therefore fall to 0 at every
edge that was cut (and stay 1 at real image borders), so each output pixel is dominated by the
tile that saw it with most context, and the transitions between tiles are smooth.

Exactness (tested): with ``overlap >= 2`` the outermost pixel of every cut edge gets weight 0 and
every pixel keeps a positive total weight, so

- any pointwise ``fn`` (identity, ``x**2``, colour transforms) is reproduced exactly (up to
  float rounding), and
- any local ``fn`` of radius 1 (e.g. a 3x3 filter with replicate padding) is reproduced exactly:
  its only wrong tile pixels are on the outermost row/column of a cut edge, and those have weight 0.
  Wider operators (radius ``r > 1``) differ only within ``r - 1`` pixels inward of the 0-weight
  edge, i.e. in overlap zones.

Memory: besides ``fn``'s own use, :func:`run_tiled` keeps the full-size output accumulator
``(B, C, H, W)`` float32 and a ``(H, W)`` weight sum.  Call it under ``torch.no_grad()`` for
inference so tiles do not keep autograd graphs alive.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

__all__ = [
    "tile_windows",
    "core_windows",
    "blend_weight",
    "run_tiled",
]

Window = tuple[int, int, int, int]  # (y0, y1, x0, x1), half-open


def _axis_starts(n: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``min(tile, n)`` covering ``[0, n)``.

    Uses the fewest tiles whose step is at most ``tile - overlap``, spread evenly, so
    neighbours overlap by at least ``overlap`` and the last tile ends exactly at ``n``.
    """
    if n <= tile:
        return [0]
    stride = tile - overlap
    count = -(-(n - tile) // stride) + 1  # ceil((n - tile) / stride) + 1
    span = n - tile
    return [(i * span) // (count - 1) for i in range(count)]


def tile_windows(h: int, w: int, tile: int, overlap: int) -> list[Window]:
    """Overlapping windows ``(y0, y1, x0, x1)`` (half-open) covering an ``h x w`` image.

    Every window is ``min(tile, h) x min(tile, w)``; neighbours overlap by at least ``overlap``
    pixels (often a little more, since the spare length is spread evenly); the last window in
    each direction is flush with the border.  Row-major order.

    Raises:
        ValueError: non-positive sizes, negative overlap, or ``overlap >= tile``.
    """
    _check_tiling(h, w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    return [
        (y0, y0 + th, x0, x0 + tw)
        for y0 in _axis_starts(h, tile, overlap)
        for x0 in _axis_starts(w, tile, overlap)
    ]


def _check_tiling(h: int, w: int, tile: int, overlap: int) -> None:
    if h < 1 or w < 1:
        raise ValueError(f"image size must be positive, got {h}x{w}")
    if tile < 1:
        raise ValueError(f"tile size must be positive, got {tile}")
    if overlap < 0 or overlap >= tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap} for tile={tile}")


def _axis_cores(n: int, starts: list[int], length: int) -> list[tuple[int, int]]:
    """Per tile along one axis (tiles of ``length`` at ``starts``), the half-open range it
    *owns*: neighbours split their overlap at its midpoint, so the ranges partition ``[0, n)``."""
    cuts = [0] + [(starts[i] + length + starts[i + 1]) // 2 for i in range(len(starts) - 1)] + [n]
    return [(cuts[i], cuts[i + 1]) for i in range(len(starts))]


def core_windows(h: int, w: int, tile: int, overlap: int) -> list[Window]:
    """The part of each window of :func:`tile_windows` (same order) that the tile owns, in the
    tile's own coordinates ``(y0, y1, x0, x1)``: the owned parts partition the image.  Used to
    pool image-level statistics over tiles with every pixel counted once."""
    _check_tiling(h, w, tile, overlap)
    ys, xs = _axis_starts(h, tile, overlap), _axis_starts(w, tile, overlap)
    return [
        (cy0 - y0, cy1 - y0, cx0 - x0, cx1 - x0)
        for y0, (cy0, cy1) in zip(ys, _axis_cores(h, ys, min(tile, h)))
        for x0, (cx0, cx1) in zip(xs, _axis_cores(w, xs, min(tile, w)))
    ]


def _ramp(n: int, overlap: int, rise: bool, fall: bool) -> torch.Tensor:
    """1-D weights of length ``n``: raised-cosine rise over the first ``overlap`` samples (if
    ``rise``) and fall over the last ``overlap`` (if ``fall``), 1 elsewhere.

    The ramp is ``0.5 - 0.5 cos(pi i / (overlap - 1))``, ``i = 0..overlap-1``: exactly 0 at the
    cut edge, exactly 1 where it ends, and a rise plus the mirrored fall sum to 1 sample-wise.
    """
    wt = torch.ones(n, dtype=torch.float64)
    k = min(overlap, n)
    if k <= 0:
        return wt
    if k == 1:
        r = torch.full((1,), 0.5, dtype=torch.float64)  # a 0 would leave the shared pixel unweighted
    else:
        r = 0.5 - 0.5 * torch.cos(math.pi * torch.arange(k, dtype=torch.float64) / (k - 1))
    if rise:
        wt[:k] *= r
    if fall:
        wt[n - k :] *= r.flip(0)
    return wt


def blend_weight(
    th: int,
    tw: int,
    overlap: int,
    at_top: bool,
    at_bottom: bool,
    at_left: bool,
    at_right: bool,
) -> torch.Tensor:
    """Blending weight ``(th, tw)`` float32 in ``[0, 1]`` for one tile.

    ``at_*`` say whether that side of the tile lies on the image border.  Sides on the border
    keep weight 1 (no neighbour to blend with); sides cut by tiling get a raised-cosine ramp over
    ``overlap`` pixels, 0 at the edge itself.  Separable: ``wy[:, None] * wx[None, :]``.
    """
    wy = _ramp(th, overlap, rise=not at_top, fall=not at_bottom)
    wx = _ramp(tw, overlap, rise=not at_left, fall=not at_right)
    return (wy[:, None] * wx[None, :]).to(torch.float32)


def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    tile: int | None,
    overlap: int,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply ``fn`` over overlapping tiles of ``image`` and blend the outputs.

    Args:
        fn: maps a ``(B, 3, h, w)`` tile to ``(B, C, h, w)`` (same spatial size).  It must handle
            any ``h, w`` it is given (e.g. pad to a multiple of 8 itself): tiles are ``tile``
            pixels, but an image side shorter than ``tile`` is passed whole.
        image: ``(B, 3, H, W)`` in ``[0, 1]``.
        tile: tile side in pixels, or ``None`` for no tiling.  If ``H <= tile`` and ``W <= tile``
            ``fn`` is called once on the whole image.
        overlap: minimum overlap between neighbouring tiles (``>= 2`` for the exactness
            properties in the module docstring; ``0 <= overlap < tile``).
        progress: optional ``progress(done, total)`` called after each tile.

    Returns:
        ``(B, C, H, W)`` on ``image``'s device: the weight-normalised blend in float32, or
        ``fn(image)`` itself when no tiling was needed.

    Raises:
        ValueError: wrong ``image`` rank, bad tile/overlap, or ``fn`` output of the wrong shape.
    """
    if image.ndim != 4:
        raise ValueError(f"run_tiled expects a (B,3,H,W) tensor, got shape {tuple(image.shape)}")
    b, _, h, w = image.shape
    if tile is None or (h <= tile and w <= tile):
        out = fn(image)
        if progress is not None:
            progress(1, 1)
        return out
    windows = tile_windows(h, w, tile, overlap)
    acc: torch.Tensor | None = None
    wsum = torch.zeros(h, w, dtype=torch.float32, device=image.device)
    for i, (y0, y1, x0, x1) in enumerate(windows, start=1):
        y = fn(image[:, :, y0:y1, x0:x1])
        if y.ndim != 4 or y.shape[0] != b or tuple(y.shape[2:]) != (y1 - y0, x1 - x0):
            raise ValueError(
                f"tile function returned shape {tuple(y.shape)} for a tile of shape "
                f"{(b, image.shape[1], y1 - y0, x1 - x0)}; expected (B, C, {y1 - y0}, {x1 - x0})"
            )
        if acc is None:
            acc = torch.zeros(b, y.shape[1], h, w, dtype=torch.float32, device=image.device)
        wt = blend_weight(
            y1 - y0, x1 - x0, overlap, at_top=y0 == 0, at_bottom=y1 == h, at_left=x0 == 0, at_right=x1 == w
        ).to(image.device)
        acc[:, :, y0:y1, x0:x1] += y.to(torch.float32) * wt
        wsum[y0:y1, x0:x1] += wt
        if progress is not None:
            progress(i, len(windows))
    assert acc is not None  # at least one window always exists
    return acc.div_(wsum)  # in place: one image-sized buffer less
