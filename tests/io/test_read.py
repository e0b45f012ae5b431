"""Tests for uptflow.io.read: 8/16-bit round trips, grey, alpha, modes, EXIF orientation, the
bad-input corpus and the one-line read errors."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from image_samples import asym, smooth_rgb, u16_rgb
from uptflow.io import read as uread
from uptflow.io import write as uwrite
from uptflow.io.formats import IMAGE_EXTENSIONS
from uptflow.io.read import ImageReadError, load_image, read_rgb
from uptflow.io.write import ImageWriteError, save_image

CORPUS_DIR = Path(__file__).parents[1] / "cli" / "bad_inputs"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "make_bad_inputs", Path(__file__).parents[1] / "cli" / "make_bad_inputs.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = _load_generator()


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff", ".PNG", ".Tif"])
def test_lossless_roundtrip_8bit(tmp_path, ext):
    rgb = smooth_rgb()
    path = tmp_path / f"out{ext}"
    save_image(path, rgb)
    li = load_image(path)
    assert li.rgb.shape == (24, 32, 3) and li.rgb.dtype == np.float32
    assert li.bit_depth == 8 and not li.was_gray and li.alpha is None and li.path == path
    assert np.abs(li.rgb - rgb).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".JPG", ".webp"])
def test_lossy_roundtrip_8bit(tmp_path, ext):
    rgb = smooth_rgb(48, 64)
    path = tmp_path / f"out{ext}"
    save_image(path, rgb, quality=95)
    out = read_rgb(path)
    assert out.shape == rgb.shape
    assert np.abs(out - rgb).mean() < 0.02


def test_extensions_constant():
    assert IMAGE_EXTENSIONS == {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def test_one_by_one_roundtrip(tmp_path):
    save_image(tmp_path / "p.png", np.array([[[0.2, 0.4, 0.6]]]))
    li = load_image(tmp_path / "p.png")
    assert li.rgb.shape == (1, 1, 3)
    assert np.allclose(li.rgb[0, 0], [51 / 255, 102 / 255, 153 / 255])


def test_decompression_bomb_is_a_read_error(tmp_path, monkeypatch):
    save_image(tmp_path / "big.png", smooth_rgb(24, 32))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 768 px > 2 x 100: Pillow refuses
    with pytest.raises(ImageReadError, match="too large"):
        load_image(tmp_path / "big.png")


def test_tiff16_roundtrip(tmp_path):
    pytest.importorskip("tifffile")
    px = u16_rgb(c=4, seed=6)
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
    rgb = smooth_rgb()
    alpha = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (24, 1))
    save_image(tmp_path / f"a{ext}", rgb, alpha=alpha)
    li = load_image(tmp_path / f"a{ext}")
    assert li.alpha is not None and li.alpha.shape == (24, 32)
    tol = 0.5 / 255 + 1e-6 if ext != ".webp" else 0.02
    assert np.abs(li.alpha - alpha).max() <= tol


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
    arr = asym()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(arr).save(tmp_path / "o.png", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    got = np.rint(read_rgb(tmp_path / "o.png") * 255).astype(np.uint8)
    assert np.array_equal(got, expected)
    # the NumPy version used for the 16-bit paths agrees with Pillow's
    assert np.array_equal(uread._apply_orientation(arr, orientation), expected)


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
    save_image(p, smooth_rgb(4, 4))
    p.chmod(0)
    try:
        with pytest.raises(ImageReadError, match="permission denied"):
            load_image(p)
    finally:
        p.chmod(0o644)


def test_permission_error_paths_simulated(tmp_path, monkeypatch):
    """Root ignores permission bits, so also drive the PermissionError branches directly."""
    p = tmp_path / "x.png"
    save_image(p, smooth_rgb(4, 4))

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(uread.Image, "open", deny)
        with pytest.raises(ImageReadError, match=r"x\.png: permission denied$"):
            load_image(p)
    with monkeypatch.context() as m:
        m.setattr(uwrite.os, "open", deny)
        with pytest.raises(ImageWriteError, match=r"y\.png: permission denied$"):
            save_image(tmp_path / "y.png", smooth_rgb(4, 4))
    assert sorted(q.name for q in tmp_path.iterdir()) == ["x.png"]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_header_size_without_decoding_agrees_with_load_image(tmp_path, orientation):
    arr = asym()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(arr).save(path, exif=exif)
    h, w = load_image(path).rgb.shape[:2]
    assert uread.header_size(path, oriented=True) == (w, h)
    assert uread.header_size(path) == (arr.shape[1], arr.shape[0])  # as stored


def test_header_size_reports_a_bomb_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 2000 px > 2 x 100: a "bomb"
    with pytest.raises(Image.DecompressionBombError):
        uread.header_size(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1500)  # between 1x and 2x: only a warning, silenced
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert uread.header_size(path) == (50, 40)
