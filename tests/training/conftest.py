"""Fixtures for the training tests: small low/normal pairs generated into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pair_files import write_synthetic_pairs
from uptflow.training.config import TrainConfig, merge, preset_dict

PAIR_SIDE = 96


@pytest.fixture(scope="session")
def pair_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """4 generated pairs (smooth colour fields + shapes + texture, darkened with noise), 96 px."""
    return write_synthetic_pairs(tmp_path_factory.mktemp("pairs"), count=4, side=PAIR_SIDE)


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
