"""Image-level pooled statistics, recorded once and shared by every tile of a tiled run.

UPT-Flow has three kinds of layer that look at the *whole* input: the R-branch's channel
attention (a C x C map from ``q k^T`` summed over all pixels), the U-branch's ECA (a global
average pool) and the coupling sub-networks' CBAM channel gate (global average and max pools).
A tile run alone computes them from the tile, so its colours and brightness drift from the
whole-image result (several dB with the trained model).  This module lets those layers take
their statistics from elsewhere:

- **record**: every pooling layer adds its statistic, summed over the pixels of the current
  *core* region (the tile's share of a partition of the image; ``None`` = the whole map), into an
  accumulator keyed by (layer, call number within the pass);
- **replay**: every pooling layer uses a given statistic instead of pooling its own input.

Both can be on at once: a pass that replays estimates ``S_k`` while recording from the features
those estimates produce yields ``S_{k+1}``.  :func:`uptflow.inference.shared_stats.enhance_tiled` starts
from a sub-sampled whole-image pass and refines once over the tiles (``benchmarks/tiling_quality.py``).

Nothing changes while no :class:`PooledStats` is active (:func:`active` returns ``None``): the
layers pool their own input, as in training and in a whole-image pass.  Inference only.
"""

from __future__ import annotations

import math
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from uptflow.scoped import scoped

__all__ = ["PooledStats", "active", "use", "pooled_mean", "pooled_mean_rows", "pooled_max", "Key"]

Key = tuple[int, str, int, str]  # (module id, statistic name, call number in the pass, "sum" | "max")

#: The statistics of the current context.  A context variable, not a module global: a tiled
#: enhancement in one thread must not replay its statistics into a whole-image pass in another.
_active: "ContextVar[PooledStats | None]" = ContextVar("uptflow_pooled_stats", default=None)


class PooledStats:
    """Accumulates (``record=True``) and/or supplies (``replay``) per-layer pooled statistics.

    Statistics are stored as *means* over the recorded pixels (max-pools as maxima), so they do
    not depend on the image size: a downscaled pass can supply a full-size one.  Keys are tied to
    module identity, so a recording only replays into the same model object.

    Args:
        replay: ``{key: tensor}`` from :meth:`finalize` of an earlier recording, or ``None``.
        record: accumulate the statistics this pass computes.
    """

    def __init__(self, replay: dict[Key, torch.Tensor] | None = None, record: bool = False) -> None:
        self.replay = replay
        self.record = record
        self._sums: dict[Key, list] = {}  # key -> [sum tensor, pixel count]
        self._maxes: dict[Key, torch.Tensor] = {}
        if record and replay is not None:
            # Accumulators for every known statistic, allocated now rather than between the
            # pass's large activations: small long-lived blocks in the middle of the heap keep
            # glibc from reusing it (measured: +0.5 GB peak RSS on a 680 px paper-lol tile).
            for k, v in replay.items():
                if k[3] == "max":
                    self._maxes[k] = torch.full_like(v, float("-inf"))
                else:
                    self._sums[k] = [torch.zeros_like(v, dtype=torch.float64), 0.0]
        self._calls: Counter = Counter()
        self._core: tuple[int, int, int, int] | None = None
        self._frame: tuple[int, int] | None = None

    def begin(self, core: tuple[int, int, int, int] | None = None, frame: tuple[int, int] | None = None) -> None:
        """Start a forward pass (one tile).

        Args:
            core: ``(y0, y1, x0, x1)`` half-open rows/columns of the network input this pass
                records (the tile's own part of the image), or ``None`` for all of it.
            frame: ``(H, W)`` of the network input (after padding); a feature map of size
                ``(h, w)`` maps ``core`` to ``round(core * h / H)`` etc.  Needed with ``core``.
        """
        if core is not None and frame is None:
            raise ValueError("a core region needs the frame (network input size) it refers to")
        self._core, self._frame = core, frame
        self._calls.clear()

    def site(self, module: nn.Module, name: str, kind: str = "sum") -> Key:
        """The key of this call: module, statistic name, how often it was asked this pass, and
        whether it is a ``"sum"`` (stored as a mean) or a ``"max"``."""
        k = (id(module), name)
        n = self._calls[k]
        self._calls[k] += 1
        return (k[0], name, n, kind)

    def core_box(self, h: int, w: int) -> tuple[int, int, int, int] | None:
        """Rows and columns ``(r0, r1, c0, c1)`` (half-open, never empty) of the core region on an
        ``(h, w)`` feature map, or ``None`` if every pixel counts.  A box, not a mask: the
        recorders slice it, so recording copies nothing at full resolution."""
        if self._core is None:
            return None
        assert self._frame is not None
        y0, y1, x0, x1 = self._core
        fh, fw = self._frame
        r0, r1 = _scaled(y0, h, fh), _scaled(y1, h, fh)
        c0, c1 = _scaled(x0, w, fw), _scaled(x1, w, fw)
        r0, c0 = min(r0, h - 1), min(c0, w - 1)
        return r0, max(r1, r0 + 1), c0, max(c1, c0 + 1)

    def add_sum(self, key: Key, total: torch.Tensor, count: float) -> None:
        """Add a statistic summed over ``count`` pixels."""
        total = total.detach().to(torch.float64)
        if key in self._sums:
            self._sums[key][0] += total
            self._sums[key][1] += float(count)
        else:
            self._sums[key] = [total.clone(), float(count)]

    def add_max(self, key: Key, value: torch.Tensor) -> None:
        """Fold a maximum into the running maximum."""
        value = value.detach()
        if key in self._maxes:
            torch.maximum(self._maxes[key], value, out=self._maxes[key])
        else:
            self._maxes[key] = value.clone()

    def replayed(self, key: Key, like: torch.Tensor) -> torch.Tensor | None:
        """The replayed statistic for ``key`` in ``like``'s dtype/device, or ``None``."""
        if self.replay is None or key not in self.replay:
            return None
        return self.replay[key].to(device=like.device, dtype=like.dtype)

    def finalize(self) -> dict[Key, torch.Tensor]:
        """``{key: mean}`` for summed statistics and ``{key: max}`` for maxima (float32)."""
        out = {k: (s / max(n, 1e-12)).to(torch.float32) for k, (s, n) in self._sums.items()}
        out.update({k: v.to(torch.float32) for k, v in self._maxes.items()})
        return out


def _scaled(v: int, size: int, frame: int) -> int:
    """``v * size / frame`` rounded half up (the same way for every tile)."""
    return math.floor(v * size / frame + 0.5)


def active() -> PooledStats | None:
    """The :class:`PooledStats` the pooling layers use now, or ``None`` (pool own input)."""
    return _active.get()


@contextmanager
def use(stats: PooledStats | None) -> Iterator[PooledStats | None]:
    """Make ``stats`` active inside the block, for this thread / context only (``None``:
    layers pool their own input)."""
    with scoped(_active, stats):
        yield stats


def pooled_mean(module: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """Global average pool ``(B, C, H, W) -> (B, C)``, recorded / replayed when a
    :class:`PooledStats` is active."""
    return _pooled_mean(module, name, x.shape[-2], x.shape[-1],
                        lambda r0, r1, c0, c1: x[:, :, r0:r1, c0:c1].sum(dim=(2, 3)),  # no float64 copy of x
                        lambda: x.mean(dim=(2, 3)), x)


def pooled_mean_rows(module: nn.Module, name: str, rows: Sequence[tuple[int, int, torch.Tensor]],
                     h: int, w: int) -> torch.Tensor:
    """:func:`pooled_mean` of the (B, C, h, w) map whose rows ``r0:r1`` are each strip ``y`` of
    ``rows`` ((r0, r1, y) in row order, together covering the map), without assembling the map.

    Why: a feed-forward whose output is only needed scaled by its own global mean (ECA) can keep
    its strips and add them one by one, instead of copying them into a fresh full-size map first
    (issue 18).  The mean is the strips' sums over the pixel count (the same as the assembled
    map's mean up to float summation order)."""
    def box_sum(r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
        total = None
        for a, e, y in rows:
            lo, hi = max(a, r0), min(e, r1)
            if lo < hi:
                part = y[:, :, lo - a:hi - a, c0:c1].sum(dim=(2, 3))
                total = part if total is None else total + part
        assert total is not None, "the strips do not cover the box"
        return total

    return _pooled_mean(module, name, h, w, box_sum, lambda: box_sum(0, h, 0, w) / (h * w), rows[0][2])


def _pooled_mean(module: nn.Module, name: str, h: int, w: int,
                 box_sum: Callable[[int, int, int, int], torch.Tensor],
                 mean: Callable[[], torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """The record / replay sequence of a global average pool of an (h, w) map: ``box_sum(r0, r1,
    c0, c1)`` sums its rows r0:r1 and columns c0:c1 over pixels (B, C), ``mean()`` is the pool of
    the whole map; ``like`` gives a replayed statistic its dtype and device."""
    st = _active.get()
    if st is None:
        return mean()
    key = st.site(module, name)
    if st.record:
        r0, r1, c0, c1 = st.core_box(h, w) or (0, h, 0, w)
        st.add_sum(key, box_sum(r0, r1, c0, c1), (r1 - r0) * (c1 - c0))
    r = st.replayed(key, like)
    return mean() if r is None else r


def pooled_max(module: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """Global max pool ``(B, C, H, W) -> (B, C)``, recorded / replayed like :func:`pooled_mean`."""
    st = _active.get()
    if st is None:
        return x.amax(dim=(2, 3))
    key = st.site(module, name, "max")
    if st.record:
        r0, r1, c0, c1 = st.core_box(x.shape[-2], x.shape[-1]) or (0, x.shape[-2], 0, x.shape[-1])
        st.add_max(key, x[:, :, r0:r1, c0:c1].amax(dim=(2, 3)))
    r = st.replayed(key, x)
    return x.amax(dim=(2, 3)) if r is None else r
