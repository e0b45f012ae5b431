"""Learning-rate schedule of the authors' recipe: linear warm-up, then MultiStep decay.

The learning rate is a pure function of the iteration (:func:`lr_factor`), so a resumed run
sets exactly the rate the uninterrupted run would have used -- no hidden scheduler counters.
"""

from __future__ import annotations

import bisect
from typing import Any, Sequence

import torch

from uptflow.training.config import ScheduleConfig

__all__ = ["lr_factor", "milestone_iterations", "WarmupMultiStep"]


def milestone_iterations(fractions: Sequence[float], total_iters: int) -> list[int]:
    """Milestones as iteration numbers: ``round(f * total_iters)`` (e.g. 20000 for 40 % of 50k)."""
    return [int(round(f * total_iters)) for f in fractions]


def lr_factor(iteration: int, warmup_iters: int, milestones: Sequence[int], gamma: float) -> float:
    """Multiplier of the base learning rate for the 0-based ``iteration``.

    Warm-up (LLFlow/UPT-Flow ``update_learning_rate``): ``(iteration + 1) / warmup_iters`` while
    ``iteration + 1 < warmup_iters``; then ``gamma ** (number of milestones <= iteration)``.
    """
    warm = (iteration + 1) / warmup_iters if warmup_iters and iteration + 1 < warmup_iters else 1.0
    return warm * gamma ** bisect.bisect_right(list(milestones), iteration)


class WarmupMultiStep:
    """Sets ``lr = base_lr * lr_factor(iteration)`` on every parameter group.

    Call :meth:`apply` with the 0-based index of the iteration about to run.  Its state (base
    rates, milestones) is plain data for weights-only checkpoints.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: ScheduleConfig, total_iters: int) -> None:
        self.optimizer = optimizer
        # ``initial_lr`` (as torch's schedulers) survives the rates this class writes into ``lr``.
        self.base_lrs = [float(g.setdefault("initial_lr", g["lr"])) for g in optimizer.param_groups]
        self.warmup_iters = int(config.warmup_iters)
        self.gamma = float(config.gamma)
        self.milestones = milestone_iterations(config.milestones, total_iters) if config.kind == "multistep" else []
        self.last_iteration = -1

    def lr_at(self, iteration: int) -> float:
        """Learning rate of the first parameter group at ``iteration``."""
        return self.base_lrs[0] * lr_factor(iteration, self.warmup_iters, self.milestones, self.gamma)

    def apply(self, iteration: int) -> float:
        """Set the rates for ``iteration``; returns the first group's rate."""
        f = lr_factor(iteration, self.warmup_iters, self.milestones, self.gamma)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f
        self.last_iteration = iteration
        return self.base_lrs[0] * f

    def state_dict(self) -> dict[str, Any]:
        return {"base_lrs": list(self.base_lrs), "warmup_iters": self.warmup_iters, "gamma": self.gamma,
                "milestones": list(self.milestones), "last_iteration": self.last_iteration}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lrs = [float(x) for x in state["base_lrs"]]
        self.warmup_iters = int(state["warmup_iters"])
        self.gamma = float(state["gamma"])
        self.milestones = [int(m) for m in state["milestones"]]
        self.last_iteration = int(state["last_iteration"])
