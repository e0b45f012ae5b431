"""Run logging: ``RUN/metrics.jsonl``, optional TensorBoard, warnings/info on the console.

Only rank 0 logs (other ranks get a logger with ``enabled=False`` that does nothing).  Every
metrics line is one JSON object with at least ``step``; non-finite numbers are written as
``null`` so the file stays valid JSON.  TensorBoard is an optional extra: without it a single
info line says so and training continues.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import torch

__all__ = ["RunLogger", "MetricWindow", "progress_bar", "truncate_metrics"]

log = logging.getLogger("uptflow.train")


def _clean(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop lines with ``step > last_step`` (written after the checkpoint a run resumes from)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            step = json.loads(line).get("step", 0)
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(step, int) and step <= last_step:
            kept.append(line)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    tmp.replace(path)


class RunLogger:
    """Writes metrics (JSONL + TensorBoard) and messages for one run.

    Args:
        run_dir: ``RUN`` folder (created).
        enabled: False on non-zero ranks.
        tensorboard: try to open a ``SummaryWriter`` in ``RUN/tb``.
        echo: callable used for console lines (e.g. ``tqdm.write``); default ``logging``.
    """

    def __init__(self, run_dir: str | Path, enabled: bool = True, tensorboard: bool = True, echo=None) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.echo = echo
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self._fh = None
        self.tb = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(log_dir=str(self.run_dir / "tb"))
            except ImportError:
                self.info("TensorBoard is disabled (install the 'tensorboard' extra to enable it); "
                          "metrics go to metrics.jsonl")

    # -- messages --------------------------------------------------------------------------------
    def _say(self, level: int, msg: str) -> None:
        if not self.enabled:
            return
        if self.echo is not None:
            self.echo(("warning: " if level >= logging.WARNING else "") + msg)
        else:
            log.log(level, msg)

    def info(self, msg: str) -> None:
        self._say(logging.INFO, msg)

    def warning(self, msg: str) -> None:
        self._say(logging.WARNING, msg)

    # -- metrics ---------------------------------------------------------------------------------
    def write(self, record: Mapping[str, Any]) -> None:
        """Append one JSON line (and scalars to TensorBoard under ``train/`` or ``val/``)."""
        if not self.enabled:
            return
        rec = _clean(dict(record))
        if self._fh is None:
            self._fh = open(self.metrics_path, "a", encoding="utf-8")
        self._fh.write(json.dumps(rec) + "\n")
        self._fh.flush()
        if self.tb is not None:
            step = int(rec.get("step", 0))
            for k, v in rec.items():
                if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    tag = f"val/{k[4:]}" if k.startswith("val_") else f"train/{k}"
                    self.tb.add_scalar(tag, v, step)

    def images(self, tag: str, image: torch.Tensor, step: int) -> None:
        """A (3, H, W) image in [0, 1] to TensorBoard (no-op without it)."""
        if self.enabled and self.tb is not None:
            self.tb.add_image(tag, image.detach().float().clamp(0, 1).cpu(), step)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.tb is not None:
            self.tb.close()
            self.tb = None


class MetricWindow:
    """Running sums of the training metrics between two metrics lines (``train.log_every``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.start = time.perf_counter()
        self.iterations = 0  # every iteration, finite or not, advances the clock
        self.n = 0  # finite steps, the ones averaged
        self.sums = {"loss": 0.0, "nll": 0.0, "l1": 0.0, "grad_norm": 0.0}
        self.has_l1 = False

    def add(self, loss: float, nll: float, l1: float | None, grad_norm: float) -> None:
        self.n += 1
        self.sums["loss"] += loss
        self.sums["nll"] += nll
        self.sums["grad_norm"] += grad_norm if math.isfinite(grad_norm) else 0.0
        if l1 is not None:
            self.has_l1 = True
            self.sums["l1"] += l1

    def record(self, step: int, epoch: float, lr: float, batch_size: int, nonfinite_total: int) -> dict[str, Any]:
        """The metrics line of this window (means, learning rate, speed, skipped-step count)."""
        summary = self.summary()
        it_per_s = summary.pop("it_per_s")
        return {"step": step, "epoch": epoch, **summary, "lr": lr, "it_per_s": it_per_s,
                "images_per_s": it_per_s * batch_size if it_per_s else None, "nonfinite_skipped": nonfinite_total}

    def summary(self) -> dict[str, Any]:
        """Means over the finite steps (None when there was none) plus ``it_per_s``."""
        keys = ["nll", "loss", "grad_norm"] + (["l1"] if self.has_l1 else [])
        out: dict[str, Any] = {k: (self.sums[k] / self.n if self.n else None) for k in keys}
        elapsed = time.perf_counter() - self.start
        out["it_per_s"] = self.iterations / elapsed if elapsed > 0 else None
        return out


def progress_bar(loop: Any, start: int) -> Any:
    """A tqdm bar over ``loop.iters`` starting at ``start`` on stderr, or None when ``loop.progress`` is off."""
    if not loop.progress:
        return None
    from tqdm import tqdm

    return tqdm(total=loop.iters, initial=start, unit="it", dynamic_ncols=True, file=sys.stderr,
                desc="train", mininterval=1.0)

