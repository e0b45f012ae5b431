"""The bundled default model: present, self-describing, small, and an actual enhancer.

The README's first command (``uptflow enhance samples -o enhanced``) depends on it, so these
tests run that command for real on the committed samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import uptflow
from uptflow.inference import models as reg
from uptflow.checkpoints import read_metadata
from uptflow.cli import main
from uptflow.io.read import read_rgb

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "samples").glob("*.png"))


def test_bundled_weights_are_installed_small_and_describe_their_training() -> None:
    path = reg.bundled_model_path()
    assert path is not None, "src/uptflow/weights/default.safetensors is missing"
    assert path.stat().st_size <= 10 * 2**20
    meta = read_metadata(path)
    assert meta["config"]["width"] == 16 and meta["config"]["flow_steps"] == 3  # the small preset
    run = meta["training"]["run_config"]
    assert meta["training"]["iteration"] >= 1000
    photos = " ".join(run["data"]["photo_dirs"])
    assert run["data"]["layout"] == "mixed" and "kodak24" not in photos  # Kodak24 is the test set
    assert set(meta["benchmark"]) >= {"kodak24", "sice_val"}


def test_bundled_model_brightens_real_captures_without_a_colour_cast() -> None:
    assert len(SAMPLES) == 3
    for p in SAMPLES:
        low = read_rgb(p)
        out = uptflow.enhance(low, device="cpu")
        assert out.shape == low.shape and out.dtype == low.dtype
        assert low.mean() < 0.12 and 0.25 < out.mean() < 0.75, (p.name, low.mean(), out.mean())
        means = out.reshape(-1, 3).mean(axis=0)
        assert means.max() / means.min() < 1.6, (p.name, means)  # no strong cast on these neutral scenes
        assert np.isfinite(out).all()


def test_readme_first_command_enhances_the_samples(tmp_path: Path, capsys) -> None:
    out = tmp_path / "enhanced"
    assert main(["enhance", str(REPO / "samples"), "-o", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in SAMPLES]
    assert "RANDOM" not in capsys.readouterr().err
