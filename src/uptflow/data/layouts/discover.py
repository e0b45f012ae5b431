""":func:`discover_pairs`: one entry point over every layout, with argument checks."""

from __future__ import annotations

from pathlib import Path

from .common import LAYOUTS, SPLITS, PairRecord, require_dir
from .detect import detect_layout
from .folders import folder_pairs
from .lol import lol_pairs
from .lolv2 import lolv2_pairs
from .sice import sice_pairs
from .smid_sdsd import sdsd_pairs, smid_pairs

_BY_ROOT = {"lol": lol_pairs, "lolv2": lolv2_pairs, "smid": smid_pairs, "sdsd": sdsd_pairs}


def _resolve_layout(layout: str, root: Path | None, low_dir: object, normal_dir: object) -> str:
    if layout != "auto":
        return layout
    if root is None:
        if low_dir is None or normal_dir is None:
            raise ValueError("no data given: set root, or both low_dir and normal_dir")
        return "folders"
    if low_dir is not None or normal_dir is not None:
        return "folders"
    return detect_layout(root)


def discover_pairs(
    root: str | Path | None = None,
    *,
    low_dir: str | Path | None = None,
    normal_dir: str | Path | None = None,
    layout: str = "auto",
    split: str = "train",
    skip_bad: bool = False,
) -> list[PairRecord]:
    """List the low/normal pairs of a dataset, sorted and deterministic.

    Args:
        root: dataset folder (relative paths are relative to the current directory).  Optional
            for ``sice`` (defaults to :func:`~uptflow.data.layouts.default_sice_root`, which needs
            ``UPTFLOW_SHARED``) and for ``folders`` when both ``low_dir`` and ``normal_dir`` are given.
        low_dir, normal_dir: the two folders of the ``folders`` layout; relative to ``root``
            when ``root`` is given, else to the current directory.  Without them ``folders``
            picks the sub-folders of ``root`` by name (``low``/``input`` + ``high``/``gt``/...).
        layout: one of :data:`LAYOUTS` or ``"auto"`` (see :func:`detect_layout`).
        split: ``"train"``, ``"val"``, ``"test"`` (``val`` and ``test`` are the same held-out
            set, e.g. LOL eval15) or ``"benchmark"`` (SICE only).  Ignored by ``folders``.
        skip_bad: skip unmatched/ambiguous files with a logged warning instead of raising.

    Returns:
        Non-empty list of :class:`PairRecord`, sorted by name order of the layout.

    Raises:
        ValueError: unknown layout/split, missing folders, unmatched files, or no pairs.
    """
    if layout != "auto" and layout not in LAYOUTS:
        raise ValueError(f"unknown data layout {layout!r}; choose auto or one of: {', '.join(LAYOUTS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    root_p = Path(root) if root is not None else None
    layout = _resolve_layout(layout, root_p, low_dir, normal_dir)
    if split == "benchmark" and layout != "sice":
        raise ValueError(f"split 'benchmark' exists only for the sice layout, not {layout!r}")

    if layout == "sice":
        recs = sice_pairs(root_p, split, skip_bad)
        where = str(root_p) if root_p is not None else "the SICE folder"
    elif layout == "folders":
        recs, where = folder_pairs(root_p, low_dir, normal_dir, skip_bad)
    else:
        if root_p is None:
            raise ValueError(f"the {layout} layout needs root")
        require_dir(root_p, "data folder")
        recs = _BY_ROOT[layout](root_p, split, skip_bad)
        where = str(root_p)
    if not recs:
        raise ValueError(f"no {split} pairs found in {where} (layout {layout})")
    names = [r.name for r in recs]
    if len(set(names)) != len(names):  # cannot happen for a sane layout; keep names usable as keys
        raise ValueError(f"duplicate pair names in {where} (layout {layout})")
    return recs
