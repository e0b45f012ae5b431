"""The test infrastructure itself: tests needing shared data are marked, skip locally, fail on CI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# one small test that asks for shared_dir (through its module's fixture)
NEEDS_SHARED = "tests/metrics/test_protocol.py"


def _run(extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "UPTFLOW_SHARED")}
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", NEEDS_SHARED,
                           "-k", "quantises or summarize", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_shared_tests_are_marked_skip_locally_and_fail_on_ci(tmp_path: Path) -> None:
    """Two pytest runs over one module: ``-m shared`` keeps only the test using ``shared_dir``, which
    skips without the data, but fails when ``CI=true``."""
    missing = str(tmp_path / "no-shared")
    local = _run({"UPTFLOW_SHARED": missing}, "-m", "shared", "-rs")
    assert local.returncode == 0, local.stdout
    assert re.search(r"\b1 skipped, \d+ deselected", local.stdout) and "no-shared" in local.stdout, local.stdout
    ci = _run({"UPTFLOW_SHARED": missing, "CI": "true"})
    assert ci.returncode != 0 and re.search(r"\b1 passed, \d+ deselected, 1 error", ci.stdout), ci.stdout
    assert "CI must run every test" in ci.stdout, ci.stdout


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("false", False), ("", False)])
def test_ci_flag(value: str, expected: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import on_ci

    monkeypatch.setenv("CI", value)
    assert on_ci() is expected
