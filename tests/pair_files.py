"""Tiny image / .npy files for data tests (written into a test's tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from uptflow.data.layouts import PairRecord


def png(path: Path, h: int = 6, w: int = 8, value: int | None = None, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if value is None else np.full((h, w, 3), value, np.uint8)
    Image.fromarray(a).save(path)
    return path


def npy(path: Path, h: int = 4, w: int = 5, dtype: str = "uint8", seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    np.save(path, a if dtype == "uint8" else (a / 255.0).astype(dtype))
    return path


def names(recs: list[PairRecord]) -> list[str]:
    return [r.name for r in recs]
