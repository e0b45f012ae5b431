"""Shared fixtures: the location of ../shared and small real images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (reference data) is not beside the repository")
    return SHARED


@pytest.fixture(autouse=True)
def _two_threads():
    # CI has 2 cores; keep results and timing comparable to it everywhere.
    torch.set_num_threads(2)
    yield
