"""EnhanceOptions: every option validated once, one-line errors, frozen."""

from __future__ import annotations

import dataclasses

import pytest

from uptflow import api
from uptflow.inference.options import SEED_LIMIT, EnhanceOptions
from uptflow.inference.plan import MIN_TILE, max_overlap


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": -0.1}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"samples": 0}, "samples"),
    ({"tile": 32}, "tile must be >= 64"),
    ({"tile": 64, "overlap": 64}, "overlap"),
    ({"overlap": -1}, "overlap"),
    ({"seed": -3}, "seed"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        api.check_options(**kwargs)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"temperature": "0.5"}, TypeError, "temperature must be a number"),
    ({"temperature": True}, TypeError, "temperature must be a number"),
    ({"temperature": float("inf")}, ValueError, "finite"),
    ({"seed": SEED_LIMIT}, ValueError, r"seed must be an integer in \[0, 2\*\*63\)"),
    ({"seed": 2**64}, ValueError, "seed"),
    ({"seed": 1.0}, ValueError, "seed"),
    ({"samples": 2}, ValueError, "needs a temperature > 0"),
    ({"tile_refine": -1}, ValueError, "tile refinement passes"),
    ({"tile_refine": True}, ValueError, "tile refinement passes"),
    ({"tile_refine": 9}, ValueError, "tile refinement passes must be an integer in 0 .. 8"),
    ({"tile_refine": 10**9}, ValueError, "tile refinement passes"),
    ({"tile": 128.0}, TypeError, "tile must be an integer"),
    ({"budget_bytes": 0}, ValueError, "memory budget"),
])
def test_more_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        EnhanceOptions(**kwargs)
    assert "\n" not in str(info.value)


def test_the_largest_seed_is_accepted():
    assert EnhanceOptions(seed=SEED_LIMIT - 1).seed == SEED_LIMIT - 1
    opts = EnhanceOptions(seed=SEED_LIMIT - 3, samples=3, temperature=0.5)
    assert opts.sample_seeds() == [SEED_LIMIT - 3, SEED_LIMIT - 2, SEED_LIMIT - 1]
    assert EnhanceOptions(temperature=0.5, samples=2).sample_seeds() == [None, None]
    # seed + i may pass 2**63: torch's generator takes seeds up to 2**64 - 1
    assert EnhanceOptions(seed=SEED_LIMIT - 1, samples=2, temperature=0.5).sample_seeds()[1] == SEED_LIMIT


@pytest.mark.parametrize("tile", [64, 65, 100, 128, 256, 1000])
def test_overlap_leaving_a_stride_under_a_quarter_tile_is_rejected(tile):
    """--tile 64 --overlap 63 on 200x300 was a 1-px stride: tens of thousands of tiles, no end."""
    ok = max_overlap(tile)
    assert tile - ok >= tile / 4 and tile - (ok + 1) < tile / 4  # the bound is exactly a quarter tile
    assert EnhanceOptions(tile=tile, overlap=ok).overlap == ok
    with pytest.raises(ValueError, match=f"stride of {tile - ok - 1} px") as info:
        EnhanceOptions(tile=tile, overlap=ok + 1)
    assert f"<= {ok}" in str(info.value) and "\n" not in str(info.value)


def test_stride_applies_to_explicit_tiles_only():
    # automatic tiles clamp the overlap themselves (see test_plan); 0 never tiles
    assert EnhanceOptions(overlap=500).tile is None
    assert EnhanceOptions(tile=0, overlap=500).tile == 0
    assert MIN_TILE == 64


def test_options_are_frozen_and_check_options_returns_them():
    opts = api.check_options(temperature=0.5, samples=2, seed=7, tile=128, overlap=16, tile_refine=2)
    assert opts == EnhanceOptions(temperature=0.5, samples=2, seed=7, tile=128, overlap=16, tile_refine=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.tile = 64  # type: ignore[misc]
    with pytest.raises(ValueError, match="overlap"):
        dataclasses.replace(opts, overlap=100)  # replace() validates again
