"""1x1 convolutions: every backend computes the convolution (and, training on one thread, its
gradients), and the measured choice picks the faster one, once per thread count, under concurrency."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F

from uptflow.config import presets
from uptflow.model import UPTFlow
from uptflow.nets import pointwise
from uptflow.nets.strips import strip_size


@contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch threads, restoring the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def fresh_choice(monkeypatch):
    """No cached choice and no forcing variable: the test decides what is measured."""
    monkeypatch.delenv("UPTFLOW_POINTWISE", raising=False)
    monkeypatch.setattr(pointwise, "_chosen", {})


@pytest.mark.parametrize("layout", ["channels_last", "contiguous", "row_slice"])
@pytest.mark.parametrize("mode", ["conv", "gemm", "onednn"])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_every_backend_equals_the_convolution(monkeypatch, layout, mode, with_bias, dtype):
    """float64 takes ``F.conv2d`` (oneDNN has no float64 kernel) or the GEMM; float32 reaches
    oneDNN directly with ``onednn``, on dense maps and on a batch's row strip alike."""
    if mode == "onednn" and not pointwise.onednn_available():
        pytest.skip("this PyTorch has no oneDNN")
    monkeypatch.setenv("UPTFLOW_POINTWISE", mode)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 9, 7, generator=gen, dtype=dtype)
    if layout != "contiguous":
        x = x.contiguous(memory_format=torch.channels_last)
    if layout == "row_slice":
        x = x[:, :, 2:7]  # a strip of a batch of two: neither layout is dense
    weight = torch.randn(8, 6, 1, 1, generator=gen, dtype=dtype)[::2]  # a strided weight too
    bias = torch.randn(4, generator=gen, dtype=dtype) if with_bias else None
    used = []
    monkeypatch.setattr(pointwise, "_onednn", lambda *a: used.append(1) or torch.ops.aten.mkldnn_convolution(
        *a, [0, 0], [1, 1], [1, 1], 1))
    with torch.no_grad():
        out = pointwise.pointwise(x, weight, bias)
    assert out.shape == (2, 4, x.shape[2], 7)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.allclose(out, F.conv2d(x, weight, bias), atol=tol, rtol=0)
    # the layout is kept: a channels-last map stays channels-last for the next op
    assert pointwise.is_channels_last(out) == (layout != "contiguous")
    assert bool(used) == (mode == "onednn" and dtype == torch.float32)


def test_onednn_on_one_thread_gives_the_convolution(monkeypatch):
    """On one thread ``F.conv2d`` runs a small batch's 1x1 kernel on PyTorch's native path, so
    there the ``onednn`` backend is a different kernel: it must give the same values."""
    if not pointwise.onednn_available():
        pytest.skip("this PyTorch has no oneDNN")
    monkeypatch.setenv("UPTFLOW_POINTWISE", "onednn")
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 48, 16, 64, generator=gen).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(96, 48, 1, 1, generator=gen)
    with torch_threads(1), torch.no_grad():
        out = pointwise.pointwise(x, weight)
        ref = F.conv2d(x, weight)
    assert torch.allclose(out, ref, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_one_thread_training_gradients_equal_the_convolutions(monkeypatch, channels_last, with_bias):
    """Training on one thread runs the 1x1 convolution and its input gradient on oneDNN
    (``_OneDNN1x1``): output and all three gradients equal ``F.conv2d``'s; on two threads
    autograd goes through ``F.conv2d`` itself."""
    if not pointwise.onednn_available():
        pytest.skip("this PyTorch has no oneDNN")
    monkeypatch.setenv("UPTFLOW_POINTWISE", "onednn")
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 5, 7, generator=gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    weight = torch.randn(4, 6, 1, 1, generator=gen, requires_grad=True)
    bias = torch.randn(4, generator=gen, requires_grad=True) if with_bias else None
    leaves = [x, weight] + ([bias] if with_bias else [])
    grad_out = torch.randn(2, 4, 5, 7, generator=gen)
    with torch_threads(1):
        out = pointwise.pointwise(x, weight, bias)
        grads = torch.autograd.grad(out, leaves, grad_out)
        ref = F.conv2d(x, weight, bias)
        ref_grads = torch.autograd.grad(ref, leaves, grad_out)
    assert type(out.grad_fn).__name__ == "_OneDNN1x1Backward"
    assert torch.allclose(out, ref, atol=1e-5)
    for g, r in zip(grads, ref_grads):
        assert g.shape == r.shape and torch.allclose(g, r, atol=1e-5)
    with torch_threads(2):
        assert type(pointwise.pointwise(x, weight, bias).grad_fn).__name__ != "_OneDNN1x1Backward"


def test_autocast_tracing_and_switched_off_onednn_keep_the_functional_convolution(monkeypatch):
    """oneDNN's op does not take part in autocast, would be a private node in a traced graph and
    must not run when the user switched oneDNN off, so then ``F.conv2d`` runs."""
    monkeypatch.setenv("UPTFLOW_POINTWISE", "onednn")
    monkeypatch.setattr(pointwise, "_onednn", lambda *a: pytest.fail("oneDNN op called"))
    x = torch.randn(1, 4, 3, 3)
    w = torch.randn(2, 4, 1, 1)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert pointwise.pointwise(x, w).dtype == torch.bfloat16
    with monkeypatch.context() as switched:  # the user's switch (torch.backends.mkldnn.enabled) is honoured
        switched.setattr(torch.backends.mkldnn, "enabled", False)
        assert not torch.backends.mkldnn.enabled
        with torch.no_grad():
            assert torch.allclose(pointwise.pointwise(x, w), F.conv2d(x, w))
    assert torch.backends.mkldnn.enabled
    monkeypatch.setattr(pointwise, "tracing", lambda: True)
    with torch.no_grad():
        assert torch.allclose(pointwise.pointwise(x, w), F.conv2d(x, w))


def test_gemm_is_taken_only_when_clearly_faster():
    assert pointwise.choose({"conv": 1.0, "gemm": 0.5}) == "gemm"
    assert pointwise.choose({"conv": 1.0, "gemm": pointwise.GEMM_MARGIN}) == "gemm"
    assert pointwise.choose({"conv": 1.0, "gemm": 0.9}) == "conv"  # close: keep oneDNN
    assert pointwise.choose({"conv": 0.5, "gemm": 1.0}) == "conv"
    # where oneDNN's op was measured it is the convolution compared with (F.conv2d's time on one
    # thread is its native path's, not oneDNN's)
    assert pointwise.choose({"conv": 3.0, "gemm": 1.0, "onednn": 0.5}) == "onednn"
    assert pointwise.choose({"conv": 0.5, "gemm": 1.0, "onednn": 2.0}) == "gemm"


def test_measure_times_every_backend():
    times = pointwise.measure(repeats=1)
    assert set(times) == {"conv", "gemm"} | ({"onednn"} if pointwise.onednn_available() else set())
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
    with pytest.raises(ValueError, match="UPTFLOW_POINTWISE must be auto, conv, gemm or onednn"):
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
    if pointwise.onednn_available():  # float32: oneDNN's op against the functional convolution
        model, low = model.float(), low.float()
        for mode in ("conv", "onednn"):
            monkeypatch.setenv("UPTFLOW_POINTWISE", mode)
            with strip_size(200):
                outs[mode] = model.enhance(low)
        assert (outs["conv"] - outs["onednn"]).abs().max().item() <= 1e-5


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


@pytest.mark.parametrize("strip", [14, 21, 1000, None])  # 2 rows; 3 rows (last band short); one band; no strips
@pytest.mark.parametrize("batch", [1, 2])
def test_pointwise_pair_adds_a_wide_second_part_band_by_band(strip, batch):
    """A second part too wide for the GEMM is convolved band by band of rows into the output (one
    image, channels-last; the strip size sets the band) and must equal the whole convolution."""
    torch.manual_seed(7)
    a = torch.randn(batch, 24, 9, 7, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    b = torch.randn(batch, 20, 9, 7, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(5, 44, 1, 1, dtype=torch.float64)
    ref = F.conv2d(torch.cat([a, b], dim=1), weight)
    with torch.no_grad(), strip_size(strip):
        out = pointwise.pointwise_pair(a, b, weight)
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
