"""Physically based low-light synthesis from normal-light sRGB photos.

No paired low/normal data exists on these machines, so training pairs are made by running a
normal photo "back through a camera" at low exposure (in the spirit of Brooks et al., CVPR 2019,
"Unprocessing images for learned raw denoising"):

    sRGB --(optional inverse tone curve, inverse sRGB transfer)--> linear
      x exposure (solved so that the output mean brightness hits a sampled target)
      x per-channel gains (white-balance error / colour cast)
      + Poisson-Gaussian sensor noise: var = shot * x + read**2, per pixel and channel,
        optionally slightly spatially correlated (demosaicing), clipped to [0, 1]
    --(sRGB transfer, same tone curve)--> sRGB, quantised to 8 bit, optional JPEG (PIL).

The default ranges in :class:`SynthParams` are calibrated on real captures (LOL eval15 low,
LIME, DICM) with ``benchmarks/synth_calibration.py``: output mean brightness inside the LOL
range 6.6-24.9/255, flat-region noise of the same order as LOL (~1-1.7/255 high-pass std),
channel-ratio spread similar to the real sets.

Spatially varying illumination (``uptflow.data.illumination``): with probability
``1 - global_prob`` the darkened photo is also re-lit — vignetting plus one or more point /
area lights at sodium, tungsten or LED colour temperatures, whose spots are bright or clipped
in the low image while the normal-light target keeps its content.  The exposure is then solved
for the *ambient* (vignetted) part only, so the dark parts keep the calibrated LOL-like levels
and the lights add lit regions on top (image means rise towards LIME/DICM levels).  With
``global_prob=1`` the output is bit-identical to the global-only synthesiser (the Kodak24
benchmark set is made that way).  Illumination defaults calibrated with the local statistics of
``benchmarks/synth_calibration.py`` (60 training photos; 0-255 luma): re-lit images have 7.6 %
lit pixels (>= 110), p99 191, 32x32 block-mean spread 38 — LIME: 7.4 %, 164, 33; LOL: 0.05 %, 40,
8; the default mix (70 % re-lit) lies between LOL and LIME: 5.3 %, 159, 30.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from PIL import Image

from uptflow.data.illumination import _Y709, draw_illumination, render_field, vignette

Range = tuple[float, float]
_PROBS = ("tone_prob", "jpeg_prob", "global_prob", "bright_place_prob")
_RANGE_TUPLES = ("gain_rgb", "light_kelvin")


@dataclass(frozen=True)
class SynthParams:
    """Ranges the per-image synthesis parameters are drawn from (all uniform unless noted).

    Attributes:
        brightness: target output mean RGB intensity in [0, 1] (LOL eval15 low: 6.6-24.9/255);
            when re-lit, the target of the ambient (vignetted, unlit) image.
        exposure: clamp for the linear exposure factor solved from the target brightness.
        gain_rgb: per-channel linear gain ranges (R, G, B), drawn log-uniformly; a colour cast.
        shot: Poisson (signal-dependent) noise gain, variance = shot * x for linear x in [0, 1];
            drawn log-uniformly.
        read: read-noise std in linear units, drawn log-uniformly.
        noise_blur: Gaussian sigma (px) of the noise's spatial correlation (0 = white); the
            noise is rescaled so that its per-pixel std is unchanged.
        tone_prob: probability of inverting (and re-applying) a smoothstep camera tone curve.
        jpeg_prob: probability of a JPEG round trip after quantisation.
        jpeg_quality: JPEG quality range (integers, inclusive).
        global_prob: probability of the global-only model (one exposure for the whole image);
            otherwise the image is re-lit with the fields below (``uptflow.data.illumination``).
        vignette: corner light fall-off strength in [0, 1).
        n_point, n_area: number of point lights (lamps) / area lights (windows, signs, lit
            patches), inclusive integer ranges; at least one light in total.
        light_size: a light's height / half-side as a fraction of the image diagonal (log-uniform).
        light_level: linear level a light's spot reaches in the low image (log-uniform);
            > 1 clips (lamps, windows), 0.2-0.6 gives lit unclipped regions (sRGB >= ~120/255).
        light_kelvin: colour temperature ranges of the kinds of light, one chosen per light:
            sodium, tungsten, white LED.
        wb_kelvin: the camera's white-balance temperature range.
        bright_place_prob: probability that a light is centred on a bright part of the photo
            (drawn proportionally to squared linear luminance) instead of anywhere.
    """

    brightness: Range = (7.0 / 255.0, 24.0 / 255.0)
    exposure: Range = (0.003, 0.5)
    gain_rgb: tuple[Range, Range, Range] = ((0.8, 1.25), (1.0, 1.0), (0.8, 1.25))
    shot: Range = (1e-5, 1.5e-4)
    read: Range = (6e-4, 1.8e-3)
    noise_blur: Range = (0.0, 0.7)
    tone_prob: float = 0.5
    jpeg_prob: float = 0.3
    jpeg_quality: Range = (70, 95)
    global_prob: float = 0.3
    vignette: Range = (0.0, 0.5)
    n_point: Range = (0, 2)
    n_area: Range = (0, 2)
    light_size: Range = (0.015, 0.1)
    light_level: Range = (0.2, 2.5)
    light_kelvin: tuple[Range, ...] = ((1900.0, 2200.0), (2600.0, 3000.0), (3800.0, 6000.0))
    wb_kelvin: Range = (2400.0, 4500.0)
    bright_place_prob: float = 0.6

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in _PROBS:
                if not 0.0 <= float(v) <= 1.0:
                    raise ValueError(f"SynthParams.{f.name} must be a probability, got {v}")
                continue
            ranges = v if f.name in _RANGE_TUPLES else (v,)
            if f.name == "gain_rgb" and len(v) != 3:
                raise ValueError(f"SynthParams.gain_rgb needs 3 (lo, hi) ranges, got {v}")
            if f.name == "light_kelvin" and len(v) < 1:
                raise ValueError("SynthParams.light_kelvin needs at least one (lo, hi) range")
            for r in ranges:
                if len(r) != 2 or not (0.0 <= float(r[0]) <= float(r[1])):
                    raise ValueError(f"SynthParams.{f.name}: expected (lo, hi) with 0 <= lo <= hi, got {v}")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError(f"SynthParams.jpeg_quality must lie in [1, 100], got {self.jpeg_quality}")
        if self.brightness[1] > 1.0 or self.brightness[0] <= 0.0:
            raise ValueError(f"SynthParams.brightness must lie in (0, 1], got {self.brightness}")
        if self.vignette[1] >= 1.0:
            raise ValueError(f"SynthParams.vignette must lie in [0, 1), got {self.vignette}")
        if any(lo < 1667.0 or hi > 25000.0 for lo, hi in (*self.light_kelvin, self.wb_kelvin)):
            raise ValueError("SynthParams.light_kelvin / wb_kelvin must lie in 1667-25000 K")
        if self.light_size[0] <= 0.0 or self.light_level[0] <= 0.0:
            raise ValueError("SynthParams.light_size and light_level must be positive")


def _as_range(name: str, v: Any) -> Any:
    """Allow scalar overrides (``shot=1e-3``) as degenerate ranges (1e-3, 1e-3)."""
    if name in _PROBS:
        return float(v)
    if name == "light_kelvin":
        if np.isscalar(v) or len(v) < 1:
            raise ValueError(f"synthesize: light_kelvin needs one or more (lo, hi) ranges, got {v!r}")
        return tuple(_as_range("range", c) for c in v)
    if name == "gain_rgb":
        if np.isscalar(v) or len(v) != 3:
            raise ValueError(f"synthesize: gain_rgb needs 3 values or (lo, hi) ranges (R, G, B), got {v!r}")
        return tuple(_as_range("range", c) for c in v)
    if np.isscalar(v):
        return (float(v), float(v))
    try:
        return tuple(float(x) for x in v)
    except (TypeError, ValueError):
        raise ValueError(f"synthesize: {name} must be a number or a (lo, hi) range, got {v!r}") from None


def with_overrides(params: SynthParams, **overrides: Any) -> SynthParams:
    """``params`` with some fields replaced; scalars become fixed (v, v) ranges."""
    names = {f.name for f in fields(SynthParams)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"synthesize: unknown parameter(s) {unknown}; valid: {sorted(names)}")
    return replace(params, **{k: _as_range(k, v) for k, v in overrides.items()})


# --------------------------------------------------------------------------- transfer curves
def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer (IEC 61966-2-1), [0, 1] -> [0, 1]."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """sRGB transfer, [0, 1] -> [0, 1] (input clipped)."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def tone(x: np.ndarray) -> np.ndarray:
    """Smoothstep global tone curve 3x^2 - 2x^3 (a generic camera S-curve), [0,1] -> [0,1]."""
    return (x * x * (3.0 - 2.0 * x)).astype(np.float32)


def inverse_tone(y: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`tone` on [0, 1]."""
    y = np.clip(y, 0.0, 1.0)
    return (0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)).astype(np.float32)


# --------------------------------------------------------------------------- helpers
def _check_input(normal: Any) -> np.ndarray:
    """(H, W, 3) uint8 or float in [0, 1] -> float32 [0, 1]; ValueError/TypeError otherwise."""
    if not isinstance(normal, np.ndarray):
        raise TypeError(f"synthesize: expected a numpy array, got {type(normal).__name__}")
    if normal.ndim != 3 or normal.shape[2] != 3 or normal.shape[0] < 1 or normal.shape[1] < 1:
        raise ValueError(f"synthesize: expected an (H, W, 3) RGB image, got shape {normal.shape}")
    if normal.dtype == np.uint8:
        return normal.astype(np.float32) / 255.0
    if not np.issubdtype(normal.dtype, np.floating):
        raise TypeError(f"synthesize: expected uint8 or float pixels, got {normal.dtype}")
    x = normal.astype(np.float32)
    if not np.isfinite(x).all() or x.min() < -1e-6 or x.max() > 1.0 + 1e-6:
        raise ValueError("synthesize: float input must be finite and in [0, 1]")
    return np.clip(x, 0.0, 1.0)


def _log_uniform(rng: np.random.Generator, r: Range) -> float:
    lo, hi = float(r[0]), float(r[1])
    if lo == hi or lo <= 0.0:
        return lo if lo == hi else float(rng.uniform(lo, hi))
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _gauss_blur(x: np.ndarray, sigma: float, unit_noise: bool = False) -> np.ndarray:
    """Separable Gaussian blur of an (H, W, C) array over H and W (reflect padding).

    With ``unit_noise`` the result is divided by sum(k^2) of the 2-D kernel, so that blurred
    unit white noise keeps unit std (noise becomes correlated, not weaker).
    """
    r = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-(t**2) / (2 * sigma**2))
    k /= k.sum()
    h, w = x.shape[:2]
    p = np.pad(x, ((r, r), (0, 0), (0, 0)), mode="reflect" if h > r else "edge")
    x = sum(k[i] * p[i : i + h] for i in range(2 * r + 1))
    p = np.pad(x, ((0, 0), (r, r), (0, 0)), mode="reflect" if w > r else "edge")
    out = sum(k[i] * p[:, i : i + w] for i in range(2 * r + 1))
    if unit_noise:
        out = out / float((k**2).sum())  # std of blurred white noise is sqrt(sum k^2)^2 in 2-D
    return out.astype(np.float32)


def _encode(lin: np.ndarray, use_tone: bool) -> np.ndarray:
    y = linear_to_srgb(lin)
    return tone(y) if use_tone else y


def _render(lin: np.ndarray, noise: np.ndarray, shot: float, read: float, use_tone: bool) -> np.ndarray:
    """Exposed linear image + Poisson-Gaussian noise (unit ``noise`` scaled per pixel) -> sRGB."""
    lin = np.clip(lin, 0.0, 1.0)
    noisy = np.clip(lin + noise * np.sqrt(shot * lin + read * read), 0.0, 1.0)
    return _encode(noisy, use_tone)


def _solve_exposure(
    lin: np.ndarray, noise: np.ndarray, shot: float, read: float, use_tone: bool, target: float, bounds: Range
) -> float:
    """Exposure e with mean(_render(e * lin)) ~= target: bisection in log e on a pixel subsample.

    The drawn noise is included, so the clipping of noise at 0 (which lifts the mean of dark
    images) is accounted for; quantisation and JPEG change the mean by well under 1/255.
    """
    step = max(1, int(np.ceil(np.sqrt(lin.shape[0] * lin.shape[1] / 16384.0))))  # ~16k pixels
    sub, nsub = lin[::step, ::step], noise[::step, ::step]

    def mean_at(log_e: float) -> float:
        return float(_render(sub * np.exp(log_e), nsub, shot, read, use_tone).mean())

    lo, hi = np.log(max(bounds[0], 1e-6)), np.log(max(bounds[1], 1e-6))
    if mean_at(hi) <= target:
        return float(np.exp(hi))
    if mean_at(lo) >= target:
        return float(np.exp(lo))
    for _ in range(22):  # log-range < 7 -> precision < 2e-6 in log e
        mid = 0.5 * (lo + hi)
        if mean_at(mid) < target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))


def _jpeg(u8: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


# --------------------------------------------------------------------------- public API
def synthesize_with_info(
    normal: np.ndarray, rng: np.random.Generator, params: SynthParams = SynthParams(), **overrides: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """Like :func:`synthesize`, also returning the drawn per-image parameters (for calibration)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"synthesize: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not isinstance(params, SynthParams):
        raise TypeError(f"synthesize: params must be SynthParams, got {type(params).__name__}")
    p = with_overrides(params, **overrides) if overrides else params
    x = _check_input(normal)

    # Draw every scalar first, in a fixed order, so one seed gives one result.
    use_tone = bool(rng.random() < p.tone_prob)
    target = float(rng.uniform(*p.brightness))
    gains = np.array([_log_uniform(rng, r) for r in p.gain_rgb], dtype=np.float32)
    shot = _log_uniform(rng, p.shot)
    read = _log_uniform(rng, p.read)
    blur = float(rng.uniform(*p.noise_blur))
    use_jpeg = bool(rng.random() < p.jpeg_prob)
    quality = int(rng.integers(int(p.jpeg_quality[0]), int(p.jpeg_quality[1]) + 1))

    noise = rng.standard_normal(x.shape, dtype=np.float32)
    if blur > 0.05:
        noise = _gauss_blur(noise, blur, unit_noise=True)  # demosaicing-like correlation

    lin = srgb_to_linear(inverse_tone(x) if use_tone else x) * gains
    # Drawn after everything the global model draws, and only if it can be used, so that
    # global_prob=1 reproduces the global-only synthesiser bit for bit.
    relit = p.global_prob < 1.0 and bool(rng.random() >= p.global_prob)
    illum = None
    if relit:
        h, w = x.shape[:2]
        guide = lin @ _Y709.astype(np.float32)
        draw = draw_illumination(
            rng, h, w, guide, vignette_strength=p.vignette, n_point=p.n_point, n_area=p.n_area,
            light_size=p.light_size, light_level=p.light_level, light_kelvin=p.light_kelvin,
            wb_kelvin=p.wb_kelvin, bright_place_prob=p.bright_place_prob)
        ambient = vignette(h, w, draw.vignette, draw.vignette_centre)[..., None]
        exposure = _solve_exposure(lin * ambient, noise, shot, read, use_tone, target, p.exposure)
        srgb = _render(lin * exposure * render_field(draw, h, w, guide, exposure), noise, shot, read, use_tone)
        illum = draw.as_dict()
    else:
        exposure = _solve_exposure(lin, noise, shot, read, use_tone, target, p.exposure)
        srgb = _render(lin * exposure, noise, shot, read, use_tone)

    u8 = np.round(srgb * 255.0).astype(np.uint8)
    if use_jpeg:
        u8 = _jpeg(u8, quality)
    info = {
        "tone": use_tone, "target_brightness": target, "exposure": exposure, "gain_rgb": gains.tolist(),
        "shot": shot, "read": read, "noise_blur": blur, "jpeg_quality": quality if use_jpeg else None,
        "illumination": illum,
    }
    return u8.astype(np.float32) / 255.0, info


def synthesize(
    normal: np.ndarray, rng: np.random.Generator, params: SynthParams = SynthParams(), **overrides: Any
) -> np.ndarray:
    """Make a realistic low-light version of a normal-light sRGB photo.

    Args:
        normal: (H, W, 3) sRGB image, float in [0, 1] or uint8.
        rng: the only source of randomness (same seed -> same output).
        params: parameter ranges (default calibrated on LOL/LIME/DICM).
        **overrides: replace fields of ``params``; a scalar fixes a range, e.g. ``shot=1e-3``.
    Returns:
        (H, W, 3) float32 in [0, 1], every value exactly k/255 (8-bit quantised).
    """
    return synthesize_with_info(normal, rng, params, **overrides)[0]


def synthesize_pair(
    normal: np.ndarray, rng: np.random.Generator, params: SynthParams = SynthParams(), **overrides: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(low, normal) float32 (H, W, 3) pair in [0, 1]: ``synthesize`` output and the input as float."""
    low = synthesize(normal, rng, params, **overrides)
    return low, _check_input(normal)
