"""LOL v1 layout (our485 / eval15)."""

from __future__ import annotations

from pathlib import Path

from pair_files import make_lol, names
from uptflow.data.layouts import detect_layout, discover_pairs


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
