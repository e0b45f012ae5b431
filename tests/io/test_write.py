"""Tests for uptflow.io.write: atomic writes, failing writes, bad arrays, bit depths."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from image_samples import asym, smooth_rgb
from uptflow.io import write as uwrite
from uptflow.io.read import load_image, read_rgb
from uptflow.io.write import ImageWriteError, save_image

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def test_save_accepts_uint8_uint16_and_clips_floats(tmp_path):
    u8 = asym(4, 6)
    save_image(tmp_path / "a.png", u8)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), u8)
    u16 = u8.astype(np.uint16) * 257
    save_image(tmp_path / "b.png", u16)  # 16-bit values, 8-bit file
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b.png")), u8)
    f = np.array([[[-0.5, 1.5, np.nan]]], np.float32)
    save_image(tmp_path / "c.png", f)
    assert np.asarray(Image.open(tmp_path / "c.png")).tolist() == [[[0, 255, 0]]]


def test_16bit_to_jpeg_warns_and_writes_8bit(tmp_path):
    with pytest.warns(UserWarning, match="16-bit"):
        save_image(tmp_path / "x.jpg", smooth_rgb(), bit_depth=16)
    assert Image.open(tmp_path / "x.jpg").mode == "RGB"


@pytest.mark.parametrize("ext", [".jpg", ".bmp"])
def test_alpha_dropped_where_unsupported(tmp_path, ext):
    save_image(tmp_path / f"a{ext}", smooth_rgb(), alpha=np.zeros((24, 32)))
    li = load_image(tmp_path / f"a{ext}")
    assert li.alpha is None and Image.open(tmp_path / f"a{ext}").mode == "RGB"


def test_atomic_write_leaves_no_temp_and_creates_parents(tmp_path):
    out = tmp_path / "a" / "b" / "img.png"
    save_image(out, smooth_rgb())
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

    monkeypatch.setattr(uwrite, "_write_pixels", broken)
    with pytest.raises(ImageWriteError) as ei:
        save_image(out, np.zeros((4, 4, 3)))
    assert "No space left" in str(ei.value) and "\n" not in str(ei.value)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["img.png"]


def test_unwritable_location_under_a_file(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ImageWriteError) as ei:
        save_image(blocker / "out.png", smooth_rgb(4, 4))
    msg = str(ei.value)
    assert "out.png" in msg and "\n" not in msg and isinstance(ei.value, OSError)


@pytest.mark.skipif(IS_ROOT, reason="root can write into read-only folders")
def test_unwritable_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ImageWriteError, match="permission denied"):
            save_image(ro / "out.png", smooth_rgb(4, 4))
    finally:
        ro.chmod(0o700)


def test_write_to_folder_path_and_unknown_extension(tmp_path):
    with pytest.raises(ImageWriteError, match="unknown image extension '.gif'"):
        save_image(tmp_path / "x.gif", smooth_rgb(4, 4))
    with pytest.raises(ImageWriteError, match="unknown image extension"):
        save_image(tmp_path / "noext", smooth_rgb(4, 4))
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        save_image(tmp_path / "d.png", smooth_rgb(4, 4))


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


def test_one_quantiser_for_files_arrays_frames_and_the_demo() -> None:
    """A float32 value just below half a level (175.4999971 / 255) rounds down everywhere: float32
    arithmetic would make it 175.5 and round it up, so an array from ``uptflow.enhance`` could differ
    by one level from the file ``uptflow enhance`` writes for the same result."""
    from uptflow.demo.engine import _to_u8
    from uptflow.io.write import quantize, quantize_as

    x = np.array([[[175.49999713897705 / 255, 0.5, 1.2]]], dtype=np.float32)
    expected = np.array([[[175, 128, 255]]], dtype=np.uint8)
    assert np.array_equal(quantize(x, 8), expected)
    assert np.array_equal(quantize_as(x, np.dtype(np.uint8)), expected)  # uptflow.enhance's arrays, video frames
    assert np.array_equal(_to_u8(x), expected)
    assert quantize(x, 16).dtype == np.uint16
    assert np.array_equal(quantize_as(x, np.dtype(np.float32)), np.clip(x, 0, 1))  # float types: clipped only
