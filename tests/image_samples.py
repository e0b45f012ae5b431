"""Small synthetic images shared by the tests of uptflow.io (deterministic, a few pixels)."""

from __future__ import annotations

import numpy as np


def smooth_rgb(h: int = 24, w: int = 32) -> np.ndarray:
    """(h, w, 3) float32 in [0, 1]: smooth ramps so lossy codecs stay close."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), 0.5 + 0.25 * np.sin(xx / 5)], axis=2)


def asym(h: int = 3, w: int = 5) -> np.ndarray:
    """Pixel values unique per position, so any flip/rotation is detectable."""
    return (np.arange(h * w * 3).reshape(h, w, 3) * 3 % 256).astype(np.uint8)


def u16_rgb(h=24, w=32, c=3, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (h, w, c), dtype=np.uint16)
