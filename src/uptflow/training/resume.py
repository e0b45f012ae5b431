"""Resuming a run: what a checkpoint holds, restoring it, and which saved settings changed.

A resumed run is an exact continuation only with the same settings; changes are allowed (e.g. a
longer ``--iters``) but warned about, except the cosmetic ones in :data:`COSMETIC`.  A different
model configuration cannot be resumed at all.  Settings the saved run did not know yet (a field
added in a later version, e.g. ``train.ema_decay``) count as their default value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from uptflow.training.checkpointing import CheckpointError, capture_rng_state, load_checkpoint, restore_rng_state
from uptflow.training.config import LoopConfig, OptimConfig, ScheduleConfig, TrainConfig, _section_dict
from uptflow.training.ema import EMA_KEY, WeightEMA

__all__ = ["COSMETIC", "config_changes", "check_model_matches", "read_resume", "run_state", "restore_run"]

COSMETIC = frozenset({"train.progress", "train.workers", "train.log_every", "train.val_images"})
_MISSING = object()


def _diff(a: Any, b: Any, default: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ; a key absent from ``a`` takes its value from ``default``."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[str] = []
        d = default if isinstance(default, Mapping) else {}
        for k in sorted(set(a) | set(b)):
            av = a.get(k, _MISSING)
            if av is _MISSING:
                av = d.get(k)
            out += _diff(av, b.get(k), d.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix[:-1]]


def config_changes(saved: Mapping[str, Any], current: TrainConfig) -> list[str]:
    """Dotted names of the non-cosmetic settings that differ between a checkpoint and this run."""
    defaults = {"optim": _section_dict(OptimConfig()), "schedule": _section_dict(ScheduleConfig()),
                "train": _section_dict(LoopConfig())}
    return [d for d in _diff(saved, current.to_dict(), defaults) if d not in COSMETIC]


def check_model_matches(ckpt: Mapping[str, Any], current: TrainConfig, path: Path) -> None:
    """Raise :class:`CheckpointError` when the checkpoint's model config is not this run's."""
    saved_model = ckpt["config"].get("model") if isinstance(ckpt["config"], Mapping) else None
    if saved_model != current.model_config().to_dict():
        raise CheckpointError(f"{path} was trained with a different model configuration than this run's; "
                              "resume with the same --preset/--config")


def read_resume(last_path: Path, resume: str | Path | None,
                device: torch.device) -> tuple[dict[str, Any] | None, Path | None]:
    """The checkpoint to resume from: ``resume`` (a path), ``"auto"`` (``last_path`` if it exists) or None."""
    if resume is None:
        return None, None
    path = last_path if str(resume) == "auto" else Path(resume)
    if str(resume) == "auto" and not path.is_file():
        return None, None
    return load_checkpoint(path, map_location=device), path


def run_state(trainer: Any) -> dict[str, Any]:
    """Everything needed to continue ``trainer``'s run exactly (plain data + tensors).

    ``"model"`` holds the raw weights; with a weight average also ``"params_ema"`` (its weights,
    what :func:`uptflow.checkpoints.load_model` loads) and ``"ema"`` (decay, update count).
    """
    from uptflow import __version__

    ema = trainer.ema
    return {
        "model": trainer.model.state_dict(),
        EMA_KEY: ema.state_dict() if ema is not None else None,
        "ema": ema.meta() if ema is not None else None,
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "scaler": trainer.scaler.state_dict() if trainer.scaler.is_enabled() else None,
        "iteration": trainer.iteration,
        "best": dict(trainer.best),
        "nonfinite": {"total": trainer.nonfinite_total, "streak": trainer.nonfinite_streak},
        "rng": capture_rng_state(),
        "config": trainer.config.to_dict(),
        "uptflow_version": __version__,
    }


def restore_run(trainer: Any, ckpt: Mapping[str, Any], path: Path) -> None:
    """Load a checkpoint's state into ``trainer`` (weights, optimiser, scaler, RNG, counters, EMA).

    With ``train.ema_decay > 0`` the average comes from the checkpoint, or -- for a checkpoint
    written without one -- starts from the resumed weights.
    """
    config = trainer.config
    check_model_matches(ckpt, config, path)
    diff = config_changes(ckpt["config"], config)
    if diff:
        trainer.log.warning(f"resuming {path} with changed settings ({', '.join(diff[:6])}"
                            f"{', ...' if len(diff) > 6 else ''}): the run is no longer an exact continuation")
    trainer.model.load_state_dict(ckpt["model"])
    trainer.optimizer.load_state_dict(ckpt["optimizer"])
    # The schedule is a pure function of (config, iteration): the scheduler built from this
    # run's config is already right, so its saved state is informational only.
    if ckpt.get("scaler") and trainer.scaler.is_enabled():
        trainer.scaler.load_state_dict(ckpt["scaler"])
    if ckpt.get("rng"):
        restore_rng_state(ckpt["rng"])
    decay = config.train.ema_decay
    if decay > 0:
        trainer.ema = WeightEMA(trainer.model, decay)
        if ckpt.get(EMA_KEY) is not None:
            trainer.ema.load(ckpt[EMA_KEY], ckpt.get("ema"))
        else:
            trainer.log.info(f"{path} has no weight average; starting train.ema_decay={decay} from its weights")
    trainer.iteration = int(ckpt["iteration"])
    trainer.best = dict(ckpt.get("best") or trainer.best)
    nf = ckpt.get("nonfinite") or {}
    trainer.nonfinite_total = int(nf.get("total", 0))
    trainer.nonfinite_streak = int(nf.get("streak", 0))
