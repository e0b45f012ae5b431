"""Exposure-invariant "same scene?" check of two SICE frames (used by ``build_sice_pairs.py``).

:func:`same_scene_score`: luminance at 128 px, rank-normalised (invariant to any monotone tone
curve, i.e. exposure + camera response), light Gaussian blur, signed Sobel gradients, Pearson
correlation over pixels that are neither crushed nor clipped in *either* frame.  Same scene scores
high, different scenes near 0; ``python tools/build_sice_pairs.py --report`` prints both
distributions (the measured gap is in docs/DEVELOPMENT.md).  :func:`score_matrix` scores all
pairs of frames at once (a few matrix products).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from uptflow.io.pixels import luma_bt601, to_unit_float

CHECK_SIZE = 128
"""Long side (px) at which frames are compared; 512 -> 128 also averages JPEG/sensor noise."""
THRESHOLD = 0.65
"""Same-scene decision threshold on :func:`same_scene_score` (chosen in the gap between the two score distributions of ``--report``)."""
VALID_LO, VALID_HI = 2.0 / 255.0, 0.98
"""Luminance outside (VALID_LO, VALID_HI) is crushed/clipped and carries no structure."""
MIN_OVERLAP = 0.05
"""Fewer jointly valid pixels than this fraction -> score 0 (cannot verify)."""
MAX_SHIFT = 2


@dataclass(frozen=True)
class _Frame:
    """Pre-computed check features of one frame (all at <= CHECK_SIZE px)."""

    number: int
    mean: float  # mean RGB in [0, 1]
    grad: np.ndarray  # (2, h, w) float32 signed Sobel of the blurred rank image
    valid: np.ndarray  # (h, w) bool, not crushed / clipped
    energy: float  # mean squared Sobel magnitude of plain luminance (sharpness)



# --------------------------------------------------------------------------- features
def _as_float_rgb(img: np.ndarray, name: str) -> np.ndarray:
    """(H, W, 3) or (H, W) uint8 / float in [0, 1] -> float32 array of the same layout."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(img).__name__}")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"{name}: expected shape (H, W, 3) or (H, W), got {img.shape}")
    if min(img.shape[:2]) < 8:
        raise ValueError(f"{name}: image too small for a scene check: {img.shape}")
    if img.dtype == np.uint8:
        return to_unit_float(img)
    return np.clip(img.astype(np.float32), 0.0, 1.0)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return luma_bt601(rgb) if rgb.ndim == 3 else rgb


def _shrink(y: np.ndarray, size: int = CHECK_SIZE) -> np.ndarray:
    """Area-downsample a (H, W) float image so that its long side is ``size``."""
    h, w = y.shape
    s = size / max(h, w)
    if s >= 1.0:
        return y.astype(np.float32)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    return np.asarray(Image.fromarray(y.astype(np.float32), mode="F").resize((nw, nh), Image.BOX))


def _rank(y: np.ndarray) -> np.ndarray:
    """Rank-normalise to [0, 1) with tied values sharing their mean rank (flat stays flat)."""
    flat = y.ravel()
    uniq, inv, counts = np.unique(flat, return_inverse=True, return_counts=True)
    mid = np.cumsum(counts) - (counts + 1) / 2.0  # mean 0-based rank of each unique value
    return (mid[inv] / flat.size).reshape(y.shape).astype(np.float32)


def _blur(x: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    r = int(np.ceil(3 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-(t**2) / (2 * sigma**2))
    k /= k.sum()
    p = np.pad(x, ((r, r), (0, 0)), mode="reflect")
    x = sum(k[i] * p[i : i + x.shape[0]] for i in range(2 * r + 1))
    p = np.pad(x, ((0, 0), (r, r)), mode="reflect")
    return sum(k[i] * p[:, i : i + x.shape[1]] for i in range(2 * r + 1)).astype(np.float32)


def _sobel(x: np.ndarray) -> np.ndarray:
    """(H, W) -> (2, H, W) signed Sobel (d/dx, d/dy)."""
    p = np.pad(x, 1, mode="reflect")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return np.stack([gx, gy]).astype(np.float32)


def _frame_features(y_small: np.ndarray, mean: float, number: int = -1) -> _Frame:
    """Features of a luminance image already at check size (values in [0, 1])."""
    valid = (y_small > VALID_LO) & (y_small < VALID_HI)
    grad = _sobel(_blur(_rank(y_small)))
    energy = float((_sobel(y_small) ** 2).sum(axis=0).mean())
    return _Frame(number=number, mean=mean, grad=grad, valid=valid, energy=energy)


def _pair_score(a: _Frame, b: _Frame, shift: tuple[int, int] | None = None) -> float:
    """Masked Pearson correlation of the signed gradients of two frames.

    With ``shift=(dy, dx)`` frame b is rolled by it and a MAX_SHIFT border is cropped from both,
    so that all shifts of one search are scored on the same pixels.
    """
    if a.grad.shape != b.grad.shape:
        raise ValueError(f"frames {a.number} and {b.number} differ in size: {a.grad.shape} vs {b.grad.shape}")
    ga, gb, va, vb = a.grad, b.grad, a.valid, b.valid
    if shift is not None:
        dy, dx = shift
        r = MAX_SHIFT
        crop = (slice(r, -r), slice(r, -r))
        gb = np.roll(gb, (dy, dx), axis=(1, 2))[(slice(None),) + crop]
        vb = np.roll(vb, (dy, dx), axis=(0, 1))[crop]
        ga, va = ga[(slice(None),) + crop], va[crop]
    m = va & vb
    if m.mean() < MIN_OVERLAP:
        return 0.0
    u = ga[:, m].astype(np.float64).ravel()
    v = gb[:, m].astype(np.float64).ravel()
    u -= u.mean()
    v -= v.mean()
    den = np.sqrt((u * u).sum() * (v * v).sum())
    return float((u * v).sum() / den) if den > 0 else 0.0


def same_scene_score(a: np.ndarray, b: np.ndarray) -> float:
    """Exposure-invariant same-scene score of two aligned images.

    Args:
        a, b: (H, W, 3) or (H, W) images, uint8 or float in [0, 1], same H and W (any exposure).
    Returns:
        Correlation in [-1, 1] of signed Sobel gradients of the rank-normalised, blurred
        luminance at 128 px, over pixels valid in both; 0 when fewer than 5 % are jointly valid.
        Same scene (aligned, any exposure) scores >= :data:`THRESHOLD`.
    """
    fa, fb = _as_float_rgb(a, "a"), _as_float_rgb(b, "b")
    if fa.shape[:2] != fb.shape[:2]:
        raise ValueError(f"same_scene_score: images differ in size: {fa.shape[:2]} vs {fb.shape[:2]}")
    ya, yb = _shrink(_luma(fa)), _shrink(_luma(fb))
    return _pair_score(_frame_features(ya, float(fa.mean())), _frame_features(yb, float(fb.mean())))


def best_shift(a: _Frame, b: _Frame, radius: int = MAX_SHIFT) -> tuple[int, int]:
    """Integer shift (dy, dx) of ``b`` within +-radius (<= MAX_SHIFT, check-size px) maximising the score."""
    radius = min(radius, MAX_SHIFT)
    best, arg = -2.0, (0, 0)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            s = _pair_score(a, b, (dy, dx))
            if s > best + 1e-9:
                best, arg = s, (dy, dx)
    return arg


def score_matrix(frames: Sequence[_Frame]) -> np.ndarray:
    """(N, N) float32 matrix of :func:`_pair_score` for all pairs, via 4 matrix products."""
    g = np.stack([f.grad.reshape(-1) for f in frames]).astype(np.float32)
    m = np.stack([np.concatenate([f.valid.ravel()] * 2) for f in frames]).astype(np.float32)
    u = g * m
    n = m @ m.T  # jointly valid entries
    su = u @ m.T  # su[a, b] = sum over joint mask of u_a
    suu = (u * u) @ m.T
    suv = u @ u.T
    nn = np.maximum(n, 1.0)
    cov = suv - su * su.T / nn
    var = np.maximum(suu - su * su / nn, 0.0)
    out = cov / np.sqrt(np.maximum(var * var.T, 1e-20))
    out[n < MIN_OVERLAP * m.shape[1]] = 0.0
    np.fill_diagonal(out, 1.0)
    return out.astype(np.float32)


def load_frame(path: Path) -> _Frame:
    """Decode a frame at <= CHECK_SIZE px (JPEG DCT scaling, then area resize) into features."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (CHECK_SIZE, CHECK_SIZE))
            rgb = to_unit_float(np.asarray(im.convert("RGB")))
    except OSError as e:
        raise ValueError(f"cannot read SICE frame {path}: {e}") from e
    if max(rgb.shape[:2]) > CHECK_SIZE:
        rgb = np.stack([_shrink(rgb[..., c]) for c in range(3)], axis=-1)
    return _frame_features(_luma(rgb), float(rgb.mean()), int(path.stem))


