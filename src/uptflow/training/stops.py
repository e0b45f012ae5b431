"""How a run stops early: the exception types, signal handling, worker-error unwrapping.

Stopping keeps the work: SIGINT/SIGTERM finish the current iteration, write ``last.pt`` and
raise :class:`TrainingInterrupted`; ``max_nonfinite`` bad steps in a row raise
:class:`NonFiniteLossError` after saving; any other exception writes ``last.pt`` (if there is
new work) before propagating.  The Trainer does the saving; this module holds the pieces.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any, Callable

__all__ = ["TrainingStopped", "TrainingInterrupted", "NonFiniteLossError", "install_stop_handlers",
           "restore_signal_handlers", "unwrap_worker_error", "worker_stopped_by_signal"]


class TrainingStopped(RuntimeError):
    """The run stopped before its last iteration; ``checkpoint`` is where its state was saved."""

    def __init__(self, message: str, checkpoint: Path | None = None, iteration: int = 0) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.iteration = iteration


class TrainingInterrupted(TrainingStopped):
    """SIGINT / SIGTERM: the state after the last full iteration is in ``last.pt``."""


class NonFiniteLossError(TrainingStopped):
    """``max_nonfinite`` consecutive steps had a non-finite loss or gradient."""


def install_stop_handlers(on_signal: Callable[[int], bool]) -> dict[int, Any]:
    """Route SIGINT/SIGTERM to ``on_signal(signum)``; returns the old handlers (main thread only).

    ``on_signal`` returns True when this is a repeated Ctrl-C, which then stops at once
    (``KeyboardInterrupt``) instead of waiting for the iteration to finish.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: Any) -> None:
        if on_signal(signum):
            raise KeyboardInterrupt

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def restore_signal_handlers(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


def worker_stopped_by_signal(err: BaseException) -> bool:
    """Whether ``err`` is the DataLoader's report of a worker killed by a signal (``RuntimeError:
    DataLoader worker (pid N) is killed by signal: Terminated.``), e.g. when the whole process
    group got the SIGTERM / SIGINT that also stops the trainer."""
    return isinstance(err, RuntimeError) and "DataLoader worker" in str(err) and "killed by signal" in str(err)


def unwrap_worker_error(err: BaseException) -> BaseException:
    """A DataLoader worker's re-raised error carries a traceback in its message; keep the last line."""
    text = str(err)
    if "Original Traceback" not in text:
        return err
    last = [ln for ln in text.strip().splitlines() if ln.strip()][-1]
    prefix = f"{type(err).__name__}: "
    msg = last[len(prefix):] if last.startswith(prefix) else last
    try:
        return type(err)(msg)
    except Exception:  # exotic constructors
        return err
