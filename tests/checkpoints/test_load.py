"""Checkpoint loading: the authors' key names both ways, wrappers, inference, safety, errors."""

from __future__ import annotations

import json

import pytest
import torch

from uptflow.checkpoints import (CheckpointError, infer_config, load_model, read_metadata, save_model,
                                 to_official)
from uptflow.config import presets
from uptflow.model import UPTFlow


def _manifest(shared_dir, window: int) -> dict:
    return json.loads((shared_dir / "conformance" / f"manifest_win{window}.json").read_text())


@pytest.mark.parametrize("window, preset", [(5, "paper-lol"), (8, "paper")])
def test_paper_presets_have_the_authors_shapes_and_counts(shared_dir, window, preset):
    manifest = _manifest(shared_dir, window)
    model = UPTFlow.from_preset(preset)
    assert model.num_parameters() == manifest["total_parameters"]
    official = to_official(model)
    expected = {e["key"]: tuple(e["shape"]) for e in manifest["state_dict"]}
    assert list(official) == [e["key"] for e in manifest["state_dict"]]  # same keys, same order
    assert {k: tuple(v.shape) for k, v in official.items()} == expected


@pytest.mark.parametrize("window", [5, 8])
def test_paper_size_state_dict_from_manifest_loads_and_round_trips(shared_dir, window):
    manifest = _manifest(shared_dir, window)
    g = torch.Generator().manual_seed(window)
    state = {}
    for e in manifest["state_dict"]:
        if e["dtype"].startswith("int"):
            state[e["key"]] = None  # filled from a fresh model below (index buffers)
        else:
            state[e["key"]] = torch.randn(e["shape"], generator=g)
    ref = to_official(UPTFlow.from_preset("paper-lol" if window == 5 else "paper"))
    for k, v in state.items():
        if v is None:
            state[k] = ref[k].clone()
    # authors' checkpoints come wrapped and DataParallel-prefixed
    wrapped = {"params": {f"module.{k}": v for k, v in state.items()}}
    model = load_model(wrapped)
    assert model.config == (presets["paper-lol"] if window == 5 else presets["paper"])
    back = to_official(model)
    assert list(back) == list(state)
    for k in state:
        assert torch.equal(back[k], state[k]), k


def test_our_safetensors_round_trip_with_metadata(tmp_path):
    torch.manual_seed(0)
    model = UPTFlow.from_preset("tiny")
    path = tmp_path / "m.safetensors"
    save_model(model, path, metadata={"data": {"photos": 3}})
    loaded = load_model(path)
    assert loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        if k.endswith("initialized"):
            assert bool(b)  # a loaded model counts as initialised
        else:
            assert torch.equal(a, b), k
    assert read_metadata(path)["data"] == {"photos": 3}
    assert not loaded.training


def test_infer_config_from_shapes_of_a_non_paper_model():
    cfg = presets["small"].replace(window=6, flow_steps=3, plain_steps=1)
    model = UPTFlow(cfg)
    assert infer_config(to_official(model)) == cfg
    loaded = load_model(to_official(model))
    assert loaded.config == cfg


def test_training_style_checkpoint_and_torch_file(tmp_path):
    model = UPTFlow.from_preset("tiny")
    ckpt = {"model": model.state_dict(), "config": {"model": model.config.to_dict(), "train": {"iters": 3}},
            "iteration": 3}
    path = tmp_path / "last.pt"
    torch.save(ckpt, path)
    assert load_model(path).config == model.config


def test_pickled_code_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("open('PWNED', 'w').write('x')",))

    path = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, path)
    with pytest.raises(CheckpointError, match="not a loadable checkpoint"):
        load_model(path)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"this is not a checkpoint at all\n", "not a loadable checkpoint"),
])
def test_files_that_are_not_checkpoints(tmp_path, content, words):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=words):
        load_model(path)


def test_missing_file_and_bad_types(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "nope.safetensors")
    with pytest.raises(TypeError):
        load_model(42)
    with pytest.raises(ValueError, match="folder"):
        load_model(tmp_path)


def test_checkpoint_of_another_architecture(tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 3))
    path = tmp_path / "other.pth"
    torch.save(other.state_dict(), path)
    with pytest.raises(CheckpointError, match="not an UPT-Flow checkpoint"):
        load_model(path)
    # an authors'-style dict with a tensor of the wrong shape
    sd = to_official(UPTFlow.from_preset("tiny"))
    sd["RRDB.reduce_chan_level1.weight"] = torch.zeros(1, 1, 1, 1)
    with pytest.raises(CheckpointError, match="shape"):
        load_model(sd)
    # and one with a key we do not know
    sd = to_official(UPTFlow.from_preset("tiny"))
    sd["RRDB.something_else.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="unexpected"):
        load_model(sd)
