"""Non-learned low-light baselines for the project benchmark: gamma, HE, CLAHE.

Each takes and returns an (H, W, 3) float32 array in [0, 1].  They work on the HSV value channel
(max of R, G, B) and rescale R, G, B by the same factor per pixel, so hue and saturation ratios
are kept — the fair way to compare with an enhancer that is not allowed to shift colours.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_EPS = 1e-6


def _apply_to_value(rgb: np.ndarray, transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.float32)
    value = rgb.max(axis=2)
    new_value = transform(value).astype(np.float32)
    gain = new_value / np.maximum(value, _EPS)
    return np.clip(rgb * gain[..., None], 0.0, 1.0).astype(np.float32)


def gamma_correction(rgb: np.ndarray, target_mean: float = 0.45) -> np.ndarray:
    """Adaptive gamma: the exponent maps the image's mean value to ``target_mean``."""
    def transform(v: np.ndarray) -> np.ndarray:
        mean = float(np.clip(v.mean(), 1e-4, 0.999))
        gamma = np.log(target_mean) / np.log(mean)
        return np.power(np.clip(v, 0.0, 1.0), gamma)

    return _apply_to_value(rgb, transform)


def histogram_equalization(rgb: np.ndarray, bins: int = 256) -> np.ndarray:
    """Global histogram equalisation of the value channel (256 bins)."""
    def transform(v: np.ndarray) -> np.ndarray:
        idx = np.clip((v * (bins - 1)).round().astype(np.int64), 0, bins - 1)
        hist = np.bincount(idx.ravel(), minlength=bins).astype(np.float64)
        cdf = np.cumsum(hist)
        cdf = (cdf - cdf[0]) / max(cdf[-1] - cdf[0], 1.0)
        return cdf[idx]

    return _apply_to_value(rgb, transform)


def clahe(rgb: np.ndarray, clip_limit: float = 0.01, kernel_size: int | None = None) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of the value channel (scikit-image)."""
    try:
        from skimage.exposure import equalize_adapthist
    except ImportError as err:  # scikit-image is an optional (test/benchmark) dependency
        raise ImportError("CLAHE needs scikit-image: pip install scikit-image") from err
    return _apply_to_value(rgb, lambda v: equalize_adapthist(v, kernel_size=kernel_size, clip_limit=clip_limit))


BASELINES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gamma": gamma_correction,
    "he": histogram_equalization,
    "clahe": clahe,
}
