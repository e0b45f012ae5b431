"""benchmarks/gpu_table.py, dry-run on CPU: every cell becomes a row, failures included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gpu_table  # noqa: E402


def test_dry_run_table_and_json(tmp_path, capsys) -> None:
    out = tmp_path / "table.json"
    assert gpu_table.main(["--device", "cpu", "--presets", "tiny", "--sizes", "32x48", "--runs", "1",
                           "--precisions", "float32,bfloat16", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("CPU: ")
    assert "| tiny | 32x48 | 1 | float32 | no |" in printed and "| tiny | 32x48 | 1 | bfloat16 | no |" in printed
    data = json.loads(out.read_text())
    assert [r["precision"] for r in data["rows"]] == ["float32", "bfloat16"]
    for row in data["rows"]:
        assert "error" not in row and 0 < row["min_s"] <= row["median_s"] and row["peak_mib"] is None


def test_a_failing_cell_is_a_row_not_a_crash() -> None:
    rows = gpu_table.run_table(["tiny"], [(32, 32)], ["no-such-precision"], [False], 1, "cpu")
    assert len(rows) == 1 and rows[0]["error"].startswith("ValueError")
    assert "ValueError" in gpu_table.markdown(rows)


def test_unknown_precision_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        gpu_table.main(["--device", "cpu", "--precisions", "float8"])
    assert exc.value.code == 2 and "unknown precision" in capsys.readouterr().err
