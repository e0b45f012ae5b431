"""Encoder precision: bfloat16 on CPU only where asked and native; CUDA follows ``train.amp``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from uptflow.training import precision
from uptflow.training.loop import Trainer
from .conftest import tiny_config

CPU = torch.device("cpu")


@pytest.mark.parametrize("flags, native", [
    ("fpu sse avx2 avx512f avx512_bf16 avx512_vnni", True),
    ("fpu sse avx2 amx_tile amx_bf16", True),
    ("fpu sse avx2 avx512f avx512_vnni", False),
    ("", False),
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    assert precision.cpu_has_native_bf16(info) is native
    assert precision.cpu_has_native_bf16(tmp_path / "missing") is False


def test_cpu_is_float32_unless_asked(monkeypatch) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.autocast_setting(CPU, "bf16", cpu_amp=False) == (None, "off")
    assert precision.autocast_setting(CPU, "off", cpu_amp=True) == (torch.bfloat16, "bf16")


def test_cpu_without_native_bf16_warns_and_stays_float32(monkeypatch, caplog) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    log = logging.getLogger("uptflow.test.precision")
    with caplog.at_level(logging.WARNING, logger=log.name):
        assert precision.autocast_setting(CPU, "bf16", cpu_amp=True, log=log) == (None, "off")
    assert "no native bfloat16" in caplog.text


def test_trainer_runs_the_encoder_in_bf16_on_cpu_when_asked(monkeypatch, pair_dirs, tmp_path: Path) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    low, normal = pair_dirs
    trainer = Trainer(tiny_config(low, normal, tmp_path, iters=2, device="cpu", cpu_amp=True), tensorboard=False)
    assert trainer.amp_mode == "bf16" and trainer.objective.amp_dtype is torch.bfloat16
    seen = []
    hook = trainer.model.encoder.register_forward_hook(lambda m, i, o: seen.append(o[0].dtype))
    trainer.fit()
    trainer.close()
    hook.remove()
    assert seen and all(d is torch.bfloat16 for d in seen)
    assert all(p.dtype is torch.float32 for p in trainer.model.parameters())  # weights stay float32
