"""uptflow.inference.pipeline: the plan is followed, samples are seeded, broken models are refused."""

from __future__ import annotations

import pytest
import torch

from uptflow.inference.errors import NonFiniteOutputError
from uptflow.inference.models import random_model
from uptflow.inference.options import EnhanceOptions
from uptflow.inference.pipeline import enhance_batch, enhance_samples, plan_for
from uptflow.inference.plan import MIN_TILE, Plan, tiled_bytes
from uptflow.inference.tiles import tile_windows
from uptflow.model import UPTFlow


@pytest.fixture(scope="module")
def model() -> UPTFlow:
    return random_model("tiny", seed=0)


def _image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_whole_image_when_it_fits_equals_the_model(model):
    low = _image(40, 600)
    out = enhance_batch(model, low, EnhanceOptions(budget_bytes=1 << 40))
    assert torch.equal(out, model.enhance(low))


def test_tight_budget_tiles_in_the_smallest_tiles(model):
    low = _image(40, 600)
    budget = int(tiled_bytes(40, 600, MIN_TILE, model.config)) + 1
    opts = EnhanceOptions(budget_bytes=budget, overlap=16)
    assert plan_for(model, low, opts).tile == MIN_TILE
    seen: list[int] = []
    out = enhance_batch(model, low, opts, progress=lambda i, n: seen.append(n))
    assert out.shape == low.shape and 0 <= float(out.min()) and float(out.max()) <= 1
    assert seen[-1] == 1 + 2 * len(tile_windows(40, 600, MIN_TILE, 16))  # statistics pass + 2 tiled passes
    assert torch.equal(out, enhance_batch(model, low, EnhanceOptions(tile=MIN_TILE, overlap=16)))


def test_automatic_tiling_follows_the_memory_budget(model):
    x = _image(136, 160)
    counts: list[int] = []
    whole_budget = int(plan_for(model, x, EnhanceOptions(tile=0)).estimated_bytes * 2)
    enhance_batch(model, x, EnhanceOptions(budget_bytes=whole_budget), progress=lambda i, n: counts.append(n))
    assert counts == [1]  # fits: whole image
    counts.clear()
    budget = int(tiled_bytes(136, 160, 128, model.config))  # exactly 128-px tiles fit
    auto = enhance_batch(model, x, EnhanceOptions(budget_bytes=budget, overlap=16),
                         progress=lambda i, n: counts.append(n))
    assert counts[-1] > 1
    assert torch.equal(auto, enhance_batch(model, x, EnhanceOptions(tile=128, overlap=16)))


def test_a_given_plan_is_followed_not_made_again(model):
    low = _image(96, 160)
    seen: list[int] = []
    out = enhance_batch(model, low, EnhanceOptions(tile=0), progress=lambda i, n: seen.append(n),
                        plan=Plan(tile=64, overlap=16))
    assert seen[-1] > 1  # tiled, although the options alone say "never tile"
    assert torch.equal(out, enhance_batch(model, low, EnhanceOptions(tile=64, overlap=16)))


def test_samples_use_seed_plus_i(model):
    low = _image(40, 48)
    opts = EnhanceOptions(temperature=0.8, seed=11, samples=3)
    outs = enhance_samples(model, low, opts)
    assert len(outs) == 3 and not torch.equal(outs[0], outs[1])
    for i, out in enumerate(outs):
        assert torch.equal(out, enhance_batch(model, low, EnhanceOptions(temperature=0.8, seed=11 + i)))


def _broken(kind: str) -> UPTFlow:
    m = random_model("tiny", seed=0)
    with torch.no_grad():
        if kind == "nan":
            for p in m.parameters():
                p.fill_(float("nan"))
        else:  # finite weights whose activations overflow: exp(200) = inf in float32, 0 * inf = NaN
            m.flow.levels[2].steps[0].actnorm.logs.fill_(-200.0)
    return m


@pytest.mark.parametrize("kind", ["nan", "overflow"])
@pytest.mark.parametrize("tile", [0, 64])
def test_non_finite_outputs_are_refused(kind, tile):
    """All-NaN weights used to give a black image (clamp + quantise) and exit code 0."""
    model = _broken(kind)
    with pytest.raises(NonFiniteOutputError, match="NaN or infinite") as info:
        enhance_batch(model, _image(96, 136), EnhanceOptions(tile=tile, overlap=16))
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_bad_input_is_a_clear_error(model):
    with pytest.raises(ValueError, match="low must have shape"):
        enhance_batch(model, torch.rand(3, 8, 8), EnhanceOptions())
    with pytest.raises(ValueError, match="NaN or infinite"):
        enhance_batch(model, torch.full((1, 3, 8, 8), float("nan")), EnhanceOptions())
