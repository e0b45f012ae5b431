"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from uptflow.inference import models as reg
from uptflow.checkpoints import save_model


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """A seeded random ``tiny`` model saved as safetensors (random weights: tests only)."""
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_model(reg.random_model("tiny", seed=0), path)
    return path
