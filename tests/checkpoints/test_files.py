"""Checkpoint files: atomic saving (full disk, folders, Ctrl-C), ``convert`` never leaving a
temporary file and never writing over its source."""

from __future__ import annotations

import errno

import pytest
import safetensors.torch

from uptflow.inference import models as reg
from uptflow.checkpoints import load_model, read_metadata, save_model
from uptflow.cli import main


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "tiny.safetensors"
    save_model(reg.random_model("tiny", seed=0), path)
    return path


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def _disk_full(tensors, filename, metadata=None):
    with open(filename, "wb") as f:
        f.write(b"\x00" * 100)  # a partial file, as a real full disk leaves it
    raise OSError(errno.ENOSPC, "No space left on device")


def test_convert_onto_a_full_disk(tmp_path, tiny_file, capsys, monkeypatch):
    monkeypatch.setattr(safetensors.torch, "save_file", _disk_full)
    out = tmp_path / "out.safetensors"
    code = main(["convert", str(tiny_file), str(out)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "No space left on device" in lines[0], err
    assert lines[0].startswith("uptflow convert: error: ") and "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_full_disk_keeps_the_previous_file(tmp_path, tiny_file, monkeypatch):
    out = tmp_path / "out.safetensors"
    save_model(load_model(tiny_file), out, metadata={"v": 1})
    monkeypatch.setattr(safetensors.torch, "save_file", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_model(load_model(tiny_file), out, metadata={"v": 2})
    assert read_metadata(out)["v"] == 1 and _leftovers(tmp_path) == []


def test_interrupted_save_leaves_no_temporary(tmp_path, tiny_file, monkeypatch):
    def interrupted(tensors, filename, metadata=None):
        open(filename, "wb").write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(load_model(tiny_file), tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_convert_onto_an_existing_folder(tmp_path, tiny_file, capsys):
    out = tmp_path / "taken.safetensors"
    out.mkdir()
    code = main(["convert", str(tiny_file), str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "is a folder" in err and len(err.strip().splitlines()) == 1
    assert _leftovers(tmp_path) == [] and list(out.iterdir()) == []
    # save_model itself refuses a folder the same way
    with pytest.raises(OSError, match="is a folder"):
        save_model(load_model(tiny_file), out)
    assert _leftovers(tmp_path) == []


def test_convert_refuses_to_write_over_its_source(tmp_path, tiny_file, capsys):
    src = tmp_path / "m.safetensors"
    src.write_bytes(tiny_file.read_bytes())
    before = src.read_bytes()
    link = tmp_path / "alias.safetensors"
    link.symlink_to(src)
    for out in (src, tmp_path / "." / "m.safetensors", link):
        code = main(["convert", str(src), str(out)])
        err = capsys.readouterr().err
        assert code == 1 and "is the source checkpoint itself" in err
    assert src.read_bytes() == before


def test_convert_into_a_new_folder(tmp_path, tiny_file, capsys):
    out = tmp_path / "new" / "deeper" / "m.safetensors"
    assert main(["convert", str(tiny_file), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_model(out).config == load_model(tiny_file).config
    assert _leftovers(tmp_path) == []
