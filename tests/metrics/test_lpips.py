"""LPIPS reproduces the published LPIPS-alex v0.1 calibration distances; weight lookup is explicit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED, require_shared  # noqa: E402  (tests/ is on pythonpath)
from PIL import Image

from uptflow.metrics.lpips import (
    FEATURES_FILE,
    HEADS_FILE,
    LPIPS,
    LPIPS_ENV_VAR,
    LPIPSWeightsMissing,
    default_lpips_dirs,
    find_lpips_weights,
    lpips,
    require_lpips_weights,
)

WEIGHTS = SHARED / "data" / "lpips"
CALIB = WEIGHTS / "calibration"
# Published distances (lpips 0.1.4, alex, v0.1) for ref_dir/X vs dist_dir/X.
PUBLISHED = {"I03": 0.7237, "I04": 0.2572, "I06": 0.05079, "I08": 0.05205, "I19": 0.4253}


@pytest.fixture(scope="module")
def net() -> LPIPS:
    require_shared(WEIGHTS)
    return LPIPS.from_dir(WEIGHTS)


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


def test_reproduces_published_calibration_distances(net: LPIPS) -> None:
    names = sorted(PUBLISHED)
    refs = torch.stack([torch.from_numpy(_load(CALIB / "ref_dir" / f"{n}.png")).permute(2, 0, 1) for n in names])
    dists = torch.stack([torch.from_numpy(_load(CALIB / "dist_dir" / f"{n}.png")).permute(2, 0, 1) for n in names])
    with torch.no_grad():
        got = lpips(refs, dists, net=net)
    assert got.shape == (len(names),)
    for name, value in zip(names, got.tolist()):
        assert abs(value - PUBLISHED[name]) < 1e-3, (name, value)
    # numpy input, swapped order (LPIPS is symmetric) gives the same value as the batch
    single = lpips(_load(CALIB / "dist_dir" / "I06.png"), _load(CALIB / "ref_dir" / "I06.png"), net=net)
    assert isinstance(single, float)
    assert abs(single - got[names.index("I06")].item()) < 1e-5


def test_identical_is_zero_and_gradients_reach_input(net: LPIPS) -> None:
    x = torch.rand(1, 3, 64, 64)
    assert float(lpips(x, x, net=net)[0]) == pytest.approx(0.0, abs=1e-7)
    pred = torch.rand(1, 3, 64, 64, requires_grad=True)
    lpips(pred, x, net=net).sum().backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in net.parameters())


def test_rejects_non_rgb(net: LPIPS) -> None:
    with pytest.raises(ValueError, match="3-channel"):
        lpips(torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64), net=net)


def test_missing_weights_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(LPIPS_ENV_VAR, str(empty))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    dirs = default_lpips_dirs(include_shared=False)
    assert dirs == [empty, tmp_path / "home" / ".cache" / "uptflow" / "lpips"]
    assert find_lpips_weights(dirs) is None
    with pytest.raises(LPIPSWeightsMissing) as info:
        require_lpips_weights(dirs)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "\n" not in message
    for needle in (FEATURES_FILE, HEADS_FILE, "~/.cache/uptflow/lpips", LPIPS_ENV_VAR, str(empty)):
        assert needle in message
    with pytest.raises(LPIPSWeightsMissing, match=HEADS_FILE):
        LPIPS.from_dir(empty)


def test_search_order_and_partial_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_shared(WEIGHTS)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / FEATURES_FILE).write_bytes((WEIGHTS / FEATURES_FILE).read_bytes())
    assert find_lpips_weights([partial, WEIGHTS]) == WEIGHTS  # a folder missing one file is skipped
    monkeypatch.setenv(LPIPS_ENV_VAR, str(WEIGHTS))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_lpips_dirs()[0] == WEIGHTS
    assert find_lpips_weights() == WEIGHTS


def test_wrong_files_give_value_error(tmp_path: Path) -> None:
    require_shared(WEIGHTS)
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    (swapped / FEATURES_FILE).write_bytes((WEIGHTS / HEADS_FILE).read_bytes())
    (swapped / HEADS_FILE).write_bytes((WEIGHTS / HEADS_FILE).read_bytes())
    with pytest.raises(ValueError, match="missing tensor"):
        LPIPS.from_dir(swapped)


def _write_good(folder: Path) -> None:
    """Well-formed weight files with the real names and shapes (random values): no shared data needed."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = LPIPS()
    save_file({f"features.{i}.{part}": getattr(net.features[i], part).detach().contiguous()
               for i in (0, 3, 6, 8, 10) for part in ("weight", "bias")}, str(folder / FEATURES_FILE))
    save_file({f"lin{k}.model.1.weight": lin.weight.detach().contiguous() for k, lin in enumerate(net.lins)},
              str(folder / HEADS_FILE))


def _corruptions():
    """(label, make(folder), expected words): each writes both weight files, one of them broken."""
    copy_good = _write_good

    def garbage(folder: Path) -> None:
        copy_good(folder)
        (folder / FEATURES_FILE).write_bytes(b"\x07" * 300)

    def truncated(folder: Path) -> None:
        copy_good(folder)
        data = (folder / HEADS_FILE).read_bytes()
        (folder / HEADS_FILE).write_bytes(data[: len(data) // 2])

    def header_lies(folder: Path) -> None:
        copy_good(folder)
        (folder / HEADS_FILE).write_bytes(b"\xff" * 8 + b"{}")

    def empty(folder: Path) -> None:
        copy_good(folder)
        (folder / FEATURES_FILE).write_bytes(b"")

    def nan_weights(folder: Path) -> None:
        from safetensors.torch import load_file, save_file

        copy_good(folder)
        heads = load_file(str(folder / HEADS_FILE))
        k = next(iter(heads))
        heads[k] = torch.full_like(heads[k], float("nan"))
        save_file(heads, str(folder / HEADS_FILE))

    def wrong_shape(folder: Path) -> None:
        from safetensors.torch import save_file

        copy_good(folder)
        save_file({f"lin{k}.model.1.weight": torch.zeros(1, 3, 1, 1) for k in range(5)}, str(folder / HEADS_FILE))

    return [("garbage", garbage, "not a valid safetensors file"), ("truncated", truncated, "not a valid safetensors"),
            ("header", header_lies, "not a valid safetensors"), ("empty", empty, "not a valid safetensors"),
            ("nan", nan_weights, "not finite"), ("shape", wrong_shape, "has shape")]


@pytest.mark.parametrize("label, make, text", _corruptions(), ids=[c[0] for c in _corruptions()])
def test_corrupt_weight_files_are_one_line_errors(tmp_path: Path, capsys, label, make, text) -> None:
    """``uptflow evaluate --lpips-dir`` with corrupt weight files: one line, exit 1, no traceback."""
    from uptflow.cli import main

    bad = tmp_path / "bad"
    bad.mkdir()
    make(bad)
    with pytest.raises(ValueError, match=text):
        LPIPS.from_dir(bad)
    pred, gt = tmp_path / "p", tmp_path / "g"
    for d in (pred, gt):
        d.mkdir()
        Image.new("RGB", (64, 64), (90, 60, 30)).save(d / "a.png")
    code = main(["evaluate", "--pred-dir", str(pred), "--gt-dir", str(gt), "--lpips-dir", str(bad), "-q"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("uptflow evaluate: error: "), err
    assert text in lines[0] and "Traceback" not in err


def test_well_formed_files_load(tmp_path: Path) -> None:
    """The files the corruption cases start from are accepted, so each case fails only because of
    its corruption."""
    _write_good(tmp_path)
    assert isinstance(LPIPS.from_dir(tmp_path), LPIPS)
