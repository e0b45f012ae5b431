"""Exposure control of an enhanced result: ``EV`` stops in linear light with a soft shoulder.

Why linear light: brightening an sRGB image by multiplying its code values changes contrast and
colour the way no camera does; a real exposure change multiplies the *light*.  So the result is
decoded (inverse sRGB transfer), multiplied by ``2**EV``, and re-encoded.

Why a shoulder: ``2**EV * x`` exceeds 1 for every ``x > 2**-EV`` (EV > 0), and clipping there
would blow out exactly the lamps and lit walls issue 14 is about.  Instead, for EV > 0 the
linear values ``y = 2**EV * x`` pass a monotone shoulder ``f``:

    f(y) = y                                          for y <= knee
    f(y) = knee + (1 - knee) * g((y - knee) / (s - knee))   for knee < y <= s = 2**EV
    g(t) = (1 + c) t / (1 + c t),  c = (s - knee) / (1 - knee) - 1 so that f'(knee) = 1

``f`` is continuous with a continuous slope at the knee, strictly increasing, concave above the
knee, and maps the largest possible value ``s`` (input white) exactly to 1.  Hence an input
value below 1 stays below 1 (nothing new clips), white stays white, and as EV -> 0+ ``c -> 0``
and ``f`` tends to the identity.  EV <= 0 only darkens (no shoulder needed); EV = 0 returns the
input unchanged.  The output grows with EV and with the input (both proven in the docstring of
:func:`shoulder` and checked by the tests).
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch

__all__ = ["KNEE", "MAX_EV", "apply_exposure", "check_exposure", "shoulder"]

KNEE = 0.5
"""Linear value below which a positive EV is a pure multiplication (sRGB ~0.735, code 188)."""

MAX_EV = 10.0
"""Largest |EV| accepted (2**10 = 1024x; beyond that the result is all shoulder / all black)."""

Image = TypeVar("Image", np.ndarray, torch.Tensor)


def check_exposure(ev: object, name: str = "exposure") -> float:
    """``ev`` as a float; one-line ``TypeError``/``ValueError`` if it is not a finite number of stops."""
    if isinstance(ev, bool) or not isinstance(ev, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number of stops (EV), got {type(ev).__name__}")
    v = float(ev)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number of stops (EV), got {v}")
    if abs(v) > MAX_EV:
        raise ValueError(f"{name} must be between -{MAX_EV:g} and +{MAX_EV:g} EV, got {v:g}")
    return v


def shoulder(y: torch.Tensor, scale: float, knee: float = KNEE) -> torch.Tensor:
    """The highlight shoulder ``f`` for a gain ``scale = 2**EV > 1``: [0, scale] -> [0, 1].

    Monotone in ``y``: ``g'(t) = (1 + c) / (1 + c t)^2 > 0``.  Monotone in ``scale`` for a fixed
    input ``x`` (``y = scale * x``): below the knee ``y`` grows with ``scale``; above it
    ``t = (scale x - knee) / (scale - knee)`` has ``dt/dscale = knee (1 - x) / (scale - knee)^2 >= 0``
    and ``dg/dc = t (1 - t) / (1 + c t)^2 >= 0`` with ``c`` growing with ``scale``.  Near white
    ``1 - g ~ (1 - t) / (1 + c)``: a rational tail, so values just below 1 stay distinguishable
    from 1 (an exponential shoulder underflows to exactly 1 for large EV).
    """
    if scale <= 1.0:
        return y
    c = (scale - knee) / (1.0 - knee) - 1.0  # g'(0) = 1 + c makes f'(knee) = 1
    t = ((y - knee) / (scale - knee)).clamp(0.0, 1.0)
    g = (1.0 + c) * t / (1.0 + c * t)
    return torch.where(y <= knee, y, knee + (1.0 - knee) * g)


def _srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def apply_exposure(image: Image, ev: float) -> Image:
    """Change the exposure of an sRGB image by ``ev`` stops, without clipping new highlights.

    Args:
        image: float values in [0, 1] (numpy array or torch tensor of any shape; the curve acts
            per value, so the channel layout does not matter); values outside are clipped first.
        ev: stops; 0 returns ``image`` itself, +1 doubles the light below the shoulder's knee,
            -1 halves it.
    Returns:
        The same type, shape, dtype (and device) as ``image``, in [0, 1]; an input value < 1
        gives an output < 1 (computed in float64, so up to float32 rounding of values within
        ~6e-8 of 1).
    """
    ev = check_exposure(ev)
    if ev == 0.0:
        return image
    is_numpy = isinstance(image, np.ndarray)
    if not is_numpy and not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a numpy array or a torch tensor, got {type(image).__name__}")
    src = torch.from_numpy(np.asarray(image)) if is_numpy else image
    if not src.is_floating_point():
        raise TypeError(f"image must hold floats in [0, 1], got {src.dtype}")
    x = src.detach().to(torch.float64).clamp(0.0, 1.0)
    scale = 2.0**ev
    y = _linear_to_srgb(shoulder(_srgb_to_linear(x) * scale, scale)).clamp(0.0, 1.0)
    if is_numpy:
        return y.numpy().astype(image.dtype, copy=False)
    return y.to(image.dtype)
