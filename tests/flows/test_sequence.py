"""FlowSequence: parts run in order forward and in reverse for the inverse, log-dets summed."""

from __future__ import annotations

import pytest
import torch

from flow_checks import assert_invertible, brute_force_logdet
from uptflow.flows.base import FlowTransform
from uptflow.flows.sequence import FlowSequence

D = torch.float64


class Affine(FlowTransform):
    """y = a x + b (+ context); log-det = H W C log|a|.  Records the calls it gets."""

    def __init__(self, a: float, b: float, calls: list) -> None:
        super().__init__()
        self.a, self.b, self.calls = a, b, calls

    def _logdet(self, x):
        return torch.full((x.shape[0],), x[0].numel() * torch.log(torch.tensor(abs(self.a))).item(), dtype=x.dtype)

    def forward(self, x, context=None):
        self.calls.append(("fwd", self.a, context))
        shift = 0.0 if context is None else context
        return self.a * x + self.b + shift, self._logdet(x)

    def inverse(self, y, context=None):
        self.calls.append(("inv", self.a, context))
        shift = 0.0 if context is None else context
        return (y - self.b - shift) / self.a, -self._logdet(y)


class Chain(FlowSequence):
    def __init__(self, parts):
        super().__init__()
        self.items = torch.nn.ModuleList(parts)

    def parts(self):
        return list(self.items)


def _chain(calls):
    return Chain([Affine(2.0, 0.5, calls), Affine(-0.5, 1.0, calls), Affine(3.0, -2.0, calls)])


def test_forward_in_order_inverse_reversed_and_log_dets_summed():
    calls: list = []
    chain = _chain(calls)
    x = torch.randn(2, 3, 4, 5, dtype=D)
    y, ld = chain(x)
    assert torch.allclose(y, 3.0 * (-0.5 * (2.0 * x + 0.5) + 1.0) - 2.0)
    assert torch.allclose(ld, torch.full((2,), 60 * torch.log(torch.tensor(3.0, dtype=D)).item(), dtype=D))
    assert [c[1] for c in calls] == [2.0, -0.5, 3.0] and all(c[0] == "fwd" for c in calls)
    calls.clear()
    x_back, ild = chain.inverse(y)
    assert [c[1] for c in calls] == [3.0, -0.5, 2.0] and all(c[0] == "inv" for c in calls)
    torch.testing.assert_close(x_back, x)
    torch.testing.assert_close(ild, -ld)
    assert_invertible(chain, x)


def test_log_det_equals_the_brute_force_jacobian():
    x = torch.randn(1, 2, 2, 2, dtype=D)
    chain = _chain([])
    torch.testing.assert_close(chain(x)[1], brute_force_logdet(chain, x))


def test_one_context_for_all_parts_or_one_per_part():
    calls: list = []
    chain = _chain(calls)
    x = torch.randn(1, 1, 2, 2, dtype=D)
    chain(x, torch.ones(1, 1, 2, 2, dtype=D))
    assert all(torch.equal(c[2], torch.ones(1, 1, 2, 2, dtype=D)) for c in calls)
    calls.clear()
    ctxs = [torch.full((1, 1, 2, 2), float(i), dtype=D) for i in range(3)]
    y, _ = chain(x, ctxs)
    assert [float(c[2].max()) for c in calls] == [0.0, 1.0, 2.0]
    calls.clear()
    chain.inverse(y, ctxs)
    assert [float(c[2].max()) for c in calls] == [2.0, 1.0, 0.0]  # each part keeps its own context
    with pytest.raises(ValueError, match="3 parts but got 2 contexts"):
        chain(x, ctxs[:2])


def test_intermediates_follow_the_running_order():
    chain = _chain([])
    x = torch.randn(1, 1, 2, 2, dtype=D)
    fwd: list = []
    y, _ = chain(x, None, fwd)
    assert len(fwd) == 3 and torch.equal(fwd[-1], y)
    inv: list = []
    x_back, _ = chain.inverse(y, None, inv)
    assert len(inv) == 3 and torch.equal(inv[-1], x_back)
    torch.testing.assert_close(inv[0], fwd[1])  # undoing the last part gives the second part's output


def test_an_empty_sequence_is_the_identity():
    x = torch.randn(2, 1, 2, 2, dtype=D)
    y, ld = Chain([])(x)
    assert torch.equal(y, x) and torch.equal(ld, torch.zeros(2, dtype=D))
