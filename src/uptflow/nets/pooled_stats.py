"""Image-level pooled statistics, recorded once and shared by every tile of a tiled run.

UPT-Flow has three kinds of layer that look at the *whole* input: the R-branch's channel
attention (a C x C map from ``q k^T`` summed over all pixels), the U-branch's ECA (a global
average pool) and the coupling sub-networks' CBAM channel gate (global average and max pools).
A tile run alone computes them from the tile, so its colours and brightness drift from the
whole-image result (several dB with the trained model).  This module lets those layers take
their statistics from elsewhere:

- **record**: every pooling layer adds its statistic, summed over the pixels of the current
  *core* region (the part of a tile that no other tile owns; ``None`` = the whole map), into an
  accumulator keyed by (layer, call number within the pass);
- **replay**: every pooling layer uses a given statistic instead of pooling its own input.

Both can be on at once: a pass that replays estimates ``S_k`` while recording from the features
those estimates produce yields ``S_{k+1}``.  :func:`uptflow.api.enhance_tensor` starts from a
downscaled whole-image pass and refines once over the tiles (see ``benchmarks/tiling_quality.py``).

Nothing changes while no :class:`PooledStats` is active (:func:`active` returns ``None``): the
layers pool their own input, as in training and in a whole-image pass.  Inference only.
"""

from __future__ import annotations

import math
from collections import Counter
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

__all__ = ["PooledStats", "active", "use", "pooled_mean", "pooled_max", "Key"]

Key = tuple[int, str, int]  # (module id, statistic name, call number in the pass)

_active: "PooledStats | None" = None


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

    def site(self, module: nn.Module, name: str) -> Key:
        """The key of this call: module, statistic name and how often it was asked this pass."""
        k = (id(module), name)
        n = self._calls[k]
        self._calls[k] += 1
        return (k[0], name, n)

    def core_mask(self, h: int, w: int, device: torch.device) -> torch.Tensor | None:
        """``(h, w)`` float mask (1 inside the core region) for an ``(h, w)`` feature map, or
        ``None`` if every pixel counts."""
        if self._core is None:
            return None
        assert self._frame is not None
        y0, y1, x0, x1 = self._core
        fh, fw = self._frame
        r0, r1 = _scaled(y0, h, fh), _scaled(y1, h, fh)
        c0, c1 = _scaled(x0, w, fw), _scaled(x1, w, fw)
        m = torch.zeros(h, w, device=device)
        m[r0:max(r1, r0 + 1), c0:max(c1, c0 + 1)] = 1.0  # never empty, even on a coarse map
        return m

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
        self._maxes[key] = value.clone() if key not in self._maxes else torch.maximum(self._maxes[key], value)

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
    return _active


@contextmanager
def use(stats: PooledStats | None) -> Iterator[PooledStats | None]:
    """Make ``stats`` active inside the block (``None``: layers pool their own input)."""
    global _active
    old, _active = _active, stats
    try:
        yield stats
    finally:
        _active = old


def pooled_mean(module: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """Global average pool ``(B, C, H, W) -> (B, C)``, recorded / replayed when a
    :class:`PooledStats` is active."""
    st = _active
    if st is None:
        return x.mean(dim=(2, 3))
    key = st.site(module, name)
    if st.record:
        m = st.core_mask(x.shape[-2], x.shape[-1], x.device)
        if m is None:
            st.add_sum(key, x.sum(dim=(2, 3), dtype=torch.float64), x.shape[-2] * x.shape[-1])
        else:
            st.add_sum(key, torch.einsum("bchw,hw->bc", x, m.to(x.dtype)), float(m.sum()))
    r = st.replayed(key, x)
    return x.mean(dim=(2, 3)) if r is None else r


def pooled_max(module: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """Global max pool ``(B, C, H, W) -> (B, C)``, recorded / replayed like :func:`pooled_mean`."""
    st = _active
    if st is None:
        return x.amax(dim=(2, 3))
    key = st.site(module, name)
    if st.record:
        m = st.core_mask(x.shape[-2], x.shape[-1], x.device)
        xm = x if m is None else x.masked_fill(m == 0, float("-inf"))
        st.add_max(key, xm.amax(dim=(2, 3)))
    r = st.replayed(key, x)
    return x.amax(dim=(2, 3)) if r is None else r
