"""SMID and SDSD (.npy, split by scene)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pair_files import names, npy
from uptflow.data.layouts import detect_layout, discover_pairs, read_pair_image


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
