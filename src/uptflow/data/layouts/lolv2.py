"""LOL-v2 Real_captured or Synthetic: ``root/{Train,Test}/{Low,Normal}/``.

Real files are ``low00001.png`` <-> ``normal00001.png`` (matched with the ``low``/``normal``
prefix removed); Synthetic files carry the same name on both sides.  Record names are the low
file's stem, so outputs are named like the inputs.
"""

from __future__ import annotations

from pathlib import Path

from .common import PairRecord, child, match_folders, split_dirs

SPLIT_FOLDERS = ("Train", "Test")
SIDES = ("Low", "Normal")


def lolv2_pairs(root: Path, split: str, skip_bad: bool) -> list[PairRecord]:
    low, normal = split_dirs(root, split, "LOL-v2", SPLIT_FOLDERS, SIDES)
    recs = match_folders(low, normal, skip_bad, strip_prefix=True)
    return [PairRecord(r.low, r.normal, r.low.stem) for r in recs]


def looks_like_lolv2(root: Path) -> bool:
    """``root/Train`` or ``root/Test`` holds both ``Low/`` and ``Normal/``."""
    for split in SPLIT_FOLDERS:
        b = child(root, split)
        if b is not None and child(b, SIDES[0]) is not None and child(b, SIDES[1]) is not None:
            return True
    return False
