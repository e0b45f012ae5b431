"""uptflow.inference.tiles: window coverage, core windows, blend weights, exactness of tiled
inference for pointwise and local operators."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from uptflow.inference.tiles import blend_weight, core_windows, run_tiled, tile_windows

SIZES = [1, 2, 3, 7, 8, 9, 31, 64, 65, 100]
TILES = [1, 2, 3, 4, 8, 16, 33, 128]


def _overlaps(tile: int) -> list[int]:
    return sorted({o for o in (0, 1, 2, 3, tile // 2, tile - 1) if 0 <= o < tile})


def _axis(windows, lo, hi):
    return sorted({(w[lo], w[hi]) for w in windows})


@pytest.mark.parametrize("tile", TILES)
def test_core_windows_partition_the_image_inside_their_tiles(tile):
    for h, w in itertools.product(SIZES, SIZES):
        for ov in _overlaps(tile):
            wins = tile_windows(h, w, tile, ov)
            cores = core_windows(h, w, tile, ov)
            assert len(cores) == len(wins)
            cover = np.zeros((h, w), np.int32)
            for (y0, y1, x0, x1), (c0, c1, d0, d1) in zip(wins, cores):
                assert 0 <= c0 < c1 <= y1 - y0 and 0 <= d0 < d1 <= x1 - x0  # inside the tile, non-empty
                cover[y0 + c0:y0 + c1, x0 + d0:x0 + d1] += 1
            assert (cover == 1).all(), (h, w, tile, ov)  # every pixel owned by exactly one tile


def test_core_windows_keep_away_from_cut_edges():
    # each core boundary at a cut edge lies in the middle of the overlap
    for (y0, y1, x0, x1), (c0, c1, d0, d1) in zip(tile_windows(300, 200, 128, 32), core_windows(300, 200, 128, 32)):
        for lo, hi, size in ((c0, c1, y1 - y0), (d0, d1, x1 - x0)):
            if lo > 0:
                assert lo >= 16
            if hi < size:
                assert size - hi >= 16


@pytest.mark.parametrize("tile", TILES)
def test_windows_cover_and_overlap(tile):
    for h, w in itertools.product(SIZES, SIZES):
        for ov in _overlaps(tile):
            wins = tile_windows(h, w, tile, ov)
            cover = np.zeros((h, w), np.int32)
            for y0, y1, x0, x1 in wins:
                assert 0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w
                assert y1 - y0 == min(tile, h) and x1 - x0 == min(tile, w)
                cover[y0:y1, x0:x1] += 1
            assert cover.min() >= 1, (h, w, tile, ov)
            for spans, n in ((_axis(wins, 0, 1), h), (_axis(wins, 2, 3), w)):
                assert spans[0][0] == 0 and spans[-1][1] == n  # flush with both borders
                for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
                    assert b0 > a0 and a1 - b0 >= ov  # neighbours overlap by >= ov
            assert len(wins) == len(set(wins))


def test_windows_single_tile_when_image_fits():
    assert tile_windows(5, 7, 8, 2) == [(0, 5, 0, 7)]
    assert tile_windows(8, 8, 8, 0) == [(0, 8, 0, 8)]
    assert tile_windows(1, 1, 128, 32) == [(0, 1, 0, 1)]


def test_windows_use_few_tiles():
    # 100 px, tile 40, overlap 8: stride 32 -> starts 0, 30, 60 (3 tiles, spread evenly)
    assert _axis(tile_windows(100, 10, 40, 8), 0, 1) == [(0, 40), (30, 70), (60, 100)]


@pytest.mark.parametrize("args", [(0, 5, 4, 1), (5, 5, 0, 0), (5, 5, 4, 4), (5, 5, 4, -1)])
def test_windows_reject_bad_arguments(args):
    with pytest.raises(ValueError):
        tile_windows(*args)


def test_blend_weight_shape_and_edges():
    wt = blend_weight(16, 12, 4, at_top=True, at_bottom=False, at_left=False, at_right=True)
    assert wt.shape == (16, 12) and wt.dtype == torch.float32
    assert float(wt.min()) >= 0.0 and float(wt.max()) == 1.0
    assert torch.all(wt[-1] == 0) and torch.all(wt[:, 0] == 0)  # cut edges weigh 0
    assert torch.all(wt[:12, 4:] == 1)  # border sides and the interior weigh 1
    # ramp is monotone over the overlap and reaches 1 at its end
    col = wt[5, :4]
    assert torch.all(col[1:] > col[:-1]) and float(wt[5, 3]) == 1.0
    full = blend_weight(6, 6, 3, True, True, True, True)
    assert torch.all(full == 1)


@pytest.mark.parametrize("ov", [1, 2, 3, 5, 8])
def test_blend_ramps_are_a_partition_of_unity(ov):
    """Two neighbours overlapping by exactly ``ov``: rising + falling ramps sum to 1."""
    left = blend_weight(1, 20, ov, True, True, True, False)[0]
    right = blend_weight(1, 20, ov, True, True, False, True)[0]
    assert torch.allclose(left[-ov:] + right[:ov], torch.ones(ov), atol=1e-7)


def _rand(b, c, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=g)


CASES = [(1, 1, 8, 2), (5, 9, 4, 2), (37, 53, 16, 2), (37, 53, 16, 5), (64, 40, 24, 8), (100, 7, 32, 3), (33, 33, 8, 7)]


@pytest.mark.parametrize("h,w,tile,ov", CASES)
def test_identity_and_pointwise_are_exact(h, w, tile, ov):
    x = _rand(2, 3, h, w)
    assert torch.allclose(run_tiled(lambda t: t, x, tile, ov), x, atol=1e-6, rtol=0)
    assert torch.allclose(run_tiled(lambda t: t**2, x, tile, ov), x**2, atol=1e-6, rtol=0)
    mean = run_tiled(lambda t: t.mean(1, keepdim=True), x, tile, ov)  # C changes 3 -> 1
    assert mean.shape == (2, 1, h, w) and torch.allclose(mean, x.mean(1, keepdim=True), atol=1e-6)


@pytest.mark.parametrize("ov", [0, 1])
def test_identity_exact_even_with_small_overlap(ov):
    x = _rand(1, 3, 29, 31)
    assert torch.allclose(run_tiled(lambda t: t, x, 8, ov), x, atol=1e-6, rtol=0)


def _box(x: torch.Tensor, k: int) -> torch.Tensor:
    r = k // 2
    xp = F.pad(x, (r, r, r, r), mode="replicate")
    return F.avg_pool2d(xp, k, stride=1)


@pytest.mark.parametrize("h,w,tile,ov", [(37, 53, 16, 2), (37, 53, 16, 4), (64, 64, 24, 8), (20, 90, 12, 3)])
def test_local_3x3_operator_is_exact(h, w, tile, ov):
    """Radius-1 operators: the only wrong tile pixels sit on cut edges, which weigh 0."""
    x = _rand(1, 3, h, w, seed=1)
    tiled = run_tiled(lambda t: _box(t, 3), x, tile, ov)
    assert torch.allclose(tiled, _box(x, 3), atol=1e-6, rtol=0)


def test_local_operator_wrong_with_overlap_1():
    """With overlap 1 the cut edge pixel is shared at weight 0.5 each: a 3x3 blur is not exact."""
    x = _rand(1, 3, 37, 53, seed=1)
    err = (run_tiled(lambda t: _box(t, 3), x, 16, 1) - _box(x, 3)).abs().max()
    assert err > 1e-3


@pytest.mark.parametrize("k", [5, 7])
def test_wider_operator_differs_only_near_cut_edges(k):
    """Radius r = k // 2 > 1: differences only at offsets 1..r-1 inward of a cut tile edge
    (offset 0 weighs 0), i.e. inside overlap zones; everywhere else the result is exact."""
    h, w, tile, ov, r = 40, 50, 16, 6, k // 2
    x = _rand(1, 1, h, w, seed=2)
    diff = (run_tiled(lambda t: _box(t, k), x, tile, ov) - _box(x, k)).abs()[0, 0]
    near = torch.zeros(h, w, dtype=torch.bool)
    for y0, y1, x0, x1 in tile_windows(h, w, tile, ov):
        for o in range(1, r):
            if y0 > 0:
                near[y0 + o, x0:x1] = True
            if y1 < h:
                near[y1 - 1 - o, x0:x1] = True
            if x0 > 0:
                near[y0:y1, x0 + o] = True
            if x1 < w:
                near[y0:y1, x1 - 1 - o] = True
    assert float(diff[~near].max()) < 1e-6
    assert 1e-4 < float(diff.max()) < 0.1  # tiling does change those pixels, a little


def test_whole_image_when_it_fits_and_progress():
    calls, seen = [], []

    def fn(t):
        calls.append(tuple(t.shape))
        return t * 2

    x = _rand(1, 3, 20, 30)
    assert torch.equal(run_tiled(fn, x, 32, 8, progress=lambda i, n: seen.append((i, n))), x * 2)
    assert calls == [(1, 3, 20, 30)] and seen == [(1, 1)]
    calls.clear()
    assert torch.equal(run_tiled(fn, x, None, 8), x * 2) and len(calls) == 1
    seen.clear()
    run_tiled(fn, x, 16, 4, progress=lambda i, n: seen.append((i, n)))
    n = len(tile_windows(20, 30, 16, 4))
    assert n > 1 and seen == [(i, n) for i in range(1, n + 1)]


def test_wrong_output_shape_is_a_value_error():
    x = _rand(1, 3, 40, 40)
    with pytest.raises(ValueError, match="tile function returned shape"):
        run_tiled(lambda t: t[:, :, ::2, ::2], x, 16, 4)
    with pytest.raises(ValueError, match=r"\(B,3,H,W\)"):
        run_tiled(lambda t: t, x[0], 16, 4)
