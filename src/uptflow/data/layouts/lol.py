"""LOL v1: ``root/our485/{low,high}/NAME.png`` (split ``train``), ``root/eval15/{low,high}/`` (``val``/``test``).

Files are matched by name (stem).
"""

from __future__ import annotations

from pathlib import Path

from .common import PairRecord, child, match_folders, split_dirs

SPLIT_FOLDERS = ("our485", "eval15")
SIDES = ("low", "high")


def lol_pairs(root: Path, split: str, skip_bad: bool) -> list[PairRecord]:
    low, high = split_dirs(root, split, "LOL", SPLIT_FOLDERS, SIDES)
    return match_folders(low, high, skip_bad)


def looks_like_lol(root: Path) -> bool:
    """``root`` holds ``our485/`` or ``eval15/``."""
    return any(child(root, s) is not None for s in SPLIT_FOLDERS)
