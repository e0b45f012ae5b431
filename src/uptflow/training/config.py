"""Typed, frozen configuration of a training run, with YAML (de)serialisation and overrides.

A run is described by one :class:`TrainConfig`:

* ``model``    -- a preset name (``paper``, ``paper-lol``, ``small``, ``tiny``) or a full
  :class:`~uptflow.config.UPTFlowConfig` dict (a dict may also say ``preset: NAME`` plus overrides);
* ``data``     -- :class:`~uptflow.data.config.DataConfig` (paths are kept as written);
* ``optim``    -- :class:`OptimConfig` (Adam);
* ``schedule`` -- :class:`ScheduleConfig` (linear warm-up, then MultiStep decay);
* ``train``    -- :class:`LoopConfig` (iterations, global batch, intervals, AMP, clipping, ...);
* ``seed``, ``out`` (the run folder).

Configs are assembled as plain dicts -- packaged preset YAML (``uptflow/configs/NAME.yaml``) or a
user YAML file, then command-line flags, then ``--set key.sub=value`` -- and only then validated,
because a preset alone lacks the data paths.  :meth:`TrainConfig.resolved` replaces a preset name
by the full model dict; that resolved form is what ``RUN/config.yaml`` and every checkpoint hold
(``uptflow.checkpoints.load_model`` reads the model config from its ``model`` entry).
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from uptflow.config import UPTFlowConfig, get_preset, presets, reject_unknown_fields
from uptflow.data.config import DataConfig
from uptflow.validation import MAX_SEED

__all__ = [
    "OptimConfig",
    "ScheduleConfig",
    "LoopConfig",
    "TrainConfig",
    "AMP_MODES",
    "DEVICES",
    "preset_names",
    "preset_dict",
    "read_yaml",
    "apply_override",
    "parse_set",
    "merge",
]

AMP_MODES: tuple[str, ...] = ("bf16", "fp16", "off")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
SCHEDULES: tuple[str, ...] = ("multistep", "constant")


@dataclass(frozen=True)
class OptimConfig:
    """Adam, as the authors: lr 2e-4, betas (0.9, 0.99), no weight decay."""

    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def validate(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"optim.lr must be > 0, got {self.lr}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"optim.betas must be two numbers in [0, 1), got {list(self.betas)}")
        if not self.eps > 0 or self.weight_decay < 0:
            raise ValueError("optim.eps must be > 0 and optim.weight_decay >= 0")


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule: ``warmup_iters`` linear warm-up, then ×``gamma`` at each milestone.

    ``milestones`` are fractions of ``train.iters`` (the authors: 40/60/80/90 %), so shortening a
    run keeps the shape of the schedule; ``warmup_iters`` is absolute (the authors: 800).
    ``kind="constant"`` keeps the warm-up but never decays.
    """

    kind: str = "multistep"
    milestones: tuple[float, ...] = (0.4, 0.6, 0.8, 0.9)
    gamma: float = 0.5
    warmup_iters: int = 800

    def validate(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule.kind must be one of {', '.join(SCHEDULES)}, got {self.kind!r}")
        if any(not 0.0 < m <= 1.0 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"schedule.milestones must be increasing fractions in (0, 1], got {list(self.milestones)}")
        if not self.gamma > 0:
            raise ValueError(f"schedule.gamma must be > 0, got {self.gamma}")
        if self.warmup_iters < 0:
            raise ValueError(f"schedule.warmup_iters must be >= 0, got {self.warmup_iters}")


@dataclass(frozen=True)
class LoopConfig:
    """The training loop.

    Attributes:
        iters: optimiser steps in the whole run.
        batch_size: GLOBAL batch (split evenly over DDP ranks).
        log_every / val_every / ckpt_every: intervals in iterations (0 disables validation /
            periodic checkpoints; ``last.pt`` is always written at the end).
        amp: ``bf16`` (autocast), ``fp16`` (autocast + GradScaler) or ``off``, on CUDA.  The flow
            (log-dets, 1x1-conv inverse) always runs in float32; only the encoder is autocast.
        cpu_amp: autocast the encoder to bfloat16 on CPU too, where the CPU has it natively
            (AVX512-BF16 / AMX; :mod:`uptflow.training.precision`); off: float32 on CPU.
        grad_clip: max global gradient norm (0: no clipping).
        max_nonfinite: stop after this many non-finite steps in a row.
        l1_weight: weight of L1(decode(z=0), normal) added to the NLL (authors: 0).
        l1_highlight: extra L1 weight on pixels already lit in the low image (``1 + this`` from
            max channel 110/255, a ramp from 55/255; 0: plain L1).  Teaches the model not to blow
            out lamps and lit regions; needs ``l1_weight > 0``.
        channels_last: memory layout of the model's weights and of the training batches:
            ``True`` = channels-last (NHWC), ``False`` = contiguous NCHW, ``"auto"`` (default) =
            channels-last on CPU, where oneDNN's convolutions and their backward run without
            layout reorders (``benchmarks/train_speed.py``: 5-11 % less time per step, AMD EPYC),
            NCHW on CUDA (not measured there).  Same model, same loss up to float rounding.
        workers: DataLoader worker processes per rank.
        device: ``auto`` (CUDA if available), ``cpu`` or ``cuda``.
        progress: show a tqdm progress bar (rank 0).
        val_images: validation images written to TensorBoard (low | enhanced | normal).
        init_from: start from these weights (a file ``uptflow.checkpoints.load_model`` reads:
            ours or the authors'); ignored when resuming.
        ema_decay: keep an exponential moving average of the weights, ``ema = d * ema + (1 - d) *
            weights`` after every applied step (0: off; typical 0.999).  Validation, ``best.pt``
            and the exported model use the averaged weights (smoother than the last step's).
    """

    iters: int = 50_000
    batch_size: int = 8
    log_every: int = 50
    val_every: int = 2_500
    ckpt_every: int = 1_000
    amp: str = "bf16"
    cpu_amp: bool = False
    grad_clip: float = 0.0
    max_nonfinite: int = 20
    l1_weight: float = 0.0
    l1_highlight: float = 0.0
    channels_last: bool | str = "auto"
    workers: int = 4
    device: str = "auto"
    progress: bool = True
    val_images: int = 4
    init_from: str | None = None
    ema_decay: float = 0.0

    def validate(self) -> None:
        for name in ("iters", "batch_size", "log_every", "max_nonfinite"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("val_every", "ckpt_every", "workers", "val_images"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"train.amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.device not in DEVICES:
            raise ValueError(f"train.device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.init_from is not None and not isinstance(self.init_from, str):
            raise ValueError(f"train.init_from must be a path or null, got {self.init_from!r}")
        if not (isinstance(self.channels_last, bool) or self.channels_last == "auto"):
            raise ValueError(f"train.channels_last must be true, false or auto, got {self.channels_last!r}")
        if not isinstance(self.cpu_amp, bool):
            raise ValueError(f"train.cpu_amp must be true or false, got {self.cpu_amp!r}")
        if self.grad_clip < 0 or self.l1_weight < 0 or self.l1_highlight < 0:
            raise ValueError(f"train.grad_clip, train.l1_weight and train.l1_highlight must be >= 0, got "
                             f"{self.grad_clip}, {self.l1_weight}, {self.l1_highlight}")
        if self.l1_highlight > 0 and self.l1_weight == 0:
            raise ValueError("train.l1_highlight weights the L1 term: set train.l1_weight > 0 too")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"train.ema_decay must lie in [0, 1) (0 = off), got {self.ema_decay}")


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run; see the module docstring.  ``model`` is a preset name or a
    :class:`UPTFlowConfig` (dicts are converted on construction)."""

    data: DataConfig
    model: str | UPTFlowConfig = "paper"
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: LoopConfig = field(default_factory=LoopConfig)
    seed: int = 0
    out: str = "runs/uptflow"

    def __post_init__(self) -> None:
        model = self.model
        if isinstance(model, Mapping):
            model = _model_from_dict(model)
        elif isinstance(model, str):
            get_preset(model)  # unknown names fail here
        elif not isinstance(model, UPTFlowConfig):
            raise TypeError(f"model must be a preset name or a mapping, got {type(model).__name__}")
        object.__setattr__(self, "model", model)
        self.validate()

    def validate(self) -> None:
        self.optim.validate()
        self.schedule.validate()
        self.train.validate()
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer in 0 .. 2**63-1, got {self.seed!r}")
        multiple = self.model_config().size_multiple
        if self.data.crop is None:
            raise ValueError("data.crop must be set for training (batches need one size)")
        if self.data.crop % multiple:
            raise ValueError(f"data.crop must be a multiple of {multiple} (the flow squeezes 3 times), got {self.data.crop}")

    def model_config(self) -> UPTFlowConfig:
        """The network's configuration (preset name resolved)."""
        return get_preset(self.model) if isinstance(self.model, str) else self.model  # type: ignore[return-value]

    def resolved(self) -> "TrainConfig":
        """The same run with the model preset replaced by its full config."""
        return dataclasses.replace(self, model=self.model_config())

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON/``torch.load(weights_only=True)`` safe)."""
        return {
            "model": self.model if isinstance(self.model, str) else self.model.to_dict(),
            "data": self.data.to_dict(),
            "optim": _section_dict(self.optim),
            "schedule": _section_dict(self.schedule),
            "train": _section_dict(self.train),
            "seed": self.seed,
            "out": self.out,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "config") -> "TrainConfig":
        """Build and validate; every error is a one-line ``ValueError`` naming ``where``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: a training config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown config key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        if data.get("data") is None:
            raise ValueError(f"{where}: no data section (pass --data-root or --low-dir/--normal-dir)")
        try:
            kwargs: dict[str, Any] = {"data": _data_from(data["data"])}
            for name, section in (("optim", OptimConfig), ("schedule", ScheduleConfig), ("train", LoopConfig)):
                if data.get(name) is not None:
                    kwargs[name] = _build_section(section, data[name], name)
            for name in ("model", "seed", "out"):
                if name in data:
                    kwargs[name] = data[name]
            if "seed" in kwargs:
                kwargs["seed"] = _coerce(kwargs["seed"], int, "seed")
            if "out" in kwargs:
                kwargs["out"] = str(kwargs["out"])
            return cls(**kwargs)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: {err}") from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def save_yaml(self, path: str | Path) -> None:
        """Write :meth:`to_yaml` atomically."""
        import os

        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_yaml(), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        return cls.from_dict(read_yaml(path), where=str(path))


# ---------------------------------------------------------------------------------------------
# helpers: sections, coercion
# ---------------------------------------------------------------------------------------------
def _section_dict(section: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(section).items()}


def _coerce(value: Any, kind: Any, name: str) -> Any:
    """Convert a YAML/command-line value to the annotated type (int, float, bool, str, tuples)."""
    origin = typing.get_origin(kind)
    if origin is tuple:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} must be a list, got {value!r}")
        args = typing.get_args(kind)
        inner = args[0] if args else float
        return tuple(_coerce(v, inner, name) for v in value)
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {value!r}")
        return value
    return value


def _build_section(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{prefix} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    reject_unknown_fields(cls, data, prefix)
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def _data_from(data: Any) -> DataConfig:
    if isinstance(data, DataConfig):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"data must be a mapping, got {data!r}")
    try:
        return DataConfig.from_dict(data)
    except ValueError as err:
        hint = " (command line: --data-root DIR or --low-dir DIR --normal-dir DIR)" if "needs data.root" in str(err) else ""
        raise ValueError(f"{err}{hint}") from None


def _model_from_dict(data: Mapping[str, Any]) -> UPTFlowConfig:
    """``{"preset": NAME, **overrides}`` or a full/partial UPTFlowConfig dict (defaults = paper)."""
    data = dict(data)
    base = get_preset(data.pop("preset")) if "preset" in data else UPTFlowConfig()
    merged = {**base.to_dict(), **data}
    try:
        return UPTFlowConfig.from_dict(merged)
    except TypeError as err:
        raise ValueError(f"model: {err}") from None


# ---------------------------------------------------------------------------------------------
# YAML files, presets, overrides
# ---------------------------------------------------------------------------------------------
def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; one-line errors for missing / malformed files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a training config must be a YAML mapping, got {type(data).__name__}")
    return data


def preset_names() -> list[str]:
    """Names of the packaged run presets (``uptflow/configs/*.yaml``)."""
    folder = resources.files("uptflow") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_dict(name: str) -> dict[str, Any]:
    """The packaged preset ``name`` as a plain (unvalidated) dict."""
    names = preset_names()
    if name not in names:
        raise ValueError(f"unknown training preset {name!r}; choose one of: {', '.join(names)}")
    text = (resources.files("uptflow") / "configs" / f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: mappings merge, everything else replaces (inputs untouched)."""
    out = copy.deepcopy(dict(base))
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_set(text: str) -> tuple[str, Any]:
    """``"train.iters=40"`` -> ``("train.iters", 40)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ValueError(f"--set expects KEY=VALUE (e.g. train.iters=40), got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ValueError(f"--set: bad key {key!r} in {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_override(config: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Set dotted ``key`` in a config dict (a ``model`` preset name is expanded first)."""
    out = copy.deepcopy(dict(config))
    parts = key.split(".")
    if parts[0] == "model" and len(parts) > 1 and isinstance(out.get("model", "paper"), str):
        out["model"] = get_preset(out.get("model", "paper")).to_dict() if out.get("model", "paper") in presets \
            else out.get("model")
        if not isinstance(out["model"], dict):
            raise ValueError(f"unknown model preset {config.get('model')!r}")
    node = out
    for p in parts[:-1]:
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, dict):
            raise ValueError(f"--set {key}: {p!r} is not a section")
        node = nxt
    node[parts[-1]] = value
    return out
