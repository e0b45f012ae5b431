"""The public, type-preserving layer over the inference pipeline (:mod:`uptflow.inference`).

- :func:`enhance`: PIL image, numpy array, tensor or path in -> the same type out.
- :func:`enhance_array`: ``(H, W, 3)`` float32 array -> list of arrays, one per sample (the CLI's
  entry on decoded files).
- :func:`enhance_tensor`: ``(B, 3, H, W)`` float in ``[0, 1]`` -> same.

Each builds one :class:`~uptflow.inference.options.EnhanceOptions` (validated once) and hands
it to :func:`uptflow.inference.pipeline.enhance_batch`, which follows the one tiling decision
(:mod:`uptflow.inference.plan`).  Tiles share the whole image's pooled statistics; tiling is not
exactly equivalent to a whole-image pass (``benchmarks/tiling_quality.py`` measures it).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from uptflow.config import UPTFlowConfig
from uptflow.inference.exposure import apply_exposure, check_exposure
from uptflow.inference.memory import BYTES_PER_PIXEL_PER_WIDTH
from uptflow.inference.memory import bytes_per_pixel as inference_bytes_per_pixel
from uptflow.inference.models import ModelSpec, load_cached, resolve_device
from uptflow.inference.options import DEFAULT_OVERLAP, DEFAULT_REFINE, EnhanceOptions
from uptflow.inference.pipeline import enhance_batch, enhance_samples
from uptflow.inference.plan import MEMORY_FRACTION, MIN_TILE, Plan, make_plan
from uptflow.io.pixels import luma_bt601, to_unit_float
from uptflow.io.write import quantize_as  # the file writer's rounding: API arrays equal written files
from uptflow.model import UPTFlow

__all__ = [
    "BYTES_PER_PIXEL_PER_WIDTH",
    "MEMORY_FRACTION",
    "MIN_TILE",
    "EnhanceOptions",
    "inference_bytes_per_pixel",
    "check_options",
    "choose_tile",
    "enhance_tensor",
    "enhance_array",
    "enhance",
    "new_seed",
]

def new_seed() -> int:
    """A fresh random seed (printed by the CLI so a sampled result can be reproduced)."""
    return secrets.randbelow(2**31)


def check_options(temperature: float = 0.0, samples: int = 1, tile: int | None = None,
                  overlap: int = DEFAULT_OVERLAP, seed: int | None = None,
                  tile_refine: int = DEFAULT_REFINE, budget_bytes: int | None = None,
                  precision: str = "float32", highlights: str = "auto") -> EnhanceOptions:
    """Validate user options into an :class:`EnhanceOptions` (one-line ``ValueError``/``TypeError``).

    ``tile``: ``None`` (automatic), ``0`` (never tile) or an integer ``>= MIN_TILE``;
    ``overlap``: ``0 <= overlap <= 3/4 tile`` (see :class:`EnhanceOptions`).
    """
    return EnhanceOptions(temperature=temperature, seed=seed, samples=samples, tile=tile, overlap=overlap,
                          tile_refine=tile_refine, budget_bytes=budget_bytes, precision=precision,
                          highlights=highlights)


def choose_tile(h: int, w: int, config: UPTFlowConfig, device: str | torch.device, tile: int | None = None,
                batch: int = 1, budget_bytes: int | None = None) -> int | None:
    """The tile side :mod:`uptflow.inference.plan` picks for an ``h x w`` image (None: whole image)."""
    options = EnhanceOptions(tile=tile, budget_bytes=budget_bytes)
    return make_plan(h, w, config, device, options, batch=batch).tile


def enhance_tensor(model: UPTFlow, low: torch.Tensor, temperature: float = 0.0, seed: int | None = None,
                   tile: int | None = None, overlap: int = DEFAULT_OVERLAP,
                   progress: Callable[[int, int], None] | None = None,
                   budget_bytes: int | None = None, tile_refine: int = DEFAULT_REFINE,
                   precision: str = "float32", highlights: str = "auto") -> torch.Tensor:
    """Enhance ``low`` ``(B, 3, H, W)`` float in ``[0, 1]`` (on the model's device) -> same shape.

    Args:
        model: the network (eval mode).
        low: low-light images; any ``H, W >= 1`` (padding to multiples of 8 is internal).
        temperature: 0 gives the published deterministic result (z = 0); > 0 draws
            z ~ N(0, t^2 I) for a diverse sample.
        seed: seeds the latent draw (ignored at temperature 0); ``None`` = torch's global RNG.
        tile, overlap, budget_bytes, tile_refine, precision, highlights: see :class:`EnhanceOptions`.  With
            ``temperature > 0`` one latent is drawn for the whole image and each tile decodes its
            own crop of it, so overlapping tiles agree on the noise.
        progress: ``progress(done, total)`` after each pass step (statistics pass, each tile).

    Returns:
        float32 ``(B, 3, H, W)`` in ``[0, 1]`` on ``low``'s device.

    Raises:
        ValueError / TypeError: bad options or input; :class:`uptflow.inference.NonFiniteOutputError`
            when the model produced NaN (broken weights).
    """
    options = EnhanceOptions(temperature=temperature, seed=seed, tile=tile, overlap=overlap,
                             tile_refine=tile_refine, budget_bytes=budget_bytes, precision=precision,
                             highlights=highlights)
    return enhance_batch(model, low, options, progress=progress)


def enhance_array(model: UPTFlow, rgb: np.ndarray, temperature: float = 0.0, samples: int = 1,
                  seed: int | None = None, tile: int | None = None, overlap: int = DEFAULT_OVERLAP,
                  progress: Callable[[int, int], None] | None = None,
                  budget_bytes: int | None = None, tile_refine: int = DEFAULT_REFINE, *,
                  options: EnhanceOptions | None = None, plan: Plan | None = None,
                  exposure: float = 0.0) -> list[np.ndarray]:
    """Enhance one ``(H, W, 3)`` float array in ``[0, 1]``; return ``samples`` arrays like it.

    Sample ``i`` uses seed ``seed + i`` (so sample 0 does not change when more are asked for);
    at temperature 0 every sample would be identical, so ``samples`` must then be 1.
    ``options`` (already validated, e.g. by the CLI) replaces the loose option arguments;
    ``plan`` a plan made for this image (see :func:`uptflow.inference.plan.make_plan`);
    ``exposure``: EV applied to every result (:func:`uptflow.inference.exposure.apply_exposure`;
    0 leaves them unchanged) — the one place the CLI, the demo and :func:`enhance` apply it.
    """
    from uptflow.io.tensors import to_numpy, to_tensor

    exposure = check_exposure(exposure)
    if options is None:
        options = EnhanceOptions(temperature=temperature, seed=seed, samples=samples, tile=tile, overlap=overlap,
                                 tile_refine=tile_refine, budget_bytes=budget_bytes)
    device = next(model.parameters()).device
    clean = np.nan_to_num(np.asarray(rgb, dtype=np.float32), nan=0.0)  # a copy: the caller's array is kept
    x = to_tensor(np.clip(clean, 0.0, 1.0, out=clean)).to(device)
    del clean  # to_tensor copied it: one image-sized buffer less during the run
    return [apply_exposure(to_numpy(y), exposure) for y in enhance_samples(model, x, options, progress=progress,
                                                                           plan=plan)]


# ------------------------------------------------------------------------------------------
# The public, type-preserving entry point
# ------------------------------------------------------------------------------------------


def _run(model: UPTFlow, rgb: np.ndarray, options: EnhanceOptions, exposure: float = 0.0) -> np.ndarray:
    return enhance_array(model, rgb, options=options, exposure=exposure)[0]


def _enhance_numpy(model: UPTFlow, a: np.ndarray, options: EnhanceOptions, exposure: float) -> np.ndarray:
    """``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8/uint16/float -> same shape and dtype."""
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.floating) or a.dtype in (np.uint8, np.uint16)):
        raise TypeError(f"image array must be uint8, uint16 or float, got dtype {a.dtype}")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or a.size == 0:
        raise ValueError(f"image array must have shape (H, W), (H, W, 3) or (H, W, 4), got {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ValueError("image array contains NaN or infinite values")
        f = a.astype(np.float32)  # float input is taken as [0, 1] (clipped)
    else:
        f = to_unit_float(a)
    if a.ndim == 2:
        out = _run(model, np.repeat(f[:, :, None], 3, axis=2), options, exposure)
        return quantize_as(luma_bt601(out), a.dtype)
    out = _run(model, f[:, :, :3], options, exposure)
    if a.shape[2] == 4:
        return np.concatenate([quantize_as(out, a.dtype), a[:, :, 3:]], axis=2)
    return quantize_as(out, a.dtype)


def _enhance_pil(model: UPTFlow, img: Any, options: EnhanceOptions, exposure: float) -> Any:
    """PIL image -> PIL image of the same mode (palette images come back as RGB/RGBA)."""
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img).astype(np.int64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ValueError(f"PIL image of mode {mode} has values outside 0..65535")
        out = _enhance_numpy(model, a.astype(np.uint16), options, exposure)
        if mode == "I":
            return Image.fromarray(out.astype(np.int32), "I")
        return Image.fromarray(out)  # mode I;16 (other byte orders come back as I;16)
    if mode == "F":
        out = _enhance_numpy(model, np.asarray(img, dtype=np.float32), options, exposure)
        return Image.fromarray(out.astype(np.float32), "F")
    if mode in ("1", "L"):
        out = _enhance_numpy(model, np.asarray(img.convert("L")), options, exposure)
        return Image.fromarray(out, "L").convert(mode)
    if mode in ("LA", "La"):
        a = np.asarray(img.convert("LA"))
        grey = _enhance_numpy(model, a[:, :, 0], options, exposure)
        return Image.fromarray(np.stack([grey, a[:, :, 1]], axis=2), "LA")
    has_alpha = mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in img.info)
    a = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    out = Image.fromarray(_enhance_numpy(model, a, options, exposure), "RGBA" if has_alpha else "RGB")
    if mode in ("RGB", "RGBA", "P", "PA"):
        return out
    try:
        return out.convert(mode)  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    except (ValueError, OSError):
        return out


def _enhance_torch(model: UPTFlow, t: torch.Tensor, options: EnhanceOptions, exposure: float) -> torch.Tensor:
    if not t.is_floating_point():
        raise TypeError(f"image tensor must be floating point in [0, 1], got dtype {t.dtype}")
    if t.ndim not in (3, 4) or t.shape[-3] != 3:
        raise ValueError(f"image tensor must have shape (3, H, W) or (B, 3, H, W), got {tuple(t.shape)}")
    device = next(model.parameters()).device
    x = (t if t.ndim == 4 else t.unsqueeze(0)).detach().to(device, torch.float32).clamp(0.0, 1.0)
    y = enhance_batch(model, x, options)
    y = apply_exposure(y, exposure).to(t.device, t.dtype)
    return y if t.ndim == 4 else y[0]


def enhance(image: Any, model: ModelSpec = None, temperature: float = 0.0, seed: int | None = None,
            device: str | torch.device = "auto", tile: int | None = None, overlap: int = DEFAULT_OVERLAP,
            tile_refine: int = DEFAULT_REFINE, exposure: float = 0.0, precision: str = "float32",
            highlights: str = "auto") -> Any:
    """Enhance a low-light image; the result has the type (and shape/mode/dtype) of the input.

    Args:
        image: one of
            - a PIL image: returns a PIL image of the same size and mode (alpha of RGBA/LA is
              kept unchanged; L, I;16 stay grey: the grey image is enhanced as RGB with the grey
              replicated, then converted back with BT.601 luma; palette images come back RGB(A));
            - a numpy array ``(H, W, 3)``, ``(H, W, 4)`` (alpha kept) or ``(H, W)``, dtype uint8,
              uint16 (full 16-bit range) or float (taken as ``[0, 1]``): returns the same shape
              and dtype;
            - a torch tensor ``(3, H, W)`` or ``(B, 3, H, W)``, float in ``[0, 1]``: returns a
              tensor of the same shape, dtype and device;
            - a path (``str`` / ``Path``) to an image file (EXIF orientation applied): returns
              a PIL image, RGB or RGBA (8-bit).
        model: ``None`` (bundled default model), a checkpoint path, a preset name (random
            weights: a warning is printed) or an :class:`UPTFlow`.  Loaded models are cached per
            ``(model, device)``.
        temperature: 0 (default) is the deterministic published setting; > 0 samples.
        seed: makes a sample reproducible.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        tile: ``None`` = tile automatically only if the image would not fit in memory; ``0`` =
            never; ``>= MIN_TILE`` (64) = tile side in pixels.
        overlap: overlap of neighbouring tiles in pixels (at most 3/4 of an explicit tile).
        tile_refine: passes over the tiles that refine the image statistics all tiles share
            (only when tiling; 0 = fastest, default 1; see :mod:`uptflow.inference.shared_stats`).
        exposure: EV stops applied to the result in linear light with a soft highlight shoulder
            that never clips what was not clipped (:func:`uptflow.inference.exposure.apply_exposure`);
            0 (default) leaves the result unchanged.
        precision: the encoder's arithmetic: ``"float32"`` (default, the authors' numbers),
            ``"bfloat16"`` (faster on CPUs with AVX512-BF16 / AMX and on GPUs; results within
            about one 8-bit level) or ``"float16"`` (GPUs); the flow always runs in float32.
        highlights: keep regions that were already lit in the low image (lamps, signs, lamp-lit
            walls, skies) from blowing out: ``"auto"`` (default) for photos that are not dark
            overall, ``"protect"`` for every photo with lit regions (night scenes; costs PSNR on
            underexposed daytime photos), ``"off"`` = the network's result as it is
            (:mod:`uptflow.inference.highlights`).

    Raises:
        TypeError / ValueError: unsupported input type, shape or dtype, bad option values, no
            model available; :class:`uptflow.io.read.ImageReadError` for an unreadable file;
            :class:`uptflow.inference.NonFiniteOutputError` when the model produces NaN.
    """
    options = EnhanceOptions(temperature=temperature, seed=seed, tile=tile, overlap=overlap, tile_refine=tile_refine,
                             precision=precision, highlights=highlights)
    exposure = check_exposure(exposure)
    if isinstance(image, torch.Tensor) and isinstance(device, str) and device == "auto" \
            and not isinstance(model, UPTFlow):
        device = image.device if image.device.type == "cuda" else device
    net = load_cached(model, device if isinstance(model, UPTFlow) else resolve_device(device))
    if isinstance(image, torch.Tensor):
        return _enhance_torch(net, image, options, exposure)
    if isinstance(image, np.ndarray):
        return _enhance_numpy(net, image, options, exposure)
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image

        from uptflow.io.read import load_image

        loaded = load_image(Path(image))
        out = _run(net, loaded.rgb, options, exposure)
        u8 = quantize_as(out, np.dtype(np.uint8))
        if loaded.alpha is not None:
            alpha = quantize_as(loaded.alpha, np.dtype(np.uint8))
            return Image.fromarray(np.concatenate([u8, alpha[:, :, None]], axis=2), "RGBA")
        return Image.fromarray(u8, "RGB")
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        return _enhance_pil(net, image, options, exposure)
    raise TypeError("image must be a PIL image, a numpy array, a torch tensor or a path, "
                    f"got {type(image).__name__}")
