"""discover_pairs / detect_layout: argument checks and auto-detection failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from pair_files import make_lol, png
from uptflow.data.layouts import discover_pairs


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
