"""Where the project's shared reference data lives: one setting, never derived from ``__file__``.

The shared folder (``SPEC.md``, ``conformance/``, ``data/`` with SICE frames, photos, LPIPS
weights) sits outside the package; an installed wheel has no "repository beside it".  So its
location comes from, in order:

1. an explicit argument (a command's ``--data-root`` / ``root=``),
2. the environment variable :data:`ENV_VAR` (``UPTFLOW_SHARED``), the shared folder itself
   (the one holding ``data/``).

Nothing else: without either, :func:`shared_root` raises a one-line ``FileNotFoundError`` saying
how to set it.  Benchmarks and tools (scripts run from a checkout) may pass
``default=Path("../shared")``, relative to the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "shared_root", "shared_path", "optional_shared_path"]

ENV_VAR = "UPTFLOW_SHARED"


def shared_root(explicit: str | os.PathLike | None = None, *, default: str | os.PathLike | None = None) -> Path:
    """The shared folder: ``explicit``, else ``$UPTFLOW_SHARED``, else ``default``.

    Raises:
        FileNotFoundError: none of the three is given (one line naming the variable).
    """
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    if default is not None:
        return Path(default)
    raise FileNotFoundError(f"the shared data folder is not set: set {ENV_VAR}=/path/to/shared "
                            "(the folder holding data/) or pass the folder explicitly")


def shared_path(*parts: str, default: str | os.PathLike | None = None) -> Path:
    """``shared_root(default=default) / parts...``, e.g. ``shared_path("data", "sice_part1")``."""
    return shared_root(default=default).joinpath(*parts)


def optional_shared_path(*parts: str) -> Path | None:
    """``$UPTFLOW_SHARED/parts...`` if the variable is set and that path exists, else None.

    For optional search locations (e.g. LPIPS weights), where a missing setting is not an error.
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if not env:
        return None
    p = Path(env).expanduser().joinpath(*parts)
    return p if p.exists() else None
