"""The training objective (NLL bits/dim [+ L1]) and the dequantisation noise, on each device."""

from __future__ import annotations

import torch

from uptflow.model import UPTFlow
from uptflow.training.objective import TrainingObjective, dequantization_noise, dequantize


def test_objective_equals_model_nll() -> None:
    torch.manual_seed(0)
    model = UPTFlow.from_preset("tiny").eval()
    normal = torch.rand(2, 3, 16, 24)
    low = normal * 0.2
    nll, l1 = TrainingObjective(model)(low, normal)
    assert l1 is None
    torch.testing.assert_close(nll, model.nll(normal, low, dequantize=False), rtol=1e-6, atol=1e-6)
    nll2, l1 = TrainingObjective(model, l1_weight=1.0)(low, normal, normal)
    torch.testing.assert_close(nll2, nll)
    expected = (model.decode(torch.zeros(model.latent_shape(low)), low) - normal).abs().flatten(1).mean(1)
    torch.testing.assert_close(l1, expected)


def test_noise_is_per_sample_of_the_global_batch() -> None:
    full = dequantization_noise(3, 7, (4, 3, 8, 8))
    assert torch.equal(full, dequantization_noise(3, 7, (4, 3, 8, 8)))
    assert not torch.equal(full, dequantization_noise(3, 8, (4, 3, 8, 8)))
    assert float(full.min()) >= 0.0 and float(full.max()) < 1.0
    levels = torch.arange(256.0).view(1, 1, 1, 256) / 255.0  # noise spreads each level over +-1/(2q)
    deq = dequantize(levels, dequantization_noise(0, 0, (1, 1, 1, 256)), 256)
    assert float((deq - levels).abs().max()) <= 0.5 / 256 and float((deq - levels).std()) > 0.25 / 256


def test_objective_on_each_device_and_precision(device_dtype) -> None:
    """CPU float32 always; on a GPU also float32 and AMP (encoder in bf16/fp16, flow in float32):
    the NLL is finite, float32, close to the float32 CPU value, and gradients reach every parameter."""
    device, amp = device_dtype
    torch.manual_seed(0)
    model = UPTFlow.from_preset("tiny")
    normal = torch.rand(2, 3, 16, 16)
    low = normal * 0.2
    with torch.no_grad():
        TrainingObjective(model)(low, normal)  # ActNorm's data-dependent init, on the CPU
        ref, _ = TrainingObjective(model)(low, normal)
    model = model.to(device)
    nll, l1 = TrainingObjective(model, l1_weight=0.5, amp_dtype=amp)(low.to(device), normal.to(device),
                                                                    normal.to(device))
    assert nll.dtype == torch.float32 and l1 is not None and l1.dtype == torch.float32
    assert torch.isfinite(nll).all() and torch.isfinite(l1).all()
    tol = 1e-4 if amp is None else 0.05  # half-precision conditioning moves the NLL a little
    torch.testing.assert_close(nll.cpu(), ref, rtol=tol, atol=tol)
    (nll.mean() + 0.5 * l1.mean()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
