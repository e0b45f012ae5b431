"""Fixtures of the video tests: generated clips and the bundled model."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytest

pytest.importorskip("av", reason='video tests need PyAV (pip install "uptflow[video]")')

from video.clips import BUNDLED, night_frames, write_clip  # noqa: E402


@pytest.fixture(scope="session")
def bundled_model():
    """The bundled ``small`` model on the CPU (trained: outputs are real enhancements)."""
    from uptflow.inference.models import load_cached

    if not BUNDLED.is_file():
        pytest.skip("bundled model missing")
    return load_cached(str(BUNDLED), "cpu")


@pytest.fixture(scope="session")
def clip_factory(tmp_path_factory) -> Callable[..., Path]:
    root = tmp_path_factory.mktemp("clips")

    def make(name: str, frames: Sequence[np.ndarray] | None = None, **kw) -> Path:
        return write_clip(root / name, frames if frames is not None else night_frames(6), **kw)

    return make
