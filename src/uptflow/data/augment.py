"""Paired, deterministic geometric augmentation: random crop, flips and 90-degree rotations.

The low-light input and its ground truth must stay pixel-aligned, so the random parameters are
drawn once (:func:`draw_params`) and applied to both images (:func:`apply_params`).  All
randomness comes from the ``numpy.random.Generator`` passed in — never from global state — so a
dataset that seeds it from ``(seed, epoch, index)`` reproduces every item bit-exactly.

The draw order is fixed (crop top, crop left, horizontal flip, vertical flip, rotation) and all
five values are always drawn, so switching flips or rotations off leaves the crop positions of a
given generator unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AugmentParams", "draw_params", "apply_params", "paired_augment", "augment_image", "pad_to"]


@dataclass(frozen=True)
class AugmentParams:
    """One draw of augmentation parameters for an image of a given size.

    Attributes:
        pad_h, pad_w: total reflect padding (split top/bottom, left/right) applied first, so that
            the image is at least ``crop`` in each direction.
        top, left: crop corner in the padded image (0 when there is no crop).
        crop: crop side, or None for the whole image.
        hflip, vflip: mirror left-right / top-bottom.
        rot90: number of counter-clockwise quarter turns (0..3); turns 1 and 3 swap H and W.
    """

    pad_h: int
    pad_w: int
    top: int
    left: int
    crop: int | None
    hflip: bool
    vflip: bool
    rot90: int


def pad_to(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Reflect-pad an ``(H, W, C)`` array to at least ``height`` x ``width`` (centred).

    NumPy's ``reflect`` needs the pad to be smaller than the side, so large pads are applied in
    several rounds; a side of 1 pixel is edge-replicated.
    """
    out = img
    while out.shape[0] < height or out.shape[1] < width:
        h, w = out.shape[:2]
        ph = min(max(height - h, 0), h - 1) if h > 1 else max(height - h, 0)
        pw = min(max(width - w, 0), w - 1) if w > 1 else max(width - w, 0)
        mode_h = "reflect" if h > 1 else "edge"
        mode_w = "reflect" if w > 1 else "edge"
        if ph:
            out = np.pad(out, ((ph // 2, ph - ph // 2), (0, 0), (0, 0)), mode=mode_h)
        if pw:
            out = np.pad(out, ((0, 0), (pw // 2, pw - pw // 2), (0, 0)), mode=mode_w)
    return out


def draw_params(height: int, width: int, rng: np.random.Generator, crop: int | None,
                flips: bool = True, rot90: bool = True) -> AugmentParams:
    """Draw crop position, flips and rotation for an image of ``height`` x ``width``.

    Rotations are allowed with a square crop or with no crop (then a quarter turn swaps the
    output's H and W, which is fine for a batch of one or for paired use).
    """
    if crop is not None and int(crop) < 1:
        raise ValueError(f"crop must be a positive integer or None, got {crop}")
    u = rng.random(5)  # always five draws, whatever the flags (see module docstring)
    pad_h = max(0, crop - height) if crop is not None else 0
    pad_w = max(0, crop - width) if crop is not None else 0
    top = left = 0
    if crop is not None:
        top = min(int(u[0] * (height + pad_h - crop + 1)), height + pad_h - crop)
        left = min(int(u[1] * (width + pad_w - crop + 1)), width + pad_w - crop)
    hflip, vflip, k = bool(u[2] < 0.5), bool(u[3] < 0.5), min(int(u[4] * 4), 3)
    return AugmentParams(pad_h, pad_w, top, left, crop,
                         hflip and flips, vflip and flips, k if rot90 else 0)


def apply_params(img: np.ndarray, p: AugmentParams) -> np.ndarray:
    """Apply :class:`AugmentParams` to an ``(H, W, C)`` array; returns a contiguous copy."""
    if img.ndim != 3:
        raise ValueError(f"expected an (H, W, C) array, got shape {img.shape}")
    out = img
    if p.pad_h or p.pad_w:
        out = pad_to(out, out.shape[0] + p.pad_h, out.shape[1] + p.pad_w)
    if p.crop is not None:
        out = out[p.top:p.top + p.crop, p.left:p.left + p.crop]
    if p.hflip:
        out = out[:, ::-1]
    if p.vflip:
        out = out[::-1]
    if p.rot90:
        out = np.rot90(out, p.rot90, axes=(0, 1))
    return np.array(out, order="C", copy=True)  # never a view: callers may cache the input


def paired_augment(low: np.ndarray, normal: np.ndarray, rng: np.random.Generator, crop: int | None,
                   flips: bool = True, rot90: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Crop/flip/rotate a low/normal pair identically.

    Args:
        low, normal: ``(H, W, 3)`` float32 arrays in ``[0, 1]`` of the same shape.
        rng: the only source of randomness.
        crop: square crop side; an image smaller than ``crop`` is reflect-padded up to it first.
            None keeps the whole image.
        flips: allow random horizontal and vertical flips.
        rot90: allow random quarter turns.

    Returns:
        ``(low, normal)``, contiguous new arrays, ``(crop, crop, 3)`` (or the whole, possibly transposed,
        image when ``crop`` is None).

    Raises:
        ValueError: the two images differ in shape or are not ``(H, W, C)``.
    """
    if low.ndim != 3 or low.shape != normal.shape:
        raise ValueError(f"low {low.shape} and normal {normal.shape} must be (H, W, C) arrays of the same shape")
    p = draw_params(low.shape[0], low.shape[1], rng, crop, flips, rot90)
    return apply_params(low, p), apply_params(normal, p)


def augment_image(img: np.ndarray, rng: np.random.Generator, crop: int | None,
                  flips: bool = True, rot90: bool = True) -> np.ndarray:
    """Single-image version of :func:`paired_augment` (same draws for the same ``rng``)."""
    if img.ndim != 3:
        raise ValueError(f"expected an (H, W, C) array, got shape {img.shape}")
    return apply_params(img, draw_params(img.shape[0], img.shape[1], rng, crop, flips, rot90))
