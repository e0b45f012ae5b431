"""Training UPT-Flow: config, schedule, sampler, checkpoints, logging, DDP and the loop.

``uptflow train`` (:mod:`uptflow.commands.train`) is the command-line front end; in Python::

    from uptflow.training import Trainer, TrainConfig, preset_dict
    cfg = TrainConfig.from_dict({**preset_dict("tiny"), "data": {"low_dir": "L", "normal_dir": "N", "crop": 64}})
    Trainer(cfg).fit()
"""

from __future__ import annotations

from uptflow.training.checkpointing import load_checkpoint, save_checkpoint
from uptflow.training.config import (
    LoopConfig,
    OptimConfig,
    ScheduleConfig,
    TrainConfig,
    apply_override,
    parse_set,
    preset_dict,
    preset_names,
)
from uptflow.training.ema import WeightEMA
from uptflow.training.loop import Trainer, TrainResult
from uptflow.training.objective import TrainingObjective
from uptflow.training.stops import NonFiniteLossError, TrainingInterrupted, TrainingStopped
from uptflow.training.validation import VALIDATION_PROTOCOL, validate_model
from uptflow.training.schedule import WarmupMultiStep, lr_factor

__all__ = [
    "TrainConfig",
    "OptimConfig",
    "ScheduleConfig",
    "LoopConfig",
    "preset_dict",
    "preset_names",
    "apply_override",
    "parse_set",
    "Trainer",
    "TrainResult",
    "TrainingObjective",
    "WeightEMA",
    "validate_model",
    "VALIDATION_PROTOCOL",
    "TrainingStopped",
    "TrainingInterrupted",
    "NonFiniteLossError",
    "WarmupMultiStep",
    "lr_factor",
    "save_checkpoint",
    "load_checkpoint",
]
