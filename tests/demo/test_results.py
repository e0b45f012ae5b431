"""ResultStore: one folder per request, old ones pruned, everything removed on close."""

from __future__ import annotations

import os
import time

from uptflow.demo.results import ResultStore


def test_folders_are_fresh_pruned_and_removed(tmp_path) -> None:
    store = ResultStore(keep_seconds=60)
    a, b = store.new_folder(), store.new_folder()
    assert a != b and a.parent == b.parent == store.root
    (a / "x.png").write_bytes(b"x")
    old = time.time() - 120
    os.utime(a, (old, old))
    c = store.new_folder()  # prunes folders older than keep_seconds
    assert not a.exists() and b.exists() and c.exists()
    store.close()
    assert not store.root.exists()


def test_a_given_root_is_kept_on_close(tmp_path) -> None:
    keep = tmp_path / "mine.txt"
    keep.write_text("not ours")
    store = ResultStore(tmp_path)
    folder = store.new_folder()
    store.close()
    assert not folder.exists() and keep.is_file() and tmp_path.is_dir()
