"""Pair discovery in every supported folder layout, on tiny generated fixtures (+ real SICE)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.data.layouts import (
    PairRecord,
    detect_layout,
    discover_pairs,
    image_size,
    read_pair_image,
    verify_pairs,
)


def png(path: Path, h: int = 6, w: int = 8, value: int | None = None, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if value is None else np.full((h, w, 3), value, np.uint8)
    Image.fromarray(a).save(path)
    return path


def npy(path: Path, h: int = 4, w: int = 5, dtype: str = "uint8", seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    np.save(path, a if dtype == "uint8" else (a / 255.0).astype(dtype))
    return path


def names(recs: list[PairRecord]) -> list[str]:
    return [r.name for r in recs]


# --------------------------------------------------------------------------- LOL / LOL-v2
def make_lol(root: Path) -> Path:
    for n in ("1", "2", "10"):
        png(root / "our485/low" / f"{n}.png")
        png(root / "our485/high" / f"{n}.png")
    png(root / "eval15/low/22.png")
    png(root / "eval15/high/22.png")
    return root


def test_lol_splits_and_natural_order(tmp_path: Path) -> None:
    root = make_lol(tmp_path / "LOL")
    train = discover_pairs(root, layout="lol")
    assert names(train) == ["1", "2", "10"]
    assert all(r.low.parent.name == "low" and r.normal.parent.name == "high" for r in train)
    assert all(r.low.name == r.normal.name for r in train)
    assert names(discover_pairs(root, layout="lol", split="val")) == ["22"]
    assert names(discover_pairs(root, layout="lol", split="test")) == ["22"]
    assert detect_layout(root) == "lol"
    assert discover_pairs(root) == train  # auto


def test_lolv2_real_prefixes_and_synthetic_names(tmp_path: Path) -> None:
    real = tmp_path / "Real_captured"
    for i in (1, 2, 3):
        png(real / "Train/Low" / f"low{i:05d}.png")
        png(real / "Train/Normal" / f"normal{i:05d}.png")
    png(real / "Test/Low/low00690.png")
    png(real / "Test/Normal/normal00690.png")
    recs = discover_pairs(real)
    assert detect_layout(real) == "lolv2"
    assert names(recs) == ["low00001", "low00002", "low00003"]
    assert [r.normal.name for r in recs] == ["normal00001.png", "normal00002.png", "normal00003.png"]
    assert names(discover_pairs(real, layout="lolv2", split="val")) == ["low00690"]

    syn = tmp_path / "Synthetic"
    for n in ("r000da54ft", "r0140f4fft"):
        png(syn / "Train/Low" / f"{n}.png")
        png(syn / "Train/Normal" / f"{n}.png")
    recs = discover_pairs(syn, layout="lolv2")
    assert names(recs) == ["r000da54ft", "r0140f4fft"]
    assert all(r.low.name == r.normal.name for r in recs)


# --------------------------------------------------------------------------- folders
def test_folders_by_stem_with_different_extensions(tmp_path: Path) -> None:
    for n in ("a0001", "a0002"):
        png(tmp_path / "input" / f"{n}.png")
        png(tmp_path / "expertC" / f"{n}.jpg")
    (tmp_path / "input" / "notes.txt").write_text("not an image")
    recs = discover_pairs(tmp_path)  # auto: FiveK-like input/ + expertC/
    assert detect_layout(tmp_path) == "folders"
    assert names(recs) == ["a0001", "a0002"]
    assert [r.normal.suffix for r in recs] == [".jpg", ".jpg"]
    # explicit folders, relative to root and relative to the current directory
    assert discover_pairs(tmp_path, low_dir="input", normal_dir="expertC") == recs
    assert discover_pairs(low_dir=tmp_path / "input", normal_dir=tmp_path / "expertC") == recs


def test_unmatched_files_raise_with_names_and_counts(tmp_path: Path) -> None:
    for n in ("a", "b", "c"):
        png(tmp_path / "low" / f"{n}.png")
    png(tmp_path / "high/a.png")
    png(tmp_path / "high/z.png")
    with pytest.raises(ValueError) as e:
        discover_pairs(tmp_path, layout="folders")
    msg = str(e.value)
    assert "2 low file(s) without a normal" in msg and "b.png" in msg and "c.png" in msg
    assert "1 normal file(s) without a low" in msg and "z.png" in msg
    assert "\n" not in msg


def test_skip_bad_logs_each_skipped_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for n in ("a", "b"):
        png(tmp_path / "low" / f"{n}.png")
    png(tmp_path / "high/a.png")
    png(tmp_path / "high/z.png")
    with caplog.at_level(logging.WARNING, logger="uptflow.data.layouts"):
        recs = discover_pairs(tmp_path, layout="folders", skip_bad=True)
    assert names(recs) == ["a"]
    text = caplog.text
    assert "b.png" in text and "z.png" in text


def test_ambiguous_stems_and_empty_result(tmp_path: Path) -> None:
    png(tmp_path / "low/a.png")
    png(tmp_path / "low/a.jpg")
    png(tmp_path / "high/a.png")
    with pytest.raises(ValueError, match="ambiguous"):
        discover_pairs(tmp_path, layout="folders")
    empty = tmp_path / "empty"
    (empty / "low").mkdir(parents=True)
    (empty / "high").mkdir()
    with pytest.raises(ValueError, match="no train pairs"):
        discover_pairs(empty, layout="folders")


def test_auto_detection_failure_lists_what_was_looked_for(tmp_path: Path) -> None:
    png(tmp_path / "photos/x.png")
    with pytest.raises(ValueError) as e:
        discover_pairs(tmp_path)
    assert "our485" in str(e.value) and "SMID_LQ_np" in str(e.value) and "Low,Normal" in str(e.value)
    with pytest.raises(ValueError, match="not found"):
        discover_pairs(tmp_path / "missing")


def test_bad_arguments(tmp_path: Path) -> None:
    make_lol(tmp_path)
    with pytest.raises(ValueError, match="unknown data layout"):
        discover_pairs(tmp_path, layout="lol3")
    with pytest.raises(ValueError, match="unknown split"):
        discover_pairs(tmp_path, split="training")
    with pytest.raises(ValueError, match="benchmark"):
        discover_pairs(tmp_path, layout="lol", split="benchmark")
    with pytest.raises(ValueError, match="no data given"):
        discover_pairs()


# --------------------------------------------------------------------------- SMID / SDSD (.npy)
def make_smid(root: Path) -> Path:
    for f in range(3):  # scene 0001: GT folder with one file shared by all frames
        npy(root / "SMID_LQ_np/0001" / f"{f:04d}.npy", seed=f)
    npy(root / "SMID_Long_np/0001/0001.npy", seed=9)
    for f in range(2):  # scene 0002: GT as a single <scene>.npy file
        npy(root / "SMID_LQ_np/0002" / f"{f:04d}.npy", seed=f)
    npy(root / "SMID_Long_np/0002.npy", seed=8)
    return root


def test_smid_layout_with_test_list(tmp_path: Path) -> None:
    root = make_smid(tmp_path / "smid")
    (root / "test_list.txt").write_text("0002\n")
    assert detect_layout(root) == "smid"
    train = discover_pairs(root)
    assert names(train) == ["0001_0000", "0001_0001", "0001_0002"]
    assert {r.normal for r in train} == {root / "SMID_Long_np/0001/0001.npy"}
    val = discover_pairs(root, layout="smid", split="val")
    assert names(val) == ["0002_0000", "0002_0001"]
    assert {r.normal for r in val} == {root / "SMID_Long_np/0002.npy"}
    assert read_pair_image(val[0].normal).shape == (4, 5, 3)


def test_smid_without_test_list_and_missing_gt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_smid(tmp_path / "smid")
    with caplog.at_level(logging.WARNING):
        assert len(discover_pairs(root, layout="smid")) == 5
    assert "test_list.txt" in caplog.text
    with pytest.raises(ValueError, match="test_list.txt"):
        discover_pairs(root, layout="smid", split="val")
    npy(root / "SMID_LQ_np/0003/0000.npy")
    with pytest.raises(ValueError, match="0003"):
        discover_pairs(root, layout="smid")
    assert len(discover_pairs(root, layout="smid", skip_bad=True)) == 5


def test_sdsd_layout_and_default_test_scenes(tmp_path: Path) -> None:
    root = tmp_path / "sdsd"
    for scene in ("pair1", "pair13", "pair2"):
        for f in ("0001", "0002"):
            npy(root / "indoor_np/input" / scene / f"{f}.npy")
            npy(root / "indoor_np/GT" / scene / f"{f}.npy")
    assert detect_layout(root) == "sdsd"
    assert detect_layout(root / "indoor_np") == "sdsd"
    train = discover_pairs(root)
    assert names(train) == ["pair1_0001", "pair1_0002", "pair2_0001", "pair2_0002"]
    assert all(r.low.parent.name == r.normal.parent.name for r in train)
    assert names(discover_pairs(root / "indoor_np", layout="sdsd", split="test")) == ["pair13_0001", "pair13_0002"]
    # an explicit test list overrides the built-in one
    (root / "indoor_np/test_list.txt").write_text("pair2\n")
    assert names(discover_pairs(root, layout="sdsd", split="val")) == ["pair2_0001", "pair2_0002"]
    npy(root / "outdoor_np/input/pair1/0001.npy")
    npy(root / "outdoor_np/GT/pair1/0001.npy")
    with pytest.raises(ValueError, match="indoor_np and outdoor_np"):
        discover_pairs(root, layout="sdsd")


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


# --------------------------------------------------------------------------- verify_pairs
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


# --------------------------------------------------------------------------- real SICE
def test_sice_real_pairs_keep_benchmark_out(shared_dir: Path) -> None:
    root = shared_dir / "data" / "sice_part1"
    train = discover_pairs(layout="sice", split="train")
    val = discover_pairs(root, layout="sice", split="val")
    bench = discover_pairs(layout="sice", split="benchmark")
    assert detect_layout(root) == "sice"
    assert len(train) > 100 and len(val) > 10 and len(bench) == 40
    assert all(r.low.is_file() and r.normal.is_file() for r in train[:20] + val[:5] + bench[:5])
    frames = lambda rs: {p.name for r in rs for p in (r.low, r.normal)}  # noqa: E731
    bench_ranges = [tuple(map(int, ln.split(",")[:2]))
                    for ln in (root / "benchmark_scenes.csv").read_text().splitlines()[1:] if ln.strip()]
    for name in frames(train) | frames(val):
        n = int(Path(name).stem)
        assert not any(a <= n <= b for a, b in bench_ranges), name
    assert not frames(train) & frames(val)  # whole scenes held out
    scene = lambda rs: {r.name.split("_")[0] for r in rs}  # noqa: E731
    assert not scene(train) & scene(val)
    assert len(set(names(train))) == len(train)
    assert verify_pairs(val) == val


def test_image_size_follows_exif_orientation(tmp_path: Path) -> None:
    p = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: the reader returns a portrait image
    Image.new("RGB", (12, 5)).save(p, exif=exif)
    assert image_size(p) == read_pair_image(p).shape[:2] == (12, 5)


def test_sice_frames_missing_from_root_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SICE frame"):
        discover_pairs(tmp_path, layout="sice", split="val")
    with pytest.raises(ValueError, match="no val pairs"):
        discover_pairs(tmp_path, layout="sice", split="val", skip_bad=True)
