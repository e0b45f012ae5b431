"""No-reference "naturalness" measures of an enhancement, as defined in issue 14.

Real low-light captures have no ground truth, so a result is judged by what it did to the input:
did it brighten enough (mean luminance, dark pixels), did it blow out what was already lit
(newly blown highlights, lit-region gain), and how noisy is it (Immerkaer's noise sigma)?

All measures work on the 0-255 scale and BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` of the
gamma-encoded values (how PIL converts RGB to L).  Images are ``(H, W, 3)`` numpy arrays, uint8
(0-255) or float (taken as [0, 1]).

* ``mean_luminance(out)``: mean luma.
* ``newly_blown(inp, out)``: % of pixels whose max channel is >= 250 in the output minus the
  same % in the input (percentage points; negative if highlights were recovered).
* ``lit_region_gain(inp, out)``: mean output luma / mean input luma over the pixels whose input
  luma is >= 110 (already lit); ``nan`` if there are none.  1 = lit regions kept as they were.
* ``noise_sigma(out)``: Immerkaer's fast noise estimate (J. Immerkaer, "Fast Noise Variance
  Estimation", CVIU 64(2), 1996) of the output luma:
  ``sigma = sqrt(pi / 2) / (6 (W - 2) (H - 2)) * sum |Y * N|`` with the Laplacian-difference mask
  ``N = [[1, -2, 1], [-2, 4, -2], [1, -2, 1]]`` over the valid (interior) pixels.  N cancels
  linear structure, and for white Gaussian noise of std s, ``Y * N`` has std ``6 s``, so the
  mean absolute response times ``sqrt(pi/2) / 6`` is s.  Structure (edges, texture) adds to it,
  so it is an upper bound on smooth-ish images.
* ``dark_fraction(out)``: % of output pixels with luma < 20.
* ``black_fraction(inp)`` (not one of the five): % of input pixels that are black, every channel 0
  in 8 bit (max channel < 0.5 on the 0-255 scale).  Such a pixel holds no signal, and every method
  whose curve maps 0 to 0 (gamma, tone curves, Zero-DCE's curves, any gain) leaves it black: its mean
  over a set is the floor of ``dark_fraction`` for those methods.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from uptflow.io.pixels import LUMA_BT601

__all__ = ["BLACK_LEVEL", "BLOWN_LEVEL", "DARK_LEVEL", "LIT_LEVEL", "NaturalnessScores", "black_fraction",
           "dark_fraction", "lit_region_gain", "luma", "mean_luminance", "naturalness", "newly_blown", "noise_sigma"]

BLOWN_LEVEL = 250.0
"""A pixel is blown when its largest channel is at least this (0-255)."""
LIT_LEVEL = 110.0
"""An input pixel is already lit when its luma is at least this (0-255)."""
DARK_LEVEL = 20.0
"""An output pixel is dark when its luma is below this (0-255)."""
BLACK_LEVEL = 0.5
"""An input pixel is black (no signal: every channel 0 in 8 bit) when its max channel is below this (0-255)."""
_BT601 = np.array(LUMA_BT601, dtype=np.float64)


def _to255(img: np.ndarray, name: str) -> np.ndarray:
    """(H, W, 3) uint8 / float [0, 1] -> float64 on the 0-255 scale; ValueError/TypeError otherwise."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"{name}: expected an (H, W, 3) RGB image, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img.astype(np.float64)
    if not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"{name}: expected uint8 or float pixels, got {img.dtype}")
    return np.clip(img.astype(np.float64), 0.0, 1.0) * 255.0


def _same_shape(inp: np.ndarray, out: np.ndarray) -> None:
    if inp.shape != out.shape:
        raise ValueError(f"input {inp.shape} and output {out.shape} must have the same shape")


def luma(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) BT.601 luma on the 0-255 scale (float64)."""
    return _to255(img, "image") @ _BT601


def mean_luminance(out: np.ndarray) -> float:
    """Mean BT.601 luma (0-255)."""
    return float(luma(out).mean())


def _blown_percent(img: np.ndarray, name: str) -> float:
    return 100.0 * float((_to255(img, name).max(axis=-1) >= BLOWN_LEVEL - 1e-9).mean())


def newly_blown(inp: np.ndarray, out: np.ndarray) -> float:
    """% of output pixels with max channel >= 250 minus the same % of the input (points)."""
    _same_shape(inp, out)
    return _blown_percent(out, "output") - _blown_percent(inp, "input")


def lit_region_gain(inp: np.ndarray, out: np.ndarray) -> float:
    """Mean output luma / mean input luma over input pixels with luma >= 110; nan if none."""
    _same_shape(inp, out)
    y_in, y_out = luma(inp), luma(out)
    lit = y_in >= LIT_LEVEL
    if not lit.any():
        return math.nan
    return float(y_out[lit].mean() / y_in[lit].mean())


def noise_sigma(img: np.ndarray) -> float:
    """Immerkaer's noise sigma of the BT.601 luma (0-255); needs H, W >= 3."""
    y = luma(img)
    h, w = y.shape
    if h < 3 or w < 3:
        raise ValueError(f"noise_sigma needs an image of at least 3x3 pixels, got {w}x{h}")
    # N = [[1,-2,1],[-2,4,-2],[1,-2,1]] = outer([1,-2,1], [1,-2,1]): separable
    r = y[:, :-2] - 2.0 * y[:, 1:-1] + y[:, 2:]
    n = r[:-2] - 2.0 * r[1:-1] + r[2:]
    return float(math.sqrt(math.pi / 2.0) * np.abs(n).sum() / (6.0 * (w - 2) * (h - 2)))


def dark_fraction(out: np.ndarray) -> float:
    """% of output pixels with BT.601 luma < 20."""
    return 100.0 * float((luma(out) < DARK_LEVEL).mean())


def black_fraction(inp: np.ndarray) -> float:
    """% of input pixels whose every channel is 0 in 8 bit: dark after any method that maps 0 to 0."""
    return 100.0 * float((_to255(inp, "input").max(axis=-1) < BLACK_LEVEL).mean())


@dataclass(frozen=True)
class NaturalnessScores:
    """The five measures for one (input, output) pair (see the module docstring)."""

    mean_luminance: float
    newly_blown: float
    lit_region_gain: float
    noise_sigma: float
    dark: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def naturalness(inp: np.ndarray, out: np.ndarray) -> NaturalnessScores:
    """All five measures of an enhancement ``inp -> out`` (both (H, W, 3), same shape)."""
    _same_shape(inp, out)
    return NaturalnessScores(mean_luminance(out), newly_blown(inp, out), lit_region_gain(inp, out),
                             noise_sigma(out), dark_fraction(out))
