"""uptflow.shared_data: the shared folder comes from an argument or UPTFLOW_SHARED, never __file__."""

from __future__ import annotations

from pathlib import Path

import pytest

from uptflow.shared_data import ENV_VAR, optional_shared_path, shared_path, shared_root


def test_explicit_beats_environment_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert shared_root(tmp_path / "arg") == tmp_path / "arg"
    assert shared_root(default="../shared") == tmp_path / "env"
    assert shared_path("data", "x") == tmp_path / "env" / "data" / "x"
    monkeypatch.delenv(ENV_VAR)
    assert shared_root(default="../shared") == Path("../shared")


def test_unset_is_a_one_line_error_and_optional_paths_are_none(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=ENV_VAR) as e:
        shared_root()
    assert "\n" not in str(e.value)
    assert optional_shared_path("data", "lpips") is None
    (tmp_path / "data" / "lpips").mkdir(parents=True)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert optional_shared_path("data", "lpips") == tmp_path / "data" / "lpips"
    assert optional_shared_path("data", "missing") is None
