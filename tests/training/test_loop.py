"""The Trainer: objective, bit-exact resume, non-finite steps, graceful stops, learning."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch

from uptflow.checkpoints import load_model
from uptflow.training import NonFiniteLossError, Trainer, TrainingInterrupted
from uptflow.training.checkpointing import load_checkpoint
from uptflow.training.validation import validate_model

from .conftest import tiny_config


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_resume_is_bit_exact(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    n = 6
    straight = Trainer(tiny_config(low, normal, tmp_path / "a", iters=n), tensorboard=False)
    straight.fit()
    straight.close()

    cfg = tiny_config(low, normal, tmp_path / "b", iters=n)
    first = Trainer(cfg, tensorboard=False)
    result = first.fit(stop_at=n // 2)  # "killed" after n/2 iterations
    first.close()
    assert result.iteration == n // 2 and not result.finished
    assert load_checkpoint(tmp_path / "b" / "last.pt")["iteration"] == n // 2
    second = Trainer(cfg, resume="auto", tensorboard=False)
    assert second.iteration == n // 2
    second.fit()
    second.close()

    a = load_checkpoint(tmp_path / "a" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "last.pt")
    assert a["iteration"] == b["iteration"] == n
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k, state in a["optimizer"]["state"].items():
        for name, t in state.items():
            assert torch.equal(t, b["optimizer"]["state"][k][name]), (k, name)
    # metrics.jsonl of the resumed run has each step once and the same numbers
    ma = [m for m in _metrics(tmp_path / "a") if "nll" in m]
    mb = [m for m in _metrics(tmp_path / "b") if "nll" in m]
    assert [m["step"] for m in ma] == [m["step"] for m in mb] == list(range(1, n + 1))
    assert [m["nll"] for m in ma] == [m["nll"] for m in mb]


def test_checkpoint_loads_weights_only_and_with_load_model(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    trainer = Trainer(tiny_config(low, normal, tmp_path, iters=2), tensorboard=False)
    trainer.fit()
    trainer.close()
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ckpt["iteration"] == 2 and ckpt["config"]["model"]["width"] == 8
    assert set(ckpt) >= {"model", "optimizer", "scheduler", "scaler", "rng", "best", "config"}
    model = load_model(tmp_path / "last.pt")
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert (tmp_path / "config.yaml").is_file()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_nonfinite_loss_is_skipped_then_stops(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    trainer = Trainer(tiny_config(low, normal, tmp_path, iters=20, max_nonfinite=3), tensorboard=False)
    real = trainer.compute_loss
    calls = {"n": 0}

    def poisoned(low_, deq, normal_):
        calls["n"] += 1
        nll, l1 = real(low_, deq, normal_)
        if calls["n"] in (2, 4, 5, 6, 7):  # one isolated NaN, then a run of them
            nll = nll * float("nan")
        return nll, l1

    trainer.compute_loss = poisoned
    with pytest.raises(NonFiniteLossError, match="3 non-finite"):
        trainer.fit()
    trainer.close()
    assert trainer.iteration == 6  # steps 4, 5, 6 in a row -> stop
    assert trainer.nonfinite_total == 4
    events = [m for m in _metrics(tmp_path) if m.get("event") == "nonfinite"]
    assert [m["step"] for m in events] == [2, 4, 5, 6]
    assert all(m["loss"] is None for m in events)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["iteration"] == 6
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_skipped_step_leaves_weights_unchanged(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    trainer = Trainer(tiny_config(low, normal, tmp_path, iters=2), tensorboard=False)
    trainer.fit(stop_at=1)
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    adam = {k: {n: t.clone() for n, t in s.items()} for k, s in trainer.optimizer.state_dict()["state"].items()}
    real = trainer.compute_loss
    trainer.compute_loss = lambda *a: (real(*a)[0] * float("inf"), None)
    trainer.fit()
    trainer.close()
    assert trainer.iteration == 2
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, weights[k]), k
    for k, s in trainer.optimizer.state_dict()["state"].items():
        for n, t in s.items():
            assert torch.equal(t, adam[k][n]), (k, n)


def _before_call(trainer: Trainer, n: int, action) -> None:
    """Run ``action()`` at the start of the ``n``-th loss computation (1-based)."""
    real = trainer.compute_loss
    calls = {"n": 0}

    def wrapped(*a):
        calls["n"] += 1
        if calls["n"] == n:
            action()
        return real(*a)

    trainer.compute_loss = wrapped


def test_sigint_saves_and_raises(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    trainer = Trainer(tiny_config(low, normal, tmp_path, iters=10), tensorboard=False)
    _before_call(trainer, 3, lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(TrainingInterrupted, match="SIGINT after iteration 3"):
        trainer.fit()
    trainer.close()
    assert load_checkpoint(tmp_path / "last.pt")["iteration"] == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_exception_saves_progress(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    trainer = Trainer(tiny_config(low, normal, tmp_path, iters=10), tensorboard=False)

    def lose_device() -> None:
        raise RuntimeError("device lost")

    _before_call(trainer, 3, lose_device)
    with pytest.raises(RuntimeError, match="device lost"):
        trainer.fit()
    trainer.close()
    assert load_checkpoint(tmp_path / "last.pt")["iteration"] == 2


def test_validation_keeps_best(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    cfg = tiny_config(low, normal, tmp_path, iters=4, val_every=2)
    cfg = cfg.replace(data=cfg.data.replace(val_low_dir=str(low), val_normal_dir=str(normal), val_max_images=2,
                                            val_multiple=8))
    trainer = Trainer(cfg, tensorboard=False)
    result = trainer.fit()
    trainer.close()
    vals = [m for m in _metrics(tmp_path) if "val_psnr" in m]
    assert [m["step"] for m in vals] == [2, 4]
    assert all(m["val_images"] == 2 and m["val_nll"] > 0 and 0 < m["val_ssim"] <= 1 for m in vals)
    assert result.best_psnr == max(m["val_psnr"] for m in vals)
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"]["value"] == result.best_psnr
    assert best["iteration"] == best["best"]["iteration"]


@pytest.mark.slow
def test_learns_on_generated_pairs(pair_dirs, tmp_path: Path) -> None:
    """80 steps of the tiny model on 4 generated (image, darkened) pairs: the NLL falls by more
    than a bit per dimension and enhancement PSNR rises over the freshly initialised model."""
    low, normal = pair_dirs
    cfg = tiny_config(low, normal, tmp_path, iters=80, batch_size=2, log_every=1, val_every=80)
    cfg = _learning_setup(cfg, lr=1e-3, crop=48, low=low, normal=normal)
    trainer = Trainer(cfg, tensorboard=False)
    trainer.fit(stop_at=1)
    before = trainer.validate()["val_psnr"]
    trainer.fit()
    trainer.close()
    records = _metrics(tmp_path)
    nll = [r["nll"] for r in records if "nll" in r]
    after = [r["val_psnr"] for r in records if "val_psnr" in r][-1]
    assert len(nll) == 80
    assert sum(nll[-10:]) / 10 < sum(nll[:10]) / 10 - 1.0, (nll[:10], nll[-10:])
    assert after > before + 0.5, (before, after)


def _learning_setup(cfg, lr: float, crop: int, low: Path, normal: Path):
    from uptflow.training.config import OptimConfig, ScheduleConfig

    return cfg.replace(optim=OptimConfig(lr=lr), schedule=ScheduleConfig(warmup_iters=5, milestones=(0.8,)),
                       data=cfg.data.replace(crop=crop, val_low_dir=str(low), val_normal_dir=str(normal),
                                             val_multiple=8))


# --------------------------------------------------------------------------- weight average (EMA)
def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_ema_resume_is_bit_exact_and_exported(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    n = 6
    straight = Trainer(tiny_config(low, normal, tmp_path / "a", iters=n, ema_decay=0.8), tensorboard=False)
    straight.fit()
    straight.close()
    cfg = tiny_config(low, normal, tmp_path / "b", iters=n, ema_decay=0.8)
    first = Trainer(cfg, tensorboard=False)
    first.fit(stop_at=n // 2)
    first.close()
    second = Trainer(cfg, resume="auto", tensorboard=False)
    assert second.ema is not None and second.ema.updates == n // 2
    second.fit()
    second.close()
    a = load_checkpoint(tmp_path / "a" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "last.pt")
    _same(a["model"], b["model"])
    _same(a["params_ema"], b["params_ema"])
    assert a["ema"] == b["ema"] == {"decay": 0.8, "updates": n}
    # the average differs from the last weights, and it is what load_model (convert, --model) loads
    assert any(not torch.equal(a["model"][k], a["params_ema"][k]) for k in a["model"])
    _same(load_model(tmp_path / "a" / "last.pt").state_dict(), a["params_ema"])


def test_resuming_a_checkpoint_without_ema_starts_the_average_from_its_weights(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    old = Trainer(tiny_config(low, normal, tmp_path, iters=4), tensorboard=False)
    old.fit(stop_at=2)
    old.close()
    assert load_checkpoint(tmp_path / "last.pt")["params_ema"] is None
    messages: list[str] = []
    cfg = tiny_config(low, normal, tmp_path, iters=4, ema_decay=0.5)
    resumed = Trainer(cfg, resume="auto", tensorboard=False, echo=messages.append)
    assert resumed.ema is not None and resumed.ema.updates == 0
    _same(resumed.ema.state_dict(), resumed.model.state_dict())
    assert any("no weight average" in m for m in messages), messages
    resumed.fit()
    resumed.close()
    assert load_checkpoint(tmp_path / "last.pt")["ema"]["updates"] == 2


def test_validation_and_best_use_the_ema_weights(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    cfg = tiny_config(low, normal, tmp_path, iters=2, val_every=2, ema_decay=0.9)
    cfg = cfg.replace(data=cfg.data.replace(val_low_dir=str(low), val_normal_dir=str(normal), val_max_images=1,
                                            val_multiple=8))
    trainer = Trainer(cfg, tensorboard=False)
    trainer.fit()
    trainer.close()
    best = load_checkpoint(tmp_path / "best.pt")
    _same(load_model(tmp_path / "best.pt").state_dict(), best["params_ema"])
    rec = [m for m in _metrics(tmp_path) if "val_psnr" in m][-1]
    assert rec["val_weights"] == "ema"
    # the logged numbers are those of the averaged weights, not of the raw ones
    ema_rec = validate_model(trainer.ema.model, trainer.val_dataset, trainer.device, cfg.seed)
    raw_rec = validate_model(trainer.model, trainer.val_dataset, trainer.device, cfg.seed)
    assert rec["val_nll"] == ema_rec["val_nll"] != raw_rec["val_nll"]


def test_old_checkpoints_without_new_settings_resume_without_a_changed_settings_warning(pair_dirs,
                                                                                       tmp_path: Path) -> None:
    low, normal = pair_dirs
    trainer = Trainer(tiny_config(low, normal, tmp_path, iters=2), tensorboard=False)
    trainer.fit(stop_at=1)
    trainer.close()
    ckpt = load_checkpoint(tmp_path / "last.pt")
    del ckpt["config"]["train"]["ema_decay"]  # as written before train.ema_decay existed
    del ckpt["params_ema"], ckpt["ema"]
    torch.save(ckpt, tmp_path / "old.pt")
    messages: list[str] = []
    Trainer(tiny_config(low, normal, tmp_path, iters=2), resume=tmp_path / "old.pt", tensorboard=False,
            echo=messages.append).close()
    assert not any("changed settings" in m for m in messages), messages


def test_trainer_on_each_device_and_precision(device_dtype, pair_dirs, tmp_path: Path) -> None:
    """Two steps on CPU float32 (always) and, where a GPU exists, CUDA float32 / AMP bf16 / fp16."""
    device, amp = device_dtype
    low, normal = pair_dirs
    mode = {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp]
    trainer = Trainer(tiny_config(low, normal, tmp_path, iters=2, device=device.type, amp=mode, ema_decay=0.9),
                      tensorboard=False)
    assert trainer.device.type == device.type and trainer.amp_mode == mode
    trainer.fit()
    trainer.close()
    nll = [m["nll"] for m in _metrics(tmp_path) if "nll" in m]
    assert len(nll) == 2 and all(v is not None and v == v for v in nll)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert (ckpt["scaler"] is not None) == (mode == "fp16")
    assert all(torch.isfinite(v).all() for v in ckpt["params_ema"].values() if v.is_floating_point())
