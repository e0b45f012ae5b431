"""Night clips with ground truth, for measuring temporal stability (benchmarks and tests).

A static camera looks at a normal-light photo (the ground-truth background); a textured square
moves across it at constant speed.  Every frame is darkened by :func:`uptflow.data.synthesize`
with the *same* illumination (fixed exposure, gains, tone and noise levels) and a *new* noise
seed — the situation of a surveillance camera at night.  Frames are generated lazily, one at a
time, so long clips cost no memory.

Also :func:`flicker` and :func:`psnr`, the two numbers ``benchmarks/video_stability.py`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

__all__ = ["NightClip", "calibrate_exposure", "flicker", "psnr"]

#: Fixed synthesis settings (one illumination for the whole clip); the exposure is solved once.
SYNTH = dict(tone_prob=0.0, jpeg_prob=0.0, gain_rgb=(1.0, 1.0, 1.0), shot=6e-5, read=1.2e-3, noise_blur=0.4,
             global_prob=1.0)  # one global illumination (no per-frame random lights)


def calibrate_exposure(gt: np.ndarray, brightness: float = 15.0 / 255.0, seed: int = 0) -> float:
    """Linear exposure at which :func:`uptflow.data.synthesize` of ``gt`` has mean ``brightness``
    (bisection in log exposure; the same exposure then serves every frame)."""
    from uptflow.data import synthesize

    lo, hi = np.log(1e-3), np.log(1.0)
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        low = synthesize(gt, np.random.default_rng(seed), exposure=float(np.exp(mid)), **SYNTH)
        lo, hi = (mid, hi) if low.mean() < brightness else (lo, mid)
    return float(np.exp(0.5 * (lo + hi)))


@dataclass
class NightClip:
    """A generated clip.

    Attributes:
        background: ``(H, W, 3)`` float32 ground-truth scene in ``[0, 1]``.
        frames: number of frames.
        size: side of the moving square in pixels; ``speed``: pixels per frame.
        seed: noise seeds are ``(seed, t)``.
        exposure: fixed linear exposure (``None``: solved for ~15/255 mean brightness).
    """

    background: np.ndarray
    frames: int = 24
    size: int = 48
    speed: float = 6.0
    seed: int = 0
    exposure: float | None = None

    def __post_init__(self) -> None:
        self.background = np.asarray(self.background, dtype=np.float32)
        h, w = self.background.shape[:2]
        self.size = int(min(self.size, h // 2, w // 2))
        yy, xx = np.mgrid[0:self.size, 0:self.size].astype(np.float32)
        # a bright checkered patch with a coloured gradient: texture the network must keep
        check = ((yy // 6 + xx // 6) % 2).astype(np.float32)
        self.patch = np.stack([0.9 * check + 0.1, 0.3 + 0.5 * yy / self.size, 0.8 - 0.6 * check], axis=2)
        if self.exposure is None:
            self.exposure = calibrate_exposure(self.background, seed=self.seed)

    def box(self, t: int) -> tuple[int, int, int, int]:
        """``(y0, y1, x0, x1)`` of the moving square in frame ``t`` (it bounces between the edges)."""
        h, w = self.background.shape[:2]
        span = max(1, w - self.size)
        x = int(round(t * self.speed)) % (2 * span)
        x0 = x if x < span else 2 * span - x
        y0 = (h - self.size) // 2
        return y0, y0 + self.size, x0, x0 + self.size

    def ground_truth(self, t: int) -> np.ndarray:
        """``(H, W, 3)`` float32 ground truth of frame ``t``."""
        gt = self.background.copy()
        y0, y1, x0, x1 = self.box(t)
        gt[y0:y1, x0:x1] = self.patch
        return gt

    def low(self, t: int) -> np.ndarray:
        """``(H, W, 3)`` float32 night frame ``t`` (8-bit values), fresh noise."""
        from uptflow.data import synthesize

        rng = np.random.default_rng([self.seed, t])
        return synthesize(self.ground_truth(t), rng, exposure=float(self.exposure), **SYNTH)

    def static_mask(self, t: int, margin: int = 4) -> np.ndarray:
        """``(H, W)`` bool: pixels the object covers in neither frame ``t - 1`` nor ``t`` (plus a margin)."""
        h, w = self.background.shape[:2]
        m = np.ones((h, w), dtype=bool)
        for s in (t - 1, t):
            y0, y1, x0, x1 = self.box(max(s, 0))
            m[max(0, y0 - margin):y1 + margin, max(0, x0 - margin):x1 + margin] = False
        return m

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(low, ground truth)`` per frame."""
        for t in range(self.frames):
            yield self.low(t), self.ground_truth(t)


def flicker(prev: np.ndarray, cur: np.ndarray, mask: np.ndarray) -> float:
    """Mean ``|cur - prev|`` over the pixels of ``mask`` (all channels), on a 0-255 scale."""
    return float(np.abs(cur[mask] - prev[mask]).mean() * 255.0)


def psnr(x: np.ndarray, ref: np.ndarray) -> float:
    """PSNR in dB of ``x`` against ``ref`` (both in ``[0, 1]``)."""
    mse = float(np.mean((np.clip(x, 0, 1).astype(np.float64) - ref.astype(np.float64)) ** 2))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))
