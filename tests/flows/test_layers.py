"""Every flow layer: invertible in float64 and log-det equal to the brute-force Jacobian's."""

from __future__ import annotations

import pytest
import torch

from flow_checks import assert_invertible, brute_force_logdet
from uptflow.flows.actnorm import ActNorm
from uptflow.flows.coupling import CrossCoupling
from uptflow.flows.invconv import InvertibleConv1x1
from uptflow.flows.squeeze import Squeeze
from uptflow.flows.step import FlowStep
from uptflow.flows.subnet import CouplingNet

D = torch.float64


def _randomize(module: torch.nn.Module, seed: int = 0, std: float = 0.3) -> None:
    """Give every parameter (zero-initialised ones included) non-trivial values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    for m in module.modules():
        if isinstance(m, ActNorm):
            m.initialized.fill_(True)


def _layers(channels: int, cond: int):
    yield "actnorm", ActNorm(channels), None
    yield "invconv", InvertibleConv1x1(channels), None
    yield "coupling", CrossCoupling(channels, cond, hidden=8, reduction=4), cond
    yield "step", FlowStep(channels, CrossCoupling(channels, cond, hidden=8, reduction=4)), cond
    yield "plain-step", FlowStep(channels), None


@pytest.mark.parametrize("size", [(2, 2), (4, 6), (3, 5)])
@pytest.mark.parametrize("channels", [4, 5])
def test_layers_invertible_float64(size, channels):
    for name, layer, cond in _layers(channels, 6):
        layer = layer.double()
        _randomize(layer)
        x = torch.randn(2, channels, *size, dtype=D)
        ctx = None if cond is None else torch.randn(2, cond, *size, dtype=D)
        assert_invertible(layer, x, ctx)


def test_squeeze_invertible_and_order():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float64).reshape(2, 3, 4, 6)
    sq = Squeeze()
    assert_invertible(sq, x)
    y, ld = sq(x)
    assert y.shape == (2, 12, 2, 3)
    assert torch.all(ld == 0)
    # output channel c*4 + 2i + j holds input pixel (2h+i, 2w+j) of channel c
    c, i, j, h, w = 1, 1, 0, 1, 2
    assert y[0, c * 4 + 2 * i + j, h, w] == x[0, c, 2 * h + i, 2 * w + j]


@pytest.mark.parametrize("name", ["actnorm", "invconv", "coupling", "step", "plain-step", "squeeze"])
def test_logdet_matches_brute_force_jacobian(name):
    channels, cond, size = 4, 3, (2, 4)
    layers = {n: (l, c) for n, l, c in _layers(channels, cond)}
    layers["squeeze"] = (Squeeze(), None)
    layer, c = layers[name]
    layer = layer.double()
    _randomize(layer, seed=1)
    x = torch.randn(2, channels, *size, dtype=D)
    ctx = None if c is None else torch.randn(2, c, *size, dtype=D)
    _, logdet = layer(x, ctx)
    torch.testing.assert_close(logdet, brute_force_logdet(layer, x, ctx), atol=1e-9, rtol=1e-9)


def test_actnorm_data_dependent_init_and_no_reinit_after_load():
    torch.manual_seed(0)
    an = ActNorm(5).double().train()
    x = torch.randn(8, 5, 6, 7, dtype=D) * 3.0 + 2.0
    y, _ = an(x)
    assert bool(an.initialized)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(5, dtype=D), atol=1e-6, rtol=0)
    torch.testing.assert_close(y.std(dim=(0, 2, 3), unbiased=False), torch.ones(5, dtype=D), atol=1e-5, rtol=0)
    state = an.state_dict()
    assert "initialized" in state
    fresh = ActNorm(5).double().train()
    fresh.load_state_dict(state)
    before = fresh.logs.detach().clone()
    fresh(torch.randn(8, 5, 6, 7, dtype=D) * 10.0)  # a second, very different batch
    torch.testing.assert_close(fresh.logs.detach(), before, atol=0, rtol=0)


def test_actnorm_does_not_initialise_in_eval():
    an = ActNorm(3).eval()
    an(torch.randn(2, 3, 4, 4) * 5)
    assert not bool(an.initialized)
    assert torch.all(an.logs == 0)


def test_invconv_inverse_is_float64_accurate():
    torch.manual_seed(0)
    conv = InvertibleConv1x1(48).float()
    with torch.no_grad():
        conv.weight.add_(torch.randn(48, 48) * 0.3)
    eye = conv.weight.detach().double() @ conv.inverse_weight().double()
    # a float32 matrix inverted in float64 then cast: residual at float32 rounding level
    assert (eye - torch.eye(48, dtype=torch.float64)).abs().max() < 1e-5
    # the cached inverse follows in-place weight updates
    with torch.no_grad():
        before = conv.inverse_weight().clone()
        conv.weight.mul_(2.0)
        torch.testing.assert_close(conv.inverse_weight(), before / 2.0, rtol=1e-6, atol=1e-7)


def test_coupling_net_folded_inference_equals_training_arithmetic():
    """Without autograd the sub-network folds ActNorm and the zero-conv's scale into its convolution
    weights; with autograd it runs them as separate steps: the same function (float64)."""
    torch.manual_seed(0)
    net = CouplingNet(10, 8, hidden=16, reduction=4).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(std=0.3)  # non-trivial ActNorm scales / biases and zero-conv log-scales
    x = torch.randn(2, 10, 9, 11, dtype=torch.float64)
    with torch.no_grad():
        folded = net(x)
    with torch.enable_grad():
        separate = net(x.requires_grad_())
    assert torch.allclose(folded, separate.detach(), atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("channels_last", [False, True])
def test_coupling_net_with_features_equals_the_concatenated_input(channels_last):
    """In inference ``NN(z, h)`` splits the first convolution over ``z`` and ``h`` instead of
    building ``cat([z, h])``; the values are the concatenated input's (float64)."""
    torch.manual_seed(5)
    net = CouplingNet(3 + 8, 6, 12, 4).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(std=0.3)
    z = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    h = torch.randn(2, 8, 9, 11, dtype=torch.float64)
    if channels_last:
        h = h.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        split = net(z, h)
        concatenated = net(torch.cat([z, h], dim=1))
    with torch.enable_grad():
        training = net(z.requires_grad_(), h).detach()
    assert torch.allclose(split, concatenated, atol=1e-12, rtol=1e-12)
    assert torch.allclose(split, training, atol=1e-12, rtol=1e-12)


def test_coupling_input_takes_the_features_layout():
    """``[z, h]`` is built in the channels-last layout of the encoder's features (the sub-network's
    1x1 convolution is ~3x faster on it on CPU), with the values of ``torch.cat``; NCHW stays NCHW."""
    from uptflow.flows.subnet import with_features

    z = torch.randn(2, 3, 5, 7)
    h = torch.randn(2, 8, 5, 7)
    h_cl = h.contiguous(memory_format=torch.channels_last)
    out = with_features(z, h_cl)
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    assert torch.equal(out, torch.cat([z, h], dim=1))
    plain = with_features(z, h)
    assert plain.is_contiguous() and torch.equal(plain, out)
