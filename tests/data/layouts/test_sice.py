"""The sice layout: committed pairs, frames under the shared folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pair_files import names
from uptflow.data.layouts import default_sice_root, detect_layout, discover_pairs, verify_pairs


def test_sice_real_pairs_keep_benchmark_out(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = shared_dir / "data" / "sice_part1"
    monkeypatch.setenv("UPTFLOW_SHARED", str(shared_dir))  # the default root comes from the setting
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


def test_sice_default_root_needs_the_shared_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPTFLOW_SHARED", raising=False)
    with pytest.raises(FileNotFoundError, match="UPTFLOW_SHARED"):
        discover_pairs(layout="sice", split="val")
    monkeypatch.setenv("UPTFLOW_SHARED", str(tmp_path))
    assert default_sice_root() == tmp_path / "data" / "sice_part1"
    with pytest.raises(ValueError, match="SICE folder not found"):
        discover_pairs(layout="sice", split="val")


def test_sice_frames_missing_from_root_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SICE frame"):
        discover_pairs(tmp_path, layout="sice", split="val")
    with pytest.raises(ValueError, match="no val pairs"):
        discover_pairs(tmp_path, layout="sice", split="val", skip_bad=True)
