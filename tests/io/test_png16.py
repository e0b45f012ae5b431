"""Tests for uptflow.io.png16: exact 16-bit PNG round trips, every row filter, EXIF, corruption."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from image_samples import u16_rgb
from uptflow.io.read import ImageReadError, load_image, read_rgb
from uptflow.io.write import save_image

@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png16_roundtrip_exact(tmp_path, channels):
    px = u16_rgb(c=channels)
    color = px[:, :, :1] if channels <= 2 else px[:, :, :3]
    alpha = px[:, :, -1] if channels in (2, 4) else None
    path = tmp_path / "x.png"
    save_image(path, color, alpha=alpha, bit_depth=16)
    li = load_image(path)
    assert li.bit_depth == 16 and li.was_gray == (channels <= 2)
    expect = np.repeat(color, 3, axis=2) if channels <= 2 else color
    assert np.array_equal(np.rint(li.rgb * 65535).astype(np.uint16), expect)
    if alpha is None:
        assert li.alpha is None
    else:
        assert np.array_equal(np.rint(li.alpha * 65535).astype(np.uint16), alpha)


def test_png16_keeps_more_than_8_bits(tmp_path):
    ramp = np.linspace(0, 1, 1000, dtype=np.float64).reshape(10, 100)
    rgb = np.repeat(ramp[:, :, None], 3, axis=2)
    save_image(tmp_path / "r.png", rgb, bit_depth=16)
    back = read_rgb(tmp_path / "r.png")
    assert np.abs(back - rgb).max() <= 0.5 / 65535 + 1e-7  # far below 8-bit step 1/255
    assert len(np.unique(back[:, :, 0])) == 1000  # 8 bits could hold at most 256 levels


def test_png16_encoder_is_readable_by_pillow(tmp_path):
    """Independent check of our encoder: Pillow decodes 16-bit colour PNG to the high bytes."""
    px = u16_rgb(c=3, seed=3)
    save_image(tmp_path / "p.png", px, bit_depth=16)
    im = Image.open(tmp_path / "p.png")
    assert im.mode == "RGB"
    assert np.array_equal(np.asarray(im), (px >> 8).astype(np.uint8))
    g = u16_rgb(c=1, seed=4)[:, :, 0]
    save_image(tmp_path / "g.png", g, bit_depth=16)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "g.png")).astype(np.uint16), g)


def _reference_png16(px: np.ndarray, filters: list[int], extra_chunks: bytes = b"") -> bytes:
    """Straightforward per-byte PNG encoder using all five row filters (spec section 9)."""
    h, w, c = px.shape
    bpp = 2 * c
    raw = px.astype(">u2").view(np.uint8).reshape(h, w * bpp).astype(int)
    rows, prev = [], np.zeros(w * bpp, int)
    for y in range(h):
        t, cur, out = filters[y % len(filters)], raw[y], [filters[y % len(filters)]]
        for i in range(w * bpp):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            cc = prev[i - bpp] if i >= bpp else 0
            if t == 0:
                pred = 0
            elif t == 1:
                pred = a
            elif t == 2:
                pred = b
            elif t == 3:
                pred = (a + b) // 2
            else:
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else cc)
            out.append((cur[i] - pred) % 256)
        rows.append(bytes(out))
        prev = cur

    def chunk(k: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))

    ct = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ct, 0, 0, 0))
        + extra_chunks
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [2, 3, 4])
@pytest.mark.parametrize("filters", [[0, 1, 2, 3, 4], [4], [3, 1], [2, 0, 1]])
def test_png16_decoder_all_filters(tmp_path, channels, filters):
    px = u16_rgb(9, 7, channels, seed=len(filters))
    path = tmp_path / "f.png"
    path.write_bytes(_reference_png16(px, filters))
    li = load_image(path)
    got = np.rint(li.rgb * 65535).astype(np.uint16)
    assert np.array_equal(got, px[:, :, :3] if channels >= 3 else np.repeat(px[:, :, :1], 3, 2))


def test_png16_exif_orientation(tmp_path):
    px = u16_rgb(4, 6, 3, seed=5)
    exif = Image.Exif()
    exif[0x0112] = 6
    body = exif.tobytes()[6:]  # PNG eXIf holds the TIFF structure without "Exif\0\0"
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    (tmp_path / "o.png").write_bytes(_reference_png16(px, [1], extra_chunks=chunk))
    got = np.rint(read_rgb(tmp_path / "o.png") * 65535).astype(np.uint16)
    assert np.array_equal(got, np.rot90(px, -1))  # 6 = rotate 90 deg clockwise


def test_png16_bad_crc_or_truncation_is_corrupt(tmp_path):
    good = _reference_png16(u16_rgb(8, 8, 3), [0])
    data = bytearray(good)
    data[-20] ^= 0xFF  # inside IDAT
    (tmp_path / "bad.png").write_bytes(bytes(data))
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    for name in ("bad.png", "cut.png"):
        with pytest.raises(ImageReadError, match=f"{name}: truncated or corrupt"):
            load_image(tmp_path / name)
