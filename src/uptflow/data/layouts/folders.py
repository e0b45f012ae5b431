"""Any two folders matched by file stem; extensions may differ (``a.jpg`` <-> ``a.png``).

E.g. MIT-Adobe FiveK as ``input/`` + ``expertC/``.  No splits: the caller picks the folders.
Without explicit folders the sub-folders of ``root`` are picked by name (:data:`LOW_NAMES`,
:data:`NORMAL_NAMES`).
"""

from __future__ import annotations

from pathlib import Path

from .common import PairRecord, match_folders, require_dir, subdirs

# Sub-folder names recognised by auto-detection (lower case).
LOW_NAMES = ("low", "input", "dark", "lq")
NORMAL_NAMES = ("high", "normal", "gt", "target", "expertc", "expert_c", "reference", "long")


def folder_candidates(root: Path) -> tuple[Path, Path]:
    """Pick the (low, normal) sub-folders of ``root`` by their names."""
    subs = {p.name.lower(): p for p in subdirs(root)}
    lows = [subs[n] for n in LOW_NAMES if n in subs]
    normals = [subs[n] for n in NORMAL_NAMES if n in subs]
    if len(lows) != 1 or len(normals) != 1:
        raise ValueError(
            f"cannot tell the low and normal folders apart in {root}: found low candidates "
            f"{[p.name for p in lows]} and normal candidates {[p.name for p in normals]}; "
            "give low_dir and normal_dir explicitly")
    return lows[0], normals[0]


def folder_pairs(root: Path | None, low_dir: str | Path | None, normal_dir: str | Path | None,
                 skip_bad: bool) -> tuple[list[PairRecord], str]:
    """Pairs of the two folders (relative to ``root`` when given); returns (records, where)."""
    if low_dir is not None or normal_dir is not None:
        if low_dir is None or normal_dir is None:
            raise ValueError("the folders layout needs both low_dir and normal_dir")
        ld, nd = Path(low_dir), Path(normal_dir)
        if root is not None:
            ld, nd = root / ld, root / nd
    else:
        if root is None:
            raise ValueError("the folders layout needs root or low_dir and normal_dir")
        require_dir(root, "data folder")
        ld, nd = folder_candidates(root)
    return match_folders(ld, nd, skip_bad), f"{ld} / {nd}"
