"""uptflow.enhance(): type/shape/mode preservation, options, tiling, memory estimate, caching."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import uptflow
from uptflow import api
from uptflow.inference import models as reg
from uptflow.checkpoints import save_model

REPO = Path(__file__).resolve().parents[1]
LOL = REPO.parent / "shared" / "data" / "lowlight_real" / "lol_eval15_low_400x600"


@pytest.fixture(scope="module")
def model():
    return reg.random_model("tiny", seed=0)


@pytest.fixture(scope="module")
def real_150x200() -> np.ndarray:
    """A real LOL low-light capture downscaled to 150x200 (H x W), float32 (H, W, 3)."""
    if not LOL.is_dir():
        pytest.skip("../shared (reference data) is not beside the repository")
    img = Image.open(LOL / "1.png").convert("RGB").resize((200, 150), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def _rgb(h=20, w=28, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------- input types
def test_pil_rgba_keeps_mode_size_and_alpha(model):
    a = np.concatenate([_rgb(), np.arange(20 * 28, dtype=np.uint8).reshape(20, 28, 1)], axis=2)
    out = uptflow.enhance(Image.fromarray(a, "RGBA"), model=model)
    assert isinstance(out, Image.Image) and out.mode == "RGBA" and out.size == (28, 20)
    assert np.array_equal(np.asarray(out)[:, :, 3], a[:, :, 3])


def test_pil_grey_and_16bit_stay_grey(model):
    grey = Image.fromarray(_rgb()[:, :, 0], "L")
    out = uptflow.enhance(grey, model=model)
    assert out.mode == "L" and out.size == grey.size
    g16 = Image.fromarray((np.arange(20 * 28).reshape(20, 28) * 97).astype(np.uint16))
    out16 = uptflow.enhance(g16, model=model)
    assert out16.mode == "I;16" and out16.size == g16.size


def test_pil_rgb_result_matches_the_array_path(model):
    a = _rgb()
    out = np.asarray(uptflow.enhance(Image.fromarray(a), model=model))
    assert np.array_equal(out, uptflow.enhance(a, model=model))


@pytest.mark.parametrize("shape, dtype", [
    ((20, 28, 3), np.uint8), ((20, 28, 3), np.uint16), ((20, 28, 3), np.float32),
    ((20, 28), np.uint8), ((20, 28), np.float64), ((20, 28, 4), np.uint8),
])
def test_numpy_keeps_shape_and_dtype(model, shape, dtype):
    rng = np.random.default_rng(1)
    if np.issubdtype(dtype, np.floating):
        a = rng.random(shape).astype(dtype)
    else:
        a = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    out = uptflow.enhance(a, model=model)
    assert out.shape == a.shape and out.dtype == a.dtype
    if np.issubdtype(dtype, np.floating):
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    if len(shape) == 3 and shape[2] == 4:
        assert np.array_equal(out[:, :, 3], a[:, :, 3])


def test_uint16_uses_the_full_range(model):
    a8 = _rgb()
    out8 = uptflow.enhance(a8, model=model).astype(np.float64) / 255
    out16 = uptflow.enhance(a8.astype(np.uint16) * 257, model=model).astype(np.float64) / 65535
    assert np.abs(out8 - out16).max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize("shape", [(3, 17, 23), (2, 3, 17, 23)])
def test_tensor_keeps_shape_dtype_and_device(model, shape):
    x = torch.rand(shape, dtype=torch.float64)
    y = uptflow.enhance(x, model=model)
    assert isinstance(y, torch.Tensor) and y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    assert torch.isfinite(y).all()
    if len(shape) == 4:  # each batch item is enhanced like it would be alone
        assert torch.allclose(y[1], uptflow.enhance(x[1], model=model), atol=1e-5)


def test_path_returns_pil(model, tmp_path):
    p = tmp_path / "x.png"
    Image.fromarray(_rgb()).save(p)
    out = uptflow.enhance(str(p), model=model)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (28, 20)
    assert np.array_equal(np.asarray(out), np.asarray(uptflow.enhance(p, model=model)))


@pytest.mark.parametrize("bad, exc", [
    ([[0.1, 0.2]], TypeError),
    (np.zeros((4, 4, 3), np.int32), TypeError),
    (np.zeros((4, 4, 5), np.uint8), ValueError),
    (np.full((4, 4, 3), np.nan, np.float32), ValueError),
    (torch.zeros(3, 4, 4, dtype=torch.uint8), TypeError),
    (torch.zeros(1, 4, 4, 4), ValueError),
])
def test_bad_inputs_are_clear_errors(model, bad, exc):
    with pytest.raises(exc):
        uptflow.enhance(bad, model=model)


def test_unreadable_path_is_an_image_read_error(model, tmp_path):
    from uptflow.io.read import ImageReadError

    p = tmp_path / "broken.png"
    p.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="broken.png"):
        uptflow.enhance(p, model=model)


# ---------------------------------------------------------------- sampling
def test_temperature_and_seed(model):
    a = _rgb()
    s1 = uptflow.enhance(a, model=model, temperature=0.8, seed=3)
    assert np.array_equal(s1, uptflow.enhance(a, model=model, temperature=0.8, seed=3))
    assert not np.array_equal(s1, uptflow.enhance(a, model=model, temperature=0.8, seed=4))
    assert not np.array_equal(s1, uptflow.enhance(a, model=model))


def test_samples_need_a_temperature(model):
    with pytest.raises(ValueError, match="temperature"):
        api.enhance_array(model, _rgb().astype(np.float32) / 255, samples=2)


# ---------------------------------------------------------------- tiling
def test_tiled_enhance_on_a_real_image(model, real_150x200):
    x = torch.from_numpy(real_150x200).permute(2, 0, 1)[None]
    tiles = []
    whole = api.enhance_tensor(model, x, tile=0)
    tiled = api.enhance_tensor(model, x, tile=64, overlap=16, progress=lambda i, n: tiles.append(n))
    assert tiled.shape == whole.shape == (1, 3, 150, 200)
    assert torch.isfinite(tiled).all() and tiled.min() >= 0 and tiled.max() <= 1
    assert tiles and tiles[-1] > 1  # really tiled
    mse = float(((tiled - whole) ** 2).mean())
    assert 10 * math.log10(1 / max(mse, 1e-12)) > 15  # same picture, not garbage (random weights)


def test_tiled_sampling_runs_and_is_reproducible(model, real_150x200):
    x = torch.from_numpy(real_150x200).permute(2, 0, 1)[None]
    a = api.enhance_tensor(model, x, temperature=0.7, seed=5, tile=96, overlap=16)
    b = api.enhance_tensor(model, x, temperature=0.7, seed=5, tile=96, overlap=16)
    assert a.shape == x.shape and torch.isfinite(a).all() and torch.equal(a, b)


def test_enhance_array_takes_prepared_options_and_plan(model):
    from uptflow.inference.options import EnhanceOptions
    from uptflow.inference.plan import Plan

    rgb = np.random.default_rng(2).random((96, 136, 3), dtype=np.float32)
    opts = EnhanceOptions(temperature=0.6, seed=4, samples=2)
    outs = api.enhance_array(model, rgb, options=opts, plan=Plan(tile=64, overlap=16))
    assert len(outs) == 2 and all(o.shape == rgb.shape for o in outs)
    loose = api.enhance_array(model, rgb, temperature=0.6, seed=5, tile=64, overlap=16)
    assert np.array_equal(outs[1], loose[0])  # sample 1 = seed + 1, in the planned tiles


def test_a_model_producing_nan_is_refused_not_written_black(model):
    from uptflow.inference import NonFiniteOutputError

    broken = reg.random_model("tiny", seed=0)
    with torch.no_grad():
        for p in broken.parameters():
            p.fill_(float("nan"))
    with pytest.raises(NonFiniteOutputError):
        uptflow.enhance(_rgb(), model=broken)


# ---------------------------------------------------------------- model resolution through the API
def test_models_are_cached_per_spec_and_device(tmp_path, monkeypatch):
    path = tmp_path / "tiny.safetensors"
    save_model(reg.random_model("tiny"), path)
    reg.clear_cache()
    calls = []
    real = reg._load_path
    monkeypatch.setattr(reg, "_load_path", lambda p, d: calls.append(p) or real(p, d))
    a = _rgb()
    first = uptflow.enhance(a, model=path, device="cpu")
    second = uptflow.enhance(a, model=str(path), device="cpu")
    assert len(calls) == 1 and np.array_equal(first, second)
    reg.clear_cache()


def test_no_model_and_no_bundled_weights_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(reg, "BUNDLED_MODEL", tmp_path / "absent.safetensors")
    reg.clear_cache()
    with pytest.raises(ValueError, match="bundled model .* is missing"):
        uptflow.enhance(_rgb())
