"""LOL-v2 layout (Real prefixes, Synthetic names)."""

from __future__ import annotations

from pathlib import Path

from pair_files import names, png
from uptflow.data.layouts import detect_layout, discover_pairs


def test_lolv2_real_prefixes_and_synthetic_names(tmp_path: Path) -> None:
    real = tmp_path / "Real_captured"
    for i in (1, 2, 3):
        png(real / "Train/Low" / f"low{i:05d}.png")
        png(real / "Train/Normal" / f"normal{i:05d}.png")
    png(real / "Test/Low/low00690.png")
    png(real / "Test/Normal/normal00690.png")
    recs = discover_pairs(real)
    assert detect_layout(real) == "lolv2"
    assert names(recs) == ["low00001", "low00002", "low00003"]
    assert [r.normal.name for r in recs] == ["normal00001.png", "normal00002.png", "normal00003.png"]
    assert names(discover_pairs(real, layout="lolv2", split="val")) == ["low00690"]

    syn = tmp_path / "Synthetic"
    for n in ("r000da54ft", "r0140f4fft"):
        png(syn / "Train/Low" / f"{n}.png")
        png(syn / "Train/Normal" / f"{n}.png")
    recs = discover_pairs(syn, layout="lolv2")
    assert names(recs) == ["r000da54ft", "r0140f4fft"]
    assert all(r.low.name == r.normal.name for r in recs)
