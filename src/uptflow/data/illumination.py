"""Spatially varying scene illumination for the low-light synthesiser.

A real night photo is not a well-lit photo scaled down by one number: a dim ambient level
(sky glow, spill) falls off towards the frame corners (lens vignetting, cos^4 law), and a few
artificial lights light *parts* of the scene strongly — a street lamp's pool of light, a lit
window, a sign — at their own colour temperature (low/high-pressure sodium ~1900-2200 K,
tungsten ~2600-3000 K, white LEDs ~3800-6000 K) while the camera's white balance is set for
something else.  Those parts are bright, often clipped, in the capture.  A model trained only
on globally darkened pairs never sees them and learns to brighten everything, blowing them out.

This module draws such an illumination as a multiplicative *field* ``F`` of shape (H, W, 3) in
linear light, applied to the (linearised) normal-light photo ``L``:

    low_linear = exposure * L * F,    F = vignette * 1 + sum_k gain_k * shape_k * tint_k

* ``vignette``: ``(1 + (r / f)^2)^-2`` around a slightly off-centre point (cos^4-like), with
  ``f`` solved so that the frame corner keeps ``1 - strength`` of the centre's light.
* point lights: the irradiance of a lamp at height ``h`` over a plane, ``(1 + d^2/h^2)^-1.5``
  (inverse square times the cosine of incidence), peak 1 at the foot of the lamp.
* area lights (windows, signs, lit patches): a soft-edged rectangle (product of logistic ramps
  whose scale is half the shorter half-side), peak 1.
* ``tint_k``: the light's black-body colour (Planckian locus, Kim et al. 2002) divided by that
  of the camera's white-balance temperature, normalised to unit luminance: a light warmer than
  the white balance comes out orange, a colder one blue.
* ``gain_k`` is chosen so the lit spot reaches a drawn *linear level* in the capture
  (``level / (exposure * local scene luminance)``): levels around 0.3 give lit, unclipped
  regions (sRGB ~150/255), levels above 1 clip (lamps, windows).  The normal-light target is
  left as it is, so the model learns to keep such regions, not to brighten them further.

Everything is drawn from one ``numpy.random.Generator`` in a fixed order (same seed -> same
field).  All fields are smooth: their finest scale is a light's height / a window's edge
ramp, at least 2 px and normally several percent of the image diagonal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

Range = tuple[float, float]

__all__ = ["IlluminationDraw", "area_light", "cct_to_linear_rgb", "draw_illumination", "light_tint",
           "point_light", "vignette"]

# Linear-sRGB luminance weights (BT.709) used to normalise tints.
_Y709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float64)
_XYZ_TO_RGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                        [-0.9692660, 1.8760108, 0.0415560],
                        [0.0556434, -0.2040259, 1.0572252]])


def cct_to_linear_rgb(kelvin: float) -> np.ndarray:
    """Black-body colour at ``kelvin`` (1667-25000 K) as linear sRGB with unit luminance, shape (3,).

    Planckian-locus chromaticity by the cubic-spline fit of Kim et al. (2002), then XYZ (Y = 1) ->
    linear sRGB (D65 primaries).  Negative components (far outside the gamut, not reached in
    this range except as rounding) are clipped to a small positive value.
    """
    t = float(np.clip(kelvin, 1667.0, 25000.0))
    if t <= 4000.0:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222.0:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000.0:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    rgb = _XYZ_TO_RGB @ np.array([x / y, 1.0, (1.0 - x - y) / y])
    rgb = np.maximum(rgb, 1e-3)
    return rgb / float(rgb @ _Y709)


def light_tint(kelvin: float, wb_kelvin: float) -> np.ndarray:
    """Colour of a ``kelvin`` light in a capture white-balanced for ``wb_kelvin``: (3,), unit luminance."""
    rgb = cct_to_linear_rgb(kelvin) / cct_to_linear_rgb(wb_kelvin)
    return rgb / float(rgb @ _Y709)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Pixel-centre coordinates (y (H,1), x (1,W)) and the image diagonal in px."""
    yy = np.arange(h, dtype=np.float32)[:, None] + 0.5
    xx = np.arange(w, dtype=np.float32)[None, :] + 0.5
    return yy, xx, float(np.hypot(h, w))


def vignette(h: int, w: int, strength: float, centre: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """(H, W) cos^4-like falloff ``(1 + (r/f)^2)^-2``, 1 at ``centre`` (fractions of H, W).

    ``strength`` in [0, 1): the light lost at distance half the diagonal (a frame corner for a
    centred vignette) — 0 gives a flat field of ones.
    """
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"vignette strength must be in [0, 1), got {strength}")
    if strength == 0.0:
        return np.ones((h, w), np.float32)
    yy, xx, diag = _grid(h, w)
    r2 = ((yy - centre[0] * h) ** 2 + (xx - centre[1] * w) ** 2) / (0.5 * diag) ** 2
    inv_f2 = (1.0 - strength) ** -0.5 - 1.0  # corner value (1 + 1/f^2)^-2 = 1 - strength
    return ((1.0 + r2 * inv_f2) ** -2).astype(np.float32)


def point_light(h: int, w: int, cy: float, cx: float, height: float) -> np.ndarray:
    """(H, W) irradiance of a lamp at (cy, cx) px, ``height`` px above the plane; peak 1."""
    yy, xx, _ = _grid(h, w)
    d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / max(height, 1.0) ** 2
    return ((1.0 + d2) ** -1.5).astype(np.float32)


def _ramp(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(t, -30.0, 30.0)))


def area_light(h: int, w: int, cy: float, cx: float, half_h: float, half_w: float) -> np.ndarray:
    """(H, W) soft rectangle centred at (cy, cx) px with half-sides (half_h, half_w) px; ~1 inside.

    Each edge is a logistic ramp of scale ``s = max(min(half_h, half_w) / 2, 1.5)`` px (light
    spilling past a window frame, a lit patch fading out), normalised to 1 at the centre, so the
    log of the field changes by at most ``1 / s`` per pixel: smooth, no hard step.
    """
    yy, xx, _ = _grid(h, w)
    s = max(min(half_h, half_w) / 2.0, 1.5)
    fy = _ramp((yy - cy + half_h) / s) * _ramp((cy + half_h - yy) / s)
    fx = _ramp((xx - cx + half_w) / s) * _ramp((cx + half_w - xx) / s)
    peak = float(_ramp(np.float32(half_h / s)) ** 2 * _ramp(np.float32(half_w / s)) ** 2)
    return (fy * fx / peak).astype(np.float32)


@dataclass(frozen=True)
class IlluminationDraw:
    """The parameters of one drawn illumination (all in pixels / kelvin / linear units).

    Attributes:
        vignette: corner falloff strength in [0, 1) and its centre (fractions of H, W).
        lights: one dict per light: kind ('point' | 'area'), cy, cx, size (height or half-sides),
            kelvin, level (linear capture level reached at the spot).
        wb_kelvin: the camera's white-balance temperature.
    """

    vignette: float
    vignette_centre: tuple[float, float]
    lights: tuple[dict[str, Any], ...]
    wb_kelvin: float

    def as_dict(self) -> dict[str, Any]:
        return {"vignette": self.vignette, "vignette_centre": list(self.vignette_centre),
                "lights": [dict(l) for l in self.lights], "wb_kelvin": self.wb_kelvin}


def _log_uniform(rng: np.random.Generator, r: Range) -> float:
    lo, hi = float(r[0]), float(r[1])
    if lo == hi or lo <= 0.0:
        return lo if lo == hi else float(rng.uniform(lo, hi))
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _int_range(rng: np.random.Generator, r: Range) -> int:
    return int(rng.integers(int(r[0]), int(r[1]) + 1))


def draw_illumination(
    rng: np.random.Generator, h: int, w: int, guide: np.ndarray, *, vignette_strength: Range,
    n_point: Range, n_area: Range, light_size: Range, light_level: Range,
    light_kelvin: Sequence[Range], wb_kelvin: Range, bright_place_prob: float,
) -> IlluminationDraw:
    """Draw vignetting and 1+ lights for an (h, w) image.

    Args:
        guide: (h, w) linear luminance of the normal-light photo; light centres are placed with
            probability ``bright_place_prob`` at a pixel drawn proportionally to guide^2 (lamps,
            windows and sky are the bright parts of a photo), else uniformly.
        n_point, n_area: inclusive integer ranges of the number of point / area lights; if both
            draws are 0 one point light is used, so every call yields at least one lit spot.
        light_size: fraction of the image diagonal: a point light's height / an area light's
            half-side (the other half-side is 0.4-2.5 times it).
        light_level: linear capture level reached at each light's spot, log-uniform.
        light_kelvin: one (lo, hi) range per kind of light (e.g. sodium, tungsten, LED), one
            chosen uniformly per light.
    """
    diag = float(np.hypot(h, w))
    strength = float(rng.uniform(*vignette_strength))
    vc = (float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.35, 0.65)))
    wb = float(rng.uniform(*wb_kelvin))
    n_p, n_a = _int_range(rng, n_point), _int_range(rng, n_area)
    if n_p + n_a == 0:
        n_p = 1
    weights = guide.astype(np.float64).ravel() ** 2
    total = float(weights.sum())
    lights = []
    for k in range(n_p + n_a):
        if total > 0.0 and rng.random() < bright_place_prob:
            idx = int(rng.choice(weights.size, p=weights / total))
            cy, cx = idx // w + 0.5, idx % w + 0.5
        else:
            cy, cx = float(rng.uniform(0, h)), float(rng.uniform(0, w))
        size = _log_uniform(rng, light_size) * diag
        aspect = _log_uniform(rng, (0.4, 2.5))
        kind_range = light_kelvin[int(rng.integers(0, len(light_kelvin)))]
        kelvin = float(rng.uniform(*kind_range))
        level = _log_uniform(rng, light_level)
        if k < n_p:
            lights.append({"kind": "point", "cy": cy, "cx": cx, "size": [size], "kelvin": kelvin, "level": level})
        else:
            lights.append({"kind": "area", "cy": cy, "cx": cx, "size": [size * aspect ** 0.5, size / aspect ** 0.5],
                           "kelvin": kelvin, "level": level})
    return IlluminationDraw(strength, vc, tuple(lights), wb)


def light_shape(light: dict[str, Any], h: int, w: int) -> np.ndarray:
    """(H, W) spatial shape of one drawn light, peak ~1."""
    if light["kind"] == "point":
        return point_light(h, w, light["cy"], light["cx"], light["size"][0])
    return area_light(h, w, light["cy"], light["cx"], light["size"][0], light["size"][1])


def render_field(draw: IlluminationDraw, h: int, w: int, guide: np.ndarray, exposure: float) -> np.ndarray:
    """The (H, W, 3) float32 illumination field ``F`` (ambient = 1 at the vignette centre).

    Each light's gain is ``level / (exposure * local)``, ``local`` = the guide's mean under the
    light's shape (floored at 0.02 so a light on a black patch does not explode), so the lit
    spot of the capture ``exposure * L * F`` reaches about ``level`` in linear light.
    """
    field = np.repeat(vignette(h, w, draw.vignette, draw.vignette_centre)[..., None], 3, axis=-1)
    for light in draw.lights:
        shape = light_shape(light, h, w)
        local = max(float((shape * guide).sum() / max(shape.sum(), 1e-6)), 0.02)
        gain = light["level"] / (max(exposure, 1e-6) * local)
        tint = light_tint(light["kelvin"], draw.wb_kelvin).astype(np.float32)
        field += (gain * shape)[..., None] * tint
    return field.astype(np.float32)
