"""Reading pair files and verifying pairs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pair_files import names, npy, png
from uptflow.data.layouts import discover_pairs, image_size, read_pair_image, verify_pairs


def test_read_pair_image_npy_dtypes_and_errors(tmp_path: Path) -> None:
    u8 = npy(tmp_path / "u8.npy")
    f32 = npy(tmp_path / "f32.npy", dtype="float32")
    a, b = read_pair_image(u8), read_pair_image(f32)
    assert a.dtype == np.float32 and a.shape == (4, 5, 3)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert image_size(u8) == (4, 5)
    np.save(tmp_path / "big.npy", np.full((4, 5, 3), 200.0, np.float32))
    with pytest.raises(ValueError, match=r"big\.npy.*expected \[0, 1\]"):
        read_pair_image(tmp_path / "big.npy")
    np.save(tmp_path / "gray.npy", np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match=r"gray\.npy.*\(H, W, 3\)"):
        read_pair_image(tmp_path / "gray.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="junk.npy"):
        read_pair_image(tmp_path / "junk.npy")
    p = png(tmp_path / "x.png", 3, 7)
    assert read_pair_image(p).shape == (3, 7, 3)


def test_verify_pairs_corrupt_and_size_mismatch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for n in ("a", "b", "c"):
        png(tmp_path / "low" / f"{n}.png")
        png(tmp_path / "high" / f"{n}.png")
    recs = discover_pairs(tmp_path, layout="folders")
    assert verify_pairs(recs) == recs
    good = (tmp_path / "high/b.png").read_bytes()
    (tmp_path / "high/b.png").write_bytes(good[: len(good) // 2])  # truncated: fails verify()
    png(tmp_path / "high/c.png", h=9, w=8)  # wrong size
    with pytest.raises(ValueError, match=r"high/b\.png"):
        verify_pairs(recs)
    with caplog.at_level(logging.WARNING):
        kept = verify_pairs(recs, skip_bad=True)
    assert names(kept) == ["a"]
    assert "b.png" in caplog.text and "differ in size" in caplog.text
    with pytest.raises(ValueError, match="differ in size"):
        verify_pairs(recs[2:])


def test_image_size_follows_exif_orientation(tmp_path: Path) -> None:
    p = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: the reader returns a portrait image
    Image.new("RGB", (12, 5)).save(p, exif=exif)
    assert image_size(p) == read_pair_image(p).shape[:2] == (12, 5)
