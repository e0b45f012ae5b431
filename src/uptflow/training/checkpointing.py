"""Training checkpoints: atomic writes, weights-only loading, RNG state as plain data.

A checkpoint is a dict of tensors, dicts, lists, ints, floats, strings, bools and None only, so
it loads with ``torch.load(weights_only=True)`` (no pickled code is ever executed):

``{"format": "uptflow-train", "version": 1, "model": state_dict, "config": resolved run config
dict (model config under "model"), "optimizer", "scheduler", "scaler" (or None), "iteration":
completed iterations, "best": {"metric", "value", "iteration"}, "nonfinite": {...}, "rng": {...},
"params_ema": averaged state_dict or None, "ema": {"decay", "updates"} or None}``

``uptflow.checkpoints.load_model(path)`` reads the model from it directly -- the averaged weights
when ``params_ema`` is present (see :mod:`uptflow.training.ema`).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "capture_rng_state", "restore_rng_state", "CheckpointError"]

FORMAT = "uptflow-train"
VERSION = 1

try:  # the lead's error type, so callers can catch one class for every checkpoint problem
    from uptflow.checkpoints import CheckpointError
except ImportError:  # pragma: no cover
    class CheckpointError(ValueError):  # type: ignore[no-redef]
        """A file that is not a usable training checkpoint."""


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` atomically: ``torch.save`` to ``PATH.tmp``, fsync, ``os.replace``.

    A crash while writing leaves the previous file intact.  Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    full = {"format": FORMAT, "version": VERSION, **state}
    try:
        with open(tmp, "wb") as fh:
            torch.save(full, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True``; one-line errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(str(path), map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several unpickling error types
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(f"{path} is not a loadable training checkpoint: {first[:200]}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an uptflow training checkpoint (no format={FORMAT!r} entry); "
                              "to start from model weights use --init-from")
    for key in ("model", "optimizer", "iteration", "config"):
        if key not in obj:
            raise CheckpointError(f"{path}: training checkpoint lacks {key!r}")
    return obj


def capture_rng_state() -> dict[str, Any]:
    """Global RNG states (torch CPU/CUDA, numpy legacy, python) as weights-only-safe data."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": str(np_state[0]), "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": int(py_version), "internal": list(py_internal), "gauss_next": py_gauss},
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states only if the device count matches)."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
