"""Fixtures for the training tests: a handful of real low/normal pairs made from BSDS500 photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.training.config import TrainConfig, merge, preset_dict

PAIR_SIDE = 96


def make_pairs(shared: Path, out: Path, count: int = 4, side: int = PAIR_SIDE) -> tuple[Path, Path]:
    """``count`` BSDS500 train photos, downscaled 3x, centre-cropped to ``side``, darkened.

    The low-light side comes from the project's synthesiser (exposure, colour cast, sensor noise),
    with a fixed generator per image.  Returns (low_dir, normal_dir) of matching PNG files.
    """
    from uptflow.data.synthesis import synthesize

    photos = sorted((shared / "data" / "photos" / "bsds500" / "train").glob("*.jpg"))[:count]
    low_dir, normal_dir = out / "low", out / "normal"
    low_dir.mkdir(parents=True, exist_ok=True)
    normal_dir.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(photos):
        im = Image.open(p).convert("RGB")
        im = im.resize((im.width // 3, im.height // 3), Image.BICUBIC)
        a = np.asarray(im, dtype=np.float32) / 255.0
        h, w = a.shape[:2]
        a = a[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        low = synthesize(a, np.random.default_rng(i), global_prob=1.0)  # the global model these tests were sized on
        Image.fromarray((a * 255).round().astype(np.uint8)).save(normal_dir / f"{p.stem}.png")
        Image.fromarray((low * 255).round().astype(np.uint8)).save(low_dir / f"{p.stem}.png")
    return low_dir, normal_dir


@pytest.fixture(scope="session")
def pair_dirs(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_pairs(shared_dir, tmp_path_factory.mktemp("pairs"))


def tiny_config(low: Path, normal: Path, out: Path, **train: object) -> TrainConfig:
    """The ``tiny`` preset on the test pairs (crop 32, batch 2, no validation, no progress bar)."""
    overrides = {
        "data": {"low_dir": str(low), "normal_dir": str(normal), "crop": 32, "verify": False},
        "train": {"iters": 6, "batch_size": 2, "log_every": 1, "val_every": 0, "ckpt_every": 0,
                  "progress": False, "workers": 0, **train},
        "schedule": {"warmup_iters": 2},
        "out": str(out),
    }
    return TrainConfig.from_dict(merge(preset_dict("tiny"), overrides), where="test")
