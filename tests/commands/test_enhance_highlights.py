"""``uptflow enhance --highlights protect``: the API's result, lit regions no longer blown; a bad
value is a usage error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import uptflow
from uptflow.cli import main
from uptflow.io.read import load_image

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "lol_eval15_22.png"


def _night(path: Path) -> np.ndarray:
    """A dark sample with a lamp-lit patch (values 150-200) pasted in: the bundled model blows it out."""
    a = np.asarray(Image.open(SAMPLE).convert("RGB").resize((96, 64))).copy()
    a[16:48, 24:72] = np.array([200, 170, 120], dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return a


def test_protect_matches_the_api_and_keeps_the_lit_patch(capsys, tmp_path: Path) -> None:
    src = tmp_path / "in" / "night.png"
    low = _night(src)
    assert main(["enhance", str(src), "-o", str(tmp_path / "off"), "-q", "--highlights", "off"]) == 0
    assert main(["enhance", str(src), "-o", str(tmp_path / "on"), "-q", "--highlights", "protect"]) == 0
    plain = load_image(tmp_path / "off" / "night.png").rgb
    kept = load_image(tmp_path / "on" / "night.png").rgb
    api = uptflow.enhance(low, highlights="protect").astype(np.float64) / 255.0
    np.testing.assert_allclose(kept, api, atol=0.5 / 255 + 1e-6)
    patch = (slice(22, 42), slice(30, 66))
    assert (plain[patch].max(axis=2) >= 250 / 255).mean() > 0.5  # the model alone blows it out
    assert (kept[patch].max(axis=2) < 250 / 255).all()
    assert np.all(kept <= plain + 1 / 255)  # never brighter than the model
    capsys.readouterr()


def test_unknown_highlights_mode_is_a_usage_error(capsys, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["enhance", str(SAMPLE), "-o", str(tmp_path / "o"), "--highlights", "on"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--highlights" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["enhance", "evaluate"])
def test_cli_modes_and_default_are_the_librarys(command) -> None:
    """The parsers spell the modes out (``--help`` must not import torch); they must stay the library's."""
    import argparse

    from uptflow.commands import enhance, evaluate
    from uptflow.inference.highlights import HIGHLIGHT_MODES
    from uptflow.inference.options import EnhanceOptions

    sub = argparse.ArgumentParser().add_subparsers()
    {"enhance": enhance, "evaluate": evaluate}[command].add_parser(sub)
    action = next(a for p in sub.choices.values() for a in p._actions if a.dest == "highlights")
    assert tuple(action.choices) == HIGHLIGHT_MODES and action.default == EnhanceOptions().highlights
