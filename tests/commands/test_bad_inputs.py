"""``uptflow enhance`` on the awkward-input corpus (tests/cli/make_bad_inputs.py).

Every invalid file gives exactly one ``uptflow enhance: skipped FILE: reason`` line and exit code 1
while the rest of the batch is still written; every valid one (1x1, 16-bit, RGBA, grey, CMYK,
EXIF-rotated, ...) succeeds with exit code 0; never a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pytest

from uptflow.cli import main
from uptflow.io.read import load_image

GENERATOR = Path(__file__).resolve().parents[1] / "cli" / "make_bad_inputs.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_bad_inputs", GENERATOR)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = _load_generator()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    files = GEN.make_bad_inputs(tmp_path_factory.mktemp("bad"))
    yield files
    os.chmod(files["unreadable.png"], 0o644)  # let pytest clean up


def _valid(name: str, path: Path) -> bool:
    if name == "unreadable.png":  # root reads it regardless of its permission bits
        return os.access(path, os.R_OK)
    return GEN.EXPECTED_VALID[name]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def test_whole_corpus_in_one_batch(capsys, tiny, corpus, tmp_path):
    folder = corpus["corrupt.jpg"].parent
    code, out, err = _run(capsys, "enhance", folder, "-o", tmp_path, "--model", tiny)
    files = {n: p for n, p in corpus.items() if p.is_file()}
    invalid = sorted(n for n, p in files.items() if not _valid(n, p))
    assert code == 1
    skipped = [ln for ln in err.splitlines() if ln.strip()]
    assert len(skipped) == len(invalid), err
    for name in invalid:
        assert sum(ln.startswith(f"uptflow enhance: skipped {files[name]}: ") for ln in skipped) == 1, name
    for name, path in files.items():
        assert (tmp_path / name).exists() == _valid(name, path), name
    assert re.search(rf"enhanced {len(files) - len(invalid)} images \({len(invalid)} failed\)", out)


@pytest.mark.parametrize("name", sorted(GEN.EXPECTED_VALID))
def test_each_file_alone(capsys, tiny, corpus, tmp_path, name):
    path = corpus[name]
    code, out, err = _run(capsys, "enhance", path, "-o", tmp_path, "--model", tiny)
    if _valid(name, path):
        assert code == 0, err
        assert err.strip() == ""
        assert (tmp_path / name).exists()
    else:
        assert code == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"uptflow enhance: skipped {path}: "), err
        assert not any(tmp_path.iterdir())


def test_outputs_keep_what_matters(capsys, tiny, corpus, tmp_path):
    names = ["one_by_one.png", "rgb16.png", "gray16.png", "rgba.png", "gray.png", "exif_rotated.jpg", "cmyk.jpg"]
    code, _, err = _run(capsys, "enhance", *(corpus[n] for n in names), "-o", tmp_path, "--model", tiny)
    assert code == 0, err
    one = load_image(tmp_path / "one_by_one.png")
    assert one.rgb.shape == (1, 1, 3)
    for n in ("rgb16.png", "gray16.png"):  # 16 bit in -> 16 bit out
        assert load_image(tmp_path / n).bit_depth == 16, n
    rgba_in, rgba_out = load_image(corpus["rgba.png"]), load_image(tmp_path / "rgba.png")
    assert rgba_out.alpha is not None and np.array_equal(rgba_out.alpha, rgba_in.alpha)  # alpha kept
    grey = load_image(tmp_path / "gray.png")
    assert grey.rgb.shape == (24, 32, 3) and not grey.was_gray  # documented: grey in -> RGB out
    assert load_image(tmp_path / "exif_rotated.jpg").rgb.shape == (32, 16, 3)  # upright
    assert load_image(tmp_path / "cmyk.jpg").rgb.shape == (16, 24, 3)


def test_empty_folder(capsys, tiny, corpus, tmp_path):
    code, _, err = _run(capsys, "enhance", corpus["empty_dir"], "-o", tmp_path, "--model", tiny)
    assert code == 1
    lines = err.strip().splitlines()
    assert lines == [f"uptflow enhance: error: no images found in {corpus['empty_dir']}"]
