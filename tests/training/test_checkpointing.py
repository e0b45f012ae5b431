"""Damaged training checkpoints: ``load_checkpoint`` says what is wrong in one line, before a
resume changes anything (a missing model tensor, a missing RNG entry, a broken config, NaN)."""

from __future__ import annotations

import copy

import pytest
import torch

from uptflow.checkpoints import CheckpointError
from uptflow.cli import main
from uptflow.config import presets
from uptflow.model import UPTFlow
from uptflow.training.checkpointing import (capture_rng_state, check_rng_state, load_checkpoint, restore_rng_state,
                                            save_checkpoint)
from uptflow.training.config import TrainConfig, merge, preset_dict


@pytest.fixture(scope="module")
def good_state() -> dict:
    torch.manual_seed(0)
    model = UPTFlow(presets["tiny"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "iteration": 3,
            "config": TrainConfig.from_dict(merge(preset_dict("tiny"), {"data": {"low_dir": "low", "normal_dir": "high"}}),
                                            where="test").resolved().to_dict(),
            "best": {"metric": "psnr", "value": None, "iteration": 0}, "rng": capture_rng_state()}


def _damage(state: dict, how: str) -> dict:
    s = copy.deepcopy(state)
    if how == "model tensor missing":
        del s["model"][next(k for k in s["model"] if k.startswith("flow."))]
    elif how == "model tensor reshaped":
        k = next(iter(s["model"]))
        s["model"][k] = torch.zeros(1)
    elif how == "model tensor extra":
        s["model"]["flow.extra.weight"] = torch.zeros(1)
    elif how == "model NaN":
        k = next(k for k, v in s["model"].items() if v.is_floating_point())
        s["model"][k] = torch.full_like(s["model"][k], float("nan"))
    elif how.startswith("rng lacks "):
        del s["rng"][how.split()[-1]]
    elif how == "numpy rng lacks pos":
        del s["rng"]["numpy"]["pos"]
    elif how == "python rng cut":
        s["rng"]["python"]["internal"] = s["rng"]["python"]["internal"][:10]
    elif how == "torch rng wrong":
        s["rng"]["torch"] = torch.zeros(3)
    elif how == "rng is a list":
        s["rng"] = [1, 2]
    elif how == "config is a list":
        s["config"] = [1, 2, 3]
    elif how == "model config absurd":
        s["config"]["model"]["flow_steps"] = 3000
    elif how == "iteration negative":
        s["iteration"] = -1
    elif how == "optimizer junk":
        s["optimizer"] = {"state": 3}
    elif how == "model is not a state dict":
        s["model"] = [1, 2]
    return s


CASES = {
    "model tensor missing": "is missing",
    "model tensor reshaped": "has shape",
    "model tensor extra": "unexpected model tensor flow.extra.weight",
    "model NaN": "NaN or infinite",
    "rng lacks numpy": "RNG state lacks the 'numpy' entry",
    "rng lacks torch": "RNG state lacks the 'torch' entry",
    "rng lacks python": "RNG state lacks the 'python' entry",
    "numpy rng lacks pos": "'numpy' lacks 'pos'",
    "python rng cut": "not a Mersenne Twister state",
    "torch rng wrong": "not a torch generator state",
    "rng is a list": "RNG state is a list",
    "config is a list": "run config is a list",
    "model config absurd": "flow_steps=3000 is outside",
    "iteration negative": "'iteration' must be an integer >= 0",
    "optimizer junk": "not an optimizer state",
    "model is not a state dict": "not a state dict of tensors",
}


def test_a_good_checkpoint_loads(tmp_path, good_state):
    path = save_checkpoint(tmp_path / "last.pt", good_state)
    assert load_checkpoint(path)["iteration"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.parametrize("how", list(CASES))
def test_damaged_checkpoint_is_one_line(tmp_path, good_state, how):
    path = save_checkpoint(tmp_path / "last.pt", _damage(good_state, how))
    with pytest.raises(CheckpointError) as ei:
        load_checkpoint(path)
    msg = str(ei.value)
    assert CASES[how] in msg and "\n" not in msg and "last.pt" in msg


def test_restore_checks_before_changing_anything(good_state):
    bad = copy.deepcopy(good_state["rng"])
    del bad["python"]
    before = torch.get_rng_state()
    with pytest.raises(CheckpointError, match="'python'"):
        restore_rng_state(bad)
    assert torch.equal(torch.get_rng_state(), before)
    check_rng_state(good_state["rng"])  # the real thing passes


@pytest.mark.parametrize("how", ["model tensor missing", "rng lacks numpy"])
def test_train_resume_says_what_is_wrong(tmp_path, good_state, capsys, how):
    """``uptflow train --resume`` with a damaged last.pt: one line naming the problem, exit 1."""
    run = tmp_path / "run"
    save_checkpoint(run / "last.pt", _damage(good_state, how))
    code = main(["train", "--resume", str(run / "last.pt"), "--no-progress"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("uptflow train: error: "), err
    assert CASES[how] in lines[0] and "Traceback" not in err


def test_train_seed_is_range_checked_however_it_is_given(tmp_path, capsys):
    """--seed is refused by the parser; --set seed=... by the config (not by torch later)."""
    with pytest.raises(SystemExit):
        main(["train", "--preset", "tiny", "--seed", str(2**64), "--print-config"])
    assert "seed must be in 0 .. 2**63-1" in capsys.readouterr().err
    code = main(["train", "--preset", "tiny", "--low-dir", "l", "--normal-dir", "n", "--set", f"seed={2**64}",
                 "--print-config"])
    err = capsys.readouterr().err
    assert code == 1 and "seed must be an integer in 0 .. 2**63-1" in err and len(err.strip().splitlines()) == 1
    for bad in (str(2**64), "-1", "true"):  # the data seed too (it seeds every per-item generator)
        code = main(["train", "--preset", "tiny", "--low-dir", "l", "--normal-dir", "n", "--set", f"data.seed={bad}",
                     "--print-config"])
        err = capsys.readouterr().err
        assert code == 1 and "data.seed must be an integer in 0 .. 2**63-1" in err, err
        assert len(err.strip().splitlines()) == 1
