"""The committed SICE pair list (uptflow.data.sice): loading, invariants, frames present."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from uptflow.data import sice

# the thresholds the list was built with (tools/build_sice_pairs.py, on pytest's pythonpath)
from build_sice_pairs import DARK_MAX, REF_RANGE, THRESHOLD


@pytest.fixture(scope="module")
def pairs() -> list[sice.SicePair]:
    return sice.load_pairs()


def test_csv_loads_and_filters(pairs: list[sice.SicePair]) -> None:
    assert pairs, "committed sice_pairs.csv is empty"
    for split in sice.SPLITS:
        part = sice.load_pairs(split)
        assert part and all(p.split == split for p in part)
    assert sum(len(sice.load_pairs(s)) for s in sice.SPLITS) == len(pairs)
    with pytest.raises(ValueError):
        sice.load_pairs("test")


def test_csv_invariants(pairs: list[sice.SicePair]) -> None:
    splits_of_scene: dict[str, set[str]] = defaultdict(set)
    scene_of_frame: dict[str, set[str]] = defaultdict(set)
    for p in pairs:
        splits_of_scene[p.scene].add(p.split)
        scene_of_frame[p.low].add(p.scene)
        scene_of_frame[p.ref].add(p.scene)
        assert p.low_mean < p.ref_mean, p
        assert p.low != p.ref
        if p.split != "benchmark":
            assert p.low_mean < DARK_MAX and REF_RANGE[0] <= p.ref_mean <= REF_RANGE[1], p
            assert p.score >= THRESHOLD, p
    assert all(len(s) == 1 for s in splits_of_scene.values()), "a scene is in two splits"
    assert all(len(s) == 1 for s in scene_of_frame.values()), "a frame is in two scenes"
    train = {p.scene for p in pairs if p.split == "train"}
    val = {p.scene for p in pairs if p.split == "val"}
    assert len(val) >= 0.08 * (len(train) + len(val)) and len(train) > len(val)


def test_csv_files_exist(pairs: list[sice.SicePair], shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPTFLOW_SHARED", str(shared_dir))
    for p in pairs:
        low, ref = p.paths()  # default root: $UPTFLOW_SHARED/data/sice_part1
        assert low.is_file() and ref.is_file(), p


def test_load_pairs_rejects_malformed_csv(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="bad.csv"):
        sice.load_pairs(csv=bad)
    bad.write_text("scene,low,ref,split,score,low_mean,ref_mean\ns,1.jpg,2.jpg,holdout,0.9,0.1,0.4\n")
    with pytest.raises(ValueError, match="holdout"):
        sice.load_pairs(csv=bad)
    with pytest.raises(ValueError):
        sice.load_pairs(csv=tmp_path / "missing.csv")


def test_default_root_comes_from_the_shared_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPTFLOW_SHARED", str(tmp_path))
    assert sice.default_root() == tmp_path / "data" / "sice_part1"
    monkeypatch.delenv("UPTFLOW_SHARED")
    with pytest.raises(FileNotFoundError, match="UPTFLOW_SHARED"):
        sice.load_pairs("val")[0].paths()
