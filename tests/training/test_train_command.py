"""``uptflow train`` through ``uptflow.cli.main``: a real run, resume, config printing, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from uptflow.cli import main


@pytest.mark.slow
def test_train_tiny_run_writes_checkpoint_and_metrics(pair_dirs, tmp_path: Path, capsys) -> None:
    low, normal = pair_dirs
    run = tmp_path / "RUN"
    rc = main(["train", "--low-dir", str(low), "--normal-dir", str(normal), "--preset", "tiny", "--iters", "40",
               "--batch-size", "2", "--crop", "64", "--out", str(run)])
    assert rc == 0
    assert "trained 40 iterations" in capsys.readouterr().out
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["iteration"] == 40 and ckpt["config"]["data"]["crop"] == 64
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "nll" in r]
    assert [r["step"] for r in train] == [1, 10, 20, 30, 40]  # tiny preset logs every 10
    for r in train:
        assert r["nll"] > 0 and r["lr"] > 0 and r["it_per_s"] > 0 and r["nonfinite_skipped"] == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["iters"] == 40 and saved["model"]["width"] == 8 and saved["data"]["low_dir"] == str(low)

    # --resume (auto) continues the same run to a longer schedule
    rc = main(["train", "--out", str(run), "--resume", "--iters", "42", "--no-progress"])
    assert rc == 0
    assert torch.load(run / "last.pt", weights_only=True)["iteration"] == 42
    err = capsys.readouterr().err
    assert "resumed from" in err and "changed settings (train.iters)" in err


def test_print_config_with_overrides(capsys) -> None:
    rc = main(["train", "--preset", "paper", "--data-root", "some/LOL", "--set", "schedule.warmup_iters=10",
               "--set", "model.flow_steps=4", "--lr", "1e-4", "--seed", "7", "--print-config"])
    assert rc == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["schedule"]["warmup_iters"] == 10 and cfg["model"]["flow_steps"] == 4
    assert cfg["optim"]["lr"] == 1e-4 and cfg["seed"] == 7 and cfg["data"]["seed"] == 7
    assert cfg["data"]["root"] == "some/LOL" and cfg["model"]["window"] == 8
    rc = main(["train", "--preset", "small", "--data-root", "x", "--l1-weight", "1", "--l1-highlight", "4",
               "--print-config"])
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert rc == 0 and cfg["train"]["l1_weight"] == 1.0 and cfg["train"]["l1_highlight"] == 4.0


def _one_line_error(capsys, argv: list[str], *needles: str) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 1, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("uptflow train: error: ")
    for n in needles:
        assert n in err, err
    return err


def test_bad_data_and_arguments_give_one_line_errors(pair_dirs, tmp_path: Path, capsys) -> None:
    low, normal = pair_dirs
    base = ["train", "--preset", "tiny", "--iters", "2", "--crop", "32", "--out", str(tmp_path / "r")]
    _one_line_error(capsys, base + ["--low-dir", str(tmp_path / "missing"), "--normal-dir", str(normal)],
                    "not found", "missing")
    unmatched = tmp_path / "unmatched"
    shutil.copytree(low, unmatched)
    shutil.copy(next(low.iterdir()), unmatched / "extra.png")
    _one_line_error(capsys, base + ["--low-dir", str(unmatched), "--normal-dir", str(normal)], "unmatched", "extra.png")
    _one_line_error(capsys, ["train", "--preset", "tiny"], "data")
    _one_line_error(capsys, base + ["--low-dir", str(low), "--normal-dir", str(normal), "--crop", "30"],
                    "multiple of 8")
    _one_line_error(capsys, base + ["--low-dir", str(low), "--normal-dir", str(normal), "--set", "train.nope=1"],
                    "unknown train field")
    _one_line_error(capsys, base + ["--preset", "huge"], "unknown training preset")
    _one_line_error(capsys, base + ["--low-dir", str(low), "--normal-dir", str(normal), "--l1-highlight", "4"],
                    "train.l1_highlight", "l1_weight")
    _one_line_error(capsys, base + ["--low-dir", str(low), "--normal-dir", str(normal), "--resume",
                                    str(tmp_path / "none.pt")], "none.pt")
    not_ckpt = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(1)}, not_ckpt)
    _one_line_error(capsys, base + ["--low-dir", str(low), "--normal-dir", str(normal), "--resume", str(not_ckpt)],
                    "not an uptflow training checkpoint")
    assert not (tmp_path / "r" / "last.pt").exists()


def test_skip_bad_skips_unmatched_files(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    unmatched = tmp_path / "unmatched"
    shutil.copytree(low, unmatched)
    shutil.copy(next(low.iterdir()), unmatched / "extra.png")
    rc = main(["train", "--preset", "tiny", "--iters", "1", "--batch-size", "2", "--crop", "32", "--skip-bad",
               "--low-dir", str(unmatched), "--normal-dir", str(normal), "--out", str(tmp_path / "r"), "--no-progress"])
    assert rc == 0 and (tmp_path / "r" / "last.pt").is_file()


def test_config_file_and_preset_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--config", str(tmp_path / "a.yaml"), "--preset", "tiny"])


def _patch_loss(monkeypatch, at_call: int, action) -> None:
    from uptflow.training.loop import Trainer

    real = Trainer.compute_loss
    calls = {"n": 0}

    def patched(self, *a):
        calls["n"] += 1
        if calls["n"] == at_call:
            action()
        return real(self, *a)

    monkeypatch.setattr(Trainer, "compute_loss", patched)


def _tiny_argv(low: Path, normal: Path, out: Path) -> list[str]:
    return ["train", "--preset", "tiny", "--low-dir", str(low), "--normal-dir", str(normal), "--iters", "6",
            "--batch-size", "2", "--crop", "32", "--out", str(out), "--no-progress"]


def test_sigterm_saves_last_and_exits_nonzero(pair_dirs, tmp_path: Path, capsys, monkeypatch) -> None:
    import os
    import signal

    low, normal = pair_dirs
    _patch_loss(monkeypatch, 2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    rc = main(_tiny_argv(low, normal, tmp_path))
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 130
    assert err.startswith("uptflow train: interrupted by SIGTERM after iteration 2") and "--resume" in err
    assert torch.load(tmp_path / "last.pt", weights_only=True)["iteration"] == 2


def test_sigterm_to_the_process_group_is_an_interruption_not_a_crash(pair_dirs, tmp_path: Path, capsys,
                                                                    monkeypatch) -> None:
    """``kill -- -PGID`` / ``pkill -f``: the data workers die of the same SIGTERM before the trainer
    finishes its iteration, and the DataLoader reports that as a RuntimeError.  The trainer saves,
    says it was interrupted (exit 130), and writes no crash report."""
    import os
    import signal

    def group_kill() -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the trainer's handler notes the stop ...
        raise RuntimeError("DataLoader worker (pid 4242) is killed by signal: Terminated. ")  # ... then this

    low, normal = pair_dirs
    _patch_loss(monkeypatch, 3, group_kill)
    rc = main(_tiny_argv(low, normal, tmp_path))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 130, err
    assert err[-1].startswith("uptflow train: interrupted by SIGTERM after iteration 2 (its data workers were "
                              "stopped too)") and "--resume" in err[-1], err
    assert not any("error" in line for line in err), err
    assert not (tmp_path / "error.log").exists()
    assert torch.load(tmp_path / "last.pt", weights_only=True)["iteration"] == 2


def test_crash_saves_last_and_gives_one_line(pair_dirs, tmp_path: Path, capsys, monkeypatch) -> None:
    low, normal = pair_dirs

    def boom() -> None:
        raise RuntimeError("simulated device failure\nwith a second line")

    _patch_loss(monkeypatch, 4, boom)
    rc = main(_tiny_argv(low, normal, tmp_path))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1].startswith("uptflow train: error: RuntimeError: simulated device failure (after iteration 3")
    assert "Traceback" not in "\n".join(err)
    assert "simulated device failure" in (tmp_path / "error.log").read_text()
    assert torch.load(tmp_path / "last.pt", weights_only=True)["iteration"] == 3


def test_tensorboard_scalars_and_images_when_available(pair_dirs, tmp_path: Path, monkeypatch) -> None:
    """With TensorBoard importable, scalars and validation images go to a SummaryWriter in RUN/tb."""
    import sys
    import types

    events: list[tuple] = []

    class FakeWriter:
        def __init__(self, log_dir: str) -> None:
            events.append(("open", log_dir))

        def add_scalar(self, tag, value, step) -> None:
            events.append(("scalar", tag, step))

        def add_image(self, tag, image, step) -> None:
            events.append(("image", tag, tuple(image.shape), step))

        def close(self) -> None:
            events.append(("close",))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    low, normal = pair_dirs
    rc = main(_tiny_argv(low, normal, tmp_path) + ["--iters", "2", "--val-every", "2", "--val-low-dir", str(low),
                                                   "--val-normal-dir", str(normal), "--set", "data.val_max_images=1"])
    assert rc == 0
    assert events[0] == ("open", str(tmp_path / "tb")) and events[-1] == ("close",)
    assert ("scalar", "train/nll", 2) in events and ("scalar", "val/psnr", 2) in events
    images = [e for e in events if e[0] == "image"]
    assert len(images) == 1 and images[0][2] == (3, 96, 3 * 96)
