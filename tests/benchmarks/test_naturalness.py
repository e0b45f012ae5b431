"""benchmarks/naturalness.py helpers: aggregation (nan-aware lit gain), markdown table, grid."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import naturalness as nat  # noqa: E402


def _row(gain: float) -> dict[str, float]:
    return {"mean_luminance": 100.0, "newly_blown": 1.0, "lit_region_gain": gain, "noise_sigma": 2.0, "dark": 5.0}


def test_summary_skips_images_without_lit_pixels_for_the_gain_only() -> None:
    s = nat.summarise([_row(1.2), _row(math.nan), _row(1.6)])
    assert s["lit_region_gain"] == 1.4 and s["n"] == 3 and s["n_lit"] == 2 and s["mean_luminance"] == 100.0
    table = nat.markdown_table("t", {"input": s, "x": nat.summarise([_row(math.nan)])})
    assert "| input | 100 | 1.00 % | 1.40 | 2.00 | 5.0 % |" in table
    assert "| x | 100 | 1.00 % | - | 2.00 | 5.0 % |" in table
    assert "black" not in table  # the floor line only when the inputs' black share is given
    assert "Input pixels that are black (every channel 0): 4.7 %" in nat.markdown_table("t", {"input": s}, 4.74)


def test_grid_has_one_column_per_method_and_is_written_atomically(tmp_path: Path) -> None:
    img = np.zeros((30, 40, 3), np.uint8)
    grid = nat.build_grid([("a", [img, img, img]), ("b", [img, img, img])], ["input", "gamma", "model"], 50)
    assert grid.width == 3 * 54 + 4
    out = tmp_path / "g.jpg"
    nat.save_jpeg_atomic(grid, out)
    assert out.stat().st_size > 0 and [p.name for p in tmp_path.iterdir()] == ["g.jpg"]
