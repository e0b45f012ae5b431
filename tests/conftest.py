"""Shared fixtures: the location of ../shared and small real images."""

from __future__ import annotations

import os
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


_THREADS = int(os.environ.get("UPTFLOW_TEST_THREADS", "2"))


@pytest.fixture(autouse=True)
def _two_threads():
    # CI has 2 cores; keep results and timing comparable to it everywhere.  UPTFLOW_TEST_THREADS=1
    # lets a run share the machine with other work (a training run, another test run).
    torch.set_num_threads(_THREADS)
    yield
