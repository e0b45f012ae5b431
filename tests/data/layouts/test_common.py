"""Matching shared by every layout: unmatched, skipped and ambiguous files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pair_files import names, png
from uptflow.data.layouts import discover_pairs


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
