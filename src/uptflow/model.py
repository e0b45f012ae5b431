"""UPTFlow: the MSFormer encoder plus the conditional flow, with the likelihood and enhancement.

Direction names: ``encode`` maps a normal-light image to the latent z (the flow's forward),
``decode`` maps z back (the inverse); both are conditioned on the low-light image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from uptflow.config import UPTFlowConfig, get_preset
from uptflow.flows.base import without_logdet
from uptflow.flows.conditional_flow import ConditionalFlow
from uptflow.inference.options import check_temperature
from uptflow.nets.msformer import MSFormer
from uptflow.nets.precision import run_encoder
from uptflow.prior import up_map
from uptflow.validation import check_image, check_same_size


class UPTFlow(nn.Module):
    """UPT-Flow (Xu et al., Pattern Recognition 158, 2025).

    All images are (B, 3, H, W) floats in [0, 1].  ``encode``/``decode``/``nll`` need H and W to
    be multiples of ``config.size_multiple`` (8); ``enhance`` accepts any size >= 1x1.
    """

    def __init__(self, config: UPTFlowConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else UPTFlowConfig()
        self.encoder = MSFormer(self.config)
        self.flow = ConditionalFlow(self.config)

    @classmethod
    def from_preset(cls, name: str) -> "UPTFlow":
        """A randomly initialised model of the named preset (see :data:`uptflow.presets`)."""
        return cls(get_preset(name))

    # -- conditioning -------------------------------------------------------------------------
    def condition(self, low: torch.Tensor) -> list[torch.Tensor]:
        """Conditioning maps for the three flow levels: (B, 6C, H/2^l, W/2^l), l = 1, 2, 3.

        The encoder runs in the precision :func:`uptflow.nets.precision.encoder_precision` set
        for this context (float32 by default); the maps are returned in ``low``'s dtype.
        """
        return run_encoder(self.encoder, low, up_map(low))

    def _check_low(self, low: torch.Tensor) -> torch.Tensor:
        return check_image(low, "low", multiple=self.config.size_multiple)

    # -- flow directions ----------------------------------------------------------------------
    def encode(self, normal: torch.Tensor, low: torch.Tensor,
               contexts: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normal-light image -> latent, no dequantisation.

        Returns ``z`` (B, 192, H/8, W/8) and ``logdet`` [B] = sum of log|det J| of all flow layers.
        ``contexts`` may be passed to reuse a conditioning computed by :meth:`condition`.
        """
        check_image(normal, "normal", multiple=self.config.size_multiple)
        if contexts is None:
            self._check_low(low)
            check_same_size(normal, low, "normal", "low")
            contexts = self.condition(low)
        return self.flow(normal, contexts)

    def decode(self, z: torch.Tensor, low: torch.Tensor,
               contexts: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Latent (B, 192, H/8, W/8) -> image (B, 3, H, W); not clamped."""
        with without_logdet():  # the image only: the log-det terms are not computed
            return self.decode_with_logdet(z, low, contexts)[0]

    def decode_with_logdet(self, z: torch.Tensor, low: torch.Tensor,
                           contexts: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`decode`, also returning the inverse log-det [B] (exactly minus encode's)."""
        if contexts is None:
            self._check_low(low)
            contexts = self.condition(low)
        self._check_latent(z, contexts[-1])
        return self.flow.inverse(z, contexts)

    def latent_shape(self, low: torch.Tensor) -> tuple[int, int, int, int]:
        """Shape of the latent for ``low`` (B, 3, H, W): (B, 192, ceil(H/8), ceil(W/8)), i.e. the
        latent of ``low`` padded to a multiple of 8 (as :meth:`enhance` pads it)."""
        s = self.config.size_multiple
        return (low.shape[0], self.config.latent_channels, -(-low.shape[2] // s), -(-low.shape[3] // s))

    def _check_latent(self, z: object, deepest: torch.Tensor) -> None:
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
        want = (deepest.shape[0], self.config.latent_channels, *deepest.shape[2:])
        if tuple(z.shape) != want:
            raise ValueError(f"z must have shape {want} for this low-light image, got {tuple(z.shape)}")

    # -- likelihood ---------------------------------------------------------------------------
    def nll(self, normal: torch.Tensor, low: torch.Tensor, generator: torch.Generator | None = None,
            dequantize: bool = True) -> torch.Tensor:
        """Negative log-likelihood of ``normal`` given ``low`` in bits per dimension, [B].

        ``-(logdet + log N(z; 0, I) - D ln q) / (D ln 2)`` with ``D = 3 H W`` and uniform
        dequantisation noise U(-1/2, 1/2)/q added to ``normal`` (q = ``config.quantization``).
        The authors' code reports per *pixel* with a 1-channel dequantisation term instead:
        ``authors = 3 * ours - 2 log2(q)`` (same minimiser).
        """
        check_image(normal, "normal", multiple=self.config.size_multiple)
        q = self.config.quantization
        if dequantize:
            noise = torch.rand(normal.shape, generator=generator, device=normal.device, dtype=normal.dtype)
            normal = normal + (noise - 0.5) / q
        z, logdet = self.encode(normal, low)
        return bits_per_dim(z, logdet, normal[0].numel(), q)

    # -- enhancement --------------------------------------------------------------------------
    def sample_latent(self, low: torch.Tensor, temperature: float = 0.0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, temperature^2 I) shaped for ``low`` (zeros at temperature 0)."""
        shape = self.latent_shape(low)
        if temperature == 0:
            return low.new_zeros(shape)
        device = generator.device if generator is not None else low.device
        z = torch.randn(shape, generator=generator, device=device, dtype=low.dtype)
        return z.to(low.device) * temperature

    def enhance(self, low: torch.Tensor, temperature: float = 0.0,
                generator: torch.Generator | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
        """Enhance a low-light image of any size: (B, 3, H, W) in [0, 1] -> same shape, clamped.

        The image is reflect-padded bottom/right to a multiple of 8 (the UP map is computed on the
        padded image, as the authors do), decoded from a latent and cropped back.  The latent is
        ``z`` if given — (B, 192, ceil(H/8), ceil(W/8)), see :meth:`latent_shape`; callers that
        enhance parts of a larger picture (tiles, video frames) pass their crop of one shared
        draw — else z ~ N(0, t^2 I) drawn with ``generator`` (z = 0 at the default t = 0).
        """
        check_image(low, "low")
        if z is not None and (temperature != 0 or generator is not None):
            raise ValueError("pass either an explicit latent z or temperature/generator, not both")
        check_temperature(temperature)
        h, w = low.shape[-2:]
        padded = pad_to_multiple(low, self.config.size_multiple)
        with torch.no_grad():
            contexts = self.condition(padded)
            if z is None:
                z = self.sample_latent(padded, temperature, generator)
            else:
                self._check_latent(z, contexts[-1])
            with without_logdet():
                out, _ = self.flow.inverse(z, contexts)
        return out[..., :h, :w].clamp(0.0, 1.0)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def standard_normal_logp(z: torch.Tensor) -> torch.Tensor:
    """Sum over all but the batch axis of log N(z; 0, 1); [B]."""
    return (-0.5 * (z.pow(2) + math.log(2 * math.pi))).flatten(1).sum(dim=1)


def bits_per_dim(z: torch.Tensor, logdet: torch.Tensor, dims: int, quantization: int) -> torch.Tensor:
    """``-(logdet + log N(z; 0, I) - D ln q) / (D ln 2)`` per sample, [B], in the dtype of ``z``.

    ``dims`` = D, the dimensions of one image (3 H W); ``-D ln q`` is the change of variables of
    the uniform dequantisation noise U(-1/2, 1/2)/q.
    """
    objective = logdet + standard_normal_logp(z) - dims * math.log(quantization)
    return -objective / (dims * math.log(2.0))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad (B, C, H, W) at the bottom/right to multiples of ``multiple``.

    Reflection needs the pad to be smaller than the side; for tiny images the pad is applied in
    rounds (reflecting the already padded image), and a 1-pixel side is replicated.
    """
    pad_h = (-x.shape[-2]) % multiple
    pad_w = (-x.shape[-1]) % multiple
    while pad_h or pad_w:
        h, w = x.shape[-2:]
        step_h = min(pad_h, h - 1) if h > 1 else pad_h
        step_w = min(pad_w, w - 1) if w > 1 else pad_w
        mode = "reflect" if (h > 1 or step_h == 0) and (w > 1 or step_w == 0) else "replicate"
        x = F.pad(x, (0, step_w, 0, step_h), mode=mode)
        pad_h -= step_h
        pad_w -= step_w
    return x
