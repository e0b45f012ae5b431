"""The whole model: invertibility, likelihood, enhancement, temperature, input validation."""

from __future__ import annotations

import math

import pytest
import torch

from uptflow.config import UPTFlowConfig, presets
from uptflow.flows.actnorm import ActNorm
from uptflow.model import UPTFlow, pad_to_multiple, standard_normal_logp

D = torch.float64


def _random_model(dtype=torch.float64, seed: int = 0, window: int = 4) -> UPTFlow:
    """A tiny model with every parameter perturbed (zero-init output convs included)."""
    torch.manual_seed(seed)
    model = UPTFlow(presets["tiny"].replace(window=window)).to(dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("invconv.weight"):
                continue
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.05)
    for m in model.modules():
        if isinstance(m, ActNorm):
            m.initialized.fill_(True)
    return model.eval()


@pytest.fixture(scope="module")
def model64() -> UPTFlow:
    return _random_model()


def _images(b: int, h: int, w: int, seed: int = 0, dtype=D):
    g = torch.Generator().manual_seed(seed)
    normal = torch.rand(b, 3, h, w, generator=g, dtype=dtype)
    low = (normal * 0.15 + 0.01 * torch.rand(b, 3, h, w, generator=g, dtype=dtype)).clamp(0, 1)
    return normal, low


@pytest.mark.parametrize("size", [(8, 8), (16, 24), (24, 16)])
def test_whole_model_invertible_float64(model64, size):
    normal, low = _images(2, *size)
    with torch.no_grad():
        z, logdet = model64.encode(normal, low)
        x, inv_logdet = model64.decode_with_logdet(z, low)
    assert z.shape == (2, 192, size[0] // 8, size[1] // 8)
    torch.testing.assert_close(x, normal, atol=1e-10, rtol=0)
    # encode and decode log-dets cancel exactly (the authors' reverse log-det does not)
    torch.testing.assert_close(inv_logdet, -logdet, atol=1e-8, rtol=0)


def test_logdet_of_one_coupling_step_inside_the_model_matches_jacobian(model64):
    from flow_checks import brute_force_logdet

    step = model64.flow.levels[2].steps[0]
    cond_ch = model64.config.cond_channels
    x = torch.randn(1, 192, 1, 1, dtype=D)
    ctx = torch.randn(1, cond_ch, 1, 1, dtype=D)
    _, logdet = step(x, ctx)
    torch.testing.assert_close(logdet, brute_force_logdet(step, x, ctx), atol=1e-8, rtol=1e-10)


def test_nll_matches_hand_computation(model64):
    normal, low = _images(2, 8, 16, seed=3)
    q = model64.config.quantization
    g = torch.Generator().manual_seed(7)
    nll = model64.nll(normal, low, generator=g)
    g = torch.Generator().manual_seed(7)
    noise = torch.rand(normal.shape, generator=g, dtype=D)
    z, logdet = model64.encode(normal + (noise - 0.5) / q, low)
    dims = 3 * 8 * 16
    logp = (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).sum(dim=(1, 2, 3))
    expected = -(logdet + logp - dims * math.log(q)) / (dims * math.log(2))
    torch.testing.assert_close(nll, expected, atol=1e-10, rtol=0)
    assert nll.shape == (2,)
    # no dequantisation -> deterministic
    a = model64.nll(normal, low, dequantize=False)
    b = model64.nll(normal, low, dequantize=False)
    assert torch.equal(a, b)


def test_standard_normal_logp():
    z = torch.tensor([[[[0.0, 1.0]]]], dtype=D)
    expected = -math.log(2 * math.pi) - 0.5
    torch.testing.assert_close(standard_normal_logp(z), torch.tensor([expected], dtype=D))


def test_a_few_optimizer_steps_lower_nll():
    torch.manual_seed(0)
    model = UPTFlow(presets["tiny"]).train()
    normal, low = _images(2, 16, 16, seed=1, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(15):
        loss = model.nll(normal, low, generator=g).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0] - 0.1, losses


def test_actnorm_initialised_by_first_training_batch_only():
    torch.manual_seed(0)
    model = UPTFlow(presets["tiny"]).train()
    normal, low = _images(2, 16, 16, dtype=torch.float32)
    norms = [m for m in model.modules() if isinstance(m, ActNorm)]
    assert not any(bool(m.initialized) for m in norms)
    model.nll(normal, low)
    assert all(bool(m.initialized) for m in norms)


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (13, 9), (17, 31)])
def test_enhance_any_size(model64, size):
    _, low = _images(1, *size)
    out = model64.enhance(low)
    assert out.shape == low.shape
    assert out.dtype == low.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_enhance_crops_the_decode_of_the_padded_image(model64):
    _, low = _images(1, 13, 19)
    padded = pad_to_multiple(low, 8)
    assert padded.shape[-2:] == (16, 24)
    torch.testing.assert_close(padded[..., :13, :19], low, atol=0, rtol=0)
    with torch.no_grad():
        full = model64.decode(torch.zeros(1, 192, 2, 3, dtype=D), padded)
    torch.testing.assert_close(model64.enhance(low), full[..., :13, :19].clamp(0, 1), atol=1e-12, rtol=0)


def test_pad_to_multiple_reflects():
    x = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 1, 3, 5)
    y = pad_to_multiple(x, 8)
    assert y.shape == (1, 1, 8, 8)
    assert y[0, 0, 0].tolist() == [0, 1, 2, 3, 4, 3, 2, 1]


def test_temperature_zero_deterministic_and_seed_reproduces(model64):
    _, low = _images(1, 16, 16, seed=5)
    assert torch.equal(model64.enhance(low), model64.enhance(low, temperature=0.0))
    a = model64.enhance(low, temperature=0.8, generator=torch.Generator().manual_seed(1))
    b = model64.enhance(low, temperature=0.8, generator=torch.Generator().manual_seed(1))
    c = model64.enhance(low, temperature=0.8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_spread_grows_with_temperature(model64):
    _, low = _images(1, 16, 16, seed=6)
    spreads = []
    for t in (0.2, 0.6, 1.0):
        with torch.no_grad():
            samples = torch.stack([
                model64.decode(model64.sample_latent(low, t, torch.Generator().manual_seed(s)), low)
                for s in range(6)
            ])
        spreads.append(samples.std(dim=0).mean().item())
    assert spreads[0] < spreads[1] < spreads[2], spreads


@pytest.mark.parametrize("bad, exc, words", [
    (torch.rand(1, 4, 16, 16), ValueError, "3 channels"),
    (torch.rand(3, 16, 16), ValueError, "shape"),
    (torch.rand(1, 3, 0, 16), ValueError, "empty"),
    (torch.full((1, 3, 16, 16), float("nan")), ValueError, "NaN"),
    (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), TypeError, "floating"),
    ([[0.0]], TypeError, "torch.Tensor"),
])
def test_bad_input_gives_clear_error(bad, exc, words):
    model = UPTFlow(presets["tiny"]).eval()
    with pytest.raises(exc, match=words):
        model.enhance(bad)


def test_encode_rejects_sizes_and_mismatches():
    model = UPTFlow(presets["tiny"]).eval()
    with pytest.raises(ValueError, match="multiples of 8"):
        model.encode(torch.rand(1, 3, 12, 16), torch.rand(1, 3, 12, 16))
    with pytest.raises(ValueError, match="same batch and spatial size"):
        model.encode(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 24))
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(torch.zeros(1, 192, 3, 3), torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="temperature"):
        model.enhance(torch.rand(1, 3, 8, 8), temperature=-1.0)


def test_config_validation_and_presets():
    assert UPTFlowConfig().cond_channels == 288
    assert presets["paper-lol"].window == 5 and presets["paper"].window == 8
    with pytest.raises(ValueError, match="heads"):
        UPTFlowConfig(width=9)
    with pytest.raises(ValueError, match="levels"):
        UPTFlowConfig(levels=2)
    with pytest.raises(ValueError, match="unknown preset"):
        UPTFlow.from_preset("nope")
    cfg = presets["small"]
    assert UPTFlowConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config field"):
        UPTFlowConfig.from_dict({"widht": 3})


def test_enhance_with_an_explicit_latent(model64):
    """enhance(z=...) decodes the given latent: the draw enhance would make gives the same image,
    z = 0 the deterministic one; tiles and video frames pass crops of one shared draw."""
    _, low = _images(1, 13, 19, seed=7)  # not a multiple of 8: the latent is the padded image's
    assert model64.latent_shape(low) == (1, 192, 2, 3)
    z = model64.sample_latent(low, 0.8, torch.Generator().manual_seed(3))
    drawn = model64.enhance(low, temperature=0.8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(model64.enhance(low, z=z), drawn)
    assert torch.equal(model64.enhance(low, z=torch.zeros(1, 192, 2, 3, dtype=low.dtype)), model64.enhance(low))
    with pytest.raises(ValueError, match="z must have shape"):
        model64.enhance(low, z=torch.zeros(1, 192, 1, 3, dtype=low.dtype))
    with pytest.raises(ValueError, match="either an explicit latent z or temperature"):
        model64.enhance(low, temperature=0.5, z=z)


def test_decode_skips_only_the_log_det(model64):
    """``decode`` runs the flow under ``without_logdet``: the same image, and the switch is scoped
    to the block (the likelihood path outside it still gets the log-det)."""
    from uptflow.flows.base import logdet_wanted, without_logdet

    _, low = _images(1, 16, 24)
    z = torch.randn(model64.latent_shape(low), generator=torch.Generator().manual_seed(3), dtype=D)
    with torch.no_grad():
        image, logdet = model64.decode_with_logdet(z, low)
        assert torch.equal(model64.decode(z, low), image)
        with without_logdet():
            assert not logdet_wanted()
            quick, zeros = model64.decode_with_logdet(z, low)
        assert logdet_wanted()
    assert torch.equal(quick, image)
    assert torch.equal(zeros, torch.zeros_like(logdet)) and logdet.abs().min() > 0
    with torch.no_grad():
        assert torch.equal(model64.decode_with_logdet(z, low)[1], logdet)
