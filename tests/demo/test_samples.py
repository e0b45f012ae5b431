"""The demo's samples: shipped as package data, identical to the repository's ``samples/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from uptflow.demo import samples

REPO_SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_package_ships_the_three_samples() -> None:
    found = samples.sample_paths()
    assert [p.name for p in found] == ["lol_eval15_1.png", "lol_eval15_22.png", "lol_eval15_780.png"]
    assert all(p.parent == samples.PACKAGE_SAMPLES for p in found)


def test_package_copies_equal_the_repository_samples() -> None:
    if not REPO_SAMPLES.is_dir():
        pytest.skip("no samples/ folder beside the tests (installed package only)")
    for p in samples.sample_paths():
        assert p.read_bytes() == (REPO_SAMPLES / p.name).read_bytes(), f"{p.name} drifted from samples/"


def test_falls_back_to_the_source_tree(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(samples, "PACKAGE_SAMPLES", tmp_path / "missing")
    found = samples.sample_paths()
    assert [p.parent for p in found] == [REPO_SAMPLES] * 3
