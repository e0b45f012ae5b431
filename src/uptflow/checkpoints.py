"""Loading and converting checkpoints: ours and the authors' (never executing pickled code).

* Our checkpoints: safetensors with the config as JSON metadata, or a ``torch.save``d dict with
  ``model`` (state dict) and ``config``.
* The authors' checkpoints: a plain state dict with keys ``RRDB.*`` (encoder) and
  ``flowUpsamplerNet.layers.N.*`` (flow), possibly wrapped in ``state_dict`` / ``params`` /
  ``model`` / ``netG`` and prefixed with ``module.``.  Width, window, K, L, plain steps, depths,
  heads and coupling width are inferred from tensor shapes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from uptflow.config import UPTFlowConfig
from uptflow.model import UPTFlow

# Encoder module prefixes: ours -> authors'.
_ENCODER_PREFIXES: tuple[tuple[str, str], ...] = (
    ("embed.", "patch_embed.proj."),
    ("r1.", "encoder_level1."), ("u1.", "encoderlayer_1."),
    ("down12.", "down1_2."),
    ("r2.", "encoder_level2."), ("u2.", "encoderlayer_2."),
    ("down23.", "down2_3."),
    ("r3.", "encoder_level3."), ("u3.", "encoderlayer_3."),
    ("down34.", "down3_4."),
    ("r4.", "latent."), ("u4.", "bottlen."),
    ("reduce0.", "reduce_chan_level0."),
    ("up43.", "up4_3."), ("reduce3.", "reduce_chan_level3."),
    ("r5.", "decoder_level3."), ("u5.", "decoderlayer_1."),
    ("up32.", "up3_2."), ("reduce2.", "reduce_chan_level2."),
    ("r6.", "decoder_level2."), ("u6.", "decoderlayer_2."),
    ("up21.", "up2_1."), ("reduce1.", "reduce_chan_level1."),
    ("r7.", "decoder_level1."), ("u7.", "decoderlayer_3."),
    ("refine.", "refinement."),
)
# Renames inside a coupling layer: ours -> authors'.
_COUPLING_NAMES = (("nn_f1.net.", "fFeatures_1.model."), ("nn_a1.net.", "fAffine_1.model."),
                   ("nn_f2.net.", "fFeatures_2.model."), ("nn_a2.net.", "fAffine_2.model."))
_CBAM_NAMES = ((".channel_gate.", ".ChannelGate."), (".spatial_gate.conv.", ".SpatialGate.spatial.conv."))
_WRAPPERS = ("state_dict", "params_ema", "params", "model", "netG", "network", "net")


class CheckpointError(ValueError):
    """A file or mapping that is not a usable UPT-Flow checkpoint (one-line message)."""


# ---------------------------------------------------------------------------------------------
# key mapping
# ---------------------------------------------------------------------------------------------
def _replace_prefix(key: str, table, reverse: bool = False) -> str | None:
    for ours, theirs in table:
        src, dst = (theirs, ours) if reverse else (ours, theirs)
        if key.startswith(src):
            return dst + key[len(src):]
    return None


def _rename_inside(key: str, table, reverse: bool = False) -> str:
    for ours, theirs in table:
        src, dst = (theirs, ours) if reverse else (ours, theirs)
        key = key.replace(src, dst)
    return key


def _flow_layer_index(level: int, kind: str, j: int, cfg: UPTFlowConfig) -> int:
    """The authors' ``flowUpsamplerNet.layers`` index of step ``j`` of ``kind`` ("plain"/"steps").

    Each level lists its squeeze (index ``base``, no parameters), its plain steps, then its
    coupling steps.
    """
    base = level * (1 + cfg.plain_steps + cfg.flow_steps)
    return base + 1 + j if kind == "plain" else base + 1 + cfg.plain_steps + j


def our_key_to_official(key: str, cfg: UPTFlowConfig) -> str | None:
    """Map one of our state-dict keys to the authors' name; None for keys they do not store."""
    if key.endswith(".initialized"):
        return None
    if key.startswith("encoder."):
        rest = key[len("encoder."):]
        mapped = _replace_prefix(rest, _ENCODER_PREFIXES)
        if mapped is None:
            raise KeyError(key)
        return "RRDB." + mapped
    m = re.match(r"flow\.levels\.(\d+)\.(plain|steps)\.(\d+)\.(.*)$", key)
    if m is None:
        raise KeyError(key)
    level, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
    idx = _flow_layer_index(level, kind, j, cfg)
    if rest.startswith("coupling."):
        rest = "affine." + _rename_inside(_replace_prefix(rest[len("coupling."):], _COUPLING_NAMES), _CBAM_NAMES)
    return f"flowUpsamplerNet.layers.{idx}.{rest}"


def official_key_to_ours(key: str, cfg: UPTFlowConfig) -> str:
    """Inverse of :func:`our_key_to_official`; raises ``KeyError`` for unknown keys."""
    if key.startswith("RRDB."):
        mapped = _replace_prefix(key[len("RRDB."):], _ENCODER_PREFIXES, reverse=True)
        if mapped is None:
            raise KeyError(key)
        return "encoder." + mapped
    m = re.match(r"flowUpsamplerNet\.layers\.(\d+)\.(.*)$", key)
    if m is None:
        raise KeyError(key)
    idx, rest = int(m[1]), m[2]
    per_level = 1 + cfg.plain_steps + cfg.flow_steps
    level, offset = divmod(idx, per_level)
    if offset == 0 or level >= cfg.levels:
        raise KeyError(key)
    if offset <= cfg.plain_steps:
        prefix = f"flow.levels.{level}.plain.{offset - 1}."
    else:
        prefix = f"flow.levels.{level}.steps.{offset - 1 - cfg.plain_steps}."
    if rest.startswith("affine."):
        inner = _replace_prefix(_rename_inside(rest[len("affine."):], _CBAM_NAMES, reverse=True),
                                _COUPLING_NAMES, reverse=True)
        if inner is None:
            raise KeyError(key)
        rest = "coupling." + inner
    return prefix + rest


# The authors' module registration order (their state dicts list keys in this order).
_OFFICIAL_MODULE_ORDER = (
    "patch_embed", "encoder_level1", "down1_2", "encoder_level2", "down2_3", "encoder_level3", "down3_4",
    "latent", "reduce_chan_level0", "up4_3", "reduce_chan_level3", "decoder_level3", "up3_2",
    "reduce_chan_level2", "decoder_level2", "up2_1", "reduce_chan_level1", "decoder_level1", "refinement",
    "encoderlayer_1", "encoderlayer_2", "encoderlayer_3", "bottlen", "decoderlayer_1", "decoderlayer_2",
    "decoderlayer_3",
)
_OFFICIAL_AFFINE_ORDER = ("fAffine_1", "fAffine_2", "fFeatures_1", "fFeatures_2")


def _official_sort_key(item: tuple[int, str]) -> tuple:
    position, key = item
    parts = key.split(".")
    if parts[0] == "RRDB":
        return (0, _OFFICIAL_MODULE_ORDER.index(parts[1]), position)
    sub = parts[4] if len(parts) > 4 and parts[3] == "affine" else ""
    rank = _OFFICIAL_AFFINE_ORDER.index(sub) + 1 if sub else 0
    return (1, int(parts[2]), rank, position)


def to_official(model: UPTFlow) -> dict[str, torch.Tensor]:
    """Our model's state dict with the authors' key names, in their order (ActNorm flags dropped)."""
    named = []
    for key, value in model.state_dict().items():
        name = our_key_to_official(key, model.config)
        if name is not None:
            named.append((name, value))
    order = sorted(enumerate(n for n, _ in named), key=_official_sort_key)
    return {named[i][0]: named[i][1] for i, _ in order}


# ---------------------------------------------------------------------------------------------
# hyper-parameter inference
# ---------------------------------------------------------------------------------------------
def _count_indexed(sd: Mapping[str, torch.Tensor], prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    idx = {int(m[1]) for k in sd if (m := pat.match(k))}
    return max(idx) + 1 if idx else 0


def infer_config(sd: Mapping[str, torch.Tensor], quantization: int = 32) -> UPTFlowConfig:
    """Infer the architecture from an authors'-format state dict (tensor shapes, layer counts)."""
    def shape(key: str) -> tuple[int, ...]:
        if key not in sd:
            raise CheckpointError(f"not an UPT-Flow checkpoint: missing {key!r}")
        return tuple(sd[key].shape)

    width = shape("RRDB.patch_embed.proj.weight")[0]
    table = shape("RRDB.encoderlayer_1.blocks.0.attn.relative_position_bias_table")[0]
    window = (int(round(table ** 0.5)) + 1) // 2
    depth = _count_indexed(sd, "RRDB.encoder_level1.")
    refine = _count_indexed(sd, "RRDB.refinement.")
    heads_r = tuple(shape(f"RRDB.{n}.0.attn.temperature")[0]
                    for n in ("encoder_level1", "encoder_level2", "encoder_level3", "latent"))
    heads_u = tuple(shape(f"RRDB.{n}.blocks.0.attn.relative_position_bias_table")[1]
                    for n in ("encoderlayer_1", "encoderlayer_2", "encoderlayer_3", "bottlen",
                              "decoderlayer_1", "decoderlayer_2", "decoderlayer_3"))
    ffn_hidden = shape("RRDB.encoder_level1.0.ffn.project_in.weight")[0] // 2
    mlp_hidden = shape("RRDB.encoderlayer_1.blocks.0.mlp.conv1.weight")[0]
    n_layers = _count_indexed(sd, "flowUpsamplerNet.layers.")
    coupled = sorted({int(m[1]) for k in sd if (m := re.match(r"flowUpsamplerNet\.layers\.(\d+)\.affine\.", k))})
    flowed = sorted({int(m[1]) for k in sd if (m := re.match(r"flowUpsamplerNet\.layers\.(\d+)\.actnorm\.", k))})
    if not coupled:
        raise CheckpointError("not an UPT-Flow checkpoint: no coupling layers (flowUpsamplerNet.layers.N.affine.*)")
    levels = n_layers - len(flowed)  # one squeeze (no parameters) per level
    per_level_coupled = len(coupled) // max(levels, 1)
    plain = (len(flowed) - len(coupled)) // max(levels, 1)
    first = coupled[0]
    hidden = shape(f"flowUpsamplerNet.layers.{first}.affine.fFeatures_1.model.0.weight")[0]
    reduced = shape(f"flowUpsamplerNet.layers.{first}.affine.fFeatures_1.model.4.ChannelGate.mlp.1.weight")[0]
    expansion = _ffn_expansion(width, ffn_hidden)
    try:
        return UPTFlowConfig(width=width, window=window, flow_steps=per_level_coupled, levels=levels,
                             plain_steps=plain, coupling_hidden=hidden, quantization=quantization,
                             encoder_depth=depth, refine_depth=refine, heads_r=heads_r, heads_u=heads_u,
                             ffn_expansion=expansion, mlp_ratio=mlp_hidden // width,
                             cbam_reduction=hidden // reduced)
    except ValueError as err:
        raise CheckpointError(f"not a supported UPT-Flow architecture: {err}") from None


def _ffn_expansion(width: int, hidden: int) -> float:
    """The expansion factor that gives ``int(width * e) == hidden`` (2.66 for the paper)."""
    if int(width * 2.66) == hidden:
        return 2.66
    return (hidden + 0.5) / width


# ---------------------------------------------------------------------------------------------
# reading files
# ---------------------------------------------------------------------------------------------
def _read_file(path: Path, map_location) -> tuple[Mapping[str, Any], dict[str, str]]:
    """Return (object, safetensors metadata) without executing pickled code."""
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes), not a checkpoint")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if path.suffix == ".safetensors" or (len(head) >= 9 and head[8:9] == b"{"):
        try:
            from safetensors import safe_open
            device = str(map_location) if isinstance(map_location, (str, torch.device)) else "cpu"
            with safe_open(str(path), framework="pt", device=device) as f:
                meta = dict(f.metadata() or {})
                return {k: f.get_tensor(k) for k in f.keys()}, meta
        except Exception as err:  # safetensors raises several private error types
            raise CheckpointError(f"{path} is not a valid safetensors checkpoint ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    try:
        obj = torch.load(str(path), map_location=map_location or "cpu", weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path} is not a loadable checkpoint (only safetensors and weights-only torch files are "
                              f"accepted; pickled code is never executed): {first[:200]}") from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict")
    return obj, {}


def _unwrap(obj: Mapping[str, Any]) -> tuple[Mapping[str, torch.Tensor], dict | None]:
    """Peel wrapper dicts off; return (state dict, our config dict if recorded)."""
    config = None
    for _ in range(4):
        recorded = obj.get("config")
        if isinstance(recorded, Mapping):
            # Training checkpoints record the whole run config with the model under "model".
            config = recorded["model"] if isinstance(recorded.get("model"), Mapping) else recorded
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is None or all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        obj = inner
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError("no tensors found: not a state dict")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors, config


def _is_official(sd: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith(("RRDB.", "flowUpsamplerNet.")) for k in sd)


def _is_ours(sd: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith("encoder.") for k in sd) and any(k.startswith("flow.") for k in sd)


def from_official(sd: Mapping[str, torch.Tensor], config: UPTFlowConfig | None = None) -> dict[str, torch.Tensor]:
    """Rename an authors'-format state dict to our keys (raises CheckpointError on unknown keys)."""
    cfg = config or infer_config(sd)
    out = {}
    unknown = []
    for key, value in sd.items():
        try:
            out[official_key_to_ours(key, cfg)] = value
        except KeyError:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"unexpected keys for UPT-Flow: {', '.join(unknown[:5])}"
                              + (f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else ""))
    return out


def load_model(source: str | os.PathLike | Mapping[str, Any], map_location=None,
               config: UPTFlowConfig | None = None) -> UPTFlow:
    """Build an :class:`UPTFlow` from a checkpoint path or an in-memory state dict.

    Accepts our safetensors / training checkpoints and the authors' state dicts (any of the
    usual wrappers, ``module.`` prefixes).  The architecture comes from the recorded config or,
    failing that, from tensor shapes.  Every ActNorm is marked initialised.  Returns the model in
    eval mode, on ``map_location`` (default CPU), float32.

    Raises ``FileNotFoundError`` for a missing path and :class:`CheckpointError` (a
    ``ValueError``) for anything that is not a UPT-Flow checkpoint.
    """
    meta: dict[str, str] = {}
    if isinstance(source, (str, os.PathLike)):
        obj, meta = _read_file(Path(source), map_location)
        where = str(source)
    elif isinstance(source, Mapping):
        obj, where = source, "state dict"
    else:
        raise TypeError(f"load_model expects a path or a state dict, got {type(source).__name__}")
    try:
        sd, recorded = _unwrap(obj)
    except CheckpointError as err:
        raise CheckpointError(f"{where}: {err}") from None
    if config is None and "config" in meta:
        recorded = json.loads(meta["config"])
        recorded = recorded.get("model", recorded)
    if config is None and recorded is not None:
        config = UPTFlowConfig.from_dict(recorded)
    if _is_official(sd):
        config = config or infer_config(sd)
        sd = from_official(sd, config)
    elif _is_ours(sd):
        config = config or infer_config(_official_view(sd))
    else:
        sample = ", ".join(list(sd)[:3])
        raise CheckpointError(f"{where} is not an UPT-Flow checkpoint (keys like {sample})")
    model = UPTFlow(config)
    _load_state(model, sd, where)
    if map_location is not None:
        model.to(map_location)
    return model.eval()


def _official_view(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our-keyed ``sd`` seen with the authors' names, for shape-based inference."""
    # Our keys: map with a provisional config whose flow layout is read from our own names.
    plain = _count_indexed(sd, "flow.levels.0.plain.")
    steps = _count_indexed(sd, "flow.levels.0.steps.")
    levels = _count_indexed(sd, "flow.levels.")
    cfg = _LayoutOnly(plain, steps, levels)
    out = {}
    for k, v in sd.items():
        name = our_key_to_official(k, cfg)  # type: ignore[arg-type]
        if name is not None:
            out[name] = v
    return out


class _LayoutOnly:
    """Just enough of a config for key mapping (flow layer numbering)."""

    def __init__(self, plain_steps: int, flow_steps: int, levels: int) -> None:
        self.plain_steps, self.flow_steps, self.levels = plain_steps, flow_steps, levels


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


def save_model(model: UPTFlow, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``model`` as safetensors with its config (and optional JSON-able metadata)."""
    from safetensors.torch import save_file

    meta = {"format": "uptflow", "config": json.dumps(model.config.to_dict())}
    for k, v in (metadata or {}).items():
        meta[k] = v if isinstance(v, str) else json.dumps(v)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=meta)
    os.replace(tmp, path)


def training_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """What a training checkpoint (``RUN/last.pt`` / ``best.pt``) says about how it was made.

    Returns ``{"iteration", "best", "run_config"}`` (the resolved run config: data, recipe,
    schedule) for our training checkpoints, ``None`` for any other checkpoint.  Read as
    :func:`load_model` reads (no pickled code runs); a missing or unreadable file raises as there.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        return None
    obj, _ = _read_file(path, "cpu")  # the one safe reader; raises CheckpointError for junk
    if obj.get("format") != "uptflow-train":
        return None
    return {"iteration": int(obj.get("iteration", 0)), "best": obj.get("best"),
            "run_config": obj.get("config")}


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON metadata stored in one of our safetensors files (empty dict for others)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    out: dict[str, Any] = {}
    for k, v in meta.items():
        try:
            out[k] = json.loads(v)
        except (json.JSONDecodeError, TypeError):
            out[k] = v
    return out
