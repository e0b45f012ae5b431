"""Tests for uptflow.io.outputs: every output path is decided before anything is written, and no
output ever lands on an input of the call (generated layouts, symbolic links, inode clashes)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from uptflow.io.outputs import plan_outputs, prepare_output_dir

FORMATS = {"same": None, "png": ".png", "jpg": ".jpg"}


def targets_for(out_dir: Path, fmt: str, suffix: str, samples: int = 1):
    def f(src: Path) -> list[Path]:
        ext = FORMATS[fmt] or src.suffix
        stem = src.stem + suffix
        if samples == 1:
            return [out_dir / f"{stem}{ext}"]
        return [out_dir / f"{stem}_s{i}{ext}" for i in range(samples)]
    return f


def _key(p: Path) -> Path:
    return p.parent.resolve() / p.name


def _layouts():
    """(input files relative to the root, output folder relative to the root) combinations that
    include every clash the planner must catch: same stem / different extension in one folder,
    the same names from two folders, the output folder equal to an input folder."""
    names = [("a/x.jpg", "a/x.png"), ("a/x.png", "b/x.png"), ("a/x.png", "b/x.jpg", "b/y.png"),
             ("a/x.tif", "a/x.TIF", "a/x.png"), ("a/x.png",)]
    outs = ["a", "b", "c", "a/../a"]
    return list(itertools.product(names, outs, FORMATS, ["", "_e"], [1, 2]))


@pytest.mark.parametrize("names, out, fmt, suffix, samples", _layouts())
def test_no_output_is_an_input_and_no_two_outputs_clash(tmp_path, names, out, fmt, suffix, samples):
    files = []
    for rel in names:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rel.encode())
        files.append(p)
    out_dir = tmp_path / out
    plan = plan_outputs(files, targets_for(out_dir, fmt, suffix, samples))
    inputs = {_key(f) for f in files}
    planned = [t for ts in plan.targets.values() for t in ts]
    assert not inputs & {_key(t) for t in planned}
    assert len({_key(t) for t in planned}) == len(planned)
    # a plain reference model decides the same: refused exactly when an output is an input's
    # location or was claimed by an earlier input; the rest keep their outputs, in input order
    claimed: set[Path] = set()
    expect_ok = []
    for src in files:
        keys = {_key(t) for t in targets_for(out_dir, fmt, suffix, samples)(src)}
        if keys & inputs or keys & claimed:
            continue
        claimed |= keys
        expect_ok.append(src)
    assert list(plan.targets) == expect_ok
    assert [s for s, _ in plan.refused] == [s for s in files if s not in expect_ok]
    for _, reason in plan.refused:
        assert "would overwrite" in reason or "already the output of" in reason


def test_the_reported_cases(tmp_path):
    """The two data losses from the adversarial run, refused before anything is written."""
    d = tmp_path / "d"
    d.mkdir()
    jpg, png = d / "x.jpg", d / "x.png"
    jpg.write_bytes(b"j")
    png.write_bytes(b"p")
    plan = plan_outputs([jpg, png], targets_for(d, "png", ""))
    assert plan.targets == {}
    assert "would overwrite the input" in plan.refused[0][1] and str(png) in plan.refused[0][1]
    assert "would overwrite the input itself" in plan.refused[1][1]

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.png").write_bytes(b"a")
    (b / "x.png").write_bytes(b"b")
    plan = plan_outputs([a / "x.png", b / "x.png"], targets_for(a, "same", ""))
    assert plan.targets == {} and len(plan.refused) == 2
    # into a third folder: the first keeps the name, the second is refused (not overwritten)
    plan = plan_outputs([a / "x.png", b / "x.png"], targets_for(tmp_path / "c", "same", ""))
    assert list(plan.targets) == [a / "x.png"]
    assert "already the output of" in plan.refused[0][1]


def test_symlinks_and_hard_links(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "x.png").write_bytes(b"r")
    link_dir = tmp_path / "link"
    link_dir.symlink_to(real)
    # the output folder is a link to the input folder: same place
    plan = plan_outputs([real / "x.png"], targets_for(link_dir, "same", ""))
    assert plan.refused and not plan.targets
    # an input given through a file symlink: its target is protected too
    (tmp_path / "alias.png").symlink_to(real / "x.png")
    out = tmp_path / "o"
    out.mkdir()
    plan = plan_outputs([tmp_path / "alias.png"], targets_for(real, "same", ""))
    assert not plan.refused  # real/alias.png is a new name
    plan = plan_outputs([tmp_path / "alias.png"], lambda s: [real / "x.png"])
    assert plan.refused
    # an existing output that is a hard link of an input (or the same file on a case-insensitive
    # file system) is recognised by its inode
    os.link(real / "x.png", out / "h.png")
    plan = plan_outputs([real / "x.png"], lambda s: [out / "h.png"])
    assert plan.refused
    # an existing output that is a symbolic link to an input is replaced, not written through
    (out / "s.png").symlink_to(real / "x.png")
    plan = plan_outputs([real / "x.png"], lambda s: [out / "s.png"])
    assert not plan.refused


def test_protected_files(tmp_path):
    gt = tmp_path / "gt.png"
    gt.write_bytes(b"g")
    src = tmp_path / "in" / "gt.png"
    src.parent.mkdir()
    src.write_bytes(b"s")
    plan = plan_outputs([src], lambda s: [tmp_path / s.name], protected=[gt])
    assert plan.refused


def test_prepare_output_dir(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        prepare_output_dir(f, "-o")
    assert prepare_output_dir(tmp_path / "new" / "deep").is_dir()
