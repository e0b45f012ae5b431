"""1x1 convolutions: oneDNN convolution or one GEMM, chosen by measurement.

A 1x1 convolution of a channels-last (B, C, H, W) map is one (B*H*W, C) @ (C, C') product over
memory that is already laid out as that matrix.  ``F.conv2d`` computes it through oneDNN, which
on some CPUs pays a per-call primitive and weight-layout cost that dominates the many small
convolutions of strip-wise inference (issue #18: 1.7 ms per call on an Intel Xeon, ~1,800 calls
per 256x256 paper-lol enhancement); on others (AMD EPYC, measured 2026-11-29) oneDNN's 1x1 kernel
is the faster of the two.  ``F.linear`` on the (B, H, W, C) view is a plain BLAS GEMM with no
per-call layout work.  Which is faster is a property of the CPU and the libraries, not of the
code, so it is measured once per process and thread count (:func:`backend`), on a strip of the
size inference uses.

The choice only changes float summation order (both compute the same product), never the
result beyond rounding; the GEMM is taken only when it is clearly faster (by
:data:`GEMM_MARGIN`), so a machine where the two are close keeps one stable answer from run to
run.  ``UPTFLOW_POINTWISE=conv|gemm|onednn`` forces one (``auto``, the default, measures).  With
autograd on (training), on GPUs, while a graph is traced and for maps that are not
channels-last it is never the GEMM; training on one thread uses oneDNN too (:class:`_OneDNN1x1`).

The convolution itself is called as oneDNN's (``aten.mkldnn_convolution``, backend ``onednn``)
where PyTorch has oneDNN, float32 maps: ``F.conv2d`` sends a 1x1 kernel of a batch under 16 to
its native im2col + BLAS path when it runs on *one* thread ("THNN is faster when
single-threaded", PyTorch's ``use_mkldnn`` heuristic).  On the AMD EPYC of issue 18 that path
ran the 1x1 convolutions of a one-thread 256x256 paper-lol enhancement at ~100 GFLOP/s, ~2.4 of
its 3.8 s; called as oneDNN's the enhancement takes 2.5 s (2026-11-30).  With two or more threads
both calls reach the same oneDNN kernel (bit-identical results).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch
import torch.nn.functional as F

from uptflow.derived import tracing
from uptflow.nets.strips import strip_pixels
from uptflow.scoped import scoped

BACKENDS = ("conv", "gemm", "onednn")
#: :func:`pointwise_pair` adds a concatenation's narrow part by an in-place GEMM up to this many channels.
PAIR_GEMM_CHANNELS = 16
#: The GEMM must take at most this fraction of the convolution's time to be chosen.
GEMM_MARGIN = 0.8
#: Shape of the timed probe: a 4096-px strip (16 x 256, the default strip of ``nets.strips``),
#: 48 -> 127 channels (the paper network's first-level feed-forward).
_PROBE = (48, 127, 16, 256)

#: A backend fixed for the current context (``use_backend``), e.g. ``conv`` while exporting a graph.
_override: ContextVar[str | None] = ContextVar("uptflow_pointwise_backend", default=None)
_lock = threading.Lock()
_chosen: dict[int, str] = {}  # threads -> backend


def is_channels_last(x: torch.Tensor) -> bool:
    """True when the (B, C, H, W) tensor's channels are its innermost, contiguous axis."""
    return x.dim() == 4 and x.permute(0, 2, 3, 1).is_contiguous()


def forced_backend() -> str | None:
    """``UPTFLOW_POINTWISE`` when it names a backend, ``None`` for ``auto`` / unset.

    Raises ``ValueError`` (one line) for any other value.
    """
    value = os.environ.get("UPTFLOW_POINTWISE", "auto").strip().lower()
    if value in ("", "auto"):
        return None
    if value not in BACKENDS:
        raise ValueError(f"UPTFLOW_POINTWISE must be auto, conv, gemm or onednn, got {value!r}")
    return value


def _gemm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    y = F.linear(x.permute(0, 2, 3, 1), weight.reshape(weight.shape[0], weight.shape[1]), bias)
    return y.permute(0, 3, 1, 2)


def onednn_available() -> bool:
    """Whether this PyTorch has oneDNN (``aten.mkldnn_convolution``) for CPU convolutions."""
    return torch.backends.mkldnn.is_available()


def _onednn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.conv2d(x, weight, bias)`` for a 1x1 ``weight``, always through oneDNN (any layout;
    the output keeps ``x``'s)."""
    return torch.ops.aten.mkldnn_convolution(x, weight, bias, [0, 0], [1, 1], [1, 1], 1)


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: primitive creation, allocator
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(repeats: int = 7) -> dict[str, float]:
    """Median seconds per call of each backend on the probe strip (CPU, float32, no autograd):
    ``conv`` and ``gemm``, and ``onednn`` where :func:`onednn_available`."""
    cin, cout, h, w = _PROBE
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, cin, h, w, generator=gen).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin, 1, 1, generator=gen)
    with torch.no_grad(), torch.autocast("cpu", enabled=False):  # float32, whatever the caller's context
        times = {"conv": _median_seconds(lambda: F.conv2d(x, weight), repeats),
                 "gemm": _median_seconds(lambda: _gemm(x, weight, None), repeats)}
        if onednn_available():
            times["onednn"] = _median_seconds(lambda: _onednn(x, weight, None), repeats)
        return times


def choose(times: dict[str, float]) -> str:
    """The backend for measured ``times``: the GEMM only if clearly faster (:data:`GEMM_MARGIN`)
    than the convolution, which is called as oneDNN's where that was measured (``onednn``)."""
    conv = "onednn" if "onednn" in times else "conv"
    return "gemm" if times["gemm"] <= GEMM_MARGIN * times[conv] else conv


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Use backend ``name`` inside the block, in this thread / context only (an exported graph
    keeps its Conv nodes; a test fixes the arithmetic)."""
    if name not in BACKENDS:
        raise ValueError(f"pointwise backend must be one of {BACKENDS}, got {name!r}")
    with scoped(_override, name):
        yield


def backend() -> str:
    """This context's backend: ``use_backend``'s, else ``UPTFLOW_POINTWISE``'s, else the one
    measured for the current thread count (on first use, then cached for the process)."""
    forced = _override.get() or forced_backend()
    if forced is not None:
        return forced
    threads = torch.get_num_threads()
    found = _chosen.get(threads)
    if found is None:
        with _lock:  # one measurement per thread count, even when many threads start at once
            found = _chosen.get(threads)
            if found is None:
                found = _chosen[threads] = choose(measure())
    return found


def pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.conv2d(x, weight, bias)`` for a 1x1 ``weight`` (C', C, 1, 1) and ``x`` (B, C, H, W).

    Returns (B, C', H, W) in ``x``'s layout.  A CPU map without autograd uses :func:`backend`'s
    choice: the GEMM for a channels-last map, oneDNN's convolution for a float32 one outside
    autocast and graph tracing (and unless ``torch.backends.mkldnn`` is switched off), else
    ``F.conv2d``.  With autograd it is ``F.conv2d``, except where that would take PyTorch's
    native path on one thread: then :class:`_OneDNN1x1` (training beside other work, or one
    rank per core).
    """
    if x.device.type != "cpu":
        return F.conv2d(x, weight, bias)
    if torch.is_grad_enabled():
        # F.conv2d, unless it would take PyTorch's native path: one thread and a batch under 16
        # (PyTorch's ``use_mkldnn`` heuristic)
        if x.shape[0] < 16 and torch.get_num_threads() == 1 and backend() == "onednn" and _onednn_applies(x):
            return _OneDNN1x1.apply(x, weight, bias)
        return F.conv2d(x, weight, bias)
    name = backend()
    if name == "gemm" and is_channels_last(x):
        return _gemm(x, weight, bias)
    if name == "onednn" and _onednn_applies(x):
        return _onednn(x, weight, bias)
    return F.conv2d(x, weight, bias)


def _onednn_applies(x: torch.Tensor) -> bool:
    """Whether oneDNN's op may stand in for ``F.conv2d`` on the CPU map ``x``: float32, oneDNN
    present and switched on (``torch.backends.mkldnn``), no autocast, no graph being traced."""
    return (x.dtype == torch.float32 and onednn_available() and torch.backends.mkldnn.enabled
            and not _autocasting("cpu") and not tracing())


class _OneDNN1x1(torch.autograd.Function):
    """A 1x1 convolution for training on one thread: forward and input gradient on oneDNN.

    On one thread PyTorch runs a small batch's 1x1 convolution forward *and* backward on its
    native path (``_slow_conv2d_forward`` / ``_backward``: MKL's GEMM, at the AVX2 rate on the
    AMD EPYC of issue 18); a one-thread training step of the ``small`` preset spent ~30 % of its
    time there (2026-11-30).  The input gradient of a 1x1 convolution is the 1x1 convolution of
    the output gradient with the transposed weight, so it runs on oneDNN too; the weight gradient
    is one GEMM over the pixels, as on the native path.  Same values up to float rounding.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _onednn(grad, weight.transpose(0, 1), None)
        if ctx.needs_input_grad[1]:
            cout, cin = weight.shape[:2]
            if is_channels_last(grad) and is_channels_last(x):  # (pixels, channels) matrices as they lie
                grad_w = grad.permute(0, 2, 3, 1).reshape(-1, cout).t() @ x.permute(0, 2, 3, 1).reshape(-1, cin)
            else:
                b = x.shape[0]
                grad_w = (grad.reshape(b, cout, -1) @ x.reshape(b, cin, -1).transpose(1, 2)).sum(0)
            grad_w = grad_w.view(cout, cin, 1, 1)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum((0, 2, 3))
        return grad_x, grad_w, grad_b


def pointwise_pair(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.conv2d(cat([a, b], dim=1), weight, bias)`` for a 1x1 ``weight`` (C', Ca + Cb, 1, 1), in
    inference without building the concatenation.

    The convolution is linear in its input channels, ``conv(a, W_a) + conv(b, W_b)``: the wider
    input goes through :func:`pointwise`, and the other is added into that fresh output by one
    in-place GEMM (``addmm_``, beta = 1) when it is narrow (at most :data:`PAIR_GEMM_CHANNELS`
    channels) and the output a channels-last CPU map, else by a second convolution and an add
    (measured on the AMD EPYC, 2026-11-30: the GEMM is faster for a 6-channel part, ~1.5x slower
    from 24 channels on).  Why: the concatenation was a fresh map as wide as both inputs (the flow's
    couplings made 16 of 67 MiB per level-1 pass of a 400x600 image), new pages to fault in and
    zero each time (issue 18).  Same values up to float rounding; with autograd on, or under
    autocast, the concatenation path is taken as written.  Returns (B, C', H, W).
    """
    if torch.is_grad_enabled() or _autocasting(a.device.type):
        return F.conv2d(torch.cat([a, b], dim=1), weight, bias)
    ca = a.shape[1]
    parts = [(a, weight[:, :ca]), (b, weight[:, ca:])]
    if b.shape[1] > ca:
        parts.reverse()
    (wide, w_wide), (narrow, w_narrow) = parts
    y = pointwise(wide, w_wide, bias)
    if (narrow.shape[1] <= PAIR_GEMM_CHANNELS and y.device.type == "cpu" and is_channels_last(y)
            and narrow.dtype == y.dtype):
        n = narrow if is_channels_last(narrow) else narrow.contiguous(memory_format=torch.channels_last)
        rows = y.permute(0, 2, 3, 1).view(-1, y.shape[1])  # the output as it lies in memory
        rows.addmm_(n.permute(0, 2, 3, 1).reshape(-1, n.shape[1]), w_narrow[:, :, 0, 0].t())
        return y
    return _add_by_bands(y, narrow, w_narrow)


def _add_by_bands(y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``y += conv1x1(x, weight)`` in place, (B, C', H, W) += (B, C, H, W) -> (B, C', H, W).

    On a one-image channels-last CPU map the convolution runs band by band of rows (the strip
    size of :mod:`uptflow.nets.strips`), each band added while its output is still in cache.  Why:
    whole, it was a fresh map as large as ``y``, written out and read back by the add (the level-1
    decoder reduction of a 256x256 paper-lol: 24 MiB, 59 GFLOP/s in a profile against ~400 for the
    same convolution on a strip; at 400x600, 92 MiB, above glibc's mmap threshold, so fresh pages
    every run; issue 18).  A 1x1 convolution is per pixel: same values.
    """
    h, w = y.shape[-2:]
    pixels = strip_pixels()
    rows = h if pixels is None else max(1, pixels // max(w, 1))
    if (rows >= h or y.shape[0] != 1 or y.device.type != "cpu" or not is_channels_last(y)
            or not is_channels_last(x)):
        return y.add_(pointwise(x, weight))
    for r0 in range(0, h, rows):
        y[:, :, r0:r0 + rows].add_(pointwise(x[:, :, r0:r0 + rows], weight))
    return y


def _autocasting(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (torch >= 2.4 takes the device; older: CPU or CUDA)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def linear_tokens(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for tokens ``x`` (..., C) -> (..., C'), through :func:`pointwise`.

    Why: a (N, C) token matrix is a channels-last (1, C, N, 1) map, so the same measured choice
    applies; on the AMD EPYC of issue 18, MKL's GEMM ran the window attention's (3900, 96) @
    (96, 96) projections at about half the rate of oneDNN's 1x1 convolution.  With autograd on, or
    for a non-contiguous ``x``, it is plain ``F.linear``.
    """
    if torch.is_grad_enabled() or x.device.type != "cpu" or not x.is_contiguous():
        return F.linear(x, weight, bias)
    c = x.shape[-1]
    grid = x.reshape(1, -1, 1, c).permute(0, 3, 1, 2)  # (1, C, N, 1), channels-last: no copy
    y = pointwise(grid, weight[:, :, None, None], bias)
    return y.permute(0, 2, 3, 1).reshape(*x.shape[:-1], weight.shape[0])
