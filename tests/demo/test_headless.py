"""The headless-Chromium helpers shared by the browser test and the screenshot script."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from uptflow.demo import headless


def test_wait_for_returns_the_first_truthy_value_and_names_what_timed_out() -> None:
    counter = itertools.count()
    assert headless.wait_for(lambda: next(counter) >= 2 and "ready", "the page", timeout=5) == "ready"
    with pytest.raises(TimeoutError, match="waiting for the result"):
        headless.wait_for(lambda: None, "the result", timeout=0.3)


def test_find_executable_prefers_an_executable_candidate(tmp_path: Path, monkeypatch) -> None:
    plain, runnable = tmp_path / "plain", tmp_path / "runnable"
    plain.write_text("")
    runnable.write_text("#!/bin/sh\n")
    runnable.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    # (even root needs an execute bit for X_OK)
    assert headless.find_executable((str(plain), str(runnable)), "nothing") == str(runnable)
    assert headless.find_executable((str(tmp_path / "missing"),), "nothing") is None


def test_missing_browser_is_a_file_not_found_naming_the_packages(monkeypatch) -> None:
    pytest.importorskip("selenium")
    monkeypatch.setattr(headless, "find_executable", lambda candidates, name: None)
    with pytest.raises(FileNotFoundError, match="apt-get install chromium chromium-driver"):
        headless.start_chromium("/nonexistent-profile")
