"""Shared checks for flow transforms (the way flow people test; see STYLE.md).

* :func:`assert_invertible` — inverse(forward(x)) == x and the two log-dets cancel.
* :func:`brute_force_logdet` — log|det J| from the full autograd Jacobian, for tiny inputs.
"""

from __future__ import annotations

import torch
from torch.autograd.functional import jacobian


def assert_invertible(transform, x: torch.Tensor, context=None, atol: float = 1e-10) -> None:
    """Forward then inverse recovers ``x``; inverse log-det is exactly minus forward's."""
    y, logdet = transform(x, context)
    assert logdet.shape == (x.shape[0],)
    x_rec, inv_logdet = transform.inverse(y, context)
    torch.testing.assert_close(x_rec, x, atol=atol, rtol=0)
    torch.testing.assert_close(inv_logdet, -logdet, atol=atol * max(1.0, float(logdet.detach().abs().max())), rtol=0)
    y2, _ = transform(x_rec, context)
    torch.testing.assert_close(y2, y, atol=atol, rtol=0)


def brute_force_logdet(transform, x: torch.Tensor, context=None) -> torch.Tensor:
    """log|det dy/dx| per batch element via the dense Jacobian; x must be tiny (float64)."""
    out = []
    for b in range(x.shape[0]):
        xb = x[b:b + 1]
        cb = None if context is None else context[b:b + 1]

        def f(inp, cb=cb):
            return transform(inp, cb)[0].flatten()

        jac = jacobian(f, xb).reshape(xb.numel(), xb.numel())
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)
