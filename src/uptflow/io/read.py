"""Reading image files into ``float32`` arrays in ``[0, 1]``.

:func:`load_image` / :func:`read_rgb` read JPEG, PNG, BMP, TIFF and WebP (8- and 16-bit, grey,
alpha, palette, CMYK) into a :class:`LoadedImage` with ``rgb`` of shape ``(H, W, 3)``.

Why the care: a batch run over a folder must not die, or print a traceback, because one file is
broken.  Every problem with a file becomes an :class:`ImageReadError` (a ``ValueError``) whose
message is one line naming the file (printably, see :func:`uptflow.messages.show_path`) and the
reason.  Pillow reads 16-bit *colour* PNG and TIFF silently as 8-bit: 16-bit colour PNG goes
through :mod:`uptflow.io.png16`, 16-bit colour TIFF through ``tifffile`` (a dependency).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from uptflow.io.formats import file_problem
from uptflow.io.png16 import png16_decode, png_header
from uptflow.messages import one_line, show_path

__all__ = ["ImageReadError", "LoadedImage", "header_size", "load_image", "read_rgb"]


class ImageReadError(ValueError):
    """A file could not be read as an image; ``str(err)`` is ``"<file>: <reason>"`` on one line."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = one_line(reason, 160)
        super().__init__(f"{show_path(self.path)}: {self.reason}")


@dataclass
class LoadedImage:
    """A decoded image.

    Attributes:
        rgb: ``(H, W, 3)`` float32 in ``[0, 1]``; grey images are replicated to 3 channels.
        alpha: ``(H, W)`` float32 in ``[0, 1]`` (1 = opaque), or ``None`` without transparency.
        bit_depth: 8 or 16, the precision of the stored samples (so the output can match it).
        was_gray: the file held a single grey channel (so the output can be saved as grey).
        path: the file it came from, or ``None``.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    was_gray: bool
    path: Path | None = None


def load_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Read an image file fully into memory.

    The pixels are decoded right here (not lazily), so a truncated or corrupt file fails now with
    an :class:`ImageReadError` instead of later inside the model.  EXIF orientation is applied,
    so the array is upright as a viewer would show it.  Multi-frame files give their first frame.

    Args:
        path: the file; its content decides the format (the extension is not trusted).

    Returns:
        :class:`LoadedImage` with ``rgb`` ``(H, W, 3)`` float32 in ``[0, 1]``.

    Raises:
        ImageReadError: missing, not a regular file (folder, FIFO, device, symlink loop), empty, unreadable, not an image, truncated/corrupt, or a pixel
            mode that has no sensible RGB meaning (e.g. 32-bit float).
    """
    p = Path(path)
    problem = file_problem(p)  # before open(): opening a FIFO would block for ever
    if problem is not None:
        raise ImageReadError(p, problem)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise ImageReadError(p, f"cannot access file ({e.strerror or e})") from None
    if size == 0:
        raise ImageReadError(p, "empty (0 bytes)")

    try:
        with Image.open(p) as img:
            rgb_u, alpha_u, bit_depth, was_gray = _decode(img, p)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageReadError(p, f"too large to decode safely ({e})") from None
    except UnidentifiedImageError:
        raise ImageReadError(p, "not an image (unrecognised file format)") from None
    except PermissionError:
        raise ImageReadError(p, "permission denied") from None
    except Exception as e:  # noqa: BLE001 - any decoder failure on a bad file is a one-line error
        detail = one_line(f"{type(e).__name__}: {e}", 100)
        raise ImageReadError(p, f"truncated or corrupt ({detail})") from None

    scale = 65535.0 if bit_depth == 16 else 255.0
    rgb = rgb_u.astype(np.float32) / np.float32(scale)
    alpha = None if alpha_u is None else alpha_u.astype(np.float32) / np.float32(scale)
    return LoadedImage(
        rgb=np.ascontiguousarray(rgb),
        alpha=None if alpha is None else np.ascontiguousarray(alpha),
        bit_depth=bit_depth,
        was_gray=was_gray,
        path=p,
    )


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` float32 in ``[0, 1]`` (alpha dropped); see :func:`load_image`."""
    return load_image(path).rgb


def header_size(path: str | os.PathLike[str], oriented: bool = False) -> tuple[int, int]:
    """``(width, height)`` of an image file from its header, without decoding the pixels.

    With ``oriented`` the EXIF orientation is applied (a 90-degree tag swaps the two), i.e. the
    size :func:`load_image` will return.  One reader for every "how big is it before we decode
    it" question (work shares of a torchrun job, the demo's pixel limit, pair verification).
    PIL's errors propagate -- callers decide what an unreadable header means -- including
    ``Image.DecompressionBombError`` for a header claiming a gigantic image (the warning below
    that size is silenced: callers check the size themselves).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            w, h = im.size
            orientation = 1
            if oriented:
                try:
                    orientation = im.getexif().get(0x0112, 1)
                except Exception:  # noqa: BLE001 - a broken EXIF block does not change the size
                    orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _decode(img: Image.Image, p: Path) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
    """Decode an open PIL image to ``(rgb (H,W,3), alpha (H,W)|None, bit_depth, was_gray)``.

    ``rgb``/``alpha`` are unsigned integer arrays (uint8 for 8-bit, uint16 for 16-bit), upright.
    """
    fmt = img.format
    # Pillow silently reduces 16-bit colour PNG/TIFF to 8 bit; use a lossless path where we can.
    if fmt == "PNG":
        bits, color_type, interlace = png_header(p)
        if bits == 16 and color_type in (2, 4, 6):
            if interlace == 0:
                arr, exif_bytes = png16_decode(p.read_bytes())
                orientation = _orientation_from_exif_bytes(exif_bytes)
                return _split_channels(_apply_orientation(arr, orientation), 16)
            warnings.warn(
                f"{show_path(p)}: interlaced 16-bit colour PNG is read at 8-bit precision", stacklevel=3
            )
    if fmt == "TIFF" and img.mode in ("RGB", "RGBA") and 16 in _as_tuple(img.tag_v2.get(258)):
        arr = _tiff16_decode(p)
        if arr is not None:
            orientation = int(img.getexif().get(0x0112, 1) or 1)
            return _split_channels(_apply_orientation(arr, orientation), 16)
        warnings.warn(
            f"{show_path(p)}: 16-bit colour TIFF read at 8-bit precision (install 'tifffile' for 16-bit)",
            stacklevel=3,
        )

    img.load()  # force the full decode now: truncated data raises here, not later
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - broken EXIF metadata must not reject valid pixels
        warnings.warn(f"{show_path(p)}: unreadable EXIF orientation ignored", stacklevel=3)

    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return _split_channels(np.asarray(img).astype(np.uint16), 16)
    if mode == "I":  # 32-bit int; Pillow uses it for some 16-bit grey files
        a = np.asarray(img)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ImageReadError(p, "unsupported mode 'I' (32-bit integer values beyond 16 bits)")
        return _split_channels(a.astype(np.uint16), 16)
    if mode in ("1", "L"):
        return _split_channels(np.asarray(img.convert("L")), 8)
    if mode in ("LA", "La"):
        return _split_channels(np.asarray(img.convert("LA")), 8)
    if mode == "P":
        target = "RGBA" if "transparency" in img.info else "RGB"
        return _split_channels(np.asarray(img.convert(target)), 8, gray=False)
    if mode in ("PA", "RGBA", "RGBa"):
        return _split_channels(np.asarray(img.convert("RGBA")), 8)
    if mode in ("RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        return _split_channels(np.asarray(img.convert("RGB")), 8)
    raise ImageReadError(p, f"unsupported mode {mode!r} (expected 8/16-bit grey, RGB, RGBA or CMYK)")


def _split_channels(
    a: np.ndarray, bit_depth: int, gray: bool | None = None
) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
    """``(H,W)``, ``(H,W,2)``, ``(H,W,3)`` or ``(H,W,4)`` ints -> (rgb (H,W,3), alpha, depth, was_gray)."""
    if a.ndim == 2:
        a = a[:, :, None]
    c = a.shape[2]
    color = a[:, :, :1] if c in (1, 2) else a[:, :, :3]
    alpha = a[:, :, c - 1] if c in (2, 4) else None
    rgb = np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color
    was_gray = (c in (1, 2)) if gray is None else gray
    return rgb, alpha, bit_depth, was_gray


def _as_tuple(v: object) -> tuple:
    if v is None:
        return ()
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation 1..8 to an ``(H, W[, C])`` array, exactly as ``ImageOps.exif_transpose``."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return a[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(a, 1)
    return a


def _orientation_from_exif_bytes(data: bytes | None) -> int:
    if not data:
        return 1
    try:
        exif = Image.Exif()
        exif.load(data)
        return int(exif.get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - broken metadata: keep the pixels as stored
        return 1


def _tiff16_decode(p: Path) -> np.ndarray | None:
    """First page of a 16-bit colour TIFF as ``(H, W, 3|4)`` uint16 via tifffile; None if absent."""
    try:
        import tifffile
    except ImportError:
        return None
    a = np.asarray(tifffile.imread(p, key=0))
    if a.ndim == 3 and a.shape[0] in (3, 4) and a.shape[2] not in (3, 4):  # planar layout
        a = np.moveaxis(a, 0, 2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.dtype != np.uint16:
        raise ValueError(f"unexpected 16-bit TIFF layout {a.shape} {a.dtype}")
    return a
