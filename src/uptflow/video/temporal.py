"""Temporal stability for frame-by-frame enhancement: shared statistics, scene cuts, denoising.

Why frames flicker: UPT-Flow's channel attention (``q k^T`` and the q/k norms), ECA means and
CBAM avg/max pools summarise the *whole* input; with fresh sensor noise in every frame these
summaries — CBAM's max most of all — move a little, and the tone of the whole frame moves with
them.  On top of that the network passes part of each frame's noise through, and that noise is
new in every frame.  Three small pieces address this:

- :class:`StatsEMA`: an exponential moving average of every pooled statistic
  (:mod:`uptflow.nets.pooled_stats`).  Each frame *records* its statistics while *replaying* the
  average of the previous ones, so the tone follows the scene slowly instead of the noise.
- :class:`SceneCutDetector`: resets the average (and the denoiser) when the picture changes
  completely, so a cut does not inherit the old shot's statistics.  It compares 32x18 luma
  thumbnails (area averages: the noise averages out) relative to their brightness.
- :class:`TemporalDenoiser`: a motion-adaptive recursive filter on the *output*:
  ``out_t = out_{t-1} + a * (y_t - out_{t-1})`` with ``a`` near ``min_weight`` where the locally
  averaged difference is at the noise level (a static pixel: average it over time) and ``a = 1``
  where it is well above (motion: take the new frame, no ghosting).  The noise level is the
  median of the difference map (most of a surveillance frame is static), tracked over time so a
  camera pan (everything moves at once) is seen as motion, not as noise.

All tensors are ``(1, 3, H, W)`` float32 in ``[0, 1]``.  State is a few frames' worth of pixels
at most (memory does not depend on the clip length).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from uptflow.io.pixels import luma_bt601

__all__ = ["StatsEMA", "SceneCutDetector", "TemporalDenoiser"]


class StatsEMA:
    """Exponential moving average of pooled statistics ``{key: tensor}``.

    ``value`` is ``None`` until the first :meth:`update` (then a frame pools its own input).
    ``momentum`` in ``[0, 1)``: weight of the past (0 = no sharing; 0.8 ~ the last 5 frames).
    """

    def __init__(self, momentum: float = 0.8) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"statistics momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self.value: dict | None = None

    def update(self, recorded: dict) -> None:
        """Fold one frame's statistics in; keys that are new (or change shape) start fresh."""
        if not recorded:
            return
        if self.value is None or self.momentum == 0.0:
            self.value = {k: v.clone() for k, v in recorded.items()}
            return
        m = self.momentum
        merged = {}
        for k, v in recorded.items():
            old = self.value.get(k)
            merged[k] = v.clone() if old is None or old.shape != v.shape else old * m + v * (1.0 - m)
        self.value = merged

    def reset(self) -> None:
        self.value = None


def _thumbnail(x: torch.Tensor) -> torch.Tensor:
    """``(1, 3, H, W)`` -> ``(18, 32)`` luma area averages (float32)."""
    luma = luma_bt601(x.float(), channel_axis=1).unsqueeze(1)
    return F.adaptive_avg_pool2d(luma, (18, 32))[0, 0]


class SceneCutDetector:
    """Flags a frame whose thumbnail differs from the previous one by more than ``threshold``.

    Distance = mean |thumb_t - thumb_{t-1}| / max(mean thumb_t, mean thumb_{t-1}): relative, so a
    dark clip and a bright clip behave alike; a moving object covering a tenth of the picture
    stays well under the default 0.35, a cut to another shot or lights switched on goes over it.
    """

    def __init__(self, threshold: float = 0.35) -> None:
        if threshold <= 0:
            raise ValueError(f"scene-cut threshold must be > 0, got {threshold}")
        self.threshold = threshold
        self._prev: torch.Tensor | None = None
        self.last_distance = 0.0

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> float:
        scale = max(float(a.mean()), float(b.mean()), 1e-3)
        return float((a - b).abs().mean()) / scale

    def __call__(self, low: torch.Tensor) -> bool:
        """``True`` if ``low`` starts a new scene (the first frame does not count as a cut)."""
        thumb = _thumbnail(low)
        prev, self._prev = self._prev, thumb
        if prev is None or prev.shape != thumb.shape:
            self.last_distance = 0.0
            return False
        self.last_distance = self.distance(thumb, prev)
        return self.last_distance > self.threshold

    def reset(self) -> None:
        self._prev = None


class TemporalDenoiser:
    """Motion-adaptive recursive filter on enhanced frames (see the module docstring).

    Args:
        min_weight: weight of the new frame on static pixels, in ``(0, 1]`` (1 = off; 0.25
            averages about the last 7 frames: noise std x ~0.38 on static pixels).
        window: side of the box filter that averages the difference before the motion test
            (odd; larger = fewer false "static" pixels from noise, coarser motion edges).
        low, high: the motion test in units of the noise level: a locally averaged difference
            below ``low`` x level is static (``min_weight``), above ``high`` x level is motion
            (weight 1), linear in between.
    """

    def __init__(self, min_weight: float = 0.25, window: int = 5, low: float = 2.0, high: float = 4.0) -> None:
        if not 0.0 < min_weight <= 1.0:
            raise ValueError(f"denoise weight must be in (0, 1], got {min_weight}")
        if window < 1 or window % 2 == 0:
            raise ValueError(f"denoise window must be an odd number >= 1, got {window}")
        if not 0 <= low < high:
            raise ValueError(f"need 0 <= low < high, got {low}, {high}")
        self.min_weight, self.window, self.low, self.high = float(min_weight), int(window), float(low), float(high)
        self._prev: torch.Tensor | None = None
        self._level: float | None = None
        #: share of pixels treated as static in the last frame (for diagnostics)
        self.static_share = 0.0

    def reset(self) -> None:
        self._prev, self._level = None, None

    def weight(self, y: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """``(1, 1, H, W)`` blend weight of the new frame ``y`` against the filtered ``prev``."""
        diff = y - prev
        k = self.window
        local = F.avg_pool2d(diff, k, stride=1, padding=k // 2, count_include_pad=False).abs().amax(dim=1, keepdim=True)
        step = max(1, int((local.numel() / 65536) ** 0.5))
        median = float(local[..., ::step, ::step].median())
        # The noise level changes slowly; a sudden rise of the median means the picture moved.
        level = median if self._level is None else min(median, 1.5 * self._level)
        self._level = level if self._level is None else 0.9 * self._level + 0.1 * level
        ref = max(self._level, 1e-4)
        t = ((local / ref - self.low) / (self.high - self.low)).clamp(0.0, 1.0)
        w = self.min_weight + (1.0 - self.min_weight) * t
        self.static_share = float((t == 0).float().mean())
        return w

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        """Filter one enhanced frame ``y`` ``(1, 3, H, W)``; returns a new tensor (the state keeps it)."""
        if self.min_weight >= 1.0:
            return y
        if self._prev is None or self._prev.shape != y.shape:
            self._prev = y.clone()
            self._level = None
            return y
        out = self._prev + self.weight(y, self._prev) * (y - self._prev)
        self._prev = out
        return out
