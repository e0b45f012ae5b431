"""A minimal 16-bit PNG codec (pure ``zlib`` + NumPy).

Why it exists: Pillow reads 16-bit *colour* PNG (colour types 2/4/6) silently as 8-bit and cannot
write it, and the README promises 16-bit in, 16-bit out.  Non-interlaced files of colour types
0/2/4/6 are decoded (every row filter) and encoded (filter "Sub" on every row); anything
malformed raises ``ValueError`` (the reader turns it into a one-line "truncated or corrupt").
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["png_header", "png16_encode", "png16_decode"]

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def png_header(p: Path) -> tuple[int, int, int]:
    """``(bit_depth, colour_type, interlace)`` from a PNG's IHDR (``(0, 0, 0)`` if unreadable)."""
    with open(p, "rb") as f:
        head = f.read(33)
    if len(head) < 29 or head[:8] != _PNG_SIG or head[12:16] != b"IHDR":
        return 0, 0, 0
    return head[24], head[25], head[28]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16_encode(px: np.ndarray) -> bytes:
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


def png16_decode(data: bytes) -> tuple[np.ndarray, bytes | None]:
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
