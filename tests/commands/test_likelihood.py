"""``uptflow likelihood``: bits/dim of a real pair, cropping note, seed/samples, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from uptflow.checkpoints import load_model
from uptflow.cli import main

REPO = Path(__file__).resolve().parents[2]
LOL = REPO.parent / "shared" / "data" / "lowlight_real" / "lol_eval15_low_400x600"


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    """A real LOL capture at 75x50 (not a multiple of 8) and a brightened copy as 'normal'."""
    if not LOL.is_dir():
        pytest.skip("../shared (reference data) is not beside the repository")
    root = tmp_path_factory.mktemp("pair")
    low = np.asarray(Image.open(LOL / "22.png").convert("RGB").resize((75, 50), Image.BICUBIC))
    Image.fromarray(low).save(root / "low.png")
    Image.fromarray(np.clip(low.astype(int) * 5, 0, 255).astype(np.uint8)).save(root / "normal.png")
    return root / "low.png", root / "normal.png"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def test_bits_per_dim_matches_the_model_and_says_it_cropped(capsys, tiny, pair):
    low, normal = pair
    code, out, err = _run(capsys, "likelihood", "--low", low, "--normal", normal, "--model", tiny)
    assert code == 0, err
    assert "cropped both images from 75x50 to 72x48" in out
    value = float(out.split("bits/dim:")[1].split()[0])

    model = load_model(tiny)
    lo = torch.from_numpy(np.asarray(Image.open(low), np.float32) / 255).permute(2, 0, 1)[None, :, :48, :72]
    no = torch.from_numpy(np.asarray(Image.open(normal), np.float32) / 255).permute(2, 0, 1)[None, :, :48, :72]
    with torch.no_grad():
        ref = float(model.nll(no, lo, generator=torch.Generator().manual_seed(0))[0])
    assert value == pytest.approx(ref, abs=1e-4)


def test_json_samples_and_seed(capsys, tiny, pair):
    low, normal = pair
    args = ["likelihood", "--low", low, "--normal", normal, "--model", tiny, "--json"]
    code, out, _ = _run(capsys, *args, "--samples", "3", "--seed", "7")
    rec = json.loads(out)
    assert code == 0 and rec["samples"] == 3 and rec["std"] > 0 and rec["cropped"] is True
    assert rec["size"] == [72, 48] and math.isfinite(rec["bits_per_dim"])
    assert rec["authors_bits_per_pixel"] == pytest.approx(3 * rec["bits_per_dim"] - 2 * math.log2(32))
    again = json.loads(_run(capsys, *args, "--samples", "3", "--seed", "7")[1])
    assert again["bits_per_dim"] == rec["bits_per_dim"]  # fixed seed: reproducible
    other = json.loads(_run(capsys, *args, "--seed", "8")[1])
    assert other["bits_per_dim"] != rec["bits_per_dim"]


def test_errors_are_one_line(capsys, tiny, pair, tmp_path):
    low, normal = pair
    small = tmp_path / "small.png"
    Image.new("RGB", (6, 6)).save(small)
    other = tmp_path / "other.png"
    Image.new("RGB", (64, 48)).save(other)
    cases = [
        (["--low", low, "--normal", other], "must have the same size"),
        (["--low", small, "--normal", small], "at least 8x8"),
        (["--low", tmp_path / "nope.png", "--normal", normal], "no such file"),
    ]
    for extra, text in cases:
        code, _, err = _run(capsys, "likelihood", *extra, "--model", tiny)
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1 and lines[0].startswith("uptflow likelihood: error: "), err
        assert text in lines[0]
    # out-of-range numbers are refused by the parser (exit 2, the last line says why)
    for extra, text in [(["--samples", "0"], "samples must be 1 .. 1000"), (["--seed", str(2**64)], "seed must be in"),
                        (["--seed", "-3"], "seed must be in")]:
        with pytest.raises(SystemExit) as ei:
            main(["likelihood", "--low", str(low), "--normal", str(normal), "--model", str(tiny), *extra])
        err = capsys.readouterr().err
        assert ei.value.code == 2 and text in err.strip().splitlines()[-1], err
