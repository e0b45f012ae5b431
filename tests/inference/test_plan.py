"""uptflow.inference.plan: the one decision between a whole-image pass and tiles, from memory."""

from __future__ import annotations

import numpy as np
import pytest

from uptflow import api
from uptflow.config import get_preset
from uptflow.inference import memory, plan
from uptflow.inference.errors import NotEnoughMemoryError
from uptflow.inference.memory import bytes_per_pixel
from uptflow.inference.options import EnhanceOptions
from uptflow.inference.plan import (IMAGE_BYTES_PER_PIXEL, MIN_TILE, auto_tile_size, make_plan, max_overlap,
                                    tiled_bytes)

SMALL = get_preset("small")
MiB = 2**20


def test_auto_tile_size_basics():
    assert auto_tile_size(100, 100, 4.0, 100 * 100 * 4) is None  # fits exactly
    t = auto_tile_size(4000, 3000, 1000.0, 2**30)
    assert t is not None and t % 8 == 0
    assert t * t * 1000.0 <= 2**30 < (t + 8) ** 2 * 1000.0  # largest multiple of 8 that fits
    assert auto_tile_size(4000, 3000, 1000.0, 1) == MIN_TILE  # floor at min_tile (one MIN_TILE)
    assert auto_tile_size(4000, 3000, 1000.0, 1, multiple=32, min_tile=100) == 128  # rounded up
    with pytest.raises(ValueError):
        auto_tile_size(10, 10, 0.0, 100)


def test_auto_tile_size_leaves_room_for_the_fixed_buffers():
    t = auto_tile_size(4000, 3000, 1000.0, 2**30, fixed_bytes=2**29)
    assert t * t * 1000.0 + 2**29 <= 2**30 < (t + 8) ** 2 * 1000.0 + 2**29


def test_auto_tile_size_monotone_in_budget():
    budgets = np.unique(np.geomspace(1, 2e11, 400).astype(np.int64))
    prev = 0
    for b in budgets:
        t = auto_tile_size(6000, 4000, 1500.0, int(b), multiple=16, min_tile=64)
        size = float("inf") if t is None else t
        assert size >= prev
        prev = size
    assert prev == float("inf")  # eventually the whole image fits


def test_choose_tile():
    cfg = SMALL
    bpp = bytes_per_pixel(cfg)
    assert api.choose_tile(400, 600, cfg, "cpu", budget_bytes=int(bpp * 400 * 600) + 1) is None
    tile = api.choose_tile(400, 600, cfg, "cpu", budget_bytes=int(bpp * 200 * 200))
    assert tile is not None and 128 <= tile <= 200 and tile % 8 == 0
    assert api.choose_tile(4000, 6000, cfg, "cpu", tile=0) is None
    assert api.choose_tile(400, 600, cfg, "cpu", tile=256) == 256
    assert api.choose_tile(100, 100, cfg, "cpu", tile=256) is None  # fits in one tile


def test_explicit_choices_are_followed():
    never = make_plan(4000, 6000, SMALL, "cpu", EnhanceOptions(tile=0))
    assert never.tile is None and not never.tiled and not never.automatic
    forced = make_plan(400, 600, SMALL, "cpu", EnhanceOptions(tile=128, overlap=96))
    assert forced.tile == 128 and forced.overlap == 96 and not forced.automatic
    assert make_plan(100, 128, SMALL, "cpu", EnhanceOptions(tile=128)).tile is None  # one tile: whole


@pytest.mark.parametrize("h, w, batch", [(400, 600, 1), (1080, 1920, 1), (500, 700, 3)])
def test_automatic_tiles_fit_the_budget_with_the_image_buffers(h, w, batch):
    budget = int(0.3 * batch * h * w * bytes_per_pixel(SMALL))
    p = make_plan(h, w, SMALL, "cpu", EnhanceOptions(budget_bytes=budget), batch=batch)
    assert p.automatic and p.tile is not None and p.tile % 8 == 0 and p.tile >= MIN_TILE
    assert p.estimated_bytes == tiled_bytes(h, w, p.tile, SMALL, batch) <= budget
    assert tiled_bytes(h, w, p.tile + 8, SMALL, batch) > budget  # and it is the largest such tile
    assert p.estimated_bytes > batch * p.tile**2 * bytes_per_pixel(SMALL) + batch * (IMAGE_BYTES_PER_PIXEL - 1) * h * w


def test_automatic_tiles_clamp_the_overlap_to_a_quarter_tile_stride():
    budget = int(tiled_bytes(600, 800, 128, SMALL))
    p = make_plan(600, 800, SMALL, "cpu", EnhanceOptions(overlap=120, budget_bytes=budget))
    assert p.tile == 128 and p.overlap == max_overlap(128) == 96


def test_the_smallest_tile_when_only_it_fits_and_a_clear_error_when_nothing_does():
    need = tiled_bytes(600, 800, MIN_TILE, SMALL)
    p = make_plan(600, 800, SMALL, "cpu", EnhanceOptions(budget_bytes=int(need) + 1))
    assert p.tile == MIN_TILE
    with pytest.raises(NotEnoughMemoryError, match=r"800x600 needs about .* GiB even in 64-px tiles") as info:
        make_plan(600, 800, SMALL, "cpu", EnhanceOptions(budget_bytes=int(need) - 1))
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)


def _memory(monkeypatch, ram=None, cgroup=None, address=None):
    monkeypatch.setattr(memory, "_meminfo_available", lambda: ram)
    monkeypatch.setattr(memory, "_cgroup_headroom", lambda: cgroup)
    monkeypatch.setattr(memory, "_address_space_headroom", lambda: address)


@pytest.mark.parametrize("binding", ["cgroup", "address"])
def test_the_tile_follows_the_tightest_memory_limit(monkeypatch, binding):
    """Free RAM alone would allow the whole image; a container or ulimit -v must not be ignored."""
    h, w = 1500, 2000
    whole = h * w * bytes_per_pixel(SMALL)
    _memory(monkeypatch, ram=int(4 * whole))
    assert make_plan(h, w, SMALL, "cpu", EnhanceOptions()).tile is None
    tight = int(whole / 4)
    _memory(monkeypatch, ram=int(4 * whole), **{binding: tight})
    p = make_plan(h, w, SMALL, "cpu", EnhanceOptions())
    assert p.automatic and p.budget_bytes == int(plan.MEMORY_FRACTION * tight)
    assert p.estimated_bytes <= p.budget_bytes


def test_default_budget_is_a_share_of_the_available_memory(monkeypatch):
    _memory(monkeypatch, ram=1000 * MiB)
    p = make_plan(2000, 1500, SMALL, "cpu", EnhanceOptions())
    assert p.budget_bytes == int(plan.MEMORY_FRACTION * 1000 * MiB) and p.estimated_bytes <= p.budget_bytes
