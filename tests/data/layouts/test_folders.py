"""The folders layout: two folders matched by stem."""

from __future__ import annotations

from pathlib import Path

from pair_files import names, png
from uptflow.data.layouts import detect_layout, discover_pairs


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
