"""uptflow.inference.shared_stats: tiles that share the whole image's pooled statistics.

The decisive test uses the shipped model on a real low-light capture: independent tiles drift
far from the whole-image result (the trained network relies on image-level statistics), tiles
with shared statistics stay close to it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from uptflow.inference.models import BUNDLED_MODEL, load_cached, random_model
from uptflow.inference.shared_stats import DEFAULT_REFINE, enhance_tiled, subsample_factor
from uptflow.inference.tiles import run_tiled, tile_windows
from uptflow.io.read import read_rgb
from uptflow.io.tensors import to_tensor


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1.0 / max(float(((a - b) ** 2).mean()), 1e-12))


def test_subsample_factor_is_the_smallest_that_fits_a_tile():
    for h in (1, 7, 100, 257, 400, 1080):
        for w in (1, 9, 150, 600, 1920):
            for tile in (64, 128, 200, 1200):
                f = subsample_factor(h, w, tile)
                assert f >= 1 and -(-h // f) * -(-w // f) <= tile * tile
                if f > 1:
                    assert -(-h // (f - 1)) * -(-w // (f - 1)) > tile * tile


def test_progress_counts_the_statistics_pass_and_every_tile_of_every_pass():
    model = random_model("tiny", seed=0)
    x = torch.rand(1, 3, 96, 160, generator=torch.Generator().manual_seed(0))
    n = len(tile_windows(96, 160, 64, 16))
    for refine in (0, 2):
        seen: list[tuple[int, int]] = []
        out = enhance_tiled(model, x, 64, 16, refine=refine, progress=lambda i, t: seen.append((i, t)))
        assert out.shape == x.shape and torch.isfinite(out).all()
        assert [i for i, _ in seen] == list(range(1, 2 + (refine + 1) * n))
        assert {t for _, t in seen} == {1 + (refine + 1) * n}


def test_an_image_no_larger_than_a_tile_is_enhanced_whole():
    model = random_model("tiny", seed=0)
    x = torch.rand(1, 3, 40, 90, generator=torch.Generator().manual_seed(0))  # 3600 px <= 64^2, wider than 64
    with torch.no_grad():
        assert torch.equal(enhance_tiled(model, x, 64, 16), model.enhance(x))


def test_refine_must_be_a_non_negative_integer():
    model = random_model("tiny", seed=0)
    x = torch.rand(1, 3, 96, 160)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="refine"):
            enhance_tiled(model, x, 64, 16, refine=bad)


@pytest.fixture(scope="module")
def lol_22(shared_dir: Path) -> torch.Tensor:
    return to_tensor(read_rgb(shared_dir / "data" / "lowlight_real" / "lol_eval15_low_400x600" / "22.png"))


def test_shared_statistics_keep_tiles_close_to_the_whole_image_with_the_shipped_model(lol_22):
    if not BUNDLED_MODEL.is_file():
        pytest.fail(f"the bundled model {BUNDLED_MODEL} is missing")
    model = load_cached(None, "cpu")
    with torch.no_grad():
        whole = model.enhance(lol_22)
        alone = run_tiled(model.enhance, lol_22, 256, 32)  # every tile pools over itself
    shared = enhance_tiled(model, lol_22, 256, 32, refine=DEFAULT_REFINE)
    p_alone, p_shared = _psnr(alone, whole), _psnr(shared, whole)
    # measured: independent 20.3 dB, shared (refine 1) ~40 dB
    assert p_alone < 25, p_alone
    assert p_shared > 34, (p_shared, p_alone)
    assert np.isclose(float(shared.mean()), float(whole.mean()), atol=0.01)  # same brightness


def test_heap_trimmed_after_every_tile_on_the_cpu(monkeypatch):
    from uptflow.inference import shared_stats

    calls: list[int] = []
    monkeypatch.setattr(shared_stats, "trim_heap", lambda: calls.append(1) or True)
    model = random_model("tiny", seed=0)
    x = torch.rand(1, 3, 96, 160, generator=torch.Generator().manual_seed(0))
    enhance_tiled(model, x, 64, 16, refine=1)
    assert len(calls) == 1 + 2 * len(tile_windows(96, 160, 64, 16))  # statistics pass + each tile of 2 passes


def test_a_broken_model_fails_at_the_first_tile():
    from uptflow.inference.errors import NonFiniteOutputError

    model = random_model("tiny", seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    seen: list[int] = []
    x = torch.rand(1, 3, 96, 160, generator=torch.Generator().manual_seed(0))
    with pytest.raises(NonFiniteOutputError, match=r"a tile at \(0, 0\)"):
        enhance_tiled(model, x, 64, 16, progress=lambda i, n: seen.append(i))
    assert seen == [1]  # only the statistics pass finished


def test_tiled_sampling_decodes_crops_of_the_whole_image_latent():
    """Temperature > 0: each tile decodes its crop of the draw the whole image would make (the
    same generator state), so the tiled sample is the whole-image sample up to tiling effects,
    much closer to it than to the whole-image sample of another seed."""
    model = random_model("tiny", seed=0)
    x = torch.rand(1, 3, 96, 160, generator=torch.Generator().manual_seed(3)) * 0.4
    tiled = enhance_tiled(model, x, 64, 16, temperature=0.8, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        same = model.enhance(x, temperature=0.8, generator=torch.Generator().manual_seed(5))
        other = model.enhance(x, temperature=0.8, generator=torch.Generator().manual_seed(6))
    assert _psnr(tiled, same) > _psnr(tiled, other) + 3, (_psnr(tiled, same), _psnr(tiled, other))
