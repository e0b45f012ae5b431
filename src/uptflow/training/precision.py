"""Which precision the encoder trains in: ``train.amp`` on CUDA, ``train.cpu_amp`` on CPU.

Only the encoder (the conditioning network) is ever autocast
(:class:`~uptflow.training.objective.TrainingObjective`); the flow's log-dets and 1x1-conv
inverse stay float32.  On CPU, bfloat16 pays only where the CPU computes it natively
(AVX512-BF16 or AMX): elsewhere oneDNN emulates it and training gets slower, so ``cpu_amp`` is
honoured only on such CPUs.  Measured with ``benchmarks/train_speed.py --cpu-amp`` (numbers in
docs/DEVELOPMENT.md, each with its CPU).  Off by default on CPU: the bundled models were trained
in float32 there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

#: /proc/cpuinfo flags of CPUs with bfloat16 arithmetic in hardware.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as ``/proc/cpuinfo`` lists them (empty where that cannot be read)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU advertises AVX512-BF16 or AMX-BF16 (False where that cannot be read)."""
    return not cpu_flags(cpuinfo).isdisjoint(NATIVE_BF16_FLAGS)


def autocast_setting(device: torch.device, amp: str, cpu_amp: bool,
                     log: Any = None) -> tuple[torch.dtype | None, str]:
    """``(autocast dtype or None, mode)`` for the encoder; mode is ``bf16``, ``fp16`` or ``off``.

    CUDA follows ``amp`` (bf16 falls back to fp16 on GPUs without it).  CPU follows
    ``cpu_amp``: bf16 on CPUs with native bfloat16, else float32 with a warning through ``log``
    (anything with ``.warning(str)``: the trainer's ``RunLogger`` or a ``logging.Logger``).
    """
    if device.type == "cpu":
        if not cpu_amp:
            return None, "off"
        if not cpu_has_native_bf16():
            if log is not None:
                log.warning("train.cpu_amp: this CPU has no native bfloat16 (AVX512-BF16 / AMX); "
                            "training in float32")
            return None, "off"
        return torch.bfloat16, "bf16"
    if device.type != "cuda" or amp == "off":
        return None, "off"
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        if log is not None:
            log.warning("this GPU has no bfloat16; using fp16 autocast with a GradScaler instead")
        amp = "fp16"
    return (torch.bfloat16 if amp == "bf16" else torch.float16), amp
