"""uptflow.evaluation: stem matching, scoring, skipped pairs, result files, LPIPS discovery."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.inference import models as reg
from uptflow.data.layouts import PairRecord
from uptflow.evaluation import (
    EvalResult,
    evaluate_folders,
    evaluate_model,
    format_table,
    load_lpips,
    match_by_stem,
    write_results,
)
from uptflow.metrics import EvalProtocol, LPIPSWeightsMissing

NO_LPIPS = EvalProtocol(lpips=False)


def _save(path: Path, a: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


def _img(seed: int, h: int = 24, w: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def pred_gt(tmp_path):
    """pred/{a,b,c,extra}.png vs gt/{a,b,c,d}.png; each prediction is its ground truth + small noise."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i, name in enumerate(["a", "b", "c", "d"]):
        g = _img(i)
        _save(gt / f"{name}.png", g)
        if name != "d":
            noise = np.random.default_rng(10 + i).integers(-6, 7, g.shape)
            _save(pred / f"{name}.png", np.clip(g.astype(int) + noise, 0, 255).astype(np.uint8))
    _save(pred / "extra.png", _img(9))
    return pred, gt


def test_match_by_stem_reports_unmatched(pred_gt):
    pred, gt = pred_gt
    pairs, unmatched = match_by_stem(pred, gt)
    assert [p[0] for p in pairs] == ["a", "b", "c"]
    assert unmatched == {"pred": ["extra.png"], "gt": ["d.png"]}


def test_match_by_stem_ignores_extensions_and_rejects_duplicates(tmp_path):
    _save(tmp_path / "p" / "x.jpg", _img(0))
    _save(tmp_path / "g" / "x.png", _img(0))
    assert match_by_stem(tmp_path / "p", tmp_path / "g")[0][0][0] == "x"
    _save(tmp_path / "p" / "x.png", _img(1))
    with pytest.raises(ValueError, match="two images named 'x'"):
        match_by_stem(tmp_path / "p", tmp_path / "g")


def test_match_errors(tmp_path):
    _save(tmp_path / "p" / "x.png", _img(0))
    _save(tmp_path / "g" / "y.png", _img(0))
    with pytest.raises(ValueError, match="no file names in common"):
        match_by_stem(tmp_path / "p", tmp_path / "g")
    with pytest.raises(FileNotFoundError):
        match_by_stem(tmp_path / "nope", tmp_path / "g")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        match_by_stem(tmp_path / "empty", tmp_path / "g")


def test_evaluate_folders_values_and_files(pred_gt, tmp_path):
    pred, gt = pred_gt
    result = evaluate_folders(pred, gt, NO_LPIPS)
    assert [r["name"] for r in result.rows] == ["a", "b", "c"] and not result.skipped
    p = np.asarray(Image.open(pred / "b.png"), np.float32) / 255
    g = np.asarray(Image.open(gt / "b.png"), np.float32) / 255
    expected = 10 * math.log10(1 / float(np.mean((p.astype(np.float64) - g) ** 2)))  # independent PSNR
    assert result.rows[1]["psnr"] == pytest.approx(expected, abs=1e-3)
    assert result.mean["psnr"] == pytest.approx(np.mean([r["psnr"] for r in result.rows]))
    assert 0 < result.mean["ssim"] < 1 and "lpips" not in result.mean

    paths = write_results(result, tmp_path / "out")
    with open(paths["csv"]) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["name", "psnr", "ssim"] and [r[0] for r in rows[1:]] == ["a", "b", "c", "MEAN"]
    assert float(rows[-1][1]) == pytest.approx(result.mean["psnr"], abs=1e-5)
    data = json.loads(paths["json"].read_text())
    assert data["n"] == 3 and data["protocol"]["lpips"] is False
    assert data["unmatched"]["gt"] == ["d.png"]
    assert NO_LPIPS.describe() in paths["protocol"].read_text()
    table = format_table(result)
    assert table.splitlines()[-1].startswith("MEAN") and len(table.splitlines()) == 6


def test_size_mismatch_and_unreadable_pairs_are_skipped_not_dropped(tmp_path):
    _save(tmp_path / "g" / "a.png", _img(0))
    _save(tmp_path / "p" / "a.png", _img(0, 24, 30))
    _save(tmp_path / "g" / "b.png", _img(1))
    (tmp_path / "p" / "b.png").write_bytes(b"broken")
    _save(tmp_path / "g" / "c.png", _img(2))
    _save(tmp_path / "p" / "c.png", _img(2))
    result = evaluate_folders(tmp_path / "p", tmp_path / "g", NO_LPIPS)
    assert [r["name"] for r in result.rows] == ["c"]
    assert math.isinf(result.rows[0]["psnr"])  # identical images
    reasons = dict(result.skipped)
    assert set(reasons) == {"a", "b"} and "30x24" in reasons["a"]
    data = json.loads(json.dumps(result.to_dict()))  # inf is written as a string, JSON stays valid
    assert data["per_image"][0]["psnr"] == "inf"


def test_lpips_weights_missing_is_a_clear_error(tmp_path):
    with pytest.raises(LPIPSWeightsMissing, match="--no-lpips"):
        load_lpips(EvalProtocol(lpips=True), tmp_path)
    assert load_lpips(NO_LPIPS) is None


def test_evaluate_model_with_real_lpips(tmp_path, shared_dir):
    lol = shared_dir / "data" / "lowlight_real" / "lol_eval15_low_400x600"
    pairs = []
    for p in sorted(lol.glob("*.png"))[:2]:
        low = np.asarray(Image.open(p).convert("RGB").resize((48, 32), Image.BICUBIC))
        normal = np.clip(low.astype(int) * 5, 0, 255).astype(np.uint8)  # a brighter "ground truth"
        pairs.append(PairRecord(low=_save(tmp_path / "low" / p.name, low),
                                normal=_save(tmp_path / "high" / p.name, normal), name=p.stem))
    model = reg.random_model("tiny")
    result = evaluate_model(model, pairs, EvalProtocol(), save_dir=tmp_path / "pred",
                            source={"model": "random tiny"})
    assert isinstance(result, EvalResult) and len(result.rows) == 2 and not result.skipped
    assert all(0 <= r["lpips"] <= 2 and math.isfinite(r["psnr"]) for r in result.rows)
    assert result.source["model"] == "random tiny" and result.source["temperature"] == 0.0
    again = evaluate_folders(tmp_path / "pred", tmp_path / "high", EvalProtocol())  # saved predictions
    for r1, r2 in zip(result.rows, again.rows):
        assert r1["psnr"] == pytest.approx(r2["psnr"], abs=1e-4)
        assert r1["lpips"] == pytest.approx(r2["lpips"], abs=1e-4)


def test_evaluate_model_scores_the_chosen_highlight_mode(tmp_path):
    """``highlights=`` reaches the predictions (``uptflow enhance --highlights``'s result) and the source."""
    from uptflow import api

    a = _img(5, 32, 48)
    a[:16, :24] = 200  # lit: the ceiling can act
    a = (a * np.where(np.arange(48) < 24, 1.0, 0.1)[None, :, None]).astype(np.uint8)
    pair = PairRecord(low=_save(tmp_path / "low" / "x.png", a), normal=_save(tmp_path / "high" / "x.png", _img(6, 32, 48)),
                      name="x")
    model = reg.load_cached(None, "cpu")  # the bundled model: it blows the lit patch out, so the modes differ
    got = {}
    for mode in ("off", "protect"):
        result = evaluate_model(model, [pair], NO_LPIPS, save_dir=tmp_path / mode, highlights=mode)
        assert result.source["highlights"] == mode
        want = api.enhance_array(model, a.astype(np.float32) / 255, options=api.check_options(highlights=mode))[0]
        got[mode] = np.asarray(Image.open(tmp_path / mode / "x.png")).astype(np.float32) / 255
        assert np.abs(got[mode] - want).max() <= 0.5 / 255 + 1e-6
    assert np.abs(got["off"] - got["protect"]).max() > 10 / 255
    with pytest.raises(ValueError, match="highlights must be one of"):
        evaluate_model(model, [pair], NO_LPIPS, highlights="on")
