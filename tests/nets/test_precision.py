"""Encoder precision: float32 by default (bit for bit the old path), bfloat16 on request in this
context only, the flow always float32, results close to float32."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import uptflow
from uptflow.inference import EnhanceOptions
from uptflow.nets import precision
from uptflow.prior import up_map

@pytest.fixture(scope="module")
def bundled():
    from uptflow.inference.models import load_cached

    return load_cached(None, torch.device("cpu"))


def _low(h: int = 48, w: int = 64) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(3)) * 0.25


def test_default_is_the_plain_float32_encoder(bundled) -> None:
    low = _low()
    with torch.no_grad():
        direct = bundled.encoder(low, up_map(low))
        via = bundled.condition(low)
    assert all(torch.equal(a, b) for a, b in zip(direct, via))


def test_bfloat16_runs_the_encoder_in_bfloat16_and_returns_float32(bundled) -> None:
    low = _low()
    seen: list[torch.dtype] = []
    hook = bundled.encoder.embed.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    try:
        with torch.no_grad(), precision.encoder_precision("bfloat16"):
            maps = bundled.condition(low)
    finally:
        hook.remove()
    assert seen == [torch.bfloat16]
    assert all(m.dtype == torch.float32 for m in maps)
    with torch.no_grad():
        ref = bundled.condition(low)
    rel = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(maps, ref))
    assert 0 < rel < 0.05  # different arithmetic, same maps to bfloat16's precision


def test_precision_is_per_context(bundled) -> None:
    seen = []
    with precision.encoder_precision("bfloat16"):
        t = threading.Thread(target=lambda: seen.append(precision.encoder_dtype()))
        t.start()
        t.join()
        seen.append(precision.encoder_dtype())
    seen.append(precision.encoder_dtype())
    assert seen == [torch.float32, torch.bfloat16, torch.float32]


@pytest.mark.parametrize("bad", ["fp32", "double", 16, None])
def test_bad_precision_is_one_line(bad) -> None:
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16, float16"):
        EnhanceOptions(precision=bad)
    with pytest.raises(ValueError, match="precision must be one of"):
        with precision.encoder_precision(bad):
            pass


def test_api_bfloat16_result_is_close_to_float32(bundled) -> None:
    """On a real sample: every pixel within a few 8-bit levels, PSNR against float32 >= 40 dB."""
    from PIL import Image

    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "samples" / "lol_eval15_1.png"
    img = np.asarray(Image.open(path).convert("RGB").resize((160, 120)))
    ref = uptflow.enhance(img, model=bundled).astype(np.float64)
    fast = uptflow.enhance(img, model=bundled, precision="bfloat16").astype(np.float64)
    assert not np.array_equal(ref, fast)  # the option does change the arithmetic
    psnr = 10 * np.log10(255.0**2 / np.mean((ref - fast) ** 2))
    assert psnr >= 40.0, psnr
    assert np.abs(ref - fast).max() <= 16


def test_bfloat16_decodes_with_bfloat16_coupling_networks_only(bundled) -> None:
    """Under bfloat16 the coupling sub-networks run in bfloat16 when *decoding* (their scale and
    shift come back float32, so z stays float32); the likelihood path (encode) keeps float32."""
    from uptflow.flows.subnet import CouplingNet

    low = _low()
    nets = [m for m in bundled.modules() if isinstance(m, CouplingNet)]
    seen: list[torch.dtype] = []
    # the first layer's output (its convolution, with the ActNorm folded in when decoding)
    hooks = [n.net[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype)) for n in nets]
    try:
        with torch.no_grad(), precision.encoder_precision("bfloat16"):
            out = bundled.enhance(low)
            decoded = set(seen)
            seen.clear()
            z, logdet = bundled.encode(out, low)
    finally:
        for h in hooks:
            h.remove()
    assert decoded == {torch.bfloat16} and out.dtype == torch.float32
    assert set(seen) == {torch.float32} and z.dtype == torch.float32 and logdet.dtype == torch.float32
