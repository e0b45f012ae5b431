"""``uptflow evaluate`` through the real CLI: scoring folders, running a model, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.cli import main
from uptflow.metrics import EvalProtocol

REPO = Path(__file__).resolve().parents[2]
LOL = REPO.parent / "shared" / "data" / "lowlight_real" / "lol_eval15_low_400x600"


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    """root/low/*.png: real LOL captures (downscaled to 48x32); root/high: brightened copies."""
    if not LOL.is_dir():
        pytest.skip("../shared (reference data) is not beside the repository")
    root = tmp_path_factory.mktemp("pairs")
    (root / "low").mkdir()
    (root / "high").mkdir()
    for p in sorted(LOL.glob("*.png")):
        low = np.asarray(Image.open(p).convert("RGB").resize((48, 32), Image.BICUBIC))
        Image.fromarray(low).save(root / "low" / p.name)
        Image.fromarray(np.clip(low.astype(int) * 5, 0, 255).astype(np.uint8)).save(root / "high" / p.name)
    return root


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def _one_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("uptflow evaluate: error: "), err
    return lines[0]


def test_model_on_low_and_normal_dirs_with_lpips(capsys, tiny, pairs, tmp_path):
    code, out, err = _run(capsys, "evaluate", "--model", tiny, "--low-dir", pairs / "low",
                          "--normal-dir", pairs / "high", "--out", tmp_path / "ev", "--save-pred", tmp_path / "pred", "-q")
    assert code == 0, err
    data = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert data["n"] == 3 and set(data["mean"]) == {"psnr", "ssim", "lpips"}
    assert data["source"]["model"] == str(tiny) and data["source"]["highlights"] == "auto"  # as uptflow enhance
    assert (tmp_path / "ev" / "PROTOCOL.md").read_text().count(EvalProtocol().describe()) == 1
    assert "highlights=auto" in (tmp_path / "ev" / "PROTOCOL.md").read_text()
    assert sorted(p.name for p in (tmp_path / "pred").iterdir()) == ["1.png", "22.png", "780.png"]
    assert "mean over 3 images: PSNR" in out

    # score the saved predictions again: --pred-dir/--gt-dir gives the same numbers
    code, out, err = _run(capsys, "evaluate", "--pred-dir", tmp_path / "pred", "--gt-dir", pairs / "high",
                          "--out", tmp_path / "ev2")
    assert code == 0, err
    again = json.loads((tmp_path / "ev2" / "metrics.json").read_text())
    assert again["mean"]["psnr"] == pytest.approx(data["mean"]["psnr"], abs=1e-4)
    assert again["mean"]["lpips"] == pytest.approx(data["mean"]["lpips"], abs=1e-4)
    table = out.split("protocol:")[0].strip().splitlines()
    assert table[0].split() == ["name", "PSNR", "dB", "SSIM", "LPIPS"] and table[-1].startswith("MEAN")
    assert [ln.split()[0] for ln in table[1:4]] == ["1", "22", "780"]


def test_protocol_options_and_data_root(capsys, tiny, pairs, tmp_path):
    code, out, err = _run(capsys, "evaluate", "--model", tiny, "--data-root", pairs, "--no-lpips",
                          "--gt-mean", "on", "--ssim", "y", "--out", tmp_path)
    assert code == 0, err
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["protocol"] == {"gt_mean": True, "ssim_mode": "y", "lpips": False, "quantize_8bit": True}
    assert "GT-mean is ON" in out and "LPIPS" not in out.split("protocol:")[0]


def test_missing_lpips_weights(capsys, pairs, tmp_path):
    empty = tmp_path / "no_weights"
    empty.mkdir()
    code, _, err = _run(capsys, "evaluate", "--pred-dir", pairs / "high", "--gt-dir", pairs / "high",
                        "--lpips-dir", empty)
    assert code == 1 and "--no-lpips" in _one_error(err)


def test_skipped_pair_gives_exit_code_1(capsys, pairs, tmp_path):
    pred = tmp_path / "pred"
    pred.mkdir()
    for p in (pairs / "high").iterdir():
        (pred / p.name).write_bytes(p.read_bytes())
    Image.new("RGB", (10, 10)).save(pred / "22.png")  # wrong size
    code, out, err = _run(capsys, "evaluate", "--pred-dir", pred, "--gt-dir", pairs / "high", "--no-lpips")
    assert code == 1
    assert "uptflow evaluate: skipped 22: prediction is 10x10 but ground truth is 48x32" in err
    assert "mean over 2 images" in out


@pytest.mark.parametrize("argv, text", [
    ([], "nothing to evaluate"),
    (["--pred-dir", "P"], "go together"),
    (["--pred-dir", "{high}", "--gt-dir", "{missing}"], "not found"),
    (["--low-dir", "{low}"], "go together"),
    (["--model", "{tiny}", "--low-dir", "{low}", "--normal-dir", "{high}", "--temperature", "-1"], "temperature"),
    (["--pred-dir", "{high}", "--gt-dir", "{high}", "--model", "{tiny}"], "not both"),
])
def test_usage_errors(capsys, tiny, pairs, tmp_path, argv, text):
    subs = {"high": pairs / "high", "low": pairs / "low", "missing": tmp_path / "missing", "tiny": tiny}
    code, _, err = _run(capsys, "evaluate", *(a.format(**subs) for a in argv), "--no-lpips")
    assert code == 1 and text in _one_error(err)


def test_highlights_mode_is_recorded(capsys, tiny, pairs, tmp_path):
    code, _, err = _run(capsys, "evaluate", "--model", tiny, "--low-dir", pairs / "low", "--normal-dir", pairs / "high",
                        "--out", tmp_path / "ev", "--no-lpips", "-q", "--highlights", "off")
    assert code == 0, err
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["source"]["highlights"] == "off"
    assert "highlights=off" in (tmp_path / "ev" / "PROTOCOL.md").read_text()
