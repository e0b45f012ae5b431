"""Verified SICE Part 1 pairs (the committed list of :func:`uptflow.data.sice.load_pairs`).

The pair list ships with the package; ``root`` only says where the frames are (default:
``$UPTFLOW_SHARED/data/sice_part1``, see :mod:`uptflow.shared_data`).  Listed frames missing from
``root`` are unmatched files (error, or skipped with ``skip_bad``).  ``val``/``test`` both mean
SICE's ``val`` split; split ``benchmark`` frames are only ever returned for ``split="benchmark"``.
"""

from __future__ import annotations

from pathlib import Path

from uptflow.io.listing import natural_key
from uptflow.shared_data import shared_path

from .common import PairRecord, log, require_dir, shown

#: files that mark a SICE folder for auto-detection
MARKERS = ("benchmark_scenes.csv", "scene_groups_heuristic.csv")


def default_sice_root() -> Path:
    """``$UPTFLOW_SHARED/data/sice_part1``, where the read-only SICE frames live.

    Raises:
        FileNotFoundError: ``UPTFLOW_SHARED`` is not set (pass ``root`` instead).
    """
    return shared_path("data", "sice_part1")


def sice_pairs(root: Path | None, split: str, skip_bad: bool) -> list[PairRecord]:
    """Records of the committed SICE pairs of ``split`` whose frames exist under ``root``."""
    from uptflow.data import sice

    base = root if root is not None else default_sice_root()
    require_dir(base, "SICE folder")
    want = {"train": "train", "val": "val", "test": "val", "benchmark": "benchmark"}[split]
    pairs = [p for p in sice.load_pairs(want) if p.split == want]  # belt and braces
    out, missing = [], []
    for p in pairs:
        low, ref = p.paths(base)
        lost = [f for f in (low, ref) if not f.is_file()]
        if lost:
            missing.extend(f.name for f in lost)
            if skip_bad:
                log.warning("skipping SICE pair %s_%s: %s not found in %s", p.scene, Path(p.low).stem,
                            ", ".join(f.name for f in lost), base)
            continue
        out.append(PairRecord(low, ref, f"{p.scene}_{Path(p.low).stem}"))
    if missing and not skip_bad:
        names = sorted(set(missing), key=natural_key)
        raise ValueError(f"unmatched files in {base}: {len(names)} listed SICE frame(s) not found "
                         f"({shown(names)}) (pass skip_bad=True to skip them)")
    return out


def looks_like_sice(root: Path) -> bool:
    return any((root / m).is_file() for m in MARKERS)
