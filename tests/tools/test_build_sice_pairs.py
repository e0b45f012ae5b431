"""tools/build_sice_pairs.py and tools/sice_scene_check.py: the same-scene check and regeneration."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import build_sice_pairs as build
import sice_scene_check as check
from uptflow.data import sice


@pytest.fixture(scope="module")
def pairs() -> list[sice.SicePair]:
    return sice.load_pairs()


@pytest.fixture(scope="module")
def root(shared_dir: Path) -> Path:
    return shared_dir / "data" / "sice_part1"


def _read(root: Path, name: str) -> np.ndarray:
    return np.asarray(Image.open(root / name).convert("RGB"))


def test_check_accepts_exposure_changed_noisy_copy(pairs: list[sice.SicePair], root: Path) -> None:
    rng = np.random.default_rng(0)
    for ref_name in sorted({p.ref for p in pairs})[:4]:
        img = _read(root, ref_name).astype(np.float32) / 255.0
        dark = np.clip(img**2.2 * 0.08 + rng.normal(0, 0.01, img.shape), 0, 1) ** (1 / 2.2)
        bright = np.clip(img * 1.6 + rng.normal(0, 0.02, img.shape), 0, 1)
        dark_u8 = np.round(dark * 255).astype(np.uint8)
        assert check.same_scene_score(img, dark_u8) >= check.THRESHOLD
        assert check.same_scene_score(img, bright) >= check.THRESHOLD


def test_check_rejects_different_scenes(pairs: list[sice.SicePair], root: Path) -> None:
    refs = sorted({(p.scene, p.ref) for p in pairs if p.split == "train"})[:6]
    lows = sorted({(p.scene, p.low) for p in pairs if p.split == "train"})
    for (scene_a, ref_a), (scene_b, ref_b) in zip(refs, refs[1:]):
        assert check.same_scene_score(_read(root, ref_a), _read(root, ref_b)) < check.THRESHOLD
        low_b = next(name for s, name in lows if s == scene_b)
        assert check.same_scene_score(_read(root, ref_a), _read(root, low_b)) < check.THRESHOLD


def test_check_accepts_real_dark_partner(root: Path) -> None:
    first, last, low, ref = build.read_benchmark(root)[0]
    assert check.same_scene_score(_read(root, f"{low}.jpg"), _read(root, f"{ref}.jpg")) >= check.THRESHOLD


def test_check_rejects_bad_input() -> None:
    a = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError):
        check.same_scene_score(a, np.zeros((64, 32, 3), np.uint8))
    with pytest.raises(ValueError):
        check.same_scene_score(a, np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(TypeError):
        check.same_scene_score(a, [[0]])  # type: ignore[arg-type]


def test_check_is_zero_without_structure() -> None:
    black = np.zeros((128, 128, 3), np.float32)
    assert check.same_scene_score(black, black) == 0.0


def test_csv_keeps_benchmark_out_of_train_and_val(pairs: list[sice.SicePair], root: Path) -> None:
    bench = build.read_benchmark(root)
    banned = {f"{n}.jpg" for first, last, _, _ in bench for n in range(first, last + 1)}
    for p in pairs:
        if p.split != "benchmark":
            assert p.low not in banned and p.ref not in banned, p
    listed = {(p.low, p.ref) for p in pairs if p.split == "benchmark"}
    assert listed == {(f"{low}.jpg", f"{ref}.jpg") for _, _, low, ref in bench}


def test_split_is_deterministic_and_by_scene() -> None:
    ids = [f"sice-{i:04d}" for i in range(1, 400)]
    first = [build.split_of(s) for s in ids]
    assert first == [build.split_of(s) for s in ids]
    assert 0.08 < first.count("val") / len(first) < 0.25


def test_regenerating_a_few_scenes_reproduces_rows(pairs: list[sice.SicePair], root: Path, tmp_path: Path) -> None:
    by_scene: dict[str, list[sice.SicePair]] = defaultdict(list)
    for p in pairs:
        by_scene[p.scene].append(p)
    train = [s for s in by_scene if by_scene[s][0].split == "train"]
    val = [s for s in by_scene if by_scene[s][0].split == "val"]
    for scene in (train[1], val[0], train[len(train) // 2]):
        rows = by_scene[scene]
        first = int(scene.split("-")[1])
        last = max(int(Path(n).stem) for p in rows for n in (p.low, p.ref))
        got = [p for p in build.build_pairs(root, frames=range(first, last + 4)) if p.scene == scene]
        assert [(p.low, p.ref, p.split) for p in got] == [(p.low, p.ref, p.split) for p in rows]
        for g, r in zip(got, rows):
            assert g.score == pytest.approx(r.score, abs=2e-3)
            assert g.low_mean == pytest.approx(r.low_mean, abs=1e-4)
            assert g.ref_mean == pytest.approx(r.ref_mean, abs=1e-4)
    out = tmp_path / "p.csv"
    build.write_csv(by_scene[train[0]], out)
    assert sice.load_pairs(csv=out) == by_scene[train[0]]
