"""Output folders and output path planning: no output ever lands on an input.

:func:`plan_outputs` decides every output path of a call *before anything is written*.  An
output is refused when it would replace any input of the call (the same name in the same folder,
``x.jpg`` -> ``x.png`` next to an input ``x.png``, inputs from two folders written back into one
of them, ``-o`` equal to the input folder) or when an earlier input already claimed it.  Why up
front: deciding per file as the batch runs lets input 1's output overwrite input 2 before input 2
is read, and the data is gone by the time the clash is noticed.

Identity is checked three ways, so symbolic links, ``..`` and case-insensitive file systems do
not hide a clash: the folder-resolved name (the file name itself is not followed: replacing a
symbolic link leaves its target alone), the fully resolved path of each input, and the
(device, inode) pair of targets that already exist.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from uptflow.messages import show_path

__all__ = ["OutputPlan", "plan_outputs", "prepare_output_dir"]


def prepare_output_dir(out: Path, flag: str = "output") -> Path:
    """Create ``out`` if needed and make sure files can be written there (one-line errors)."""
    shown = show_path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag} {shown} exists and is not a folder; {flag} takes a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create output folder {shown} ({err.strerror or err})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to output folder {shown} (permission denied)")
    return out


@dataclass
class OutputPlan:
    """Where each input's outputs go, decided for the whole call.

    Attributes:
        targets: input -> its output paths, for every input that may be processed (input order).
        refused: ``(input, reason)`` for inputs whose outputs would overwrite an input or another
            input's output; they must be skipped (and reported).
    """

    targets: dict[Path, list[Path]] = field(default_factory=dict)
    refused: list[tuple[Path, str]] = field(default_factory=list)


def _location(p: Path) -> Path:
    """``p`` with its folder resolved but its last component not followed."""
    try:
        return p.parent.resolve() / p.name
    except (OSError, RuntimeError):
        return p.absolute()


def _inode(p: Path, follow: bool) -> tuple[int, int] | None:
    try:
        st = os.stat(p) if follow else os.lstat(p)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def plan_outputs(sources: Sequence[Path], targets_for: Callable[[Path], list[Path]],
                 protected: Iterable[Path] = (), hint: str = "use --suffix or another output folder") -> OutputPlan:
    """Decide the outputs of every input before any is written.

    Args:
        sources: the inputs of the call, in processing order.
        targets_for: input -> its output paths.
        protected: more files that must never be written over (e.g. ground truth being scored).
        hint: appended to the refusal reasons (what the user can change).

    Returns:
        :class:`OutputPlan`.  First come, first served: of two inputs with the same output, the
        first keeps it.  An input whose output would replace any input (itself included) is
        refused, so ``-o`` may equal the input folder only when ``--suffix`` or the format makes
        the names differ.
    """
    guarded: dict[Path, Path] = {}  # location (and real path) -> the input it belongs to
    inodes: dict[tuple[int, int], Path] = {}
    for src in [*sources, *protected]:
        guarded.setdefault(_location(src), src)
        try:
            guarded.setdefault(src.resolve(), src)
        except (OSError, RuntimeError):
            pass
        ino = _inode(src, follow=True)
        if ino is not None:
            inodes.setdefault(ino, src)

    plan = OutputPlan()
    claimed: dict[Path, Path] = {}
    for src in sources:
        outs = targets_for(src)
        reason = None
        for t in outs:
            loc = _location(t)
            victim = guarded.get(loc)
            if victim is None and not os.path.islink(t):  # replacing a link leaves its target alone
                ino = _inode(t, follow=False)
                victim = inodes.get(ino) if ino is not None else None
            if victim is not None:
                whose = "the input itself" if victim == src else f"the input {show_path(victim)}"
                reason = f"its output {show_path(t.name)} would overwrite {whose}; {hint}"
                break
            if loc in claimed:
                reason = f"its output {show_path(t.name)} is already the output of {show_path(claimed[loc])}; {hint}"
                break
        if reason is not None:
            plan.refused.append((src, reason))
            continue
        for t in outs:
            claimed[_location(t)] = src
        plan.targets[src] = outs
    return plan
