"""``uptflow enhance --exposure EV``: the result is the plain result passed through uptflow.inference.exposure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from uptflow.cli import main
from uptflow.inference.exposure import apply_exposure
from uptflow.io.read import load_image


def _image(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    a = (rng.random((24, 32, 3)) * 80).astype(np.uint8)
    a[4:10, 4:12] = 250  # a lit patch
    path = tmp_path / "in" / "dark.png"
    path.parent.mkdir()
    Image.fromarray(a).save(path)
    return path


def test_exposure_option_brightens_without_new_clipping(capsys, tiny, tmp_path: Path) -> None:
    src = _image(tmp_path)
    assert main(["enhance", str(src), "-o", str(tmp_path / "a"), "--model", str(tiny), "-q"]) == 0
    assert main(["enhance", str(src), "-o", str(tmp_path / "b"), "--model", str(tiny), "-q", "--exposure", "1.5"]) == 0
    plain, brighter = load_image(tmp_path / "a" / "dark.png").rgb, load_image(tmp_path / "b" / "dark.png").rgb
    expected = np.round(apply_exposure(plain.astype(np.float64), 1.5) * 255) / 255
    assert np.abs(brighter - expected).max() <= 1.5 / 255  # plain result re-quantised once more
    assert brighter.mean() > plain.mean() + 0.02
    # the shoulder: nothing that was below 255 reaches 255 in 8 bits unless it was within a few codes
    newly = (brighter >= 1.0) & (plain < 250 / 255)
    assert not newly.any()
    capsys.readouterr()


def test_non_finite_exposure_is_a_one_line_error(capsys, tiny, tmp_path: Path) -> None:
    src = _image(tmp_path)
    code = main(["enhance", str(src), "-o", str(tmp_path / "c"), "--model", str(tiny), "--exposure", "nan"])
    _, err = capsys.readouterr()
    assert code != 0 and "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "--exposure" in lines[0] and "finite" in lines[0], err
    assert not (tmp_path / "c" / "dark.png").exists()
