"""``uptflow enhance`` refuses unbounded tiling and broken models in one line (issue: hangs and
silent black images)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from uptflow.checkpoints import save_model
from uptflow.cli import main
from uptflow.inference.models import random_model


@pytest.fixture()
def photo(tmp_path) -> Path:
    path = tmp_path / "in" / "dark.png"
    path.parent.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 60, (200, 300, 3), dtype=np.uint8)).save(path)
    return path


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [ln for ln in err.strip().splitlines() if ln.strip()]


def test_a_one_pixel_stride_is_refused_at_once(capsys, tiny, photo, tmp_path):
    """--tile 64 --overlap 63 on 200x300 ran for minutes (tens of thousands of tiles)."""
    start = time.perf_counter()
    code = main(["enhance", str(photo), "-o", str(tmp_path / "out"), "--model", str(tiny),
                 "--tile", "64", "--overlap", "63"])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 1 and len(lines) == 1 and "stride of 1 px" in lines[0] and "overlap <= 48" in lines[0]
    assert time.perf_counter() - start < 30
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_huge_tile_refine_is_refused_at_once(capsys, tiny, photo, tmp_path):
    """--tile-refine 100000 would run 100,000 passes over the image."""
    code = main(["enhance", str(photo), "-o", str(tmp_path / "out"), "--model", str(tiny),
                 "--tile", "64", "--tile-refine", "100000"])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 1 and len(lines) == 1 and "0 .. 8" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_model_producing_nan_fails_and_writes_nothing(capsys, photo, tmp_path):
    """A checkpoint whose output is NaN used to give a black image and exit code 0.  Its weights
    are finite (exp(-logs) overflows), so only the run-time check can catch it."""
    model = random_model("tiny", seed=0)
    with torch.no_grad():
        model.flow.levels[2].steps[0].actnorm.logs.fill_(-200.0)
    path = tmp_path / "overflow.safetensors"
    save_model(model, path)
    out = tmp_path / "out"
    code = main(["enhance", str(photo), "-o", str(out), "--model", str(path), "-q"])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 1
    assert len(lines) == 1 and "NaN or infinite" in lines[0] and "dark.png" in lines[0]
    assert not any(out.iterdir())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is enforced like this on Linux")
@pytest.mark.parametrize("limit_mib", [300, 350, 400])
def test_too_small_an_address_space_limit_is_one_line_at_start(photo, tmp_path, limit_mib) -> None:
    """``ulimit -v`` below what importing torch needs: one line naming the limit, not a traceback
    (depending on where the import runs out it is a MemoryError or a failed ``mmap`` of a library)."""
    import resource
    import subprocess

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_mib * 2**20, resource.RLIM_INFINITY))

    run = subprocess.run([sys.executable, "-m", "uptflow", "enhance", str(photo), "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, preexec_fn=cap, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 1, run.stderr
    lines = _error_lines(run.stderr)
    assert lines == [lines[0]] and lines[0].startswith("uptflow: error: out of memory while starting"), lines
    assert "ulimit -v" in lines[0]
    assert not (tmp_path / "out").exists()
