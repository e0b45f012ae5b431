"""Brightness, colour and dark-region noise statistics of (low-light) images.

Shared by ``benchmarks/synth_calibration.py`` (real vs synthetic table) and the synthesiser
tests, so that both measure exactly the same thing. All functions take (H, W, 3) images, uint8
or float in [0, 1], and report intensities on the 0-255 scale (the scale the README and the
LOL numbers use: LOL eval15 low mean 15.2/255).

Noise is measured the classic way for images without a clean reference: the high-pass residual
(channel minus its 5x5 local mean) in *flat* patches, i.e. patches whose smoothed image has the
least gradient energy, binned by the patch's brightness (noise depends on the signal level).
For white noise of std s the residual std is s * sqrt(24/25); we report the residual std as is
(both real and synthetic images go through the same estimator, so the bias cancels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from uptflow.io.pixels import LUMA_BT601

DEFAULT_BINS: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0)
"""Brightness bin edges (patch mean luminance, 0-255) for :func:`noise_by_brightness`."""
_LUMA = np.array(LUMA_BT601, dtype=np.float32)


def to_float(img: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W, 3) uint8 or float image -> float32 in [0, 1]; ValueError on a wrong shape."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name}: expected shape (H, W, 3), got {img.shape}")
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"{name}: expected uint8 or float, got {img.dtype}")
    return np.clip(img.astype(np.float32), 0.0, 1.0)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; ValueError naming the file if unreadable."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as e:
        raise ValueError(f"cannot read image {path}: {e}") from e


def luminance(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) Rec.601 luma of the (gamma-encoded) values, in [0, 1]."""
    return to_float(img) @ _LUMA


def mean_brightness(img: np.ndarray) -> float:
    """Mean of all RGB values on the 0-255 scale (the 'mean intensity' of the README)."""
    return float(to_float(img).mean() * 255.0)


def channel_ratios(img: np.ndarray) -> tuple[float, float]:
    """(mean R / mean G, mean B / mean G): a global colour-cast measure (1, 1 = neutral)."""
    m = to_float(img).reshape(-1, 3).mean(axis=0).astype(np.float64)
    g = max(m[1], 1e-6)
    return float(m[0] / g), float(m[2] / g)


def box_mean(x: np.ndarray, size: int = 5) -> np.ndarray:
    """(H, W) local mean over a size x size window (reflect padding), via summed-area tables."""
    r = size // 2
    p = np.pad(x.astype(np.float64), r, mode="reflect")
    c = np.zeros((p.shape[0] + 1, p.shape[1] + 1))
    c[1:, 1:] = p.cumsum(0).cumsum(1)
    h, w = x.shape
    s = c[size : size + h, size : size + w] - c[:h, size : size + w] - c[size : size + h, :w] + c[:h, :w]
    return (s / (size * size)).astype(np.float32)


def highpass(x: np.ndarray, size: int = 5) -> np.ndarray:
    """(H, W) residual ``x - box_mean(x, size)``: removes structure coarser than the window."""
    return x.astype(np.float32) - box_mean(x, size)


@dataclass(frozen=True)
class PatchNoise:
    """Per flat patch: mean luminance and high-pass residual std (mean over RGB), both 0-255."""

    brightness: np.ndarray  # (P,) float
    noise: np.ndarray  # (P,) float


def flat_patch_noise(img: np.ndarray, patch: int = 16, flat_fraction: float = 0.25, size: int = 5) -> PatchNoise:
    """Noise in the flattest patches of one image.

    Args:
        img: (H, W, 3) uint8 or float in [0, 1].
        patch: side of the non-overlapping square patches (px).
        flat_fraction: keep this fraction of patches with the least structure, where structure
            is the mean gradient magnitude of the ``size`` x ``size``-smoothed luminance.
    Returns:
        :class:`PatchNoise` of the kept patches (0-255 scale).
    """
    f = to_float(img)
    h, w = (f.shape[0] // patch) * patch, (f.shape[1] // patch) * patch
    if h == 0 or w == 0:
        raise ValueError(f"image {f.shape} smaller than one {patch}x{patch} patch")
    f = f[:h, :w]
    y = f @ _LUMA
    smooth = box_mean(y, size)
    gy, gx = np.gradient(smooth)
    grad = np.hypot(gx, gy)
    res = np.stack([highpass(f[..., c], size) for c in range(3)], axis=-1)

    def tiles(a: np.ndarray) -> np.ndarray:  # (h, w, ...) -> (n, patch*patch, ...)
        a = a.reshape(h // patch, patch, w // patch, patch, *a.shape[2:])
        return np.moveaxis(a, 2, 1).reshape((h // patch) * (w // patch), patch * patch, *a.shape[4:])

    structure = tiles(grad).mean(axis=1)
    bright = tiles(y).mean(axis=1) * 255.0
    noise = tiles(res).std(axis=1).mean(axis=-1) * 255.0
    keep = structure <= np.quantile(structure, flat_fraction)
    return PatchNoise(brightness=bright[keep], noise=noise[keep])


def noise_by_brightness(
    images: Iterable[np.ndarray], bins: Sequence[float] = DEFAULT_BINS
) -> list[tuple[float, float, float, int]]:
    """Median flat-patch noise per brightness bin over many images.

    Returns:
        One ``(lo, hi, median noise or nan, patch count)`` per bin (0-255 scale).
    """
    b, n = [], []
    for img in images:
        pn = flat_patch_noise(img)
        b.append(pn.brightness)
        n.append(pn.noise)
    bright = np.concatenate(b) if b else np.zeros(0)
    noise = np.concatenate(n) if n else np.zeros(0)
    out = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (bright >= lo) & (bright < hi)
        out.append((float(lo), float(hi), float(np.median(noise[sel])) if sel.any() else float("nan"), int(sel.sum())))
    return out


def dark_noise(img: np.ndarray, max_brightness: float = 40.0) -> float:
    """Median flat-patch noise (0-255) over patches darker than ``max_brightness``; nan if none."""
    pn = flat_patch_noise(img)
    sel = pn.brightness < max_brightness
    return float(np.median(pn.noise[sel])) if sel.any() else float("nan")


LIT_LEVEL = 110.0
"""Luma (0-255) from which a pixel counts as lit (issue 14's lit-region threshold)."""


def block_means(y: np.ndarray, block: int = 32) -> np.ndarray:
    """(H, W) -> (H // block, W // block) means of non-overlapping blocks (remainder dropped)."""
    h, w = (y.shape[0] // block) * block, (y.shape[1] // block) * block
    if h == 0 or w == 0:
        raise ValueError(f"image {y.shape} smaller than one {block}x{block} block")
    return y[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def local_stats(img: np.ndarray, block: int = 32) -> dict[str, float]:
    """Statistics of *where* the light is, all on the 0-255 scale (BT.601 luma):

    ``lit``: % of pixels with luma >= 110; ``p99``: 99th percentile of luma; ``block_std``: std of
    the ``block`` x ``block`` block means (spread of local brightness: ~0 for a uniformly dark
    frame, large with lamps and lit regions); ``blown``: % of pixels whose max channel >= 250.
    """
    f = to_float(img) * 255.0
    y = f @ _LUMA
    return {"lit": float((y >= LIT_LEVEL).mean() * 100.0), "p99": float(np.percentile(y, 99)),
            "block_std": float(block_means(y, block).std()), "blown": float((f.max(axis=-1) >= 250.0).mean() * 100.0)}
