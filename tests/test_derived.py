"""derived.cached: one computation per version of the source tensor, none kept while tracing."""

from __future__ import annotations

import torch
from torch import nn

from uptflow import derived


def test_computed_once_per_version_and_after_a_move():
    owner = nn.Linear(3, 2)
    calls = []

    def double(w: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return w * 2

    with torch.no_grad():
        first = derived.cached(owner, "_c", owner.weight, double)
        assert derived.cached(owner, "_c", owner.weight, double) is first and len(calls) == 1
        owner.weight.add_(1.0)  # an optimizer step / load_state_dict: a new version
        assert torch.equal(derived.cached(owner, "_c", owner.weight, double), first + 2.0) and len(calls) == 2
        owner.double()  # new storage and dtype
        assert derived.cached(owner, "_c", owner.weight, double).dtype == torch.float64 and len(calls) == 3


def test_nothing_is_kept_while_tracing(monkeypatch):
    owner = nn.Linear(3, 2)
    monkeypatch.setattr(derived, "tracing", lambda: True)
    with torch.no_grad():
        out = derived.cached(owner, "_c", owner.weight, lambda w: w + 1)
    assert torch.equal(out, owner.weight + 1)
    assert not hasattr(owner, "_c")
