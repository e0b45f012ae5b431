"""Verified low/normal pairs from the real SICE Part 1 exposure stacks: the committed pair list.

SICE Part 1 ships tripod exposure stacks as numbered frames (``1.jpg`` ... ``2002.jpg``); their
numbering does not reliably group scenes, so the pairs were rebuilt from the pixels once, by
``tools/build_sice_pairs.py`` (exposure-invariant same-scene check, whole scenes per split, the
official benchmark scenes kept out of train/val; its docstring explains the method).  The result
ships with the package as ``sice_pairs.csv``; this module only reads it.

Regenerate the CSV (from a checkout, with the frames available) with
``python tools/build_sice_pairs.py --root $UPTFLOW_SHARED/data/sice_part1 --out src/uptflow/data/sice_pairs.csv``.
"""

from __future__ import annotations

import csv as _csv
from dataclasses import dataclass
from pathlib import Path

from uptflow.shared_data import shared_path

__all__ = ["SPLITS", "CSV_FIELDS", "SicePair", "default_csv", "default_root", "load_pairs"]

SPLITS = ("train", "val", "benchmark")
CSV_FIELDS = ("scene", "low", "ref", "split", "score", "low_mean", "ref_mean")


@dataclass(frozen=True)
class SicePair:
    """One verified low/normal pair of SICE Part 1 frames.

    ``low``/``ref`` are file names inside the SICE folder; ``score`` is the builder's same-scene
    score of the two frames (gradient correlation in [-1, 1]); ``low_mean``/``ref_mean`` are mean
    RGB intensities in [0, 1] (measured at 128 px).
    """

    scene: str
    low: str
    ref: str
    split: str
    score: float
    low_mean: float
    ref_mean: float

    def paths(self, root: str | Path | None = None) -> tuple[Path, Path]:
        """(low path, reference path) under ``root`` (default: :func:`default_root`)."""
        base = Path(root) if root is not None else default_root()
        return base / self.low, base / self.ref


def default_root() -> Path:
    """``$UPTFLOW_SHARED/data/sice_part1``, where the read-only frames live (see :mod:`uptflow.shared_data`)."""
    return shared_path("data", "sice_part1")


def default_csv() -> Path:
    """The committed pair list shipped with the package."""
    return Path(__file__).with_name("sice_pairs.csv")


def load_pairs(split: str | None = None, csv: str | Path | None = None) -> list[SicePair]:
    """Read the committed pair list (or ``csv``), optionally keeping one split.

    Args:
        split: ``"train"``, ``"val"``, ``"benchmark"`` or None for all rows.
        csv: CSV to read (default :func:`default_csv`, shipped with the package).
    Returns:
        :class:`SicePair` rows in file order. Benchmark rows are for evaluation only.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown SICE split {split!r}; expected one of {SPLITS}")
    path = Path(csv) if csv is not None else default_csv()
    if not path.is_file():
        raise ValueError(f"SICE pair list not found: {path}")
    with path.open(newline="") as fh:
        reader = _csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != CSV_FIELDS:
            raise ValueError(f"{path}: expected columns {','.join(CSV_FIELDS)}, got {reader.fieldnames}")
        out = []
        for line, r in enumerate(reader, start=2):
            try:
                p = SicePair(r["scene"], r["low"], r["ref"], r["split"], float(r["score"]),
                             float(r["low_mean"]), float(r["ref_mean"]))
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}:{line}: malformed row: {e}") from e
            if p.split not in SPLITS:
                raise ValueError(f"{path}:{line}: unknown split {p.split!r}")
            out.append(p)
    return [p for p in out if split is None or p.split == split]
