"""Tests for the verified SICE pairing (uptflow.data.sice) and its committed CSV."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.data import sice

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO.parent / "shared" / "data" / "sice_part1"
needs_data = pytest.mark.skipif(not (REPO.parent / "shared").is_dir(), reason="../shared is absent")


def _read(name: str) -> np.ndarray:
    return np.asarray(Image.open(ROOT / name).convert("RGB"))


@pytest.fixture(scope="module")
def pairs() -> list[sice.SicePair]:
    return sice.load_pairs()


# --------------------------------------------------------------------------- the check
@needs_data
def test_check_accepts_exposure_changed_noisy_copy(pairs: list[sice.SicePair]) -> None:
    rng = np.random.default_rng(0)
    for ref_name in sorted({p.ref for p in pairs})[:4]:
        img = _read(ref_name).astype(np.float32) / 255.0
        dark = np.clip(img**2.2 * 0.08 + rng.normal(0, 0.01, img.shape), 0, 1) ** (1 / 2.2)
        bright = np.clip(img * 1.6 + rng.normal(0, 0.02, img.shape), 0, 1)
        dark_u8 = np.round(dark * 255).astype(np.uint8)
        assert sice.same_scene_score(img, dark_u8) >= sice.THRESHOLD
        assert sice.same_scene_score(img, bright) >= sice.THRESHOLD


@needs_data
def test_check_rejects_different_scenes(pairs: list[sice.SicePair]) -> None:
    refs = sorted({(p.scene, p.ref) for p in pairs if p.split == "train"})[:6]
    lows = sorted({(p.scene, p.low) for p in pairs if p.split == "train"})
    for (scene_a, ref_a), (scene_b, ref_b) in zip(refs, refs[1:]):
        assert sice.same_scene_score(_read(ref_a), _read(ref_b)) < sice.THRESHOLD
        low_b = next(name for s, name in lows if s == scene_b)
        assert sice.same_scene_score(_read(ref_a), _read(low_b)) < sice.THRESHOLD


@needs_data
def test_check_accepts_real_dark_partner() -> None:
    first, last, low, ref = sice.read_benchmark(ROOT)[0]
    assert sice.same_scene_score(_read(f"{low}.jpg"), _read(f"{ref}.jpg")) >= sice.THRESHOLD


def test_check_rejects_bad_input() -> None:
    a = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError):
        sice.same_scene_score(a, np.zeros((64, 32, 3), np.uint8))
    with pytest.raises(ValueError):
        sice.same_scene_score(a, np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(TypeError):
        sice.same_scene_score(a, [[0]])  # type: ignore[arg-type]


def test_check_is_zero_without_structure() -> None:
    black = np.zeros((128, 128, 3), np.float32)
    assert sice.same_scene_score(black, black) == 0.0


# --------------------------------------------------------------------------- the committed CSV
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
            assert p.low_mean < sice.DARK_MAX and sice.REF_RANGE[0] <= p.ref_mean <= sice.REF_RANGE[1], p
            assert p.score >= sice.THRESHOLD, p
    assert all(len(s) == 1 for s in splits_of_scene.values()), "a scene is in two splits"
    assert all(len(s) == 1 for s in scene_of_frame.values()), "a frame is in two scenes"
    train = {p.scene for p in pairs if p.split == "train"}
    val = {p.scene for p in pairs if p.split == "val"}
    assert len(val) >= 0.08 * (len(train) + len(val)) and len(train) > len(val)


@needs_data
def test_csv_keeps_benchmark_out_of_train_and_val(pairs: list[sice.SicePair]) -> None:
    bench = sice.read_benchmark(ROOT)
    banned = {f"{n}.jpg" for first, last, _, _ in bench for n in range(first, last + 1)}
    for p in pairs:
        if p.split != "benchmark":
            assert p.low not in banned and p.ref not in banned, p
    listed = {(p.low, p.ref) for p in pairs if p.split == "benchmark"}
    assert listed == {(f"{low}.jpg", f"{ref}.jpg") for _, _, low, ref in bench}


@needs_data
def test_csv_files_exist(pairs: list[sice.SicePair]) -> None:
    for p in pairs:
        low, ref = p.paths(ROOT)
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


def test_split_is_deterministic_and_by_scene() -> None:
    ids = [f"sice-{i:04d}" for i in range(1, 400)]
    first = [sice.split_of(s) for s in ids]
    assert first == [sice.split_of(s) for s in ids]
    assert 0.08 < first.count("val") / len(first) < 0.25


# --------------------------------------------------------------------------- regeneration
@needs_data
def test_regenerating_a_few_scenes_reproduces_rows(pairs: list[sice.SicePair], tmp_path: Path) -> None:
    by_scene: dict[str, list[sice.SicePair]] = defaultdict(list)
    for p in pairs:
        by_scene[p.scene].append(p)
    train = [s for s in by_scene if by_scene[s][0].split == "train"]
    val = [s for s in by_scene if by_scene[s][0].split == "val"]
    for scene in (train[1], val[0], train[len(train) // 2]):
        rows = by_scene[scene]
        first = int(scene.split("-")[1])
        last = max(int(Path(n).stem) for p in rows for n in (p.low, p.ref))
        got = [p for p in sice.build_pairs(ROOT, frames=range(first, last + 4)) if p.scene == scene]
        assert [(p.low, p.ref, p.split) for p in got] == [(p.low, p.ref, p.split) for p in rows]
        for g, r in zip(got, rows):
            assert g.score == pytest.approx(r.score, abs=2e-3)
            assert g.low_mean == pytest.approx(r.low_mean, abs=1e-4)
            assert g.ref_mean == pytest.approx(r.ref_mean, abs=1e-4)
    out = tmp_path / "p.csv"
    sice.write_csv(by_scene[train[0]], out)
    assert sice.load_pairs(csv=out) == by_scene[train[0]]
