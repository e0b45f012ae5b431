from __future__ import annotations

import json

import pytest

from uptflow.cli import main
from uptflow.evaluation.benchmark_data import write_benchmark_data
from uptflow.io.read import read_rgb


@pytest.mark.slow
def test_benchmark_is_deterministic_and_dark(shared_dir, tmp_path):
    a = write_benchmark_data(tmp_path / "a", shared_dir / "data", limit=2)
    b = write_benchmark_data(tmp_path / "b", shared_dir / "data", limit=2)
    assert [f["sha256"] for f in a["files"]] == [f["sha256"] for f in b["files"]]
    assert set(a["subsets"]) == {"kodak24", "sice_val", "sice_benchmark"}
    low = read_rgb(tmp_path / "a" / "kodak24" / "low" / "kodim01.png")
    normal = read_rgb(tmp_path / "a" / "kodak24" / "normal" / "kodim01.png")
    assert low.shape == normal.shape == (512, 768, 3)
    assert 5 / 255 < low.mean() < 26 / 255 < normal.mean()
    manifest = json.loads((tmp_path / "a" / "MANIFEST.json").read_text())
    assert manifest["seed"] == a["seed"]
    c = write_benchmark_data(tmp_path / "c", shared_dir / "data", seed=1, subsets=("kodak24",), limit=1)
    assert c["files"][0]["sha256"] != a["files"][0]["sha256"]  # the low image depends on the seed


def test_sice_benchmark_pairs_are_the_official_scenes(shared_dir, tmp_path):
    write_benchmark_data(tmp_path, shared_dir / "data", subsets=("sice_benchmark",), limit=3)
    names = sorted(p.name for p in (tmp_path / "sice_benchmark" / "low").iterdir())
    assert len(names) == 3 and all(n.startswith("bench-") for n in names)
    for n in names:
        low = read_rgb(tmp_path / "sice_benchmark" / "low" / n)
        ref = read_rgb(tmp_path / "sice_benchmark" / "normal" / n)
        assert low.mean() < ref.mean()


def test_cli_reports_missing_data_in_one_line(tmp_path, capsys):
    code = main(["benchmark-data", str(tmp_path / "out"), "--data-root", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 1
    assert "Kodak24 not found" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["benchmark-data"])  # missing OUT: argparse usage error


def test_default_data_root_is_the_shared_setting(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("UPTFLOW_SHARED", raising=False)
    code = main(["benchmark-data", str(tmp_path / "out"), "--subsets", "kodak24"])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # (after the progress bar)
    assert code == 1 and "Traceback" not in err
    assert last.startswith("uptflow benchmark-data: error:") and "UPTFLOW_SHARED" in last
    monkeypatch.setenv("UPTFLOW_SHARED", str(tmp_path / "elsewhere"))
    assert main(["benchmark-data", str(tmp_path / "out"), "--subsets", "kodak24"]) == 1
    assert str(tmp_path / "elsewhere" / "data" / "photos" / "kodak24") in capsys.readouterr().err
