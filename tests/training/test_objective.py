"""The training objective (NLL bits/dim [+ L1]) and the dequantisation noise, on each device."""

from __future__ import annotations

import torch

from uptflow.model import UPTFlow
from uptflow.training.objective import (LIT_FROM, LIT_FULL, TrainingObjective, dequantization_noise, dequantize,
                                        highlight_weights)


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


def test_highlight_weights_ramp_on_the_lit_pixels_of_the_low_image() -> None:
    low = torch.zeros(1, 3, 1, 5)
    low[0, 1, 0] = torch.tensor([0.0, LIT_FROM, (LIT_FROM + LIT_FULL) / 2, LIT_FULL, 1.0])  # the max channel counts
    w = highlight_weights(low, 4.0)
    assert w.shape == (1, 1, 1, 5)
    torch.testing.assert_close(w.flatten(), torch.tensor([1.0, 1.0, 3.0, 5.0, 5.0]))
    torch.testing.assert_close(highlight_weights(low, 0.0), torch.ones(1, 1, 1, 5))


def test_highlight_l1_weighs_only_the_lit_pixels() -> None:
    """A dark scene's loss is the plain L1; a lit pixel's error counts 1 + extra times."""
    torch.manual_seed(0)
    model = UPTFlow.from_preset("tiny").eval()
    normal = torch.rand(1, 3, 16, 16)
    dark = normal * 0.1
    plain = TrainingObjective(model, l1_weight=1.0)
    weighted = TrainingObjective(model, l1_weight=1.0, l1_highlight=4.0)
    with torch.no_grad():
        plain(dark, normal)  # ActNorm's data-dependent init
        torch.testing.assert_close(weighted(dark, normal, normal)[1], plain(dark, normal, normal)[1])
        lit = dark.clone()
        lit[..., :8, :] = 0.9  # the top half is lit in the low image
        out = model.decode(torch.zeros(model.latent_shape(lit)), lit)
        err = (out - normal).abs()
        expected = (err[..., :8, :].sum() * 5 + err[..., 8:, :].sum()) / err.numel()
        torch.testing.assert_close(weighted(lit, normal, normal)[1], expected.view(1))


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
