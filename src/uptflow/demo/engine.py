"""The demo's enhancement step, free of Gradio: an image file in, full-resolution PNGs out.

Why it exists: the page and the ``/enhance`` API endpoint must give exactly what
``uptflow enhance FILE --format png`` gives.  So this module does what the CLI does, with the
same functions: :func:`uptflow.io.read.load_image` (EXIF orientation, 16-bit, alpha),
:func:`uptflow.api.enhance_array` (automatic tiling of images that do not fit in memory, seeds
``seed + i`` per sample) and :func:`uptflow.io.write.save_image` (bit depth and alpha kept, atomic
write).  What it adds is what a public page needs: a pixel limit checked from the file header
*before* decoding, user mistakes as :class:`DemoInputError` (one line naming the file), small
previews for the before/after view, and the time taken and the device.

Thread safety: one :class:`Enhancer` (one model) serves concurrent requests; the inference state
that used to be process-wide (strip size, active pooled statistics) is per context since the
ContextVar change, and every request writes into its own folder (:class:`ResultStore`).
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from uptflow.demo.results import ResultStore
from uptflow.io.write import quantize
from uptflow.messages import is_out_of_memory, one_line

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_SAMPLES",
    "NO_IMAGE",
    "PREVIEW_SIDE",
    "DemoInputError",
    "DemoResult",
    "Enhancer",
    "device_label",
    "user_message",
]

#: Largest image (width x height) the demo accepts: 16 megapixels (e.g. 4896 x 3264).  Bigger
#: photos would still work (they are tiled) but take minutes on a CPU and tie up the server;
#: ``uptflow demo --max-megapixels`` changes it, ``uptflow enhance`` has no such limit.
DEFAULT_MAX_PIXELS = 16_000_000

#: Longest side of the before/after previews shown in the page (the download is full size).
PREVIEW_SIDE = 1600

#: Largest number of samples per request (each one is a full enhancement).
MAX_SAMPLES = 8


NO_IMAGE = "no image: upload a photo or pick a sample first"


class DemoInputError(ValueError):
    """A problem with what the user sent (file or options); ``str(err)`` is one line for the page."""


@dataclass
class DemoResult:
    """One request's outcome.

    Attributes:
        files: full-resolution PNGs, one per sample (``NAME_uptflow.png`` or ``NAME_uptflow_sI.png``).
        before: ``(h, w, 3)`` uint8 preview of the input (longest side <= :data:`PREVIEW_SIDE`).
        afters: one ``(h, w, 3)`` uint8 preview per sample, same size as ``before``.
        width, height: full resolution of the input (after EXIF orientation).
        seconds: wall time of the enhancement (decode and model, not the PNG writing).
        device: where the model ran, e.g. ``"cpu (2 threads)"``.
        seed: the seed used (``None`` at temperature 0).
        steps: model passes the enhancement took (1 = whole image; more = tiled).
        exposure: EV applied to the result (0 = none).
        highlights: ``"auto"``, ``"protect"`` or ``"off"`` (:mod:`uptflow.inference.highlights`).
        notes: the image reader's notes (one line each), shown as warnings in the page.
    """

    files: list[Path]
    before: np.ndarray
    afters: list[np.ndarray]
    width: int
    height: int
    seconds: float
    device: str
    seed: int | None
    steps: int = 1
    exposure: float = 0.0
    highlights: str = "auto"
    notes: list[str] = field(default_factory=list)


def device_label(model: torch.nn.Module) -> str:
    """Human-readable device of ``model``: ``"cpu (N threads)"`` or ``"cuda:0 (GPU name)"``."""
    dev = next(model.parameters()).device
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n != 1 else ''})"


def _to_u8(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float in ``[0, 1]`` -> uint8, rounded as :func:`uptflow.io.write.save_image` does."""
    return quantize(rgb, 8)


def _preview(rgb: np.ndarray, side: int) -> np.ndarray:
    """uint8 preview of ``(H, W, 3)`` float in ``[0, 1]`` whose longest side is at most ``side``."""
    from PIL import Image

    u8 = _to_u8(rgb)
    h, w = u8.shape[:2]
    if max(h, w) <= side:
        return u8
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(u8).resize(size, Image.Resampling.LANCZOS))


def _stem(name: str) -> str:
    """A safe file-name stem from an uploaded file's name (letters, digits, ``._-`` only)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._") or "image"
    return stem[:80]


class Enhancer:
    """Enhance uploaded files with one loaded model; safe to call from several threads.

    Args:
        model: a loaded :class:`uptflow.UPTFlow` (eval mode) on its device.
        store: where results are written (default: a fresh temporary :class:`ResultStore`).
        max_pixels: largest ``width * height`` accepted (:data:`DEFAULT_MAX_PIXELS`).
        preview_side: longest side of the page's previews.
        model_name: shown in the page (e.g. the checkpoint's file name).
        tile: as ``uptflow enhance --tile``: ``None`` = tile only images that would not fit in
            memory (the default), ``0`` = never, ``N >= 64`` = N-pixel tiles for larger images.
        precision: the encoder's arithmetic, as ``uptflow enhance --precision`` (``float32``,
            the default, ``bfloat16`` or ``float16``); one server runs one precision.
    """

    def __init__(self, model: torch.nn.Module, store: ResultStore | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS, preview_side: int = PREVIEW_SIDE,
                 model_name: str = "model", tile: int | None = None, precision: str = "float32") -> None:
        from uptflow.nets.precision import check_precision

        if max_pixels < 1:
            raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
        self.precision = check_precision(precision)
        self.model = model
        self.store = store if store is not None else ResultStore()
        self.max_pixels = int(max_pixels)
        self.preview_side = int(preview_side)
        self.model_name = model_name
        self.tile = tile
        self.device = device_label(model)

    # ---------------------------------------------------------------------------- checks
    def check_size(self, path: Path, name: str) -> tuple[int, int]:
        """``(width, height)`` from the header; :class:`DemoInputError` above the pixel limit.

        Reading the header only (PIL opens lazily) rejects a huge image before its pixels are
        decoded.  A file PIL cannot open at all is left to :meth:`load` for the exact reason.
        """
        from PIL import Image

        from uptflow.io.read import header_size

        try:
            w, h = header_size(path)
        except Image.DecompressionBombError:
            raise DemoInputError(f"{name}: image too large (over {self.max_pixels:,} pixels)") from None
        except Exception:  # noqa: BLE001 - unreadable: load() gives the precise reason
            return 0, 0
        if w * h > self.max_pixels:
            raise DemoInputError(f"{name}: image too large: {w}x{h} = {w * h:,} pixels; this demo accepts at "
                                 f"most {self.max_pixels:,} pixels (use `uptflow enhance` for bigger photos)")
        return w, h

    def load(self, path: str | Path, name: str | None = None):
        """Decode ``path`` like the CLI; :class:`DemoInputError` for a non-image, corrupt or huge file.

        Returns:
            ``(loaded, notes)``: :class:`uptflow.io.read.LoadedImage` (``rgb`` ``(H, W, 3)``
            float32 in ``[0, 1]``) and the reader's notes (e.g. "interlaced 16-bit colour PNG is
            read at 8-bit precision"), one line each, naming ``name`` (the CLI prints the same notes).
        """
        from uptflow.io.read import ImageReadError, load_image

        if path is None:
            raise DemoInputError(NO_IMAGE)
        p = Path(path)
        name = name or p.name
        self.check_size(p, name)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                loaded = load_image(p)
        except ImageReadError as err:
            raise DemoInputError(f"{name}: {err.reason}") from None
        notes = [one_line(str(w.message).replace(str(p), name), 200) for w in caught]
        return loaded, list(dict.fromkeys(notes))

    def preview(self, path: str | Path, name: str | None = None) -> tuple[np.ndarray, list[str]]:
        """``(preview, notes)``: uint8 ``(h, w, 3)`` preview of an upload and the reader's notes
        (errors as in :meth:`load`)."""
        loaded, notes = self.load(path, name)
        return _preview(loaded.rgb, self.preview_side), notes

    @staticmethod
    def check_options(temperature: float, samples: int, seed: int | None) -> None:
        """One-line :class:`DemoInputError` for option values the model cannot use."""
        if not np.isfinite(temperature) or temperature < 0:
            raise DemoInputError(f"temperature must be >= 0, got {temperature}")
        if not 1 <= samples <= MAX_SAMPLES:
            raise DemoInputError(f"number of samples must be 1..{MAX_SAMPLES}, got {samples}")
        if samples > 1 and temperature == 0:
            raise DemoInputError("more than one sample needs a temperature > 0 (at 0 every sample is identical)")
        if seed is not None and seed < 0:
            raise DemoInputError(f"seed must be >= 0, got {seed}")

    # ---------------------------------------------------------------------------- the work
    def enhance_file(self, path: str | Path, name: str | None = None, temperature: float = 0.0,
                     samples: int = 1, seed: int | None = None, exposure: float = 0.0,
                     progress: Callable[[int, int], None] | None = None, highlights: str = "auto") -> DemoResult:
        """Enhance one uploaded file; write full-resolution PNGs; return them with previews.

        ``exposure`` (EV) and ``highlights`` act as ``uptflow enhance --exposure / --highlights``.
        """
        from uptflow import api
        from uptflow.io.write import save_image

        samples = int(samples)
        self.check_options(temperature, samples, seed)
        from uptflow.inference.exposure import check_exposure
        from uptflow.inference.highlights import check_highlights

        try:
            ev = check_exposure(float(exposure), "exposure")
            highlights = check_highlights(highlights)
        except (TypeError, ValueError) as err:
            raise DemoInputError(one_line(err)) from None
        if path is None:
            raise DemoInputError(NO_IMAGE)
        name = name or Path(path).name
        start = time.perf_counter()
        loaded, notes = self.load(path, name)
        h, w = loaded.rgb.shape[:2]
        if temperature > 0 and seed is None:
            seed = api.new_seed()
        steps = [1]

        def on_step(done: int, total: int) -> None:
            steps[0] = total
            if progress is not None:
                progress(done, total)

        options = api.check_options(temperature=float(temperature), samples=samples, tile=self.tile,
                                    seed=seed if temperature > 0 else None, precision=self.precision,
                                    highlights=highlights)
        outs = api.enhance_array(self.model, loaded.rgb, options=options, progress=on_step,
                                 exposure=ev)  # as `uptflow enhance --exposure EV --precision P`
        seconds = time.perf_counter() - start

        folder = self.store.new_folder()
        stem = _stem(name) + "_uptflow"
        files = [folder / (f"{stem}.png" if samples == 1 else f"{stem}_s{i}.png") for i in range(samples)]
        depth = 16 if loaded.bit_depth == 16 else 8
        for target, rgb in zip(files, outs):
            save_image(target, rgb, alpha=loaded.alpha, bit_depth=depth)
        return DemoResult(
            files=files,
            before=_preview(loaded.rgb, self.preview_side),
            afters=[_preview(o, self.preview_side) for o in outs],
            width=w, height=h, seconds=seconds, device=self.device,
            seed=seed if temperature > 0 else None, steps=steps[0],
            exposure=ev, highlights=highlights, notes=notes,
        )

    def describe(self, result: DemoResult, temperature: float) -> str:
        """One Markdown line for the page: time, device, size, model, precision, tiling, seed."""
        parts = [f"**{result.seconds:.2f} s** on {result.device}", f"{result.width}x{result.height} px",
                 f"model {self.model_name}"]
        if self.precision != "float32":
            parts.append(f"precision {self.precision}")
        if result.steps > 1:
            parts.append(f"tiled ({result.steps} steps)")
        if temperature > 0:
            parts.append(f"temperature {temperature:g}, seed {result.seed}")
        if result.exposure:
            parts.append(f"exposure {result.exposure:+g} EV")
        if result.highlights != "auto":
            parts.append(f"highlights {result.highlights}")
        return " · ".join(parts)

    def close(self) -> None:
        """Remove the result files."""
        self.store.close()


def user_message(err: BaseException) -> str:
    """One line for the page from an unexpected failure (memory hints included)."""
    text = one_line(err, 200)
    if is_out_of_memory(err):
        return "out of memory while enhancing; try a smaller image"
    return f"enhancement failed: {text}"
