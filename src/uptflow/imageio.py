"""Image file input/output for the enhancement CLI and API.

Everything that touches image *files* lives here, so that the rest of the package only ever sees
``float32`` arrays in ``[0, 1]``:

- :func:`load_image` / :func:`read_rgb` read JPEG, PNG, BMP, TIFF and WebP (8- and 16-bit, grey,
  alpha, palette, CMYK) into a :class:`LoadedImage` with ``rgb`` of shape ``(H, W, 3)``.
- :func:`save_image` writes ``(H, W, 3)`` (or grey ``(H, W)``) arrays atomically.
- :func:`list_images` expands files, folders and glob patterns given on a command line.
- :func:`to_tensor` / :func:`to_numpy` convert between ``(H, W, 3)`` arrays and ``(1, 3, H, W)``
  tensors.

Why the care: a batch run over a folder must not die, or print a traceback, because one file is
broken.  Every problem with a file becomes an :class:`ImageReadError` (a ``ValueError``) or an
:class:`ImageWriteError` (an ``OSError``) whose message is one line naming the file and the reason.

Pillow reads 16-bit *colour* PNG and TIFF files silently as 8-bit, losing the extra precision, and
cannot write them at all.  16-bit colour TIFF goes through ``tifffile`` when it is installed (it is
optional); 16-bit PNG (colour types 0/2/4/6, non-interlaced) is decoded and encoded by the small
pure ``zlib`` + NumPy codec at the bottom of this module, so no extra dependency is needed.
"""

from __future__ import annotations

import glob
import os
import secrets
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from uptflow.messages import one_line

if TYPE_CHECKING:  # torch is imported lazily: reading images must not pay for importing torch
    import torch

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "ImageWriteError",
    "LoadedImage",
    "load_image",
    "read_rgb",
    "save_image",
    "list_images",
    "to_tensor",
    "to_numpy",
]

#: Lower-case file suffixes treated as images (matching is case-insensitive).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
)

_PIL_FORMAT = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
_NO_ALPHA_FORMATS = {"JPEG", "BMP"}  # formats that cannot store an alpha channel (Pillow writes 24-bit BMP)
_GLOB_CHARS = set("*?[")


class ImageReadError(ValueError):
    """A file could not be read as an image; ``str(err)`` is ``"<file>: <reason>"`` on one line."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = one_line(reason, 160)
        super().__init__(f"{self.path}: {self.reason}")


class ImageWriteError(OSError):
    """An image could not be written; ``str(err)`` is ``"<file>: <reason>"`` on one line."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = one_line(reason, 160)
        super().__init__(f"{self.path}: {self.reason}")

    def __str__(self) -> str:  # OSError's default str() would show "[Errno ...]" formatting
        return f"{self.path}: {self.reason}"


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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


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
        ImageReadError: missing, empty, unreadable, not an image, truncated/corrupt, or a pixel
            mode that has no sensible RGB meaning (e.g. 32-bit float).
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ImageReadError(p, "no such file") from None
    except PermissionError:
        raise ImageReadError(p, "permission denied") from None
    except OSError as e:
        raise ImageReadError(p, f"cannot access file ({e.strerror or e})") from None
    if p.is_dir():
        raise ImageReadError(p, "is a folder, not an image file")
    if st.st_size == 0:
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


def _decode(img: Image.Image, p: Path) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
    """Decode an open PIL image to ``(rgb (H,W,3), alpha (H,W)|None, bit_depth, was_gray)``.

    ``rgb``/``alpha`` are unsigned integer arrays (uint8 for 8-bit, uint16 for 16-bit), upright.
    """
    fmt = img.format
    # Pillow silently reduces 16-bit colour PNG/TIFF to 8 bit; use a lossless path where we can.
    if fmt == "PNG":
        bits, color_type, interlace = _png_header(p)
        if bits == 16 and color_type in (2, 4, 6):
            if interlace == 0:
                arr, exif_bytes = _png16_decode(p.read_bytes())
                orientation = _orientation_from_exif_bytes(exif_bytes)
                return _split_channels(_apply_orientation(arr, orientation), 16)
            warnings.warn(
                f"{p}: interlaced 16-bit colour PNG is read at 8-bit precision", stacklevel=3
            )
    if fmt == "TIFF" and img.mode in ("RGB", "RGBA") and 16 in _as_tuple(img.tag_v2.get(258)):
        arr = _tiff16_decode(p)
        if arr is not None:
            orientation = int(img.getexif().get(0x0112, 1) or 1)
            return _split_channels(_apply_orientation(arr, orientation), 16)
        warnings.warn(
            f"{p}: 16-bit colour TIFF read at 8-bit precision (install 'tifffile' for 16-bit)",
            stacklevel=3,
        )

    img.load()  # force the full decode now: truncated data raises here, not later
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - broken EXIF metadata must not reject valid pixels
        warnings.warn(f"{p}: unreadable EXIF orientation ignored", stacklevel=3)

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


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


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
    fmt = _PIL_FORMAT.get(p.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise ImageWriteError(p, f"unknown image extension {p.suffix!r} (use one of {known})")
    if bit_depth not in (8, 16):
        raise ValueError(f"{p}: bit_depth must be 8 or 16, got {bit_depth!r}")

    color = _to_hwc(rgb, "rgb", p)
    if color.shape[2] not in (1, 3):
        raise ValueError(f"{p}: rgb must be (H,W,3), (H,W) or (H,W,1), got shape {np.shape(rgb)}")
    a = None
    if alpha is not None and fmt not in _NO_ALPHA_FORMATS:
        a = _to_hwc(alpha, "alpha", p)
        if a.shape != color.shape[:2] + (1,):
            raise ValueError(
                f"{p}: alpha shape {np.shape(alpha)} does not match image {color.shape[:2]}"
            )

    depth = bit_depth
    if depth == 16 and fmt not in ("PNG", "TIFF"):
        warnings.warn(f"{p}: {fmt} cannot store 16-bit samples; writing 8-bit", stacklevel=2)
        depth = 8
    if depth == 16 and fmt == "TIFF" and (color.shape[2] == 3 or a is not None):
        try:
            import tifffile  # noqa: F401
        except ImportError:
            warnings.warn(f"{p}: 16-bit colour TIFF needs 'tifffile'; writing 8-bit", stacklevel=2)
            depth = 8

    pixels = _quantize(color if a is None else np.concatenate([color, a], axis=2), depth)
    _atomic_write(p, lambda tmp: _write_pixels(tmp, pixels, fmt, depth, quality))


def _to_hwc(x: np.ndarray, name: str, p: Path) -> np.ndarray:
    """Coerce an array to ``(H, W, C)``; reject non-numeric or wrongly shaped data early."""
    a = np.asarray(x)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.floating) or a.dtype in (np.uint8, np.uint16)):
        raise TypeError(f"{p}: {name} must be float, uint8 or uint16, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{p}: {name} must be (H,W) or (H,W,C), got shape {np.shape(x)}")
    return a


def _quantize(a: np.ndarray, depth: int) -> np.ndarray:
    """Float ``[0,1]`` / uint8 / uint16 ``(H,W,C)`` -> uint8 (depth 8) or uint16 (depth 16)."""
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


def _write_pixels(tmp: Path, px: np.ndarray, fmt: str, depth: int, quality: int) -> None:
    """Encode ``(H, W, C)`` uint8/uint16 pixels (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) to ``tmp``."""
    c = px.shape[2]
    if depth == 16 and fmt == "PNG":
        tmp.write_bytes(_png16_encode(px))
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


def _atomic_write(p: Path, write) -> None:
    """Run ``write(tmp_path)`` on a hidden temp file next to ``p``, then ``os.replace`` it onto ``p``."""
    parent = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ImageWriteError(p, f"cannot create folder {parent} ({e.strerror or e})") from None
    if p.is_dir():
        raise ImageWriteError(p, "is a folder; give an output file name")
    tmp = parent / f".{p.name}.{secrets.token_hex(4)}.tmp"
    try:
        # O_EXCL: never clobber anything; mode 0o666 lets the umask decide, like a normal open()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
        write(tmp)
        os.replace(tmp, p)
    except ImageWriteError:
        _unlink_quietly(tmp)
        raise
    except PermissionError:
        _unlink_quietly(tmp)
        raise ImageWriteError(p, "permission denied") from None
    except Exception as e:  # noqa: BLE001 - disk full, encoder limits, ...: one line, no traceback
        _unlink_quietly(tmp)
        reason = e.strerror if isinstance(e, OSError) and e.strerror else f"{type(e).__name__}: {e}"
        raise ImageWriteError(p, f"cannot write image ({one_line(reason, 100)})") from None


def _unlink_quietly(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# Listing inputs
# --------------------------------------------------------------------------------------------


def _is_image_name(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


def prepare_output_dir(out: Path, flag: str = "output") -> Path:
    """Create ``out`` if needed and make sure files can be written there (one-line errors)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag} {out} exists and is not a folder; {flag} takes a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create output folder {out} ({err.strerror or err})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to output folder {out} (permission denied)")
    return out


def list_images(inputs: Sequence[str | os.PathLike[str]], recursive: bool = False) -> list[Path]:
    """Expand command-line inputs into a list of image files.

    Each input may be a file (returned as is, whatever its extension: the reader will report a
    non-image), a folder (its image files, sorted; sub-folders too when ``recursive``), or a glob
    pattern such as ``*.png`` or ``dir/**/*.jpg`` (matching image files, sorted).  Hidden files
    (names starting with ``.``, e.g. macOS ``._x.jpg`` or our own temporary files) are skipped in
    folders and patterns.  The order of ``inputs`` is kept; duplicates are removed.

    Raises:
        ValueError: one-line ``"no such file or folder: X"`` or ``"no images found in X"``.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not inputs:
        raise ValueError("no inputs given")
    out: list[Path] = []
    seen: set[Path] = set()

    def add(paths: list[Path]) -> None:
        for q in paths:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                out.append(q)

    for item in inputs:
        s = os.fspath(item)
        p = Path(s)
        if p.is_file():
            add([p])
        elif p.is_dir():
            found = p.rglob("*") if recursive else p.iterdir()
            imgs = sorted(q for q in found if _is_image_name(q) and q.is_file())
            if recursive:  # skip files inside hidden folders (e.g. .git, .cache)
                imgs = [q for q in imgs if not any(part.startswith(".") for part in q.relative_to(p).parts)]
            if not imgs:
                raise ValueError(f"no images found in {s}")
            add(imgs)
        elif _GLOB_CHARS & set(s):
            matches = sorted(Path(m) for m in glob.glob(s, recursive=True))
            imgs = [q for q in matches if _is_image_name(q) and q.is_file()]
            if not imgs:
                raise ValueError(f"no images found in {s}")
            add(imgs)
        else:
            raise ValueError(f"no such file or folder: {s}")
    return out


# --------------------------------------------------------------------------------------------
# Tensor helpers
# --------------------------------------------------------------------------------------------


def to_tensor(rgb: np.ndarray) -> "torch.Tensor":
    """``(H, W, 3)`` array in ``[0, 1]`` -> ``(1, 3, H, W)`` float32 CPU tensor (values unchanged)."""
    import torch

    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"to_tensor expects an (H,W,3) array, got shape {a.shape}")
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return t.permute(2, 0, 1).unsqueeze(0).contiguous()


def to_numpy(t: "torch.Tensor") -> np.ndarray:
    """``(1, 3, H, W)`` or ``(3, H, W)`` tensor -> ``(H, W, 3)`` float32 array (not clipped)."""
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError(f"to_numpy expects a batch of one image, got shape {tuple(t.shape)}")
        t = t[0]
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"to_numpy expects a (1,3,H,W) or (3,H,W) tensor, got {tuple(t.shape)}")
    import torch

    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy())


# --------------------------------------------------------------------------------------------
# Minimal 16-bit PNG codec (Pillow reads 16-bit colour PNG as 8-bit and cannot write it)
# --------------------------------------------------------------------------------------------

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def _png_header(p: Path) -> tuple[int, int, int]:
    """``(bit_depth, colour_type, interlace)`` from a PNG's IHDR (``(0, 0, 0)`` if unreadable)."""
    with open(p, "rb") as f:
        head = f.read(33)
    if len(head) < 29 or head[:8] != _PNG_SIG or head[12:16] != b"IHDR":
        return 0, 0, 0
    return head[24], head[25], head[28]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png16_encode(px: np.ndarray) -> bytes:
    """``(H, W, C)`` uint16 (C = 1, 2, 3, 4) -> 16-bit PNG bytes (filter "Sub" on every row)."""
    h, w, c = px.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = px.astype(">u2").view(np.uint8).reshape(h, w, 2 * c)  # big-endian sample bytes
    sub = raw.copy()
    sub[:, 1:] = raw[:, 1:] - raw[:, :-1]  # uint8 wrap-around == mod 256, as PNG requires
    rows = np.concatenate([np.ones((h, 1), np.uint8), sub.reshape(h, -1)], axis=1)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    return (
        _PNG_SIG
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _png_chunk(b"IEND", b"")
    )


def _png16_decode(data: bytes) -> tuple[np.ndarray, bytes | None]:
    """Decode a non-interlaced 16-bit PNG to ``(H, W, C)`` uint16 plus its raw eXIf chunk (or None).

    Raises ``ValueError`` for anything malformed (bad CRC, short data, unsupported layout).
    """
    if data[:8] != _PNG_SIG:
        raise ValueError("not a PNG signature")
    pos, n = 8, len(data)
    ihdr: tuple | None = None
    idat: list[bytes] = []
    exif: bytes | None = None
    while pos + 8 <= n:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise ValueError(f"PNG chunk {kind!r} is cut short")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            raise ValueError(f"PNG chunk {kind!r} has a bad CRC")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"eXIf":
            exif = body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None or not idat:
        raise ValueError("PNG has no IHDR or no image data")
    w, h, bits, color_type, _comp, _filt, interlace = ihdr
    if bits != 16 or color_type not in _PNG_CHANNELS or interlace != 0 or w == 0 or h == 0:
        raise ValueError(f"unsupported PNG layout (bits={bits}, colour type={color_type})")
    c = _PNG_CHANNELS[color_type]
    bpp = 2 * c
    d = zlib.decompressobj()
    raw = d.decompress(b"".join(idat))
    if not d.eof or len(raw) < h * (1 + w * bpp):
        raise ValueError("PNG image data is truncated")
    scan = np.frombuffer(raw, np.uint8, count=h * (1 + w * bpp)).reshape(h, 1 + w * bpp)
    ftype = scan[:, 0]
    if ftype.max() > 4:
        raise ValueError("PNG has an invalid row filter")
    pixels = _png_unfilter(ftype, scan[:, 1:].reshape(h, w, bpp))
    return pixels.view(">u2").reshape(h, w, c).astype(np.uint16), exif


def _png_unfilter(ftype: np.ndarray, filt: np.ndarray) -> np.ndarray:
    """Undo PNG row filters. ``filt``: ``(H, W, bpp)`` uint8, ``ftype``: ``(H,)`` in 0..4.

    Sub/Avg/Paeth depend on the already-decoded left, upper and upper-left pixels, so pixel
    ``(y, x)`` only needs anti-diagonal ``y + x - 1`` and ``y + x - 2``: we sweep the H + W - 1
    anti-diagonals, each one vectorised, instead of a Python loop over every pixel.  Rows that
    only use None/Sub/Up (what most encoders, including ours, emit) take a faster row sweep.
    """
    h, w, bpp = filt.shape
    out = np.zeros((h + 1, w + 1, bpp), np.int32)  # zero row/column = PNG's "outside" pixels
    f32 = filt.astype(np.int32)
    if ftype.max() <= 2:
        for y in range(h):
            t = ftype[y]
            if t == 0:
                out[y + 1, 1:] = f32[y]
            elif t == 1:
                out[y + 1, 1:] = np.cumsum(f32[y], axis=0) & 255
            else:
                out[y + 1, 1:] = (f32[y] + out[y, 1:]) & 255
        return out[1:, 1:].astype(np.uint8)
    ft = ftype.astype(np.int64)
    for diag in range(h + w - 1):
        ys = np.arange(max(0, diag - w + 1), min(h, diag + 1))
        xs = diag - ys
        a = out[ys + 1, xs]  # left
        b = out[ys, xs + 1]  # up
        c = out[ys, xs]  # up-left
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        preds = np.stack([np.zeros_like(a), a, b, (a + b) >> 1, paeth])  # (5, n, bpp)
        t = ft[ys]
        pred = preds[t, np.arange(len(ys))]
        out[ys + 1, xs + 1] = (f32[ys, xs] + pred) & 255
    return out[1:, 1:].astype(np.uint8)
