"""``uptflow enhance --precision``: bfloat16 changes the arithmetic, not the picture; a bad value is a
usage error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.cli import main
from uptflow.io.read import load_image

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "lol_eval15_22.png"


def test_bfloat16_output_is_close_to_float32(capsys, tmp_path: Path) -> None:
    src = tmp_path / "in" / "dark.png"
    src.parent.mkdir()
    Image.open(SAMPLE).convert("RGB").resize((96, 64)).save(src)
    assert main(["enhance", str(src), "-o", str(tmp_path / "a"), "-q"]) == 0
    assert main(["enhance", str(src), "-o", str(tmp_path / "b"), "-q", "--precision", "bfloat16"]) == 0
    ref = load_image(tmp_path / "a" / "dark.png").rgb.astype(np.float64)
    fast = load_image(tmp_path / "b" / "dark.png").rgb.astype(np.float64)
    assert ref.shape == fast.shape and not np.array_equal(ref, fast)
    assert np.abs(ref - fast).max() <= 16 / 255
    assert 10 * np.log10(1.0 / np.mean((ref - fast) ** 2)) >= 40.0
    capsys.readouterr()


def test_unknown_precision_is_a_usage_error(capsys, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["enhance", str(SAMPLE), "-o", str(tmp_path / "o"), "--precision", "int8"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--precision" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
