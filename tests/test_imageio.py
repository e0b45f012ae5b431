"""Tests for uptflow.imageio: format round trips, 16-bit precision, alpha, grey, EXIF orientation,
the bad-input corpus, atomic and failing writes, input listing and tensor helpers."""

from __future__ import annotations

import importlib.util
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from uptflow import imageio as uio
from uptflow.imageio import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    ImageWriteError,
    list_images,
    load_image,
    read_rgb,
    save_image,
    to_numpy,
    to_tensor,
)

CORPUS_DIR = Path(__file__).parent / "cli" / "bad_inputs"


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "make_bad_inputs", Path(__file__).parent / "cli" / "make_bad_inputs.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = _load_generator()
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _smooth_rgb(h: int = 24, w: int = 32) -> np.ndarray:
    """(h, w, 3) float32 in [0, 1]: smooth ramps so lossy codecs stay close."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), 0.5 + 0.25 * np.sin(xx / 5)], axis=2)


def _asym(h: int = 3, w: int = 5) -> np.ndarray:
    """Pixel values unique per position, so any flip/rotation is detectable."""
    return (np.arange(h * w * 3).reshape(h, w, 3) * 3 % 256).astype(np.uint8)


# ---------------------------------------------------------------- round trips, 8 bit


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff", ".PNG", ".Tif"])
def test_lossless_roundtrip_8bit(tmp_path, ext):
    rgb = _smooth_rgb()
    path = tmp_path / f"out{ext}"
    save_image(path, rgb)
    li = load_image(path)
    assert li.rgb.shape == (24, 32, 3) and li.rgb.dtype == np.float32
    assert li.bit_depth == 8 and not li.was_gray and li.alpha is None and li.path == path
    assert np.abs(li.rgb - rgb).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".JPG", ".webp"])
def test_lossy_roundtrip_8bit(tmp_path, ext):
    rgb = _smooth_rgb(48, 64)
    path = tmp_path / f"out{ext}"
    save_image(path, rgb, quality=95)
    out = read_rgb(path)
    assert out.shape == rgb.shape
    assert np.abs(out - rgb).mean() < 0.02


def test_extensions_constant():
    assert IMAGE_EXTENSIONS == {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def test_save_accepts_uint8_uint16_and_clips_floats(tmp_path):
    u8 = _asym(4, 6)
    save_image(tmp_path / "a.png", u8)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), u8)
    u16 = u8.astype(np.uint16) * 257
    save_image(tmp_path / "b.png", u16)  # 16-bit values, 8-bit file
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b.png")), u8)
    f = np.array([[[-0.5, 1.5, np.nan]]], np.float32)
    save_image(tmp_path / "c.png", f)
    assert np.asarray(Image.open(tmp_path / "c.png")).tolist() == [[[0, 255, 0]]]


def test_one_by_one_roundtrip(tmp_path):
    save_image(tmp_path / "p.png", np.array([[[0.2, 0.4, 0.6]]]))
    li = load_image(tmp_path / "p.png")
    assert li.rgb.shape == (1, 1, 3)
    assert np.allclose(li.rgb[0, 0], [51 / 255, 102 / 255, 153 / 255])


# ---------------------------------------------------------------- 16 bit


def _u16_rgb(h=24, w=32, c=3, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (h, w, c), dtype=np.uint16)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png16_roundtrip_exact(tmp_path, channels):
    px = _u16_rgb(c=channels)
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
    px = _u16_rgb(c=3, seed=3)
    save_image(tmp_path / "p.png", px, bit_depth=16)
    im = Image.open(tmp_path / "p.png")
    assert im.mode == "RGB"
    assert np.array_equal(np.asarray(im), (px >> 8).astype(np.uint8))
    g = _u16_rgb(c=1, seed=4)[:, :, 0]
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
    px = _u16_rgb(9, 7, channels, seed=len(filters))
    path = tmp_path / "f.png"
    path.write_bytes(_reference_png16(px, filters))
    li = load_image(path)
    got = np.rint(li.rgb * 65535).astype(np.uint16)
    assert np.array_equal(got, px[:, :, :3] if channels >= 3 else np.repeat(px[:, :, :1], 3, 2))


def test_png16_exif_orientation(tmp_path):
    px = _u16_rgb(4, 6, 3, seed=5)
    exif = Image.Exif()
    exif[0x0112] = 6
    body = exif.tobytes()[6:]  # PNG eXIf holds the TIFF structure without "Exif\0\0"
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    (tmp_path / "o.png").write_bytes(_reference_png16(px, [1], extra_chunks=chunk))
    got = np.rint(read_rgb(tmp_path / "o.png") * 65535).astype(np.uint16)
    assert np.array_equal(got, np.rot90(px, -1))  # 6 = rotate 90 deg clockwise


def test_png16_bad_crc_or_truncation_is_corrupt(tmp_path):
    good = _reference_png16(_u16_rgb(8, 8, 3), [0])
    data = bytearray(good)
    data[-20] ^= 0xFF  # inside IDAT
    (tmp_path / "bad.png").write_bytes(bytes(data))
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    for name in ("bad.png", "cut.png"):
        with pytest.raises(ImageReadError, match=f"{name}: truncated or corrupt"):
            load_image(tmp_path / name)


def test_decompression_bomb_is_a_read_error(tmp_path, monkeypatch):
    save_image(tmp_path / "big.png", _smooth_rgb(24, 32))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 768 px > 2 x 100: Pillow refuses
    with pytest.raises(ImageReadError, match="too large"):
        load_image(tmp_path / "big.png")


def test_tiff16_roundtrip(tmp_path):
    pytest.importorskip("tifffile")
    px = _u16_rgb(c=4, seed=6)
    save_image(tmp_path / "t.tif", px[:, :, :3], alpha=px[:, :, 3], bit_depth=16)
    li = load_image(tmp_path / "t.tif")
    assert li.bit_depth == 16
    assert np.array_equal(np.rint(li.rgb * 65535).astype(np.uint16), px[:, :, :3])
    assert np.array_equal(np.rint(li.alpha * 65535).astype(np.uint16), px[:, :, 3])
    g = px[:, :, 0]
    save_image(tmp_path / "g.tiff", g, bit_depth=16)  # grey: Pillow path
    li = load_image(tmp_path / "g.tiff")
    assert li.was_gray and li.bit_depth == 16
    assert np.array_equal(np.rint(li.rgb[:, :, 2] * 65535).astype(np.uint16), g)


def test_16bit_to_jpeg_warns_and_writes_8bit(tmp_path):
    with pytest.warns(UserWarning, match="16-bit"):
        save_image(tmp_path / "x.jpg", _smooth_rgb(), bit_depth=16)
    assert Image.open(tmp_path / "x.jpg").mode == "RGB"


# ---------------------------------------------------------------- grey, alpha, modes


@pytest.mark.parametrize("shape", [(8, 10), (8, 10, 1)])
def test_grey_roundtrip(tmp_path, shape):
    g = np.random.default_rng(1).random(shape).astype(np.float32)
    save_image(tmp_path / "g.png", g)
    assert Image.open(tmp_path / "g.png").mode == "L"
    li = load_image(tmp_path / "g.png")
    assert li.was_gray and li.rgb.shape == (8, 10, 3)
    assert np.array_equal(li.rgb[:, :, 0], li.rgb[:, :, 1]) and np.array_equal(li.rgb[:, :, 0], li.rgb[:, :, 2])
    assert np.abs(li.rgb[:, :, 0] - g.reshape(8, 10)).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp"])
def test_alpha_preserved(tmp_path, ext):
    rgb = _smooth_rgb()
    alpha = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (24, 1))
    save_image(tmp_path / f"a{ext}", rgb, alpha=alpha)
    li = load_image(tmp_path / f"a{ext}")
    assert li.alpha is not None and li.alpha.shape == (24, 32)
    tol = 0.5 / 255 + 1e-6 if ext != ".webp" else 0.02
    assert np.abs(li.alpha - alpha).max() <= tol


@pytest.mark.parametrize("ext", [".jpg", ".bmp"])
def test_alpha_dropped_where_unsupported(tmp_path, ext):
    save_image(tmp_path / f"a{ext}", _smooth_rgb(), alpha=np.zeros((24, 32)))
    li = load_image(tmp_path / f"a{ext}")
    assert li.alpha is None and Image.open(tmp_path / f"a{ext}").mode == "RGB"


def test_grey_with_alpha(tmp_path):
    save_image(tmp_path / "la.png", np.full((4, 4), 0.5), alpha=np.full((4, 4), 0.25))
    assert Image.open(tmp_path / "la.png").mode == "LA"
    li = load_image(tmp_path / "la.png")
    assert li.was_gray and np.allclose(li.alpha, 64 / 255)


def test_palette_with_transparency_keeps_alpha(tmp_path):
    im = Image.new("P", (4, 3))
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.putpixel((0, 0), 1)
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    li = load_image(tmp_path / "p.png")
    assert li.alpha is not None and li.alpha[0, 0] == 1.0 and li.alpha[1, 1] == 0.0
    assert np.allclose(li.rgb[0, 0], [0, 1, 0]) and not li.was_gray


def test_cmyk_and_bilevel_and_int32(tmp_path):
    Image.new("CMYK", (5, 4), (0, 255, 255, 0)).save(tmp_path / "c.tif")
    assert np.allclose(read_rgb(tmp_path / "c.tif")[0, 0], [1, 0, 0])
    Image.new("1", (5, 4), 1).save(tmp_path / "b.png")
    li = load_image(tmp_path / "b.png")
    assert li.was_gray and np.all(li.rgb == 1.0)
    Image.fromarray(np.full((3, 4), 40000, np.int32), "I").save(tmp_path / "i.tif")
    li = load_image(tmp_path / "i.tif")
    assert li.bit_depth == 16 and np.allclose(li.rgb, 40000 / 65535)


def test_float_mode_is_unsupported(tmp_path):
    Image.fromarray(np.zeros((3, 4), np.float32), "F").save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match="unsupported mode 'F'"):
        load_image(tmp_path / "f.tif")


# ---------------------------------------------------------------- EXIF orientation


def test_jpeg_exif_orientation_applied(tmp_path):
    # stored 32 wide x 16 tall: left half black, right half white
    arr = np.zeros((16, 32, 3), np.uint8)
    arr[:, 16:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    Image.fromarray(arr).save(tmp_path / "r.jpg", exif=exif, quality=95)
    rgb = read_rgb(tmp_path / "r.jpg")
    assert rgb.shape == (32, 16, 3)  # upright: 16 wide x 32 tall
    # clockwise rotation puts the stored left (black) half at the top
    assert rgb[:12].mean() < 0.05 and rgb[20:].mean() > 0.95


@pytest.mark.parametrize("orientation", range(1, 9))
def test_png_exif_orientation_matches_pillow(tmp_path, orientation):
    arr = _asym()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(arr).save(tmp_path / "o.png", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    got = np.rint(read_rgb(tmp_path / "o.png") * 255).astype(np.uint8)
    assert np.array_equal(got, expected)
    # the NumPy version used for the 16-bit paths agrees with Pillow's
    assert np.array_equal(uio._apply_orientation(arr, orientation), expected)


# ---------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return GEN.make_bad_inputs(tmp_path_factory.mktemp("corpus"))


def _bad_names():
    return [n for n, ok in GEN.EXPECTED_VALID.items() if not ok]


def _good_names():
    return [n for n, ok in GEN.EXPECTED_VALID.items() if ok and n != "unreadable.png"]


@pytest.mark.parametrize("name", _bad_names())
def test_corpus_bad_file_one_line_error(corpus, name):
    with pytest.raises(ImageReadError) as ei:
        load_image(corpus[name])
    msg = str(ei.value)
    assert name in msg and "\n" not in msg and "Traceback" not in msg
    assert isinstance(ei.value, ValueError)


def test_corpus_messages_give_reason(corpus):
    reasons = {n: str(pytest.raises(ImageReadError, load_image, corpus[n]).value) for n in _bad_names()}
    assert reasons["empty.png"].endswith("empty (0 bytes)")
    assert "not an image" in reasons["text_named.jpg"]
    assert "truncated or corrupt" in reasons["truncated.png"]
    assert "truncated or corrupt" in reasons["truncated.jpg"]


@pytest.mark.parametrize("name", _good_names())
def test_corpus_good_file_loads(corpus, name):
    li = load_image(corpus[name])
    assert li.rgb.ndim == 3 and li.rgb.shape[2] == 3
    assert 0.0 <= li.rgb.min() and li.rgb.max() <= 1.0


def test_corpus_valid_contents(corpus):
    arrs = GEN.corpus_arrays()
    c = corpus
    li = load_image(c["gray16.png"])
    assert li.bit_depth == 16 and li.was_gray
    assert np.array_equal(np.rint(li.rgb[:, :, 0] * 65535).astype(np.uint16), arrs["gray16.png"])
    li = load_image(c["rgb16.png"])
    assert li.bit_depth == 16 and not li.was_gray
    assert np.array_equal(np.rint(li.rgb * 65535).astype(np.uint16), arrs["rgb16.png"])
    li = load_image(c["rgba.png"])
    assert np.array_equal(np.rint(li.alpha * 255).astype(np.uint8), arrs["rgba.png"][:, :, 3])
    assert load_image(c["one_by_one.png"]).rgb.shape == (1, 1, 3)
    assert load_image(c["exif_rotated.jpg"]).rgb.shape == (32, 16, 3)
    assert load_image(c["UPPER.PNG"]).was_gray


def test_corpus_uncommittable_entries(corpus):
    assert corpus["empty_dir"].is_dir() and not any(corpus["empty_dir"].iterdir())
    p = corpus["unreadable.png"]
    if os.access(p, os.R_OK):  # root ignores permission bits
        assert load_image(p).rgb.shape == (1, 1, 3)
    else:
        with pytest.raises(ImageReadError, match="permission denied"):
            load_image(p)


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS_DIR.glob("*") if p.name != "README.md"))
def test_committed_corpus_matches_expectation(name):
    path = CORPUS_DIR / name
    assert path.stat().st_size < 20_000
    if GEN.EXPECTED_VALID[name]:
        load_image(path)
    else:
        with pytest.raises(ImageReadError):
            load_image(path)


def test_committed_corpus_complete():
    if not CORPUS_DIR.is_dir():
        pytest.skip("committed corpus folder absent")
    present = {p.name for p in CORPUS_DIR.iterdir()}
    assert set(GEN.EXPECTED_VALID) - set(GEN.UNCOMMITTABLE) <= present
    assert "README.md" in present


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        load_image(tmp_path)


@pytest.mark.skipif(IS_ROOT, reason="root ignores file permissions")
def test_unreadable_file(tmp_path):
    p = tmp_path / "x.png"
    save_image(p, _smooth_rgb(4, 4))
    p.chmod(0)
    try:
        with pytest.raises(ImageReadError, match="permission denied"):
            load_image(p)
    finally:
        p.chmod(0o644)


def test_permission_error_paths_simulated(tmp_path, monkeypatch):
    """Root ignores permission bits, so also drive the PermissionError branches directly."""
    p = tmp_path / "x.png"
    save_image(p, _smooth_rgb(4, 4))

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(uio.Image, "open", deny)
        with pytest.raises(ImageReadError, match=r"x\.png: permission denied$"):
            load_image(p)
    with monkeypatch.context() as m:
        m.setattr(uio.os, "open", deny)
        with pytest.raises(ImageWriteError, match=r"y\.png: permission denied$"):
            save_image(tmp_path / "y.png", _smooth_rgb(4, 4))
    assert sorted(q.name for q in tmp_path.iterdir()) == ["x.png"]


# ---------------------------------------------------------------- writing: atomic, errors


def test_atomic_write_leaves_no_temp_and_creates_parents(tmp_path):
    out = tmp_path / "a" / "b" / "img.png"
    save_image(out, _smooth_rgb())
    save_image(out, np.zeros((24, 32, 3)))  # overwrite in place
    assert sorted(p.name for p in out.parent.iterdir()) == ["img.png"]
    assert read_rgb(out).max() == 0.0


def test_failed_write_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "img.png"
    save_image(out, np.ones((4, 4, 3)))
    before = out.read_bytes()

    def broken(tmp, *args):
        tmp.write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(uio, "_write_pixels", broken)
    with pytest.raises(ImageWriteError) as ei:
        save_image(out, np.zeros((4, 4, 3)))
    assert "No space left" in str(ei.value) and "\n" not in str(ei.value)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["img.png"]


def test_unwritable_location_under_a_file(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ImageWriteError) as ei:
        save_image(blocker / "out.png", _smooth_rgb(4, 4))
    msg = str(ei.value)
    assert "out.png" in msg and "\n" not in msg and isinstance(ei.value, OSError)


@pytest.mark.skipif(IS_ROOT, reason="root can write into read-only folders")
def test_unwritable_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ImageWriteError, match="permission denied"):
            save_image(ro / "out.png", _smooth_rgb(4, 4))
    finally:
        ro.chmod(0o700)


def test_write_to_folder_path_and_unknown_extension(tmp_path):
    with pytest.raises(ImageWriteError, match="unknown image extension '.gif'"):
        save_image(tmp_path / "x.gif", _smooth_rgb(4, 4))
    with pytest.raises(ImageWriteError, match="unknown image extension"):
        save_image(tmp_path / "noext", _smooth_rgb(4, 4))
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        save_image(tmp_path / "d.png", _smooth_rgb(4, 4))


def test_bad_arrays_rejected(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="shape"):
        save_image(tmp_path / "x.png", np.zeros(4))
    with pytest.raises(TypeError, match="dtype"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.int64))
    with pytest.raises(ValueError, match="alpha shape"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 3)), alpha=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="bit_depth"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 3)), bit_depth=12)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- listing inputs


@pytest.fixture()
def tree(tmp_path):
    for rel in ["b.png", "a.JPG", "c.txt", ".hidden.png", "sub/d.tif", "sub/deeper/e.webp", ".git/f.png"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    return tmp_path


def test_list_folder_sorted_and_filtered(tree):
    assert [p.name for p in list_images([tree])] == ["a.JPG", "b.png"]
    names = [p.relative_to(tree).as_posix() for p in list_images([tree], recursive=True)]
    assert names == ["a.JPG", "b.png", "sub/d.tif", "sub/deeper/e.webp"]


def test_list_files_globs_and_order(tree):
    got = list_images([tree / "c.txt", str(tree / "sub" / "*.tif"), tree / "b.png", tree / "b.png"])
    assert [p.name for p in got] == ["c.txt", "d.tif", "b.png"]  # order kept, duplicates dropped
    deep = list_images([f"{tree}/**/*.webp"])
    assert [p.name for p in deep] == ["e.webp"]
    assert [p.name for p in list_images([str(tree / "*")])] == ["a.JPG", "b.png"]


def test_list_errors(tree):
    with pytest.raises(ValueError, match="no such file or folder: .*missing.png"):
        list_images([tree / "missing.png"])
    with pytest.raises(ValueError, match="no images found in .*empty"):
        list_images([tree / "empty"])
    with pytest.raises(ValueError, match="no images found in"):
        list_images([str(tree / "*.bmp")])
    with pytest.raises(ValueError, match="no inputs"):
        list_images([])


# ---------------------------------------------------------------- tensor helpers


def test_tensor_roundtrip():
    rgb = _smooth_rgb(5, 7)
    t = to_tensor(rgb)
    assert tuple(t.shape) == (1, 3, 5, 7) and str(t.dtype) == "torch.float32"
    assert float(t[0, 1, 4, 0]) == pytest.approx(rgb[4, 0, 1])
    assert np.array_equal(to_numpy(t), rgb)
    assert np.array_equal(to_numpy(t[0]), rgb)
    with pytest.raises(ValueError):
        to_tensor(np.zeros((5, 7)))
    with pytest.raises(ValueError):
        to_numpy(t.repeat(2, 1, 1, 1))
