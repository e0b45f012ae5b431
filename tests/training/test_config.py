"""TrainConfig: presets reproduce the recipe, YAML round trip, overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from uptflow.config import get_preset
from uptflow.training.config import TrainConfig, apply_override, merge, parse_set, preset_dict, preset_names

DATA = {"data": {"low_dir": "low", "normal_dir": "normal"}}


def _preset(name: str) -> TrainConfig:
    return TrainConfig.from_dict(merge(preset_dict(name), DATA), where=name)


def test_presets_exist_and_validate() -> None:
    assert set(preset_names()) >= {"paper", "paper-lol", "small", "tiny"}
    for name in ("paper", "paper-lol", "small", "tiny"):
        cfg = _preset(name)
        assert cfg.model == name and cfg.resolved().model == get_preset(name)
        assert cfg.data.crop % 8 == 0
        for text in yaml.safe_dump(preset_dict(name)).split():
            assert not text.startswith("/"), f"absolute path in preset {name}"


@pytest.mark.parametrize("name", ["paper", "paper-lol"])
def test_paper_presets_are_the_authors_recipe(name: str) -> None:
    cfg = _preset(name)
    assert cfg.optim.lr == 2e-4 and cfg.optim.betas == (0.9, 0.99) and cfg.optim.weight_decay == 0
    assert cfg.train.iters == 50_000 and cfg.train.batch_size == 8 and cfg.data.crop == 160 and cfg.data.augment
    assert cfg.schedule.kind == "multistep" and cfg.schedule.milestones == (0.4, 0.6, 0.8, 0.9)
    assert cfg.schedule.gamma == 0.5 and cfg.schedule.warmup_iters == 800
    assert cfg.train.l1_weight == 0.0 and cfg.model_config().quantization == 32
    assert cfg.model_config().window == (5 if name == "paper-lol" else 8)


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = _preset("tiny").resolved()
    cfg.save_yaml(tmp_path / "c.yaml")
    again = TrainConfig.from_yaml(tmp_path / "c.yaml")
    assert again == cfg
    assert again.to_dict()["model"]["width"] == 8


def test_overrides() -> None:
    assert parse_set("train.iters=40") == ("train.iters", 40)
    assert parse_set("optim.betas=[0.5, 0.9]") == ("optim.betas", [0.5, 0.9])
    d = apply_override(merge(preset_dict("tiny"), DATA), "model.width", 16)
    cfg = TrainConfig.from_dict(apply_override(d, "optim.betas", [0.5, 0.9]))
    assert cfg.model_config().width == 16 and cfg.model_config().window == get_preset("tiny").window
    assert cfg.optim.betas == (0.5, 0.9)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_set("train.iters")


def test_model_preset_plus_overrides() -> None:
    cfg = TrainConfig.from_dict({**DATA, "model": {"preset": "small", "flow_steps": 2}})
    assert cfg.model_config() == get_preset("small").replace(flow_steps=2)


@pytest.mark.parametrize("change, message", [
    ({"train": {"iterz": 3}}, "unknown train field"),
    ({"bogus": 1}, "unknown config key"),
    ({"data": {"crop": 60}}, "multiple of 8"),
    ({"train": {"amp": "fp8"}}, "train.amp"),
    ({"train": {"cpu_amp": "yes please"}}, "train.cpu_amp"),
    ({"train": {"iters": "many"}}, "train.iters must be an integer"),
    ({"train": {"l1_highlight": -1.0, "l1_weight": 1.0}}, "train.l1_highlight must be >= 0"),
    ({"train": {"l1_highlight": 4.0}}, "set train.l1_weight > 0 too"),
    ({"model": "huge"}, "unknown preset"),
    ({"schedule": {"milestones": [0.9, 0.4]}}, "increasing"),
])
def test_errors_name_the_problem_and_source(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        TrainConfig.from_dict(merge(merge(preset_dict("tiny"), DATA), change), where="my.yaml")
    assert str(info.value).startswith("my.yaml: ") and "\n" not in str(info.value)


def test_missing_or_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        TrainConfig.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml: not valid YAML"):
        TrainConfig.from_yaml(bad)
    nodata = tmp_path / "nodata.yaml"
    nodata.write_text(yaml.safe_dump(preset_dict("tiny") | {"data": None}))
    with pytest.raises(ValueError, match="no data section"):
        TrainConfig.from_yaml(nodata)
