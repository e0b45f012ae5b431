"""The architecture of a checkpoint from its tensors' names and shapes.

The authors' files record no configuration, so width, window, K, L, plain steps, depths, heads
and coupling width are read off the shapes.  The same inference checks a file that *does* record
a config: the recorded config must describe the tensors that are actually there
(:func:`uptflow.checkpoints.bounds.check_tensors_match`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from uptflow.checkpoints.bounds import check_config_bounds
from uptflow.checkpoints.errors import CheckpointError
from uptflow.checkpoints.keys import count_indexed, official_key_to_ours, our_key_to_official
from uptflow.config import UPTFlowConfig

__all__ = ["infer_config", "official_view", "check_tensors_match", "from_official"]


def infer_config(sd: Mapping[str, torch.Tensor], quantization: int = 32) -> UPTFlowConfig:
    """Infer the architecture from an authors'-format state dict (tensor shapes, layer counts).

    Raises :class:`CheckpointError` when a needed tensor is missing or malformed, or when the
    shapes describe an architecture outside :data:`uptflow.checkpoints.bounds.CONFIG_BOUNDS`.
    """
    def shape(key: str) -> tuple[int, ...]:
        if key not in sd:
            raise CheckpointError(f"not an UPT-Flow checkpoint: missing {key!r}")
        dims = tuple(sd[key].shape)
        if len(dims) < 2 or min(dims) < 1:  # every tensor read here is a >= 2-d weight
            raise CheckpointError(f"not an UPT-Flow checkpoint: {key} has shape {dims}")
        return dims

    width = shape("RRDB.patch_embed.proj.weight")[0]
    table = shape("RRDB.encoderlayer_1.blocks.0.attn.relative_position_bias_table")[0]
    window = (int(round(table ** 0.5)) + 1) // 2
    depth = count_indexed(sd, "RRDB.encoder_level1.")
    refine = count_indexed(sd, "RRDB.refinement.")
    heads_r = tuple(shape(f"RRDB.{n}.0.attn.temperature")[0]
                    for n in ("encoder_level1", "encoder_level2", "encoder_level3", "latent"))
    heads_u = tuple(shape(f"RRDB.{n}.blocks.0.attn.relative_position_bias_table")[1]
                    for n in ("encoderlayer_1", "encoderlayer_2", "encoderlayer_3", "bottlen",
                              "decoderlayer_1", "decoderlayer_2", "decoderlayer_3"))
    ffn_hidden = shape("RRDB.encoder_level1.0.ffn.project_in.weight")[0] // 2
    mlp_hidden = shape("RRDB.encoderlayer_1.blocks.0.mlp.conv1.weight")[0]
    n_layers = count_indexed(sd, "flowUpsamplerNet.layers.")
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
    if min(levels, per_level_coupled, ffn_hidden, mlp_hidden // width, hidden // reduced) < 1 or plain < 0:
        raise CheckpointError("not an UPT-Flow checkpoint: its flow layers or feed-forward widths do not add up")
    expansion = _ffn_expansion(width, ffn_hidden)
    try:
        cfg = UPTFlowConfig(width=width, window=window, flow_steps=per_level_coupled, levels=levels,
                             plain_steps=plain, coupling_hidden=hidden, quantization=quantization,
                             encoder_depth=depth, refine_depth=refine, heads_r=heads_r, heads_u=heads_u,
                             ffn_expansion=expansion, mlp_ratio=mlp_hidden // width,
                             cbam_reduction=hidden // reduced)
    except ValueError as err:
        raise CheckpointError(f"not a supported UPT-Flow architecture: {err}") from None
    check_config_bounds(cfg, "the tensors' shapes")
    return cfg


def _ffn_expansion(width: int, hidden: int) -> float:
    """The expansion factor that gives ``int(width * e) == hidden`` (2.66 for the paper)."""
    if int(width * 2.66) == hidden:
        return 2.66
    return (hidden + 0.5) / width


def official_view(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our-keyed ``sd`` seen with the authors' names, for shape-based inference."""
    # Our keys: map with a provisional config whose flow layout is read from our own names.
    plain = count_indexed(sd, "flow.levels.0.plain.")
    steps = count_indexed(sd, "flow.levels.0.steps.")
    levels = count_indexed(sd, "flow.levels.")
    cfg = _LayoutOnly(plain, steps, levels)
    out = {}
    for k, v in sd.items():
        try:
            name = our_key_to_official(k, cfg)  # type: ignore[arg-type]
        except KeyError:
            raise CheckpointError(f"unexpected key for UPT-Flow: {k}") from None
        if name is not None:
            out[name] = v
    return out


class _LayoutOnly:
    """Just enough of a config for key mapping (flow layer numbering)."""

    def __init__(self, plain_steps: int, flow_steps: int, levels: int) -> None:
        self.plain_steps, self.flow_steps, self.levels = plain_steps, flow_steps, levels


def check_tensors_match(cfg: UPTFlowConfig, sd: Mapping[str, torch.Tensor], where: str) -> None:
    """Refuse ``cfg`` unless the tensors in ``sd`` (the authors' names) are for that architecture.

    Everything that shapes can tell is compared (all fields but the quantisation ``q``; the
    feed-forward expansion through the hidden width it gives), without building a model.
    """
    try:
        found = infer_config(sd, quantization=cfg.quantization)
    except CheckpointError as err:
        raise CheckpointError(f"{where}: its tensors do not form the model its config describes ({err})") from None
    diffs = [f"{name}={getattr(cfg, name)} but the tensors are for {getattr(found, name)}"
             for name in ("width", "window", "flow_steps", "levels", "plain_steps", "coupling_hidden",
                          "encoder_depth", "refine_depth", "heads_r", "heads_u", "mlp_ratio", "cbam_reduction")
             if getattr(cfg, name) != getattr(found, name)]
    if int(cfg.width * cfg.ffn_expansion) != int(found.width * found.ffn_expansion):
        diffs.append(f"ffn_expansion={cfg.ffn_expansion} does not give the tensors' feed-forward width")
    if diffs:
        more = f" (+{len(diffs) - 2} more)" if len(diffs) > 2 else ""
        raise CheckpointError(f"{where}: its config says {'; '.join(diffs[:2])}{more}")


def from_official(sd: Mapping[str, torch.Tensor], config: UPTFlowConfig | None = None) -> dict[str, torch.Tensor]:
    """Rename an authors'-format state dict to our keys (raises CheckpointError on unknown keys)."""
    if config is None:
        config = infer_config(sd)
    cfg = config
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
