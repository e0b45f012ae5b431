"""Highlight protection: what was already lit in the low image is not blown out (issue 14).

Why: the network maps a dark image to a normally exposed one and was trained on images that are
dark *everywhere*.  A real night photo also holds lamps, signs, windows and lamp-lit walls that
are already bright; brightening them like the rest pushes them to white (the bundled model blew
out 21 % of the pixels of real captures that were not blown before, ``benchmarks/naturalness.py``).

What: a local exposure ceiling on the result, a function of how lit each region was in the low
image.  With ``I`` the low image's illumination and ``O`` the result's, both local means of the
max channel (HSV value) smoothed edge-preservingly by a guided filter [He et al., TPAMI 2013]
steered by the low image:

    C(I) = CEILING                                     for I <= LIT
    C(I) = CEILING + (1 - CEILING) (I - LIT) / (1 - LIT)  above (1 at I = 1)
    r    = min(1, C(I) / O)            result <- result * r   (all three channels)

then, per pixel, a soft shoulder on the max channel above ``KNEE`` (0.9) that lands white at
``LIMIT`` (0.975) unless the low image was already blown there (the ceiling bounds local means;
single pixels above their surroundings could still clip).

So a region the low image showed dark may be brightened up to ``CEILING`` (0.7, code ~178 of
the max channel) and is left alone below it; a region that was already lit (``I > LIT`` = 110/255,
the level ``uptflow.metrics.no_reference`` calls lit) keeps its order above every darker region
(``C`` grows with ``I``) and reaches white only where the low image was white.  Properties the
tests check: ``0 < r <= 1`` (never brighter than the model), images whose result stays under the
ceiling come back unchanged, and so do photos with (almost) nothing lit (:data:`LIT_FRACTION`:
uniformly dark scenes like the synthetic Kodak24 benchmark), one factor per pixel
keeps hue and the model's texture, and the result is the same for a batch as for each image.

Modes: the same rule is wrong for an underexposed *daytime* photo, whose bright sky should become
brighter still (SICE), and right for a night scene with lamps.  ``protect`` applies it to every
photo with lit regions; ``auto`` (the default) only to photos that are not dark overall
(:data:`EXPOSED`): most of the blown pixels on real captures come from DICM photos with mean max
channel 0.3-0.8, i.e. not low-light photos at all, which the network, trained on dark inputs,
brightens anyway.  Measured (docs/DEVELOPMENT.md, "Naturalness"; newly blown on the 88 real
captures / PSNR on Kodak24, SICE validation, SICE benchmark): off 21.3 % / 22.14, 20.36, 20.35 dB;
auto 1.15 % / 22.14, 20.45, 20.36 dB; protect -0.52 % / 22.14, 19.08, 18.55 dB.

Cost: the maps are smooth, so they are computed at a working size of at most
:data:`WORK_SIDE` pixels on the long side and brought back to full resolution by the fast guided
filter [He and Sun, arXiv:1505.00996] (full-resolution edges of the low image kept): a few
image-sized single-channel maps besides the output; ``benchmarks/highlights_cost.py``:
0.22 s and 309 MiB more for a 12-megapixel photo (AMD EPYC, 2 threads).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from uptflow.inference.exposure import shoulder

__all__ = ["BLOWN", "CEILING", "EXPOSED", "HIGHLIGHT_MODES", "KNEE", "LIMIT", "LIT", "LIT_FRACTION", "WORK_SIDE",
           "check_highlights", "ceiling", "protect_highlights"]

HIGHLIGHT_MODES = ("auto", "protect", "off")
"""``auto`` (default): the ceiling for photos that are not dark overall (:data:`EXPOSED`), where
the network, trained on dark images, over-brightens; ``protect``: the ceiling for every photo with
lit regions (night scenes); ``off``: the network's result as it is."""

CEILING = 0.7
"""How bright (max channel, [0, 1]) a region the low image showed dark may become."""
LIT = 110.0 / 255.0
"""Illumination above which a region of the low image counts as already lit."""
LIT_FRACTION = (0.002, 0.02)
"""The ceiling fades in as the share of lit pixels (max channel >= LIT) in the low image goes from
0.2 % to 2 %: a photo with nothing lit has nothing to protect and comes back unchanged."""
EXPOSED = (0.15, 0.25)
"""``auto`` fades the ceiling in as the mean of the low image's max channel goes from 0.15 to 0.25.
Darker photos (all of LOL, Kodak24's synthetic set, the SICE inputs but one) are what the network
was trained on and stay as it makes them; the DICM captures with means of 0.3-0.8 are not dark at
all and came out blown (``benchmarks/naturalness.py``)."""
KNEE = 0.9
"""Max channel above which a pixel's value is compressed toward :data:`LIMIT` (see ``_shoulder_scale``)."""
LIMIT = 0.975
"""Where white lands (code 248.6) for pixels that were not blown in the low image."""
BLOWN = 250.0 / 255.0
"""A low-image pixel whose max channel is at least this was already blown: it may stay white."""
WORK_SIDE = 512
"""Long side of the working size at which the illumination maps are computed."""
_RADIUS_FRACTION = 1.0 / 40.0  # guided-filter radius as a fraction of the working short side
_EPS = 1e-2  # smoothing of the illumination maps (variance units of [0, 1] values)
_EPS_UP = 1e-4  # the full-resolution step follows the low image's edges closely


def check_highlights(mode: object) -> str:
    """``mode`` if it is one of :data:`HIGHLIGHT_MODES`; a one-line ``ValueError`` otherwise."""
    if not isinstance(mode, str) or mode not in HIGHLIGHT_MODES:
        raise ValueError(f"highlights must be one of {', '.join(HIGHLIGHT_MODES)}, got {mode!r}")
    return mode


def ceiling(illumination: torch.Tensor) -> torch.Tensor:
    """``C(I)``: the brightest the result may be where the low image's illumination is ``I`` (both in [0, 1])."""
    t = ((illumination - LIT) / (1.0 - LIT)).clamp(0.0, 1.0)
    return CEILING + (1.0 - CEILING) * t


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean of ``x`` (B, C, H, W) over (2r+1)^2 windows clipped at the border (cumulative sums: O(HW))."""
    for dim in (2, 3):
        n = x.shape[dim]
        c = F.pad(torch.cumsum(x, dim), (0, 0, 1, 0) if dim == 2 else (1, 0))
        idx = torch.arange(n, device=x.device)
        hi, lo = (idx + r + 1).clamp(max=n), (idx - r).clamp(min=0)
        shape = [1, 1, 1, 1]
        shape[dim] = n
        x = (c.index_select(dim, hi) - c.index_select(dim, lo)) / (hi - lo).to(x.dtype).view(shape)
    return x


def _guided_coefficients(guide: torch.Tensor, src: torch.Tensor, r: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Box-averaged linear coefficients (A, B) with ``src ~ A * guide + B`` locally (guided filter)."""
    mg, ms = _box(guide, r), _box(src, r)
    a = (_box(guide * src, r) - mg * ms) / (_box(guide * guide, r) - mg * mg + eps)
    return _box(a, r), _box(ms - a * mg, r)


def _smoothstep(lo: float, hi: float, x: torch.Tensor) -> torch.Tensor:
    """0 below ``lo``, 1 above ``hi``, a smooth (C1) ramp between."""
    t = ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _working_size(h: int, w: int) -> tuple[int, int]:
    s = min(1.0, WORK_SIDE / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


def protect_highlights(low: torch.Tensor, result: torch.Tensor, mode: str = "protect") -> torch.Tensor:
    """Apply the lit-region ceiling to ``result``.

    Args:
        low: the low-light input, (B, 3, H, W) float in [0, 1].
        result: the enhancement of ``low``, (B, 3, H, W) float in [0, 1], same device.
        mode: ``protect`` (every photo with lit regions), ``auto`` (only photos that are not dark
            overall, :data:`EXPOSED`) or ``off`` (``result`` unchanged).
    Returns:
        float32 (B, 3, H, W) in [0, 1]: ``result`` times a per-pixel factor in (0, 1].
    """
    if low.shape != result.shape or low.dim() != 4 or low.shape[1] != 3:
        raise ValueError(f"low {tuple(low.shape)} and result {tuple(result.shape)} must both be (B, 3, H, W)")
    check_highlights(mode)
    h, w = low.shape[-2:]
    result = result.to(torch.float32)
    if mode == "off":
        return result.clamp(0.0, 1.0)
    g_full = low.to(torch.float32).amax(1, keepdim=True)  # (B, 1, H, W): the only full-size map kept
    size = _working_size(h, w)
    g = F.interpolate(g_full, size=size, mode="area") if size != (h, w) else g_full
    t = _smoothstep(*LIT_FRACTION, (g >= LIT).float().mean(dim=(1, 2, 3), keepdim=True))  # (B, 1, 1, 1)
    if mode == "auto":
        t = t * _smoothstep(*EXPOSED, g.mean(dim=(1, 2, 3), keepdim=True))
    if not bool((t > 0).any()):
        return result.clamp(0.0, 1.0)  # nothing lit (or, auto: a dark photo): nothing to protect
    o = result.amax(1, keepdim=True)
    o = F.interpolate(o, size=size, mode="area") if size != (h, w) else o
    r = max(2, round(min(size) * _RADIUS_FRACTION))
    a, b = _guided_coefficients(g, g, r, _EPS)
    illumination = (a * g + b).clamp(0.0, 1.0)
    a, b = _guided_coefficients(g, o, r, _EPS)
    lit_out = (a * g + b).clamp_min(1e-4)
    factor = (ceiling(illumination) / lit_out).clamp(max=1.0)
    factor = 1.0 - t * (1.0 - factor)  # strength t in [0, 1] per image
    a, b = _guided_coefficients(g, factor, max(1, r // 4), _EPS_UP)  # fast guided filter to full size
    if size != (h, w):
        a = F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False)
        b = F.interpolate(b, size=(h, w), mode="bilinear", align_corners=False)
    factor = a.mul_(g_full).add_(b).clamp_(1e-3, 1.0)  # in place: two full-size maps, not four
    del a, b
    out = (result * factor).clamp_(0.0, 1.0)
    del factor
    return out.mul_(_shoulder_scale(out.amax(1, keepdim=True), g_full >= BLOWN, t))


def _shoulder_scale(m: torch.Tensor, clipped: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    """Per-pixel factor in (0, 1] that keeps a pixel unclipped if it was unclipped in the low image.

    ``m`` (B, 1, H, W): the max channel after the ceiling; ``clipped``: where the low image's max
    channel was already >= :data:`BLOWN`; ``strength`` (B, 1, 1, 1) in [0, 1].  The local ceiling
    bounds local *means*: single pixels brighter than their surroundings can still reach white.
    Above :data:`KNEE` the max channel passes :func:`uptflow.inference.exposure.shoulder` scaled to
    ``[KNEE, 1] -> [KNEE, LIMIT]`` (slope 1 at the knee), so white becomes ``LIMIT`` (below the
    250/255 that counts as blown) except where the low image was already blown.
    """
    scale = torch.ones_like(m)
    hot = (m > KNEE) & ~clipped  # usually a small share of the pixels: only those are computed
    if not bool(hot.any()):
        return scale
    mh = m[hot]
    shouldered = LIMIT * shoulder(mh / LIMIT, 1.0 / LIMIT, KNEE / LIMIT)  # [0, 1/LIMIT] -> [0, 1], rescaled
    scale[hot] = (mh + strength.expand_as(m)[hot] * (shouldered - mh)) / mh
    return scale
