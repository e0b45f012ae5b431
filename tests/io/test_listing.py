"""Tests for uptflow.io.listing: folders, patterns, order, duplicates and strict errors."""

from __future__ import annotations

import pytest

from uptflow.io.listing import list_images

@pytest.fixture()
def tree(tmp_path):
    for rel in ["b.png", "a.JPG", "c.txt", ".hidden.png", "sub/d.tif", "sub/deeper/e.webp", ".git/f.png"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    return tmp_path


def test_list_folder_sorted_and_filtered(tree):
    assert [p.name for p in list_images([tree])] == ["a.JPG", "b.png"]
    names = [p.relative_to(tree).as_posix() for p in list_images([tree], recursive=True)]
    assert names == ["a.JPG", "b.png", "sub/d.tif", "sub/deeper/e.webp"]


def test_list_files_globs_and_order(tree):
    got = list_images([tree / "c.txt", str(tree / "sub" / "*.tif"), tree / "b.png", tree / "b.png"])
    assert [p.name for p in got] == ["c.txt", "d.tif", "b.png"]  # order kept, duplicates dropped
    deep = list_images([f"{tree}/**/*.webp"])
    assert [p.name for p in deep] == ["e.webp"]
    assert [p.name for p in list_images([str(tree / "*")])] == ["a.JPG", "b.png"]


def test_list_errors(tree):
    with pytest.raises(ValueError, match="no such file or folder: .*missing.png"):
        list_images([tree / "missing.png"])
    with pytest.raises(ValueError, match="no images found in .*empty"):
        list_images([tree / "empty"])
    with pytest.raises(ValueError, match="no images found in"):
        list_images([str(tree / "*.bmp")])
    with pytest.raises(ValueError, match="no inputs"):
        list_images([])


def test_collect_reports_what_each_bad_input_is(tree):
    import os

    from uptflow.io.listing import collect_images

    os.mkfifo(tree / "fifo.png")
    (tree / "loop.png").symlink_to(tree / "loop.png")
    (tree / "dir.png").mkdir()
    listing = collect_images([tree / "fifo.png", tree / "loop.png", tree / "dir.png", tree / "nope.png",
                              str(tree / "*.gif"), tree / "b.png"])
    assert [p.name for p in listing.files] == ["b.png"]
    reasons = {os.path.basename(s.name): s.reason for s in listing.skipped}
    assert reasons == {"fifo.png": "is a named pipe (FIFO), not an image file",
                       "loop.png": "is a symbolic link loop, not an image file",
                       "dir.png": "is a folder with no images in it",
                       "nope.png": "no such file or folder",
                       "*.gif": "no images match this pattern"}
    # in a folder listing: the FIFO and the loop are reported, the sub-folder passed over
    listing = collect_images([tree])
    assert [p.name for p in listing.files] == ["a.JPG", "b.png"]
    assert sorted(os.path.basename(s.name) for s in listing.skipped) == ["fifo.png", "loop.png"]
    with pytest.raises(ValueError, match="fifo.png: is a named pipe"):
        list_images([tree / "fifo.png"])
