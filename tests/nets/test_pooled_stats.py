"""Tests for uptflow.nets.pooled_stats: recording pooled statistics over tiles' own regions and
replaying them makes every pooling layer give, on a tile, exactly its whole-map result."""

from __future__ import annotations

import pytest
import torch

from uptflow.flows.subnet import CBAM
from uptflow.inference.models import random_model
from uptflow.nets.pooled_stats import PooledStats, active, pooled_max, pooled_mean, pooled_mean_rows, use
from uptflow.nets.restormer import ChannelAttention, ChannelLayerNorm
from uptflow.nets.strips import strip_size
from uptflow.nets.window_attention import LocallyEnhancedFeedForward
from uptflow.inference.tiles import core_windows, tile_windows

H, W, TILE, OVERLAP = 40, 56, 24, 10  # cores stay >= 5 px from every cut edge


def _layers():
    torch.manual_seed(0)
    attn, norm = ChannelAttention(16, 2), ChannelLayerNorm(16)
    with torch.no_grad():
        norm.body.weight.uniform_(0.5, 1.5)
        norm.body.bias.normal_()
        attn.temperature.uniform_(0.5, 3.0)
    leff = LocallyEnhancedFeedForward(16, 2)
    with torch.no_grad():
        leff.eca.conv.weight.normal_(0, 2)  # make ECA matter
    cbam = CBAM(16, 4)
    return {
        "channel attention (q k^T, norms)": lambda x: attn(x, norm),
        "LeFF + ECA (mean)": lambda x: leff(x),
        "CBAM (avg, max)": lambda x: cbam(x),
    }


def _tiles():
    return list(zip(tile_windows(H, W, TILE, OVERLAP), core_windows(H, W, TILE, OVERLAP)))


@pytest.mark.parametrize("strips", [None, 128], ids=["whole-maps", "16-row-strips"])
@pytest.mark.parametrize("name", list(_layers()))
def test_tiles_replaying_the_recorded_statistics_match_the_whole_map(name, strips):
    layer = _layers()[name]
    x = torch.randn(2, 16, H, W, generator=torch.Generator().manual_seed(1))  # batch of 2: per-sample stats
    with torch.no_grad(), strip_size(strips):
        whole = layer(x.clone())
        rec = PooledStats(record=True)
        with use(rec):
            for (y0, y1, x0, x1), core in _tiles():
                rec.begin(core, (y1 - y0, x1 - x0))
                layer(x[:, :, y0:y1, x0:x1].clone())
        replay = PooledStats(replay=rec.finalize())
        worst_shared = worst_alone = 0.0
        for (y0, y1, x0, x1), (c0, c1, d0, d1) in _tiles():
            tile = x[:, :, y0:y1, x0:x1]
            ref = whole[:, :, y0 + c0:y0 + c1, x0 + d0:x0 + d1]
            replay.begin()
            with use(replay):
                shared = layer(tile.clone())[:, :, c0:c1, d0:d1]
            alone = layer(tile.clone())[:, :, c0:c1, d0:d1]
            worst_shared = max(worst_shared, float((shared - ref).abs().max()))
            worst_alone = max(worst_alone, float((alone - ref).abs().max()))
    assert worst_shared < 1e-5, worst_shared
    assert worst_alone > 1e-3, worst_alone  # without sharing, the tiles really differ


@pytest.mark.parametrize("name", list(_layers()))
def test_the_whole_map_statistics_are_a_fixed_point_of_refinement(name):
    # a refinement pass (replay + record over the cores) that starts from the exact statistics
    # records them again: the estimate converges to the whole-image statistics, not elsewhere
    layer = _layers()[name]
    x = torch.randn(1, 16, H, W, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        whole = PooledStats(record=True)
        with use(whole):
            whole.begin()
            layer(x.clone())
        exact = whole.finalize()
        refine = PooledStats(replay=exact, record=True)
        with use(refine):
            for (y0, y1, x0, x1), core in _tiles():
                refine.begin(core, (y1 - y0, x1 - x0))
                layer(x[:, :, y0:y1, x0:x1].clone())
        again = refine.finalize()
    assert again.keys() == exact.keys() and len(exact) >= 1
    for k in exact:
        assert torch.allclose(again[k], exact[k], rtol=1e-5, atol=1e-6), k


def test_pooled_mean_and_max_over_cores_equal_the_whole_map():
    x = torch.randn(3, 5, H, W)
    key_owner = torch.nn.Identity()
    rec = PooledStats(record=True)
    with use(rec):
        for (y0, y1, x0, x1), core in _tiles():
            rec.begin(core, (y1 - y0, x1 - x0))
            pooled_mean(key_owner, "m", x[:, :, y0:y1, x0:x1])
            pooled_max(key_owner, "x", x[:, :, y0:y1, x0:x1])
    stats = rec.finalize()
    (km, mean), (kx, mx) = sorted(stats.items(), key=lambda kv: kv[0][1])
    assert km[1] == "m" and torch.allclose(mean, x.mean(dim=(2, 3)), atol=1e-6)
    assert kx[1] == "x" and torch.equal(mx, x.amax(dim=(2, 3)))


def _as_rows(x: torch.Tensor, cuts: list[int]) -> list[tuple[int, int, torch.Tensor]]:
    edges = [0, *cuts, x.shape[-2]]
    return [(a, e, x[:, :, a:e].clone()) for a, e in zip(edges, edges[1:])]


def test_pooled_mean_of_row_strips_equals_the_assembled_map():
    """Alone, recording over tile cores, and replaying: strips give the whole map's statistic."""
    x = torch.randn(2, 4, H, W, dtype=torch.float64)
    owner = torch.nn.Identity()
    rows = _as_rows(x, [3, 4, 11])  # uneven strips, one a single row
    assert torch.allclose(pooled_mean_rows(owner, "m", rows, H, W), pooled_mean(owner, "m", x), atol=1e-12)

    recs = [PooledStats(record=True), PooledStats(record=True)]
    for rec, from_rows in zip(recs, (False, True)):
        with use(rec):
            for (y0, y1, x0, x1), core in _tiles():
                rec.begin(core, (y1 - y0, x1 - x0))
                tile = x[:, :, y0:y1, x0:x1]
                if from_rows:
                    pooled_mean_rows(owner, "m", _as_rows(tile, [2, 5]), y1 - y0, x1 - x0)
                else:
                    pooled_mean(owner, "m", tile)
    (key, want), = recs[0].finalize().items()
    assert torch.allclose(recs[1].finalize()[key], want, atol=1e-6)

    with use(PooledStats(replay={key: want})):
        assert torch.equal(pooled_mean_rows(owner, "m", rows, H, W), want.to(x.dtype))


def test_core_box_scales_to_coarser_maps():
    st = PooledStats()
    st.begin((3, 9, 0, 16), (16, 16))
    assert st.core_box(8, 8) == (2, 5, 0, 8)  # rows 1.5 -> 2 .. 4.5 -> 5 (half up, the same for every tile)
    assert st.core_box(1, 1) == (0, 1, 0, 1)  # never empty
    st.begin((15, 16, 15, 16), (16, 16))
    assert st.core_box(2, 2) == (1, 2, 1, 2)  # never past the map
    st.begin()
    assert st.core_box(8, 8) is None
    with pytest.raises(ValueError, match="frame"):
        st.begin((0, 1, 0, 1))


def test_replaying_a_whole_image_recording_reproduces_the_model_and_nothing_leaks():
    model = random_model("tiny", seed=0)
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model.enhance(x)
        rec = PooledStats(record=True)
        with use(rec):
            rec.begin()
            assert torch.allclose(model.enhance(x), ref, atol=1e-6)  # recording changes nothing
        stats = rec.finalize()
        kinds = {k[1] for k in stats}
        assert kinds == {"gram", "sq", "mean", "avg", "max"}
        with use(PooledStats(replay=stats)) as st:
            st.begin()
            assert torch.allclose(model.enhance(x), ref, atol=1e-5)
        assert active() is None
        other = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(3))
        with use(PooledStats(replay=stats)) as st:
            st.begin()
            forced = model.enhance(other)
        assert not torch.allclose(forced, model.enhance(other), atol=1e-4)  # the replay is really used
