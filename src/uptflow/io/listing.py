"""Expanding command-line inputs (files, folders, glob patterns) into image files.

:func:`collect_images` never gives up on the whole call because of one input: an input that is a
FIFO, a symbolic link loop, a missing file or a folder without images is reported (what it is)
in :attr:`ImageListing.skipped` and the others are still listed.  :func:`list_images` is the
strict form for callers that want all or nothing (training data, benchmarks).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from uptflow.io.formats import file_problem, is_image_name
from uptflow.messages import show_path

__all__ = ["natural_key", "ImageListing", "SkippedInput", "collect_images", "list_images"]

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class SkippedInput:
    """An input that gave no image: ``name`` as given (or found in a folder) and why."""

    name: str
    reason: str

    @property
    def message(self) -> str:
        """``"NAME: reason"`` with the name printable (escaped if it needs to be)."""
        return f"{show_path(self.name)}: {self.reason}"


@dataclass
class ImageListing:
    """The image files found (in input order, no duplicates) and the inputs that were skipped."""

    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedInput] = field(default_factory=list)


def collect_images(inputs: Sequence[str | os.PathLike[str]], recursive: bool = False) -> ImageListing:
    """Expand inputs into image files, recording the ones that give none.

    Each input may be a file (kept whatever its extension: the reader reports a non-image), a
    folder (its image files, sorted; sub-folders too when ``recursive``), or a glob pattern such
    as ``*.png`` or ``dir/**/*.jpg`` (matching image files, sorted).  Hidden files and folders
    (``.x``) are skipped in folders and patterns.  Entries of a folder or pattern with an image
    name that are not regular files (a FIFO ``x.png``, a broken link) are reported, not opened.

    Raises:
        ValueError: no inputs at all.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not inputs:
        raise ValueError("no inputs given")
    listing = ImageListing()
    seen: set[Path] = set()

    def add(paths: list[Path]) -> None:
        for q in paths:
            key = _identity(q)
            if key not in seen:
                seen.add(key)
                listing.files.append(q)

    for item in inputs:
        s = os.fspath(item)
        p = Path(s)
        problem = file_problem(p, folder_ok=True)
        if problem is None and p.is_dir():
            found = p.rglob("*") if recursive else p.iterdir()
            named = sorted(q for q in found if is_image_name(q))
            if recursive:  # skip files inside hidden folders (e.g. .git, .cache)
                named = [q for q in named if not any(part.startswith(".") for part in q.relative_to(p).parts)]
            imgs = _keep_regular(named, listing)
            if not imgs:
                listing.skipped.append(SkippedInput(s, "is a folder with no images in it"))
            add(imgs)
        elif problem is None:
            add([p])
        elif problem == "no such file" and _GLOB_CHARS & set(s):
            named = [q for q in sorted(Path(m) for m in glob.glob(s, recursive=True)) if is_image_name(q)]
            imgs = _keep_regular(named, listing)
            if not imgs:
                listing.skipped.append(SkippedInput(s, "no images match this pattern"))
            add(imgs)
        else:
            listing.skipped.append(SkippedInput(s, "no such file or folder" if problem == "no such file" else problem))
    return listing


def list_images(inputs: Sequence[str | os.PathLike[str]], recursive: bool = False) -> list[Path]:
    """:func:`collect_images`, all or nothing: the image files, or a one-line ``ValueError``.

    Raises:
        ValueError: ``"no such file or folder: X"``, ``"no images found in X"``, or
            ``"X: is a named pipe (FIFO), not an image file"`` (and so on) for the first input
            that gives no image.
    """
    listing = collect_images(inputs, recursive=recursive)
    if listing.skipped:
        raise ValueError(strict_message(listing.skipped[0]))
    return listing.files


def strict_message(skipped: SkippedInput) -> str:
    """The error text for an input that stops a call which needs every input."""
    if skipped.reason == "no such file or folder":
        return f"no such file or folder: {show_path(skipped.name)}"
    if skipped.reason in ("is a folder with no images in it", "no images match this pattern"):
        return f"no images found in {show_path(skipped.name)}"
    return skipped.message


def _keep_regular(paths: list[Path], listing: ImageListing) -> list[Path]:
    """``paths`` that are regular files; sub-folders are passed over (``--recursive`` descends into
    them), anything else is recorded as skipped, saying what it is."""
    keep = []
    for q in paths:
        problem = file_problem(q, folder_ok=True)
        if problem is None:
            if not q.is_dir():
                keep.append(q)
        else:
            listing.skipped.append(SkippedInput(os.fspath(q), problem))
    return keep


def _identity(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a loop somewhere above: fall back to the name itself
        return p.absolute()


_DIGITS = re.compile(r"(\d+)")


def natural_key(s: str) -> list[object]:
    """Sort key putting ``"frame2"`` before ``"frame10"``: digit runs compare as integers.

    Text and number parts alternate (``re.split`` with a capturing group always starts with a
    text part), so two keys never compare an ``int`` with a ``str``.
    """
    return [int(t) if t.isdigit() else t for t in _DIGITS.split(s)]
