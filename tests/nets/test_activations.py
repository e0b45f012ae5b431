"""In-place activations of strip-wise inference: the same values, written into the input only
without autograd."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from uptflow.nets.activations import gated_gelu_owned, gelu_owned


def test_gelu_owned_is_gelu_in_place_without_autograd():
    x = torch.randn(2, 5, 7, 3)
    ref = F.gelu(x)
    with torch.no_grad():
        y = gelu_owned(x)
    assert y.data_ptr() == x.data_ptr()
    assert torch.equal(y, ref)


def test_gated_gelu_owned_is_bit_identical_and_writes_into_a_view():
    a, b = torch.randn(1, 4, 9, 6), torch.randn(1, 4, 7, 6)
    ref = F.gelu(a[:, :, 1:8]) * b
    with torch.no_grad():
        y = gated_gelu_owned(a[:, :, 1:8], b)  # a cropped strip, as the feed-forward passes it
    assert torch.equal(y, ref)
    assert torch.equal(a[:, :, 1:8], ref)


def test_with_autograd_the_inputs_are_left_alone_and_gradients_flow():
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(3, 4)
    before = a.detach().clone()
    gated_gelu_owned(a, b).sum().backward()
    gelu_owned(a).sum()
    assert torch.equal(a.detach(), before)
    assert a.grad is not None and a.grad.abs().sum() > 0
