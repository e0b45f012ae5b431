"""Resolving --model: bundled default, paths, presets (random weights, loudly), caching, devices."""

from __future__ import annotations

import os

import pytest
import torch

from uptflow.inference import models as reg
from uptflow.checkpoints import save_model
from uptflow.model import UPTFlow


@pytest.fixture(scope="module")
def tiny_model() -> UPTFlow:
    return reg.random_model("tiny", seed=0)


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory, tiny_model):
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_model(tiny_model, path)
    return path


@pytest.fixture(autouse=True)
def _fresh_cache():
    reg.clear_cache()
    yield
    reg.clear_cache()


def test_no_bundled_model_is_a_one_line_value_error(monkeypatch, tmp_path):
    monkeypatch.setattr(reg, "BUNDLED_MODEL", tmp_path / "absent.safetensors")
    with pytest.raises(ValueError, match="bundled model .* is missing") as info:
        reg.resolve_model(None, "cpu")
    assert "--model PATH" in str(info.value) and "\n" not in str(info.value)


def test_bundled_model_is_used_when_installed(monkeypatch, tiny_file):
    monkeypatch.setattr(reg, "BUNDLED_MODEL", tiny_file)
    model = reg.resolve_model(None, "cpu")
    assert model.config.width == 8 and not model.training


def test_path_loads_the_saved_weights(tiny_file, tiny_model):
    model = reg.resolve_model(str(tiny_file), "cpu")
    ref = tiny_model
    for (k, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), k


def test_preset_warns_loudly_that_weights_are_random(capsys):
    model = reg.resolve_model("tiny", "cpu")
    assert isinstance(model, UPTFlow) and model.config.width == 8
    err = capsys.readouterr().err
    assert "preset 'tiny' has RANDOM weights: output is not an enhancement" in err


@pytest.mark.parametrize("spec, exc, text", [
    ("missing/model.safetensors", FileNotFoundError, "model file not found"),
    ("no_such_preset", ValueError, "not a file and not a preset"),
])
def test_bad_specs_give_one_line_errors(spec, exc, text):
    with pytest.raises(exc, match=text) as info:
        reg.resolve_model(spec, "cpu")
    assert "\n" not in str(info.value)


def test_folder_and_non_checkpoint_files_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        reg.resolve_model(tmp_path, "cpu")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(ValueError):
        reg.resolve_model(junk, "cpu")


def test_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="model must be"):
        reg.resolve_model(3.5, "cpu")


def test_cache_returns_the_same_object_and_reloads_a_rewritten_file(tiny_file, tiny_model, tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(tiny_file.read_bytes())
    a = reg.load_cached(path, "cpu")
    assert reg.load_cached(str(path), "cpu") is a
    changed = reg.random_model("tiny", seed=0)
    with torch.no_grad():
        next(changed.parameters()).add_(1.0)
    save_model(changed, path)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # make sure the mtime moved
    b = reg.load_cached(path, "cpu")
    assert b is not a
    assert not torch.equal(next(a.parameters()), next(b.parameters()))


def test_model_objects_pass_through(tiny_model):
    model = tiny_model
    assert reg.load_cached(model, "auto") is model


def test_devices():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert reg.resolve_device("auto").type == expected
    assert reg.resolve_device("cpu").type == "cpu"
    with pytest.raises(ValueError):
        reg.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            reg.resolve_device("cuda")


def test_random_model_is_seeded_and_not_degenerate(tiny_model):
    """A fresh preset maps every input to black; random_model's output must depend on the input."""
    a, b = tiny_model, reg.random_model("tiny", seed=0)
    x = torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    ya, yb = a.enhance(x), b.enhance(x)
    assert torch.equal(ya, yb)
    assert float(ya.std()) > 1e-3
    assert not torch.allclose(a.enhance(x * 0.2), ya)


def test_bundled_model_path():
    assert reg.BUNDLED_MODEL.name == "default.safetensors" and reg.BUNDLED_MODEL.parent.name == "weights"


def test_model_path_that_is_not_a_file_says_what_it_is(tmp_path):
    fifo = tmp_path / "m.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a named pipe"):
        reg.resolve_model(str(fifo), "cpu")  # refused without opening it (that would block)
    loop = tmp_path / "loop.safetensors"
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match="symbolic link loop"):
        reg.resolve_model(str(loop), "cpu")
