"""Writing files atomically, and images in particular.

:func:`atomic_write` is THE way uptflow writes a file (images, checkpoints, converted models,
metrics): the content goes to a hidden temporary file in the same folder (``.NAME.XXXX.tmp``,
created with ``O_EXCL`` so nothing is ever clobbered) and is renamed onto the target with
``os.replace`` in one step.  Whatever happens in between (an encoder error, a full disk, Ctrl-C),
the temporary file is removed and the target is either the old file or the complete new one,
never half-written.  Errors become one-line :class:`WriteError` exceptions (``OSError``).

:func:`save_image` writes ``(H, W, 3)`` (or grey ``(H, W)``) arrays, 8- or 16-bit.
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from uptflow.io.formats import IMAGE_EXTENSIONS, NO_ALPHA_FORMATS, PIL_FORMAT
from uptflow.io.png16 import png16_encode
from uptflow.messages import one_line, show_path

__all__ = ["WriteError", "ImageWriteError", "atomic_write", "quantize", "quantize_as", "save_image", "TEMP_SUFFIX"]

#: Suffix of the temporary files :func:`atomic_write` creates (hidden: their names start with ".").
TEMP_SUFFIX = ".tmp"


class WriteError(OSError):
    """A file could not be written; ``str(err)`` is ``"<file>: <reason>"`` on one line."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = one_line(reason, 160)
        super().__init__(f"{show_path(self.path)}: {self.reason}")

    def __str__(self) -> str:  # OSError's default str() would show "[Errno ...]" formatting
        return f"{show_path(self.path)}: {self.reason}"


class ImageWriteError(WriteError):
    """An image could not be written (unknown extension, folder, permission, disk full, ...)."""


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None], *,
                 error: type[WriteError] = WriteError, what: str = "file", durable: bool = False) -> Path:
    """Run ``write(tmp)`` on a hidden temporary file next to ``path``, then rename it onto ``path``.

    Args:
        path: the target; parent folders are created.  An existing file is replaced in one step.
        write: writes the complete content to the path it is given.
        error: the :class:`WriteError` subclass to raise.
        what: what is written, for messages ("image", "model", ...).
        durable: ``fsync`` the file before the rename and the folder after it (checkpoints: a
            power cut must leave the previous file, not an empty new one).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        WriteError (``error``): the folder cannot be created, ``path`` is a folder, permission
            denied, disk full, or ``write`` failed.  ``KeyboardInterrupt`` and other
            ``BaseException`` subclasses pass through unchanged, after the temporary file is removed.
    """
    p = Path(path)
    parent = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise error(p, f"cannot create folder {show_path(parent)} ({e.strerror or e})") from None
    if p.is_dir():
        raise error(p, "is a folder; give a file name")
    name = p.name if len(os.fsencode(p.name)) <= 200 else p.name[:60]  # stay under NAME_MAX (255 bytes)
    tmp = parent / f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    try:
        # O_EXCL: never clobber anything; mode 0o666 lets the umask decide, like a normal open()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
        write(tmp)
        if durable:
            _fsync(tmp)
        os.replace(tmp, p)
    except BaseException as e:  # noqa: BLE001 - the temporary file goes whatever went wrong
        _unlink_quietly(tmp)
        if isinstance(e, WriteError) or not isinstance(e, Exception):
            raise  # ours already, or KeyboardInterrupt / SystemExit: pass through unchanged
        if isinstance(e, PermissionError):
            raise error(p, "permission denied") from None
        reason = e.strerror if isinstance(e, OSError) and e.strerror else f"{type(e).__name__}: {e}"
        raise error(p, f"cannot write {what} ({one_line(reason, 100)})") from None
    if durable:
        _fsync(parent, folder=True)
    return p


def _fsync(p: Path, folder: bool = False) -> None:
    try:
        fd = os.open(p, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0))
    except OSError:
        if folder:  # some platforms cannot open folders; the file itself was synced
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:
            raise
    finally:
        os.close(fd)


def _unlink_quietly(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


def save_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    quality: int = 95,
) -> None:
    """Write an image; the format follows the file extension (see :data:`IMAGE_EXTENSIONS`).

    The file is written to a hidden temporary file in the same folder and then renamed over
    ``path`` (``os.replace``), so an interrupted run never leaves a half-written image behind
    and an existing file is replaced in one step.  Parent folders are created.

    Args:
        path: output file.
        rgb: ``(H, W, 3)`` colour, or ``(H, W)`` / ``(H, W, 1)`` grey (saved as a grey image).
            Floats are taken as ``[0, 1]`` (clipped, NaN -> 0); ``uint8``/``uint16`` as stored values.
        alpha: optional ``(H, W)`` (or ``(H, W, 1)``) opacity with the same conventions.  JPEG and
            BMP cannot store alpha, so it is dropped there (silently, by design: callers that care
            choose PNG/TIFF/WebP).
        bit_depth: 8 or 16.  16 is honoured for PNG (built-in encoder) and TIFF (grey via Pillow,
            colour via ``tifffile`` if installed); otherwise the file is written at 8 bits with a
            ``UserWarning``.
        quality: JPEG/WebP quality 1..100.

    Raises:
        ImageWriteError: unknown extension, folder cannot be created, file cannot be written.
        ValueError / TypeError: ``rgb``/``alpha`` of a wrong shape or dtype (a caller bug).
    """
    p = Path(path)
    fmt = PIL_FORMAT.get(p.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise ImageWriteError(p, f"unknown image extension {p.suffix!r} (use one of {known})")
    if bit_depth not in (8, 16):
        raise ValueError(f"{show_path(p)}: bit_depth must be 8 or 16, got {bit_depth!r}")

    color = _to_hwc(rgb, "rgb", p)
    if color.shape[2] not in (1, 3):
        raise ValueError(f"{show_path(p)}: rgb must be (H,W,3), (H,W) or (H,W,1), got shape {np.shape(rgb)}")
    a = None
    if alpha is not None and fmt not in NO_ALPHA_FORMATS:
        a = _to_hwc(alpha, "alpha", p)
        if a.shape != color.shape[:2] + (1,):
            raise ValueError(
                f"{show_path(p)}: alpha shape {np.shape(alpha)} does not match image {color.shape[:2]}"
            )

    depth = bit_depth
    if depth == 16 and fmt not in ("PNG", "TIFF"):
        warnings.warn(f"{show_path(p)}: {fmt} cannot store 16-bit samples; writing 8-bit", stacklevel=2)
        depth = 8
    if depth == 16 and fmt == "TIFF" and (color.shape[2] == 3 or a is not None):
        try:
            import tifffile  # noqa: F401
        except ImportError:
            warnings.warn(f"{show_path(p)}: 16-bit colour TIFF needs 'tifffile'; writing 8-bit", stacklevel=2)
            depth = 8

    pixels = quantize(color if a is None else np.concatenate([color, a], axis=2), depth)
    atomic_write(p, lambda tmp: _write_pixels(tmp, pixels, fmt, depth, quality), error=ImageWriteError, what="image")


def _to_hwc(x: np.ndarray, name: str, p: Path) -> np.ndarray:
    """Coerce an array to ``(H, W, C)``; reject non-numeric or wrongly shaped data early."""
    a = np.asarray(x)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.floating) or a.dtype in (np.uint8, np.uint16)):
        raise TypeError(f"{show_path(p)}: {name} must be float, uint8 or uint16, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{show_path(p)}: {name} must be (H,W) or (H,W,C), got shape {np.shape(x)}")
    return a


def quantize(a: np.ndarray, depth: int) -> np.ndarray:
    """Float ``[0,1]`` / uint8 / uint16 ``(H,W,C)`` -> uint8 (depth 8) or uint16 (depth 16).

    Floats are rounded in float64 (NaN -> 0, +-inf clipped): the one quantiser of the package, so
    the arrays ``uptflow.enhance`` returns hold the pixels ``uptflow enhance`` writes.
    """
    if a.dtype == np.uint8:
        return a if depth == 8 else a.astype(np.uint16) * np.uint16(257)
    if a.dtype == np.uint16:
        if depth == 16:
            return a
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    maxv = 255.0 if depth == 8 else 65535.0
    f = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    q = np.rint(np.clip(f, 0.0, 1.0) * maxv)
    return q.astype(np.uint8 if depth == 8 else np.uint16)


def quantize_as(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float ``[0, 1]`` values -> ``dtype``: uint8 / uint16 rounded by :func:`quantize`, a float
    type clipped to ``[0, 1]`` (the inverse of :func:`uptflow.io.pixels.to_unit_float`)."""
    if dtype in (np.uint8, np.uint16):
        return quantize(x, 8 if dtype == np.uint8 else 16)
    return np.clip(x, 0, 1).astype(dtype)


def _write_pixels(tmp: Path, px: np.ndarray, fmt: str, depth: int, quality: int) -> None:
    """Encode ``(H, W, C)`` uint8/uint16 pixels (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) to ``tmp``."""
    c = px.shape[2]
    if depth == 16 and fmt == "PNG":
        tmp.write_bytes(png16_encode(px))
        return
    if depth == 16 and fmt == "TIFF":
        if c == 1:  # Pillow handles 16-bit grey without extra packages
            Image.fromarray(np.ascontiguousarray(px[:, :, 0])).save(tmp, format="TIFF")
            return
        import tifffile

        photometric = "minisblack" if c <= 2 else "rgb"
        extrasamples = ("unassalpha",) if c in (2, 4) else None
        tifffile.imwrite(
            tmp, np.ascontiguousarray(px), photometric=photometric, extrasamples=extrasamples
        )
        return
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[c]
    im = Image.fromarray(np.ascontiguousarray(px if c > 1 else px[:, :, 0]), mode)
    if fmt == "WEBP" and mode in ("L", "LA"):
        im = im.convert("RGB" if mode == "L" else "RGBA")
    kwargs: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = int(quality)
    im.save(tmp, format=fmt, **kwargs)
