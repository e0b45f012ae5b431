"""Limits on a model configuration read from a file, and the check that a file's tensors are the
ones its configuration describes.

Why: a checkpoint is untrusted input.  A 472-byte safetensors file whose metadata says
``flow_steps: 3000`` or ``width: 1024`` made the loader build a model for minutes, or allocate
gigabytes, before noticing that the file holds no such weights.  So, before any model is built:

1. :func:`config_from_record` parses the recorded config strictly: it must be a JSON object, every
   field of the right type and inside :data:`CONFIG_BOUNDS` (ranges far beyond any trained UPT-Flow:
   the paper uses width 48, K 8, 2 plain steps, hidden 64);
2. :func:`check_tensors_match` reads the architecture off the tensors actually present and
   refuses a config that differs (``config says flow_steps=3000 but the tensors are for 3``).

Building and loading then only happen for a model the file really contains.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import torch

from uptflow.checkpoints.errors import CheckpointError
from uptflow.config import UPTFlowConfig, reject_unknown_fields

__all__ = ["CONFIG_BOUNDS", "HEADS_MAX", "config_from_record", "check_config_bounds",
           "check_finite"]

#: Inclusive ``(low, high)`` per integer field.  Generous: the largest trained model (the paper's)
#: sits far inside; anything outside is a corrupt or hostile file.
CONFIG_BOUNDS: dict[str, tuple[int, int]] = {
    "width": (1, 512),
    "window": (1, 64),
    "flow_steps": (1, 64),
    "levels": (3, 3),
    "plain_steps": (0, 16),
    "coupling_hidden": (1, 2048),
    "quantization": (2, 65536),
    "encoder_depth": (1, 32),
    "refine_depth": (0, 32),
    "mlp_ratio": (1, 16),
    "cbam_reduction": (1, 2048),
}
#: Largest number of attention heads at any level.
HEADS_MAX = 256
_EXPANSION = (0.0, 16.0)  # ffn_expansion: exclusive low, inclusive high
_HEADS_LEN = {"heads_r": 4, "heads_u": 7}


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_config_bounds(cfg: UPTFlowConfig | Mapping[str, Any], where: str = "config") -> None:
    """Raise :class:`CheckpointError` naming the first field of ``cfg`` of a wrong type or out of range.

    ``cfg`` is an :class:`UPTFlowConfig` or a mapping of some of its fields (missing fields take
    the defaults, which are inside the bounds).
    """
    data = cfg.to_dict() if isinstance(cfg, UPTFlowConfig) else cfg
    for name, (low, high) in CONFIG_BOUNDS.items():
        if name not in data:
            continue
        v = data[name]
        if not _is_int(v):
            raise CheckpointError(f"{where}: {name} must be an integer, got {json.dumps(v)[:40]}")
        if not low <= v <= high:
            raise CheckpointError(f"{where}: {name}={v} is outside the supported range {low}..{high}")
    if "ffn_expansion" in data:
        e = data["ffn_expansion"]
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) \
                or not _EXPANSION[0] < e <= _EXPANSION[1]:
            raise CheckpointError(f"{where}: ffn_expansion must be a number in (0, {_EXPANSION[1]:g}], "
                                  f"got {json.dumps(e)[:40]}")
    for name, n in _HEADS_LEN.items():
        if name not in data:
            continue
        h = data[name]
        if not isinstance(h, (list, tuple)) or len(h) != n or not all(_is_int(x) and 1 <= x <= HEADS_MAX for x in h):
            raise CheckpointError(f"{where}: {name} must be a list of {n} integers in 1..{HEADS_MAX}, "
                                  f"got {json.dumps(list(h) if isinstance(h, tuple) else h)[:60]}")


def config_from_record(recorded: object, where: str) -> UPTFlowConfig:
    """The :class:`UPTFlowConfig` a file records (a JSON string or a parsed mapping), checked.

    A training checkpoint records its whole run config with the model under ``"model"``; that
    entry is used when present.

    Raises:
        CheckpointError: not JSON, not an object, unknown fields, wrong types, out of bounds, or
            fields that contradict each other (heads that do not divide the width, ...).
    """
    if isinstance(recorded, (str, bytes)):
        try:
            recorded = json.loads(recorded)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise CheckpointError(f"{where}: its recorded config is not valid JSON ({err.msg if hasattr(err, 'msg') else err})") from None
    if isinstance(recorded, Mapping) and "model" in recorded:
        recorded = recorded["model"]
        if isinstance(recorded, str):  # a run config naming a preset
            from uptflow.config import presets

            if recorded in presets:
                return presets[recorded]
            raise CheckpointError(f"{where}: its run config names an unknown model preset {recorded[:40]!r}")
    if not isinstance(recorded, Mapping):
        kind = {list: "a list", tuple: "a list", str: "a string"}.get(type(recorded), type(recorded).__name__)
        raise CheckpointError(f"{where}: its recorded model config is {kind}, not an object of named fields")
    try:
        reject_unknown_fields(UPTFlowConfig, recorded, "model config")
    except ValueError as err:
        raise CheckpointError(f"{where}: {err}") from None
    check_config_bounds(recorded, f"{where}: recorded config")
    try:
        return UPTFlowConfig.from_dict(recorded)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{where}: recorded config is not a valid UPT-Flow architecture ({err})") from None


def check_finite(sd: Mapping[str, torch.Tensor], where: str) -> None:
    """Refuse weights holding NaN or infinity (a diverged training run enhances to black, exit 0)."""
    bad = [k for k, v in sd.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        more = f" and {len(bad) - 1} more tensor(s)" if len(bad) > 1 else ""
        raise CheckpointError(f"{where}: weights contain NaN or infinite values ({bad[0]}{more}); "
                              "the model is broken (a diverged training run?)")
