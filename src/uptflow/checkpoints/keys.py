"""The authors' state-dict key names <-> ours (both directions, and their key order).

The authors' checkpoints name the encoder ``RRDB.<module>.*`` (with their module names) and the
flow ``flowUpsamplerNet.layers.N.*`` with one flat index over all levels (each level: its
squeeze, its plain steps, its coupling steps).  The tables below are the whole mapping; nothing
else in uptflow knows the authors' names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from uptflow.config import UPTFlowConfig
    from uptflow.model import UPTFlow

__all__ = ["our_key_to_official", "official_key_to_ours", "to_official", "count_indexed",
           "is_official", "is_ours"]

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


def count_indexed(sd: Mapping[str, object], prefix: str) -> int:
    """``1 + the largest N`` among keys ``PREFIX N.*`` (0 when there is none)."""
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    idx = {int(m[1]) for k in sd if (m := pat.match(k))}
    return max(idx) + 1 if idx else 0


def is_official(sd: Mapping[str, object]) -> bool:
    """Keys in the authors' naming."""
    return any(k.startswith(("RRDB.", "flowUpsamplerNet.")) for k in sd)


def is_ours(sd: Mapping[str, object]) -> bool:
    """Keys in our naming."""
    return any(k.startswith("encoder.") for k in sd) and any(k.startswith("flow.") for k in sd)
