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

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "check_resumable", "check_rng_state", "capture_rng_state",
           "restore_rng_state", "CheckpointError"]

FORMAT = "uptflow-train"
VERSION = 1

from uptflow.checkpoints.errors import CheckpointError
from uptflow.messages import one_line, show_path


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` atomically and durably (:func:`uptflow.io.write.atomic_write`: a temporary
    file, fsync, ``os.replace``).  A crash or Ctrl-C while writing leaves the previous file intact
    and no temporary file.  Returns the path.
    """
    from uptflow.io.write import atomic_write

    full = {"format": FORMAT, "version": VERSION, **state}
    return atomic_write(path, lambda tmp: torch.save(full, tmp), what="checkpoint", durable=True)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` and check it can be resumed from.

    Everything a resume uses is checked here, before any training state changes, so a damaged
    ``last.pt`` gives one line saying what is wrong (:func:`check_resumable`) instead of a
    traceback from ``load_state_dict`` or ``np.random.set_state`` half-way through the resume.
    """
    path = Path(path)
    shown = show_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {shown}")
    try:
        obj = torch.load(str(path), map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises several unpickling error types
        raise CheckpointError(f"{shown} is not a loadable training checkpoint: {one_line(err, 200)}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{shown} is not an uptflow training checkpoint (no format={FORMAT!r} entry); "
                              "to start from model weights use --init-from")
    check_resumable(obj, shown)
    return obj


def check_resumable(obj: Mapping[str, Any], where: str) -> None:
    """Raise :class:`CheckpointError` naming the first thing that would break a resume.

    Checked: the entries ``model``, ``optimizer``, ``iteration``, ``config``; the recorded model
    config (strict and bounded, :func:`uptflow.checkpoints.config_from_record`); the model
    tensors against that config, name by name and shape by shape (the model is built on the
    ``meta`` device: no memory, no weights); finite weights; the optimizer's layout; the RNG
    states (:func:`check_rng_state`).
    """
    from uptflow.checkpoints.bounds import check_finite, config_from_record

    for key in ("model", "optimizer", "iteration", "config"):
        if key not in obj:
            raise CheckpointError(f"{where}: training checkpoint lacks {key!r}")
    it = obj["iteration"]
    if isinstance(it, bool) or not isinstance(it, int) or it < 0:
        raise CheckpointError(f"{where}: 'iteration' must be an integer >= 0, got {one_line(repr(it), 40)}")
    if not isinstance(obj["config"], Mapping):
        raise CheckpointError(f"{where}: its run config is a {type(obj['config']).__name__}, not a mapping")
    cfg = config_from_record(obj["config"], where)
    sd = obj["model"]
    if not isinstance(sd, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()):
        raise CheckpointError(f"{where}: 'model' is not a state dict of tensors")
    _check_model_tensors(sd, cfg, where)
    check_finite(sd, where)
    opt = obj["optimizer"]
    if not isinstance(opt, Mapping) or not isinstance(opt.get("state"), Mapping) \
            or not isinstance(opt.get("param_groups"), list):
        raise CheckpointError(f"{where}: 'optimizer' is not an optimizer state (needs 'state' and 'param_groups')")
    best = obj.get("best")
    if best is not None and not isinstance(best, Mapping):
        raise CheckpointError(f"{where}: 'best' must be a mapping, got {type(best).__name__}")
    if obj.get("rng"):
        check_rng_state(obj["rng"], where)


def _check_model_tensors(sd: Mapping[str, torch.Tensor], cfg: Any, where: str) -> None:
    """The state dict has exactly the tensors (names, shapes) of the model ``cfg`` describes."""
    from uptflow.model import UPTFlow

    with torch.device("meta"):  # shapes only: nothing is allocated, nothing initialised for real
        expected = {k: tuple(v.shape) for k, v in UPTFlow(cfg).state_dict().items()}
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing:
        more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointError(f"{where}: model tensor {missing[0]} is missing{more}; the checkpoint is damaged "
                              "or from another model configuration")
    if unexpected:
        more = f" (+{len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise CheckpointError(f"{where}: unexpected model tensor {unexpected[0]}{more}")
    for k, shape in expected.items():
        if tuple(sd[k].shape) != shape:
            raise CheckpointError(f"{where}: model tensor {k} has shape {tuple(sd[k].shape)}, expected {shape}")


def check_rng_state(state: object, where: str = "checkpoint") -> None:
    """Raise :class:`CheckpointError` unless ``state`` is what :func:`capture_rng_state` makes."""
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{where}: RNG state {what}; the checkpoint is damaged (resume would not be exact)")

    if not isinstance(state, Mapping):
        raise bad(f"is a {type(state).__name__}, not a mapping")
    for key in ("torch", "numpy", "python"):
        if key not in state:
            raise bad(f"lacks the {key!r} entry")
    t = state["torch"]
    if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8 or t.numel() != torch.get_rng_state().numel():
        raise bad("'torch' is not a torch generator state")
    n = state["numpy"]
    if not isinstance(n, Mapping) or any(k not in n for k in ("name", "keys", "pos", "has_gauss", "cached_gaussian")):
        missing = [k for k in ("name", "keys", "pos", "has_gauss", "cached_gaussian") if not isinstance(n, Mapping) or k not in n]
        raise bad(f"'numpy' lacks {', '.join(repr(k) for k in missing) or 'its entries'}")
    if not isinstance(n["keys"], torch.Tensor) or n["keys"].numel() != 624 or not isinstance(n["pos"], int) \
            or not 0 <= n["pos"] <= 624 or n["name"] != "MT19937":
        raise bad("'numpy' is not an MT19937 state")
    p = state["python"]
    if not isinstance(p, Mapping) or any(k not in p for k in ("version", "internal", "gauss_next")):
        raise bad("'python' lacks one of 'version', 'internal', 'gauss_next'")
    internal = p["internal"]
    if not isinstance(internal, (list, tuple)) or len(internal) != 625 \
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in internal):
        raise bad("'python' is not a Mersenne Twister state")
    cuda = state.get("cuda") or []
    if not isinstance(cuda, (list, tuple)) or not all(isinstance(c, torch.Tensor) for c in cuda):
        raise bad("'cuda' is not a list of generator states")


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
    """Inverse of :func:`capture_rng_state` (CUDA states only if the device count matches).

    The state is checked first (:func:`check_rng_state`), so nothing is restored from a broken one.
    """
    check_rng_state(state)
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
