"""The enhancement code path shared by :func:`uptflow.enhance` and ``uptflow enhance``.

Layers, from the inside out:

- :func:`enhance_tensor`: ``(B, 3, H, W)`` float in ``[0, 1]`` -> same, with temperature, seed,
  and (automatic) tiling; everything else calls this.
- :func:`enhance_array`: ``(H, W, 3)`` float32 array -> list of ``(H, W, 3)`` arrays, one per
  sample; what the CLI uses on decoded files.
- :func:`enhance`: the public, type-preserving entry point (PIL image, numpy array, tensor or path).

Memory and tiling: one forward pass of UPT-Flow needs roughly
:func:`uptflow.inference.bytes_per_pixel` bytes per input pixel; when the image would not fit in a share
of the free memory of the device, it is processed in overlapping tiles
(:func:`uptflow.tiling.run_tiled`, seams blended) that share the whole image's pooled statistics
(:mod:`uptflow.tiled_enhance`).  Tiling is not exactly equivalent to a whole-image pass;
``benchmarks/tiling_quality.py`` measures the difference.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from uptflow.config import UPTFlowConfig
from uptflow.exposure import apply_exposure, check_exposure
from uptflow.inference import BYTES_PER_PIXEL_PER_WIDTH
from uptflow.inference import bytes_per_pixel as inference_bytes_per_pixel
from uptflow.model import UPTFlow
from uptflow.models_registry import ModelSpec, load_cached, resolve_device
from uptflow.tiled_enhance import DEFAULT_REFINE

__all__ = [
    "BYTES_PER_PIXEL_PER_WIDTH",
    "MIN_TILE",
    "inference_bytes_per_pixel",
    "check_options",
    "choose_tile",
    "enhance_tensor",
    "enhance_array",
    "enhance",
    "new_seed",
]

#: Smallest tile accepted: below this the window attention and pooled statistics see too
#: little context and seams show.
MIN_TILE = 64

#: Share of the free device memory one forward pass may plan to use (the estimate is rough and
#: the process needs memory for other things too).
MEMORY_FRACTION = 0.6

_DEFAULT_OVERLAP = 32


def new_seed() -> int:
    """A fresh random seed (printed by the CLI so a sampled result can be reproduced)."""
    return secrets.randbelow(2**31)


def check_options(temperature: float = 0.0, samples: int = 1, tile: int | None = None,
                  overlap: int = _DEFAULT_OVERLAP, seed: int | None = None,
                  tile_refine: int = DEFAULT_REFINE) -> None:
    """Validate user options; raise a one-line ``ValueError``/``TypeError`` naming the bad one.

    ``tile``: ``None`` (automatic), ``0`` (never tile) or an integer ``>= MIN_TILE``;
    ``overlap``: ``0 <= overlap < tile``.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(tile_refine, bool) or not isinstance(tile_refine, int) or tile_refine < 0:
        raise ValueError(f"tile refinement passes must be an integer >= 0, got {tile_refine!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise ValueError(f"overlap must be an integer >= 0 pixels, got {overlap!r}")
    if tile is not None:
        if isinstance(tile, bool) or not isinstance(tile, int):
            raise TypeError(f"tile must be an integer number of pixels, got {type(tile).__name__}")
        if tile != 0 and tile < MIN_TILE:
            raise ValueError(f"tile must be >= {MIN_TILE} pixels (or 0 for no tiling), got {tile}")
        if tile and overlap >= tile:
            raise ValueError(f"overlap ({overlap}) must be smaller than the tile size ({tile})")


def choose_tile(h: int, w: int, config: UPTFlowConfig, device: str | torch.device, tile: int | None = None,
                batch: int = 1, budget_bytes: int | None = None) -> int | None:
    """The tile side to use for an ``h x w`` image, or ``None`` for a whole-image pass.

    ``tile=None`` decides automatically: whole image if the estimated memory
    (:func:`inference_bytes_per_pixel` x pixels x batch) fits in ``budget_bytes`` (default
    :data:`MEMORY_FRACTION` of :func:`uptflow.tiling.available_memory_bytes`), else the largest
    multiple of 8 that fits (never below 128).  ``tile=0``: never tile.  Otherwise ``tile``.
    """
    from uptflow.tiling import auto_tile_size, available_memory_bytes

    if tile == 0:
        return None
    if tile is not None:
        return None if (h <= tile and w <= tile) else int(tile)
    if budget_bytes is None:
        budget_bytes = int(MEMORY_FRACTION * available_memory_bytes(device))
    return auto_tile_size(h, w, inference_bytes_per_pixel(config) * max(batch, 1), budget_bytes)


def _generator(seed: int | None) -> torch.Generator | None:
    # A CPU generator: the same seed gives the same sample on CPU and CUDA.
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def enhance_tensor(model: UPTFlow, low: torch.Tensor, temperature: float = 0.0, seed: int | None = None,
                   tile: int | None = None, overlap: int = _DEFAULT_OVERLAP,
                   progress: Callable[[int, int], None] | None = None,
                   budget_bytes: int | None = None, tile_refine: int = DEFAULT_REFINE) -> torch.Tensor:
    """Enhance ``low`` ``(B, 3, H, W)`` float in ``[0, 1]`` (on the model's device) -> same shape.

    Args:
        model: the network (eval mode).
        low: low-light images; any ``H, W >= 1`` (padding to multiples of 8 is internal).
        temperature: 0 gives the published deterministic result (z = 0); > 0 draws
            z ~ N(0, t^2 I) for a diverse sample.
        seed: seeds the latent draw (ignored at temperature 0); ``None`` = torch's global RNG.
        tile, overlap: see :func:`choose_tile` and :func:`uptflow.tiling.run_tiled`.  Tiles share
            the whole image's pooled statistics, estimated by a sub-sampled pass and refined
            over the tiles (:func:`uptflow.tiled_enhance.enhance_tiled`).  With ``temperature
            > 0`` one latent is drawn for the whole image and each tile decodes its own crop of
            it, so overlapping tiles agree on the noise instead of blending unrelated samples.
        progress: ``progress(done, total)`` after each pass step (statistics pass, each tile).
        budget_bytes: memory budget for automatic tiling (default: a share of free memory).
        tile_refine: refinement passes over the tiles for the shared statistics (tiled runs
            only; 0 = fastest, 1 = default: tiled results within ~0.5 dB of whole-image ones).

    Returns:
        float32 ``(B, 3, H, W)`` in ``[0, 1]`` on ``low``'s device.
    """
    from uptflow.tiled_enhance import enhance_tiled
    from uptflow.validation import check_image

    check_image(low, "low")
    check_options(temperature=temperature, tile=tile, overlap=overlap, seed=seed, tile_refine=tile_refine)
    b, _, h, w = low.shape
    low = low.to(torch.float32)
    size = choose_tile(h, w, model.config, low.device, tile, batch=b, budget_bytes=budget_bytes)
    gen = _generator(seed)
    if size is None:
        out = model.enhance(low, temperature=temperature, generator=gen)
        if progress is not None:
            progress(1, 1)
        return out
    return enhance_tiled(model, low, size, min(overlap, size - 1), temperature, gen, tile_refine, progress)


def enhance_array(model: UPTFlow, rgb: np.ndarray, temperature: float = 0.0, samples: int = 1,
                  seed: int | None = None, tile: int | None = None, overlap: int = _DEFAULT_OVERLAP,
                  progress: Callable[[int, int], None] | None = None,
                  budget_bytes: int | None = None, tile_refine: int = DEFAULT_REFINE) -> list[np.ndarray]:
    """Enhance one ``(H, W, 3)`` float array in ``[0, 1]``; return ``samples`` arrays like it.

    Sample ``i`` uses seed ``seed + i`` (so sample 0 does not change when more are asked for);
    at temperature 0 every sample would be identical, so ``samples`` must then be 1.
    """
    from uptflow.io.tensors import to_numpy, to_tensor

    check_options(temperature=temperature, samples=samples, tile=tile, overlap=overlap, seed=seed,
                  tile_refine=tile_refine)
    if temperature == 0 and samples > 1:
        raise ValueError("samples > 1 needs a temperature > 0 (at temperature 0 every sample is identical)")
    device = next(model.parameters()).device
    x = to_tensor(np.clip(np.nan_to_num(rgb, nan=0.0), 0.0, 1.0)).to(device)
    outs = []
    for i in range(samples):
        s = None if seed is None else seed + i
        y = enhance_tensor(model, x, temperature, s, tile, overlap, progress, budget_bytes, tile_refine)
        outs.append(to_numpy(y))
    return outs


# ------------------------------------------------------------------------------------------
# The public, type-preserving entry point
# ------------------------------------------------------------------------------------------


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of ``(H, W, 3)`` -> ``(H, W)`` (how PIL converts RGB to L)."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _run(model: UPTFlow, rgb: np.ndarray, temperature: float, seed: int | None, tile: int | None,
         overlap: int, tile_refine: int, exposure: float = 0.0) -> np.ndarray:
    out = enhance_array(model, rgb, temperature, 1, seed, tile, overlap, tile_refine=tile_refine)[0]
    return apply_exposure(out, exposure)  # uptflow.exposure: EV in linear light, soft shoulder


def _from_uint(a: np.ndarray) -> tuple[np.ndarray, float]:
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    return a.astype(np.float32) / np.float32(scale), scale


def _to_dtype(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype == np.uint8:
        return np.rint(np.clip(x, 0, 1) * 255.0).astype(np.uint8)
    if dtype == np.uint16:
        return np.rint(np.clip(x, 0, 1) * 65535.0).astype(np.uint16)
    return np.clip(x, 0, 1).astype(dtype)


def _enhance_numpy(model: UPTFlow, a: np.ndarray, **kw: Any) -> np.ndarray:
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
        f, _ = _from_uint(a)
    if a.ndim == 2:
        out = _run(model, np.repeat(f[:, :, None], 3, axis=2), **kw)
        return _to_dtype(_luma(out), a.dtype)
    out = _run(model, f[:, :, :3], **kw)
    if a.shape[2] == 4:
        return np.concatenate([_to_dtype(out, a.dtype), a[:, :, 3:]], axis=2)
    return _to_dtype(out, a.dtype)


def _enhance_pil(model: UPTFlow, img: Any, **kw: Any) -> Any:
    """PIL image -> PIL image of the same mode (palette images come back as RGB/RGBA)."""
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img).astype(np.int64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ValueError(f"PIL image of mode {mode} has values outside 0..65535")
        out = _enhance_numpy(model, a.astype(np.uint16), **kw)
        if mode == "I":
            return Image.fromarray(out.astype(np.int32), "I")
        return Image.fromarray(out)  # mode I;16 (other byte orders come back as I;16)
    if mode == "F":
        out = _enhance_numpy(model, np.asarray(img, dtype=np.float32), **kw)
        return Image.fromarray(out.astype(np.float32), "F")
    if mode in ("1", "L"):
        out = _enhance_numpy(model, np.asarray(img.convert("L")), **kw)
        return Image.fromarray(out, "L").convert(mode)
    if mode in ("LA", "La"):
        a = np.asarray(img.convert("LA"))
        grey = _enhance_numpy(model, a[:, :, 0], **kw)
        return Image.fromarray(np.stack([grey, a[:, :, 1]], axis=2), "LA")
    has_alpha = mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in img.info)
    a = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    out = Image.fromarray(_enhance_numpy(model, a, **kw), "RGBA" if has_alpha else "RGB")
    if mode in ("RGB", "RGBA", "P", "PA"):
        return out
    try:
        return out.convert(mode)  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    except (ValueError, OSError):
        return out


def _enhance_torch(model: UPTFlow, t: torch.Tensor, temperature: float, seed: int | None, tile: int | None,
                   overlap: int, tile_refine: int, exposure: float = 0.0) -> torch.Tensor:
    if not t.is_floating_point():
        raise TypeError(f"image tensor must be floating point in [0, 1], got dtype {t.dtype}")
    if t.ndim not in (3, 4) or t.shape[-3] != 3:
        raise ValueError(f"image tensor must have shape (3, H, W) or (B, 3, H, W), got {tuple(t.shape)}")
    device = next(model.parameters()).device
    x = (t if t.ndim == 4 else t.unsqueeze(0)).detach().to(device, torch.float32).clamp(0.0, 1.0)
    y = enhance_tensor(model, x, temperature, seed, tile, overlap, tile_refine=tile_refine)
    y = apply_exposure(y, exposure).to(t.device, t.dtype)
    return y if t.ndim == 4 else y[0]


def enhance(image: Any, model: ModelSpec = None, temperature: float = 0.0, seed: int | None = None,
            device: str | torch.device = "auto", tile: int | None = None, overlap: int = _DEFAULT_OVERLAP,
            tile_refine: int = DEFAULT_REFINE, exposure: float = 0.0) -> Any:
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
            never; ``>= 64`` = tile side in pixels.
        overlap: overlap of neighbouring tiles in pixels.
        tile_refine: passes over the tiles that refine the image statistics all tiles share
            (only when tiling; 0 = fastest, default 1; see :mod:`uptflow.tiled_enhance`).
        exposure: EV stops applied to the result in linear light with a soft highlight shoulder
            that never clips what was not clipped (:func:`uptflow.exposure.apply_exposure`);
            0 (default) leaves the result unchanged.

    Raises:
        TypeError / ValueError: unsupported input type, shape or dtype, bad option values, no
            model available; :class:`uptflow.io.read.ImageReadError` for an unreadable file.
    """
    check_options(temperature=temperature, tile=tile, overlap=overlap, seed=seed, tile_refine=tile_refine)
    if isinstance(image, torch.Tensor) and isinstance(device, str) and device == "auto" \
            and not isinstance(model, UPTFlow):
        device = image.device if image.device.type == "cuda" else device
    net = load_cached(model, device if isinstance(model, UPTFlow) else resolve_device(device))
    kw = dict(temperature=temperature, seed=seed, tile=tile, overlap=overlap, tile_refine=tile_refine)
    kw["exposure"] = check_exposure(exposure)
    if isinstance(image, torch.Tensor):
        return _enhance_torch(net, image, **kw)
    if isinstance(image, np.ndarray):
        return _enhance_numpy(net, image, **kw)
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image

        from uptflow.io.read import load_image

        loaded = load_image(Path(image))
        out = _run(net, loaded.rgb, **kw)
        u8 = _to_dtype(out, np.dtype(np.uint8))
        if loaded.alpha is not None:
            alpha = _to_dtype(loaded.alpha, np.dtype(np.uint8))
            return Image.fromarray(np.concatenate([u8, alpha[:, :, None]], axis=2), "RGBA")
        return Image.fromarray(u8, "RGB")
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        return _enhance_pil(net, image, **kw)
    raise TypeError("image must be a PIL image, a numpy array, a torch tensor or a path, "
                    f"got {type(image).__name__}")
