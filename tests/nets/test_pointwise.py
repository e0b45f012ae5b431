"""1x1 convolutions of strip-wise inference: both backends compute the convolution, and the
measured choice picks the faster one, once per thread count, under concurrency."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from uptflow.config import presets
from uptflow.model import UPTFlow
from uptflow.nets import pointwise
from uptflow.nets.strips import strip_size


@pytest.fixture
def fresh_choice(monkeypatch):
    """No cached choice and no forcing variable: the test decides what is measured."""
    monkeypatch.delenv("UPTFLOW_POINTWISE", raising=False)
    monkeypatch.setattr(pointwise, "_chosen", {})


@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
@pytest.mark.parametrize("mode", ["conv", "gemm"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_both_backends_equal_the_convolution(monkeypatch, layout, mode, with_bias):
    monkeypatch.setenv("UPTFLOW_POINTWISE", mode)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 5, 7, generator=gen, dtype=torch.float64)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(4, 6, 1, 1, generator=gen, dtype=torch.float64)
    bias = torch.randn(4, generator=gen, dtype=torch.float64) if with_bias else None
    with torch.no_grad():
        out = pointwise.pointwise(x, weight, bias)
    assert out.shape == (2, 4, 5, 7)
    assert torch.allclose(out, F.conv2d(x, weight, bias), atol=1e-12, rtol=0)
    # the layout is kept: a channels-last map stays channels-last for the next op
    assert pointwise.is_channels_last(out) == (layout == "channels_last")


def test_gemm_is_taken_only_when_clearly_faster():
    assert pointwise.choose({"conv": 1.0, "gemm": 0.5}) == "gemm"
    assert pointwise.choose({"conv": 1.0, "gemm": pointwise.GEMM_MARGIN}) == "gemm"
    assert pointwise.choose({"conv": 1.0, "gemm": 0.9}) == "conv"  # close: keep oneDNN
    assert pointwise.choose({"conv": 0.5, "gemm": 1.0}) == "conv"


def test_measure_times_both_backends():
    times = pointwise.measure(repeats=1)
    assert set(times) == {"conv", "gemm"}
    assert all(t > 0 for t in times.values())


def test_choice_follows_the_measurement_once_per_thread_count(monkeypatch, fresh_choice):
    """A CPU where oneDNN's per-call cost makes the convolution slow gets the GEMM; the probe
    runs once even when eight threads ask at the same moment."""
    calls = []

    def slow_conv(repeats: int = 7):
        calls.append(1)
        return {"conv": 1.7e-3, "gemm": 0.4e-3}

    monkeypatch.setattr(pointwise, "measure", slow_conv)
    barrier = threading.Barrier(8)
    seen = []

    def ask():
        barrier.wait()
        seen.append(pointwise.backend())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["gemm"] * 8
    assert len(calls) == 1


def test_forced_backend_skips_the_measurement(monkeypatch, fresh_choice):
    monkeypatch.setattr(pointwise, "measure", lambda repeats=7: pytest.fail("measured although forced"))
    monkeypatch.setenv("UPTFLOW_POINTWISE", "GEMM")
    assert pointwise.backend() == "gemm"
    monkeypatch.setenv("UPTFLOW_POINTWISE", "bogus")
    with pytest.raises(ValueError, match="UPTFLOW_POINTWISE must be auto, conv or gemm"):
        pointwise.backend()


def test_training_and_contiguous_maps_always_convolve(monkeypatch):
    """With autograd the GEMM is never used (training keeps oneDNN's measured-faster backward)."""
    monkeypatch.setenv("UPTFLOW_POINTWISE", "gemm")
    used = []
    monkeypatch.setattr(pointwise, "_gemm", lambda *a: used.append(1) or F.conv2d(*a))
    x = torch.randn(1, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    w = torch.randn(2, 3, 1, 1, requires_grad=True)
    pointwise.pointwise(x, w).sum().backward()
    assert w.grad is not None and not used
    with torch.no_grad():
        pointwise.pointwise(torch.randn(1, 3, 4, 4), w)
        assert not used
        pointwise.pointwise(x, w)
    assert used == [1]


def test_enhancement_is_the_same_with_either_backend(monkeypatch):
    """The whole strip-wise encoder + flow agrees across backends to float64 rounding."""
    torch.manual_seed(0)
    model = UPTFlow(presets["tiny"]).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            if not p.abs().sum():
                p.normal_(std=0.05)
    low = torch.rand(1, 3, 48, 40, dtype=torch.float64)
    outs = {}
    for mode in ("conv", "gemm"):
        monkeypatch.setenv("UPTFLOW_POINTWISE", mode)
        with strip_size(200):
            outs[mode] = model.enhance(low)
    assert (outs["conv"] - outs["gemm"]).abs().max().item() <= 1e-10
    assert outs["conv"].abs().sum() > 0


def test_use_backend_overrides_the_process_choice_in_its_context_only(monkeypatch, fresh_choice):
    monkeypatch.setenv("UPTFLOW_POINTWISE", "gemm")
    seen = []
    with pointwise.use_backend("conv"):
        seen.append(pointwise.backend())
        other = threading.Thread(target=lambda: seen.append(pointwise.backend()))
        other.start()
        other.join()
    seen.append(pointwise.backend())
    assert seen == ["conv", "gemm", "gemm"]
    with pytest.raises(ValueError, match="pointwise backend"):
        with pointwise.use_backend("fast"):
            pass


@pytest.mark.parametrize("mode", ["conv", "gemm"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_tokens_equals_linear(monkeypatch, mode, with_bias):
    """Tokens (..., C) through the 1x1 path give ``F.linear``'s numbers and shape, either backend."""
    monkeypatch.setenv("UPTFLOW_POINTWISE", mode)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 25, 6, generator=gen, dtype=torch.float64)
    weight = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    bias = torch.randn(4, generator=gen, dtype=torch.float64) if with_bias else None
    with torch.no_grad():
        out = pointwise.linear_tokens(x, weight, bias)
    assert out.shape == (3, 25, 4) and out.is_contiguous()
    assert torch.allclose(out, F.linear(x, weight, bias), atol=1e-12, rtol=0)


def test_linear_tokens_keeps_autograd():
    """With gradients on it is plain ``F.linear``: the weight's gradient is the linear layer's."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(5, 6, generator=gen)
    weight = torch.randn(4, 6, generator=gen, requires_grad=True)
    pointwise.linear_tokens(x, weight).sum().backward()
    assert torch.allclose(weight.grad, x.sum(0).expand(4, 6))


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "mixed"])
@pytest.mark.parametrize("widths", [(3, 10), (10, 3), (1, 6), (20, 30)])  # GEMM path; conv path
@pytest.mark.parametrize("with_bias", [False, True])
def test_pointwise_pair_equals_the_concatenated_convolution(layout, widths, with_bias):
    """``pointwise_pair(a, b)`` is the 1x1 convolution of ``cat([a, b])`` without building it
    (float64; the in-place GEMM path for channels-last outputs, the second convolution else)."""
    torch.manual_seed(6)
    ca, cb = widths
    a = torch.randn(2, ca, 5, 7, dtype=torch.float64)
    b = torch.randn(2, cb, 5, 7, dtype=torch.float64)
    if layout != "nchw":
        b = b.contiguous(memory_format=torch.channels_last)
        if layout == "channels_last":
            a = a.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(4, ca + cb, 1, 1, dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64) if with_bias else None
    ref = F.conv2d(torch.cat([a, b], dim=1), weight, bias)
    with torch.no_grad():
        out = pointwise.pointwise_pair(a, b, weight, bias)
    assert out.shape == ref.shape
    assert (out - ref).abs().max().item() <= 1e-12


def test_pointwise_pair_keeps_autograd():
    a = torch.randn(1, 2, 3, 3, requires_grad=True)
    b = torch.randn(1, 3, 3, 3)
    weight = torch.randn(4, 5, 1, 1, requires_grad=True)
    pointwise.pointwise_pair(a, b, weight).sum().backward()
    assert a.grad is not None and weight.grad is not None


def test_pointwise_pair_under_autocast_is_the_concatenated_convolution():
    """Under autocast (the bfloat16 decoding precision) the pair is computed as written, in the
    autocast dtype (an in-place GEMM into a bfloat16 output would mix dtypes)."""
    a = torch.randn(1, 3, 4, 4)
    b = torch.randn(1, 8, 4, 4).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(5, 11, 1, 1)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = pointwise.pointwise_pair(a, b, weight)
        ref = F.conv2d(torch.cat([a, b], dim=1), weight)
    assert out.dtype == ref.dtype == torch.bfloat16
    assert torch.equal(out, ref)
