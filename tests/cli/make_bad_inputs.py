"""Build the corpus of awkward input files the CLI must survive (see README.md next to this file).

Usage:
    python tests/cli/make_bad_inputs.py            # (re)write the committed copies in this folder
    python tests/cli/make_bad_inputs.py DEST       # full corpus, incl. uncommittable entries, in DEST

From tests (the file is not a package module, so load it by path)::

    import importlib.util, pathlib
    spec = importlib.util.spec_from_file_location(
        "make_bad_inputs", pathlib.Path(__file__).parent / "make_bad_inputs.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    files = mod.make_bad_inputs(tmp_path)            # {"corrupt.jpg": Path, ...}

Everything is generated from fixed seeds with Pillow/NumPy only (no uptflow code), so the
expected decodes are independent of the reader under test and files stay tiny (< 20 KB each).
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

#: name -> True if a correct reader must accept the file, False if it must give a one-line error.
#: ``unreadable.png`` is a valid PNG with mode 000: an error for normal users, but readable by
#: root (permissions do not apply), so callers must check ``os.access(path, os.R_OK)``.
EXPECTED_VALID: dict[str, bool] = {
    "corrupt.jpg": False,
    "truncated.png": False,
    "truncated.jpg": False,
    "text_named.jpg": False,
    "empty.png": False,
    "one_by_one.png": True,
    "gray16.png": True,
    "rgb16.png": True,
    "rgba.png": True,
    "gray.png": True,
    "cmyk.jpg": True,
    "exif_rotated.jpg": True,
    "jpeg_named.png": True,
    "UPPER.PNG": True,
    "unreadable.png": True,  # see note above
}

#: Entries git cannot hold (an empty folder; a file whose meaning is its permission bits).
UNCOMMITTABLE = ("empty_dir", "unreadable.png")


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg_bytes(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, **kw)
    return buf.getvalue()


def _png16_rgb_bytes(a: np.ndarray) -> bytes:
    """16-bit RGB PNG written by hand (Pillow cannot), filter 0 on every row."""
    h, w, _ = a.shape
    rows = np.concatenate(
        [np.zeros((h, 1), np.uint8), a.astype(">u2").view(np.uint8).reshape(h, -1)], axis=1
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def corpus_arrays() -> dict[str, np.ndarray]:
    """The pixel content of the valid files (before encoding), for tests that check decodes."""
    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:24, 0:32]
    alpha = ((xx * 255) // 31).astype(np.uint8)  # varies 0..255 left to right
    rgb = np.stack([xx * 8, yy * 10, (xx + yy) * 4], axis=2).astype(np.uint8)
    return {
        "one_by_one.png": np.array([[[200, 100, 50]]], np.uint8),
        "gray16.png": ((yy * 32 + xx) * 80 + 7).astype(np.uint16),  # needs > 8 bits
        "rgb16.png": ((np.stack([xx, yy, xx + yy], axis=2) * 997 + 3) % 65536).astype(np.uint16),
        "rgba.png": np.concatenate([rgb, alpha[:, :, None]], axis=2),
        "gray.png": ((xx * 7 + yy * 3) % 256).astype(np.uint8),
        "noise": rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
    }


def _contents() -> dict[str, bytes]:
    arrs = corpus_arrays()
    rng = np.random.default_rng(99)
    noise = Image.fromarray(arrs["noise"], "RGB")
    png = _png_bytes(noise)
    jpg = _jpeg_bytes(noise)
    # SOI + a valid JFIF APP0 segment, then noise: recognisably "JPEG", undecodable
    jfif = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    cmyk = Image.fromarray(
        np.stack([np.full((16, 24), v, np.uint8) for v in (0, 128, 255, 32)], axis=2), "CMYK"
    )
    return {
        "corrupt.jpg": jfif + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(),
        "truncated.png": png[: len(png) // 2],
        "truncated.jpg": jpg[: len(jpg) // 2],
        "text_named.jpg": b"This is a plain text file that merely has a .jpg name.\n",
        "empty.png": b"",
        "one_by_one.png": _png_bytes(Image.fromarray(arrs["one_by_one.png"], "RGB")),
        "gray16.png": _png_bytes(Image.fromarray(arrs["gray16.png"])),  # mode I;16
        "rgb16.png": _png16_rgb_bytes(arrs["rgb16.png"]),
        "rgba.png": _png_bytes(Image.fromarray(arrs["rgba.png"], "RGBA")),
        "gray.png": _png_bytes(Image.fromarray(arrs["gray.png"], "L")),
        "cmyk.jpg": _jpeg_bytes(cmyk),
        # stored 32 wide x 16 tall, displayed 16 wide x 32 tall
        "exif_rotated.jpg": _jpeg_bytes(Image.fromarray(arrs["noise"][:16, :32]), exif=exif),
        "jpeg_named.png": jpg,  # a real JPEG with a .png name: content decides, not the name
        "UPPER.PNG": _png_bytes(Image.fromarray(arrs["gray.png"], "L")),
        "unreadable.png": _png_bytes(Image.fromarray(arrs["one_by_one.png"], "RGB")),
    }


def make_bad_inputs(dest: Path, include_uncommittable: bool = True) -> dict[str, Path]:
    """Write the corpus into ``dest`` (created if needed); return ``{name: path}``.

    With ``include_uncommittable`` (the default, for tests in a tmp dir) it also creates
    ``empty_dir/`` and ``unreadable.png`` (permissions 000).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name, data in _contents().items():
        if name in UNCOMMITTABLE and not include_uncommittable:
            continue
        path = dest / name
        if path.exists():
            os.chmod(path, 0o644)  # allow regenerating over an earlier unreadable.png
        path.write_bytes(data)
        out[name] = path
    if include_uncommittable:
        os.chmod(out["unreadable.png"], 0o000)
        empty = dest / "empty_dir"
        empty.mkdir(exist_ok=True)
        out["empty_dir"] = empty
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1:
        target, full = Path(sys.argv[1]), True
    else:
        target, full = Path(__file__).resolve().parent / "bad_inputs", False
    for name, path in make_bad_inputs(target, include_uncommittable=full).items():
        size = path.stat().st_size if path.is_file() else 0
        print(f"{name:20s} {size:6d} bytes  {path}")
