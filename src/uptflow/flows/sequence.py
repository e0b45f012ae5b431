"""A composite transform: a cascade of flow transforms with their log-dets summed.

Every multi-layer flow (a Glow step, a level, the whole conditional flow) is the same thing: run
the parts in order for ``forward`` (data -> latent), in reverse order through their ``inverse``
for ``inverse`` (latent -> data), and add up the per-sample log-dets.  Written once here, the
cascades cannot drift apart (a forgotten term, a wrong order) and a new composite is a list.

The log-dets are accumulated left to right in the order the parts run, starting from the first
part's own log-det, so the float result is bit for bit the sum the hand-written cascades made.
Subclasses keep their parts as named attributes (the checkpoint keys) and only say in which
order they run (:meth:`FlowSequence.parts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from uptflow.flows.base import FlowTransform

__all__ = ["FlowSequence"]

class FlowSequence(FlowTransform):
    """Transforms applied in order; ``forward``/``inverse`` return ``(output, logdet[B])``.

    ``context`` is either one conditioning tensor (or ``None``) handed to every part, or a
    sequence with one entry per part (the conditional flow gives each level its own scale).
    Parts that need no context ignore it.  ``intermediates``, if a list, receives each part's
    output in the order the parts run (forward: first part first; inverse: last part first).
    """

    def parts(self) -> Sequence[FlowTransform]:
        """The transforms in forward order (subclasses list their attributes here)."""
        raise NotImplementedError

    def _contexts(self, parts: Sequence[FlowTransform], context) -> list:
        if isinstance(context, (list, tuple)):
            if len(context) != len(parts):
                raise ValueError(f"{type(self).__name__} has {len(parts)} parts but got {len(context)} contexts")
            return list(context)
        return [context] * len(parts)

    def forward(self, x: torch.Tensor, context=None,
                intermediates: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        parts = list(self.parts())
        logdet: torch.Tensor | None = None
        for part, ctx in zip(parts, self._contexts(parts, context)):
            x, ld = part(x, ctx)
            logdet = ld if logdet is None else logdet + ld
            if intermediates is not None:
                intermediates.append(x)
        return x, (x.new_zeros(x.shape[0]) if logdet is None else logdet)

    def inverse(self, y: torch.Tensor, context=None,
                intermediates: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        parts = list(self.parts())
        logdet: torch.Tensor | None = None
        for part, ctx in zip(reversed(parts), reversed(self._contexts(parts, context))):
            y, ld = part.inverse(y, ctx)
            logdet = ld if logdet is None else logdet + ld
            if intermediates is not None:
                intermediates.append(y)
        return y, (y.new_zeros(y.shape[0]) if logdet is None else logdet)
