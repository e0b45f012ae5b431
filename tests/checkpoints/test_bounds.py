"""Hostile checkpoint configs and weights: one-line errors, and no model is built for them.

Generated cases: every config field set absurd, negative, of a wrong type; the config as a JSON
list / string / number; a config that contradicts the tensors; NaN / infinite weights.  The
cases go through the real file reader (safetensors metadata), the CLI (``info``, ``convert``,
``enhance``) and an in-memory torch checkpoint.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import save_file

from uptflow.checkpoints import CONFIG_BOUNDS, CheckpointError, load_model, save_model
from uptflow.checkpoints import load as load_module
from uptflow.cli import main
from uptflow.config import presets
from uptflow.model import UPTFlow


@pytest.fixture(scope="module")
def tiny_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.contiguous() for k, v in UPTFlow(presets["tiny"]).state_dict().items()}


@pytest.fixture()
def no_build(monkeypatch):
    """Fail the test if load_model builds a model (the checks must come first)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built for a checkpoint that should have been refused first")

    monkeypatch.setattr(load_module, "UPTFlow", refuse)


def _hostile_configs():
    base = presets["tiny"].to_dict()
    cases = []
    for name, (low, high) in CONFIG_BOUNDS.items():
        for value in {high + 1, high * 50, low - 1, -5}:
            if value != base[name]:
                cases.append((f"{name}={value}", {**base, name: value}))
        for bad in ("8", 8.5, True, None, [8], {"x": 1}):
            cases.append((f"{name}={json.dumps(bad)}", {**base, name: bad}))
    cases += [
        ("flow_steps=3000", {**base, "flow_steps": 3000}),
        ("width=1024", {**base, "width": 1024}),
        ("ffn_expansion=nan-like", {**base, "ffn_expansion": 1e308 * 10}),
        ("ffn_expansion=-1", {**base, "ffn_expansion": -1.0}),
        ("ffn_expansion=str", {**base, "ffn_expansion": "2.66"}),
        ("heads_r short", {**base, "heads_r": [1, 1]}),
        ("heads_u huge", {**base, "heads_u": [10**9] * 7}),
        ("heads_r strings", {**base, "heads_r": ["1", "1", "2", "2"]}),
        ("unknown field", {**base, "depth_of_evil": 1}),
    ]
    return cases


def _write(path, state, config_text: str) -> None:
    save_file(state, str(path), metadata={"format": "uptflow", "config": config_text})


@pytest.mark.parametrize("label, config", _hostile_configs(), ids=[c[0] for c in _hostile_configs()])
def test_hostile_recorded_config_is_refused_before_building(tmp_path, tiny_state, no_build, label, config):
    path = tmp_path / "m.safetensors"
    text = json.dumps(config) if not (isinstance(config.get("ffn_expansion"), float)
                                      and math.isinf(config["ffn_expansion"])) else \
        json.dumps(config).replace("Infinity", "1e999")
    _write(path, tiny_state, text)
    with pytest.raises(CheckpointError) as ei:
        load_model(path)
    msg = str(ei.value)
    assert "\n" not in msg and "m.safetensors" in msg


@pytest.mark.parametrize("text", ["[1, 2, 3]", '"tiny"', "42", "null", "{not json", '{"model": [1]}'])
def test_config_that_is_not_an_object(tmp_path, tiny_state, no_build, text):
    path = tmp_path / "m.safetensors"
    _write(path, tiny_state, text)
    with pytest.raises(CheckpointError, match="config"):
        load_model(path)


def test_472_byte_file_claiming_a_huge_model(tmp_path, no_build):
    """The adversarial case: almost no tensors, a config for a giant model."""
    path = tmp_path / "small.safetensors"
    for cfg in ({**presets["tiny"].to_dict(), "flow_steps": 64}, {**presets["tiny"].to_dict(), "width": 512}):
        _write(path, {"encoder.embed.weight": torch.zeros(8, 3, 3, 3)}, json.dumps(cfg))
        assert path.stat().st_size < 2000
        with pytest.raises(CheckpointError, match="not an UPT-Flow checkpoint"):
            load_model(path)
        _write(path, {"encoder.embed.weight": torch.zeros(8, 3, 3, 3),
                      "flow.levels.0.plain.0.actnorm.bias": torch.zeros(1, 12, 1, 1)}, json.dumps(cfg))
        assert path.stat().st_size < 2000
        with pytest.raises(CheckpointError, match="tensors do not form the model"):
            load_model(path)


def test_config_contradicting_the_tensors(tmp_path, tiny_state, no_build):
    path = tmp_path / "m.safetensors"
    for field, value in (("flow_steps", 3), ("plain_steps", 2), ("coupling_hidden", 32), ("window", 8)):
        _write(path, tiny_state, json.dumps({**presets["tiny"].to_dict(), field: value}))
        with pytest.raises(CheckpointError, match=f"config says {field}={value} but the tensors are for"):
            load_model(path)


def test_absurd_shapes_without_a_config(no_build):
    """No recorded config: the architecture inferred from the shapes is bounded too."""
    from uptflow.checkpoints import to_official

    sd = to_official(UPTFlow(presets["tiny"]))
    sd["RRDB.patch_embed.proj.weight"] = torch.zeros(4096, 3, 3, 3)
    with pytest.raises(CheckpointError):
        load_model(sd)
    sd["RRDB.patch_embed.proj.weight"] = torch.zeros(())
    with pytest.raises(CheckpointError, match="shape"):
        load_model(sd)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused(tmp_path, value):
    torch.manual_seed(0)
    model = UPTFlow(presets["tiny"])
    with torch.no_grad():
        next(iter(model.parameters())).view(-1)[3] = value
    path = tmp_path / "nan.safetensors"
    save_model(model, path)
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_model(path)
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_model(model.state_dict())


def test_all_nan_model_does_not_enhance_to_black(tmp_path, capsys):
    torch.manual_seed(0)
    model = UPTFlow(presets["tiny"])
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    path = tmp_path / "nan.safetensors"
    save_model(model, path)
    from PIL import Image

    Image.new("RGB", (24, 16), (20, 10, 5)).save(tmp_path / "in.png")
    code = main(["enhance", str(tmp_path / "in.png"), "-o", str(tmp_path / "out"), "--model", str(path), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "NaN or infinite" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "in.png").exists()


@pytest.mark.parametrize("command", ["info", "convert"])
@pytest.mark.parametrize("text", ["[1, 2, 3]", json.dumps({**presets["tiny"].to_dict(), "flow_steps": 3000})])
def test_info_and_convert_give_one_line(tmp_path, tiny_state, capsys, command, text):
    path = tmp_path / "m.safetensors"
    _write(path, tiny_state, text)
    argv = [command, str(path)] + ([str(tmp_path / "o.safetensors")] if command == "convert" else [])
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"uptflow {command}: error: "), err
    assert "Traceback" not in err and not (tmp_path / "o.safetensors").exists()
    assert not list(tmp_path.glob(".*.tmp"))
