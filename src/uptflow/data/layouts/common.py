"""Pieces every layout shares: :class:`PairRecord`, folder listing, matching two sides by name.

Matching rules (used by every layout): files are keyed by a name (their stem, or a derived key);
two files with one key on one side are ambiguous; keys present on only one side are "unmatched"
and raise a ``ValueError`` naming the first :data:`SHOW` files and the counts, unless
``skip_bad`` (then each is skipped with a ``logging`` warning on the ``uptflow.data.layouts``
logger).  Orders are natural (``2`` before ``10``) so results are deterministic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from uptflow.io.formats import IMAGE_EXTENSIONS
from uptflow.io.listing import natural_key

__all__ = ["PairRecord", "LAYOUTS", "SPLITS", "NPY_SUFFIX", "SHOW", "log"]

#: one logger for the whole package, so ``logging.getLogger("uptflow.data.layouts")`` sees every layout
log = logging.getLogger("uptflow.data.layouts")

#: Concrete layouts understood by :func:`~uptflow.data.layouts.discover_pairs` (plus ``"auto"``).
LAYOUTS: tuple[str, ...] = ("lol", "lolv2", "folders", "sice", "smid", "sdsd")
SPLITS: tuple[str, ...] = ("train", "val", "test", "benchmark")
NPY_SUFFIX = ".npy"
SHOW = 5  # how many offending files an error message names


@dataclass(frozen=True)
class PairRecord:
    """One training/evaluation pair.

    Attributes:
        low: the low-light file (image or ``.npy``).
        normal: the normal-light ground truth (several records may share it, e.g. SMID/SICE).
        name: unique, file-system safe identifier (no ``/``), e.g. ``"1"``, ``"pair13_0005"``.
    """

    low: Path
    normal: Path
    name: str


def report_unmatched(msg: str, items: list[str], skip_bad: bool, warning: str, *args: object) -> None:
    """Raise ``ValueError(msg + hint)`` unless ``skip_bad``; then log ``warning % (item, *args)`` per item."""
    if not skip_bad:
        raise ValueError(msg + " (pass skip_bad=True to skip them)")
    for item in items:
        log.warning(warning, item, *args)


def shown(items: list[str]) -> str:
    """The first :data:`SHOW` items joined by commas, ``", ..."`` when there are more."""
    return ", ".join(items[:SHOW]) + (", ..." if len(items) > SHOW else "")


# --------------------------------------------------------------------------- folders
def is_data_file(p: Path) -> bool:
    s = p.suffix.lower()
    return (s in IMAGE_EXTENSIONS or s == NPY_SUFFIX) and not p.name.startswith(".") and p.is_file()


def files(folder: Path) -> list[Path]:
    """Sorted image / ``.npy`` files directly inside ``folder`` (hidden files skipped)."""
    return sorted(p for p in folder.iterdir() if is_data_file(p))


def subdirs(folder: Path) -> list[Path]:
    """Sorted visible sub-folders of ``folder``."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def child(folder: Path, *names: str) -> Path | None:
    """The sub-folder of ``folder`` whose name equals one of ``names`` (case-insensitive)."""
    if not folder.is_dir():
        return None
    wanted = [n.lower() for n in names]
    found = {p.name.lower(): p for p in subdirs(folder)}
    for n in wanted:
        if n in found:
            return found[n]
    return None


def require_dir(p: Path, what: str) -> Path:
    if not p.is_dir():
        raise ValueError(f"{what} not found: {p}")
    return p


# --------------------------------------------------------------------------- matching
def index(items: Iterable[Path], key: Callable[[Path], str], side: str, folder: Path,
          skip_bad: bool) -> dict[str, Path]:
    """Map ``key(file) -> file``; two files with one key (``a.png`` + ``a.jpg``) are ambiguous."""
    out: dict[str, Path] = {}
    for f in items:
        k = key(f)
        if k in out:
            msg = f"ambiguous {side} files in {folder}: {out[k].name} and {f.name} match the same name {k!r}"
            if not skip_bad:
                raise ValueError(msg)
            log.warning("skipping %s (%s)", f, msg)
            continue
        out[k] = f
    return out


def match(low: dict[str, Path], normal: dict[str, Path], where: str, skip_bad: bool,
          name: Callable[[str], str] = lambda k: k) -> list[PairRecord]:
    """Pair equal keys; report/skip keys present on only one side."""
    lonely_low = sorted((k for k in low if k not in normal), key=natural_key)
    lonely_normal = sorted((k for k in normal if k not in low), key=natural_key)
    if lonely_low or lonely_normal:
        if not skip_bad:
            parts = []
            if lonely_low:
                parts.append(f"{len(lonely_low)} low file(s) without a normal "
                             f"({shown([low[k].name for k in lonely_low])})")
            if lonely_normal:
                parts.append(f"{len(lonely_normal)} normal file(s) without a low "
                             f"({shown([normal[k].name for k in lonely_normal])})")
            raise ValueError(f"unmatched files in {where}: " + "; ".join(parts)
                             + " (pass skip_bad=True to skip them)")
        for k in lonely_low:
            log.warning("skipping %s: no matching normal-light file", low[k])
        for k in lonely_normal:
            log.warning("skipping %s: no matching low-light file", normal[k])
    keys = sorted((k for k in low if k in normal), key=natural_key)
    return [PairRecord(low[k], normal[k], name(k)) for k in keys]


def _stem(p: Path) -> str:
    return p.stem


def _strip(prefix: str) -> Callable[[Path], str]:
    def key(p: Path) -> str:
        s = p.stem
        return s[len(prefix):] if s.lower().startswith(prefix) and len(s) > len(prefix) else s
    return key


def match_folders(low_dir: Path, normal_dir: Path, skip_bad: bool, *, strip_prefix: bool = False,
                  name: Callable[[str], str] = lambda k: k) -> list[PairRecord]:
    """Match the files of two folders by stem (optionally with ``low``/``normal`` prefixes removed).

    With ``strip_prefix`` both the plain-stem and the prefix-stripped matching are tried and the
    one pairing more files wins, so LOL-v2 Real (``low00001``/``normal00001``) and Synthetic
    (identical names) both work.
    """
    require_dir(low_dir, "low-light folder")
    require_dir(normal_dir, "normal-light folder")
    lows, normals = files(low_dir), files(normal_dir)
    where = f"{low_dir} / {normal_dir}"
    if not strip_prefix:
        return match(index(lows, _stem, "low", low_dir, skip_bad),
                     index(normals, _stem, "normal", normal_dir, skip_bad), where, skip_bad, name)

    candidates = [(_stem, _stem), (_strip("low"), _strip("normal"))]
    best: tuple[Callable[[Path], str], Callable[[Path], str]] = candidates[0]
    best_n = -1
    for kl, kn in candidates:
        try:
            n = len(set(index(lows, kl, "low", low_dir, False)) & set(index(normals, kn, "normal", normal_dir, False)))
        except ValueError:
            n = -1
        if n > best_n:
            best, best_n = (kl, kn), n
    kl, kn = best
    return match(index(lows, kl, "low", low_dir, skip_bad),
                 index(normals, kn, "normal", normal_dir, skip_bad), where, skip_bad, name)


def split_dirs(root: Path, split: str, label: str, splits: tuple[str, str],
               children: tuple[str, str]) -> tuple[Path, Path]:
    """The (low, normal) folders of a ``root/<train|test split>/<low|normal>`` dataset layout."""
    sub = splits[0] if split == "train" else splits[1]
    base = child(root, sub)
    if base is None:
        raise ValueError(f"{label} split {split!r} expects the folder {root / sub}")
    low, normal = child(base, children[0]), child(base, children[1])
    if low is None or normal is None:
        raise ValueError(f"{label} folder {base} must contain '{children[0]}' and '{children[1]}' sub-folders")
    return low, normal
