"""``load_model``: a checkpoint (ours or the authors') to a ready :class:`UPTFlow`, checked first.

Order matters and is the point of this module: the file is read (no pickled code runs), the
recorded config is parsed strictly and bounded, the tensors are checked against it, and only
then is a model built; its weights must match exactly and be finite.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from uptflow.checkpoints.bounds import check_config_bounds, check_finite, config_from_record
from uptflow.checkpoints.errors import CheckpointError
from uptflow.checkpoints.files import read_file
from uptflow.checkpoints.infer import check_tensors_match, from_official, infer_config, official_view
from uptflow.checkpoints.keys import is_official, is_ours
from uptflow.config import UPTFlowConfig
from uptflow.messages import show_path
from uptflow.model import UPTFlow

__all__ = ["load_model"]

_WRAPPERS = ("state_dict", "params_ema", "params", "model", "netG", "network", "net")


def unwrap(obj: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], object | None]:
    """Peel wrapper dicts off; return ``(state dict, the config recorded beside it, if any)``."""
    config = None
    for _ in range(4):
        if "config" in obj:
            config = obj["config"]  # checked by config_from_record (training runs: model under "model")
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is None or all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        obj = inner
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError("no tensors found: not a state dict")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors, config


def load_model(source: str | os.PathLike | Mapping[str, Any], map_location=None,
               config: UPTFlowConfig | None = None) -> UPTFlow:
    """Build an :class:`UPTFlow` from a checkpoint path or an in-memory state dict.

    Accepts our safetensors / training checkpoints and the authors' state dicts (any of the
    usual wrappers, ``module.`` prefixes).  The architecture comes from ``config``, else the
    recorded config (checked: a JSON object, every field typed and bounded, and matching the
    tensors), else the tensor shapes.  Every ActNorm is marked initialised.  Returns the model in
    eval mode, on ``map_location`` (default CPU), float32.

    Raises ``FileNotFoundError`` for a missing path and :class:`CheckpointError` (a
    ``ValueError``, one line) for anything that is not a usable UPT-Flow checkpoint, including
    weights that hold NaN or infinity.
    """
    meta: dict[str, str] = {}
    if isinstance(source, (str, os.PathLike)):
        obj, meta = read_file(Path(source), map_location)
        where = show_path(source)
    elif isinstance(source, Mapping):
        obj, where = source, "state dict"
    else:
        raise TypeError(f"load_model expects a path or a state dict, got {type(source).__name__}")
    try:
        sd, recorded = unwrap(obj)
    except CheckpointError as err:
        raise CheckpointError(f"{where}: {err}") from None
    if "config" in meta:
        recorded = meta["config"]
    trusted = config is not None  # given by the caller, not read from the file
    if config is None and recorded is not None:
        config = config_from_record(recorded, where)
    if is_official(sd):
        official = sd
    elif is_ours(sd):
        try:
            official = official_view(sd)
        except CheckpointError as err:
            raise CheckpointError(f"{where}: {err}") from None
    else:
        sample = ", ".join(list(sd)[:3])
        raise CheckpointError(f"{where} is not an UPT-Flow checkpoint (keys like {sample})")
    if config is None:
        try:
            config = infer_config(official)
        except CheckpointError as err:
            raise CheckpointError(f"{where}: {err}") from None
    elif not trusted:
        check_tensors_match(config, official, where)
    else:
        check_config_bounds(config, "config")
    check_finite(sd, where)
    if is_official(sd):
        sd = from_official(sd, config)
    model = UPTFlow(config)
    _load_state(model, sd, where)
    if map_location is not None:
        model.to(map_location)
    return model.eval()


def _load_state(model: UPTFlow, sd: Mapping[str, torch.Tensor], where: str) -> None:
    own = model.state_dict()
    flags = {k for k in own if k.endswith(".initialized")}
    missing = [k for k in own if k not in sd and k not in flags]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s) e.g. {missing[0]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s) e.g. {unexpected[0]}")
        raise CheckpointError(f"{where} does not match the UPT-Flow architecture it describes: {'; '.join(parts)}")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise CheckpointError(f"{where}: {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}")
    full = dict(sd)
    for k in flags:
        full[k] = torch.tensor(True)
    model.load_state_dict(full, strict=True)
