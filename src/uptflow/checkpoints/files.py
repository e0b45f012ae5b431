"""Checkpoint files: reading them without executing pickled code, writing them atomically.

* Our checkpoints: safetensors with the config as JSON metadata, or a ``torch.save``d dict with
  ``model`` (state dict) and ``config`` (training checkpoints, ``RUN/last.pt``).
* Anything else is read with ``torch.load(weights_only=True)``: a pickle that would run code is
  refused, never executed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from uptflow.checkpoints.errors import CheckpointError
from uptflow.messages import one_line, show_path

if TYPE_CHECKING:
    from uptflow.model import UPTFlow

__all__ = ["read_file", "save_model", "read_metadata", "training_record"]


def read_file(path: Path, map_location: Any = None) -> tuple[Mapping[str, Any], dict[str, str]]:
    """Return ``(object, safetensors metadata)`` of a checkpoint file, never running pickled code.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a folder, FIFO or other non-file, an empty file, or content that is
            neither safetensors nor a weights-only torch file holding a mapping.
    """
    from uptflow.io.formats import file_problem

    problem = file_problem(path)
    shown = show_path(path)
    if problem == "no such file":
        raise FileNotFoundError(f"checkpoint not found: {shown}")
    if problem is not None:
        raise CheckpointError(f"{shown}: {problem.replace('image file', 'checkpoint file')}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{shown} is empty (0 bytes), not a checkpoint")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if path.suffix == ".safetensors" or (len(head) >= 9 and head[8:9] == b"{"):
        try:
            from safetensors import safe_open
            device = str(map_location) if isinstance(map_location, (str, torch.device)) else "cpu"
            with safe_open(str(path), framework="pt", device=device) as f:
                meta = dict(f.metadata() or {})
                return {k: f.get_tensor(k) for k in f.keys()}, meta
        except Exception as err:  # noqa: BLE001 - safetensors raises several private error types
            raise CheckpointError(f"{shown} is not a valid safetensors checkpoint "
                                  f"({type(err).__name__}: {one_line(err, 160)})") from None
    try:
        obj = torch.load(str(path), map_location=map_location or "cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises several unpickling error types
        raise CheckpointError(f"{shown} is not a loadable checkpoint (only safetensors and weights-only torch "
                              f"files are accepted; pickled code is never executed): {one_line(err, 200)}") from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{shown} holds a {type(obj).__name__}, not a state dict")
    return obj, {}


def save_model(model: "UPTFlow", path: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``model`` as safetensors with its config (and optional JSON-able metadata), atomically.

    Raises:
        uptflow.io.write.WriteError: (an ``OSError``, one line) the folder cannot be created, the
            path is a folder, the disk is full, ...; no temporary file is left behind.
    """
    from safetensors.torch import save_file

    from uptflow.io.write import atomic_write

    meta = {"format": "uptflow", "config": json.dumps(model.config.to_dict())}
    for k, v in (metadata or {}).items():
        meta[k] = v if isinstance(v, str) else json.dumps(v)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta), what="model", durable=True)


def training_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """What a training checkpoint (``RUN/last.pt`` / ``best.pt``) says about how it was made.

    Returns ``{"iteration", "best", "run_config", "weights"}`` (the resolved run config: data,
    recipe, schedule; ``weights``: ``"ema"`` with the average's ``decay`` and ``updates`` when the
    checkpoint holds averaged weights -- those are what :func:`load_model` and ``uptflow convert``
    take -- else ``"last step"``) for our training checkpoints, ``None`` for any other checkpoint.  Read as
    :func:`read_file` reads (no pickled code runs); a missing or unreadable file raises as there.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        return None
    obj, _ = read_file(path, "cpu")
    if obj.get("format") != "uptflow-train":
        return None
    iteration = obj.get("iteration", 0)
    if isinstance(iteration, bool) or not isinstance(iteration, int):
        raise CheckpointError(f"{show_path(path)}: training checkpoint has a malformed 'iteration' entry")
    record = {"iteration": iteration, "best": obj.get("best"), "run_config": obj.get("config")}
    ema = obj.get("ema")
    if obj.get("params_ema") is not None:
        record["weights"] = {"kind": "ema", **({k: ema[k] for k in ("decay", "updates") if k in ema}
                                               if isinstance(ema, dict) else {})}
    else:
        record["weights"] = {"kind": "last step"}
    return record


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON metadata stored in one of our safetensors files (values parsed where they are JSON).

    Raises:
        CheckpointError: the file is not a readable safetensors file.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as err:  # noqa: BLE001 - safetensors raises several private error types
        raise CheckpointError(f"{show_path(path)} is not a valid safetensors file ({one_line(err, 160)})") from None
    out: dict[str, Any] = {}
    for k, v in meta.items():
        try:
            out[k] = json.loads(v)
        except (json.JSONDecodeError, TypeError):
            out[k] = v
    return out
