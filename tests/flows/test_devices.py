"""The conditional flow and the whole model on each device/precision of the ``device_dtype`` fixture.

CPU float32 always runs; CUDA float32 and AMP (encoder under bf16/fp16 autocast, flow in float32,
as in training) run where a GPU exists.
"""

from __future__ import annotations

import torch

from uptflow.model import UPTFlow


def _model(device: torch.device) -> UPTFlow:
    torch.manual_seed(0)
    model = UPTFlow.from_preset("tiny")
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        model.encode(x, x * 0.2)  # ActNorm's data-dependent init, on the CPU, so all devices share it
    return model.eval().to(device)


def _conditions(model: UPTFlow, low: torch.Tensor, amp: torch.dtype | None) -> list[torch.Tensor]:
    with torch.autocast(low.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        contexts = model.condition(low)
    return [c.float() for c in contexts]


@torch.no_grad()
def test_flow_round_trip_and_logdets(device_dtype) -> None:
    device, amp = device_dtype
    model = _model(device)
    g = torch.Generator().manual_seed(1)
    normal = torch.rand(2, 3, 24, 32, generator=g).to(device)
    contexts = _conditions(model, normal * 0.2, amp)
    z, logdet = model.flow(normal, contexts)
    back, inv_logdet = model.flow.inverse(z, contexts)
    assert z.dtype == logdet.dtype == torch.float32
    torch.testing.assert_close(back, normal, atol=1e-4, rtol=0)
    torch.testing.assert_close(inv_logdet, -logdet, rtol=1e-5, atol=1e-3)


@torch.no_grad()
def test_enhance_matches_cpu_float32(device_dtype) -> None:
    device, amp = device_dtype
    model, ref_model = _model(device), _model(torch.device("cpu"))
    low = torch.rand(1, 3, 20, 28, generator=torch.Generator().manual_seed(2)) * 0.2
    ref = ref_model.enhance(low)
    with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
        out = model.enhance(low.to(device))
    assert out.shape == ref.shape and torch.isfinite(out).all()
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    tol = 1e-4 if amp is None else 0.05  # half-precision arithmetic moves outputs a little
    torch.testing.assert_close(out.float().cpu(), ref, atol=tol, rtol=0)
