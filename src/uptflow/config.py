"""Typed, frozen configuration of the UPT-Flow network, and the named presets.

The paper network (Xu et al., 2025) is ``UPTFlowConfig()`` with ``window=5`` for LOL data
(preset ``paper-lol``) and ``window=8`` otherwise (preset ``paper``).  Every other preset is the
same architecture with fewer channels / steps, so the same code path, loader and tests apply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class UPTFlowConfig:
    """Hyper-parameters of encoder and flow.

    Attributes:
        width: encoder width ``C``; the conditioning has ``6C`` channels.
        window: window size of the UP-guided window attention (5 for LOL, 8 otherwise).
        flow_steps: ``K``, coupling steps per flow level.
        levels: ``L``, flow levels; the encoder provides exactly three conditioning scales.
        plain_steps: ActNorm + 1x1-conv steps (no coupling) after each squeeze.
        coupling_hidden: hidden channels of the coupling sub-networks.
        quantization: number of intensity levels ``q`` assumed by the likelihood (dequantisation).
        encoder_depth: transformer blocks per branch and level of MSFormer.
        refine_depth: Restormer blocks of the final refinement stage.
        heads_r: heads of the Restormer branch at encoder levels 1..4 (decoders reuse them).
        heads_u: heads of the window-attention branch, in order enc1, enc2, enc3, bottleneck,
            dec3, dec2, dec1.
        ffn_expansion: expansion of the gated depth-wise feed-forward (``int(2.66 C)`` hidden).
        mlp_ratio: expansion of the window branch's feed-forward.
        cbam_reduction: channel-gate reduction of the CBAM inside each coupling network.
    """

    width: int = 48
    window: int = 8
    flow_steps: int = 8
    levels: int = 3
    plain_steps: int = 2
    coupling_hidden: int = 64
    quantization: int = 32
    encoder_depth: int = 2
    refine_depth: int = 2
    heads_r: tuple[int, int, int, int] = (2, 2, 4, 8)
    heads_u: tuple[int, int, int, int, int, int, int] = (1, 2, 4, 8, 8, 4, 2)
    ffn_expansion: float = 2.66
    mlp_ratio: int = 4
    cbam_reduction: int = 16

    def __post_init__(self) -> None:
        # Tuples may arrive as lists from YAML/JSON; normalise so the config stays hashable.
        object.__setattr__(self, "heads_r", tuple(int(h) for h in self.heads_r))
        object.__setattr__(self, "heads_u", tuple(int(h) for h in self.heads_u))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent field."""
        positive = ("width", "window", "flow_steps", "coupling_hidden", "quantization",
                    "encoder_depth", "mlp_ratio", "cbam_reduction")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"config field {name!r} must be >= 1, got {getattr(self, name)}")
        if self.plain_steps < 0 or self.refine_depth < 0:
            raise ValueError("plain_steps and refine_depth must be >= 0")
        if self.levels != 3:
            raise ValueError(f"UPT-Flow has exactly 3 flow levels (the encoder gives 3 scales), got levels={self.levels}")
        if len(self.heads_r) != 4 or len(self.heads_u) != 7:
            raise ValueError("heads_r needs 4 entries and heads_u 7 entries")
        c = self.width
        r_dims = (c, 2 * c, 4 * c, 8 * c)
        for dim, heads in zip(r_dims, self.heads_r):
            if dim % heads:
                raise ValueError(f"Restormer heads {heads} do not divide {dim} channels (width={c})")
        u_dims = (c, 2 * c, 4 * c, 8 * c, 4 * c, 4 * c, 2 * c)
        for dim, heads in zip(u_dims, self.heads_u):
            if dim % heads:
                raise ValueError(f"window-attention heads {heads} do not divide {dim} channels (width={c})")
        if self.coupling_hidden // self.cbam_reduction < 1:
            raise ValueError("coupling_hidden // cbam_reduction must be >= 1")

    @property
    def cond_channels(self) -> int:
        """Channels of each conditioning map: ``4C`` decoder features + ``2C`` resized ``cat_f``."""
        return 6 * self.width

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this (one squeeze per level)."""
        return 2 ** self.levels

    @property
    def latent_channels(self) -> int:
        return 3 * 4 ** self.levels

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["heads_r"] = list(self.heads_r)
        d["heads_u"] = list(self.heads_u)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UPTFlowConfig":
        reject_unknown_fields(cls, data, "model config")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> "UPTFlowConfig":
        return dataclasses.replace(self, **changes)


def reject_unknown_fields(cls: type, data: Mapping[str, Any], what: str) -> None:
    """Raise ``ValueError`` naming every key of ``data`` that is not a field of dataclass ``cls``.

    A typo in a YAML config must fail loudly, not silently fall back to a default.
    """
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} field(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")


#: Named presets. ``paper*`` are the authors' network (23.4 M parameters); ``small`` is the
#: CPU-sized model the bundled weights use; ``tiny`` exists for tests and smoke runs.
presets: dict[str, UPTFlowConfig] = {
    "paper-lol": UPTFlowConfig(window=5),
    "paper": UPTFlowConfig(window=8),
    "small": UPTFlowConfig(width=16, window=8, flow_steps=3, coupling_hidden=32,
                           encoder_depth=1, refine_depth=1),
    "tiny": UPTFlowConfig(width=8, window=4, flow_steps=2, plain_steps=1, coupling_hidden=16,
                          encoder_depth=1, refine_depth=1, heads_r=(1, 1, 2, 2),
                          heads_u=(1, 1, 2, 2, 2, 2, 1), cbam_reduction=4),
}


def get_preset(name: str) -> UPTFlowConfig:
    """Return the preset called ``name`` or raise ``ValueError`` listing the valid names."""
    try:
        return presets[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(presets)}") from None
