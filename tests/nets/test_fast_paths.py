"""The fast inference paths equal the reference computation (float64, random weights)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from uptflow.config import presets
from uptflow.model import UPTFlow
from uptflow.nets.msformer import _down_repeated, _up_repeated
from uptflow.nets.restormer import ChannelLayerNorm
from uptflow.nets.sampling import Downsample, Upsample, UpsampledRows
from uptflow.nets.strips import conv3x3_rows, strip_add_, strip_map, strip_size
from uptflow.nets.windows import wrapped_rows

TOL = 1e-10


def _random_model(preset: str, **changes) -> UPTFlow:
    """A float64 eval model whose zero-initialised output convs are made non-zero."""
    torch.manual_seed(0)
    model = UPTFlow(presets[preset].replace(**changes)).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            if not p.abs().sum():
                p.normal_(std=0.05)
    return model


@pytest.mark.parametrize("window", [5, 8])
def test_strips_and_bands_equal_whole_map(window):
    model = _random_model("tiny", window=window)
    low = torch.rand(2, 3, 43, 37, dtype=torch.float64)
    with strip_size(None):
        ref_out = model.enhance(low)
        ref_cond = model.condition(low[..., :40, :32])
    with strip_size(200):  # many strips / window bands at every level
        out = model.enhance(low)
        cond = model.condition(low[..., :40, :32])
    assert (out - ref_out).abs().max().item() <= TOL
    for a, b in zip(cond, ref_cond):
        assert (a - b).abs().max().item() <= TOL


def test_inference_equals_the_training_arithmetic():
    """Every inference-only path -- strips, window bands, in-place GELU and residuals, the
    cached position bias, the band-wise ``x + attention``, ECA's scale inside the sum, the
    skipped log-dets -- gives the numbers of the autograd (training) arithmetic."""
    model = _random_model("tiny", window=5)
    low = torch.rand(1, 3, 40, 48, dtype=torch.float64)  # a multiple of 8: enhance does not pad
    with torch.enable_grad():
        ref_cond = model.condition(low)
        z = torch.zeros(model.latent_shape(low), dtype=torch.float64)
        ref, _ = model.flow.inverse(z, ref_cond)
    for pixels in (None, 200):
        with strip_size(pixels):
            out = model.enhance(low)
            with torch.no_grad():
                cond = model.condition(low)
        assert (out - ref.clamp(0.0, 1.0)).abs().max().item() <= TOL
        for a, b in zip(cond, ref_cond):
            assert (a - b).abs().max().item() <= TOL


def test_cached_position_bias_follows_the_table():
    block = _random_model("tiny", window=5).encoder.u1.blocks[0].attn
    with torch.no_grad():
        first = block.position_bias().clone()
        block.relative_position_bias_table.add_(1.0)  # an optimizer step / load_state_dict
        assert torch.allclose(block.position_bias(), first + 1.0)
    with torch.enable_grad():
        assert torch.allclose(block.position_bias(), first + 1.0)


def test_strip_map_matches_a_local_conv_at_borders():
    conv = torch.nn.Conv2d(3, 5, 3, padding=1).double()
    x = torch.rand(1, 3, 50, 7, dtype=torch.float64)
    with torch.no_grad(), strip_size(1):  # 16-row strips (the minimum)
        out = strip_map(lambda s, lo, hi: conv(s)[:, :, lo:hi], x, radius=1)
        assert (out - conv(x)).abs().max().item() <= TOL


@pytest.mark.parametrize("rows", [1, 50])  # 16-row strips (the minimum) and one whole strip
def test_strip_add_equals_adding_the_whole_map(rows):
    """``x += op(x)`` strip by strip in place reads every halo row before it is overwritten."""
    torch.manual_seed(4)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1).double()
    x = torch.rand(2, 3, 50, 7, dtype=torch.float64)
    with torch.no_grad(), strip_size(rows * 7):
        ref = x + conv(x)
        y = x.clone()
        out = strip_add_(lambda s, lo, hi: conv(s)[:, :, lo:hi], y, radius=1)
    assert out is y
    assert (out - ref).abs().max().item() <= TOL


@pytest.mark.parametrize("groups", [1, 6])
@pytest.mark.parametrize("lo, hi", [(1, 7), (0, 7), (1, 8), (0, 8), (2, 5)])  # interior, top, bottom, whole, inner
def test_conv3x3_rows_equals_the_padded_convolution_cropped(groups, lo, hi):
    """Rows ``lo:hi`` of a 'same' 3x3 convolution of a slab, whether the slab's halo rows are
    used as real rows (interior: no vertical padding, only the wanted rows computed) or not."""
    torch.manual_seed(5)
    x = torch.randn(2, 6, 8, 5, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(6, 6 // groups, 3, 3, dtype=torch.float64)
    bias = torch.randn(6, dtype=torch.float64)
    ref = F.conv2d(x, weight, bias, padding=1, groups=groups)[:, :, lo:hi]
    out = conv3x3_rows(x, weight, bias, lo, hi, groups=groups)
    assert out.shape == ref.shape
    assert (out - ref).abs().max().item() <= TOL


def test_strip_size_rejects_non_positive():
    with pytest.raises(ValueError, match="strip size"):
        with strip_size(0):
            pass


def test_folded_upsample_equals_repeated_input():
    torch.manual_seed(1)
    up = Upsample(8).double()
    half = torch.rand(2, 4, 9, 7, dtype=torch.float64)
    ref = up(half.repeat(1, 2, 1, 1)).detach()
    with torch.no_grad(), strip_size(None):
        assert (_up_repeated(up, half) - ref).abs().max().item() <= TOL
    with torch.no_grad():  # strips on: rows on demand, every band (odd starts, borders) exact
        lazy = _up_repeated(up, half)
        assert isinstance(lazy, UpsampledRows) and lazy.shape == ref.shape
        assert (lazy.full() - ref).abs().max().item() <= TOL
        for r0, r1 in [(0, 1), (0, 5), (3, 8), (7, 18), (17, 18), (5, 6)]:
            assert (lazy.rows(r0, r1) - ref[:, :, r0:r1]).abs().max().item() <= TOL


@pytest.mark.parametrize("shift", [0, 2])
def test_upsampled_rows_computes_each_band_row_once(monkeypatch, shift):
    """The window bands' reads (equal bands from ``shift``, the last wrapping round to the top
    rows) are served from chunks that never recompute a row: chunks span whole bands, and the
    wrapped read gets only its own rows (issue 18)."""
    torch.manual_seed(4)
    src = torch.rand(1, 3, 64, 8, dtype=torch.float64)
    weight = torch.rand(8, 3, 3, 3, dtype=torch.float64)
    ref = UpsampledRows(src, weight).full()
    computed = []
    compute = UpsampledRows._compute
    monkeypatch.setattr(UpsampledRows, "_compute", lambda self, a, b: computed.append((a, b)) or compute(self, a, b))
    lazy, h, ws, band = UpsampledRows(src, weight), 128, 5, 3  # bands of 3 window rows
    hp = 130  # padded to whole windows; the padding rows are zeros, never read
    for i0 in range(0, hp // ws, band):  # as UPWindowBlock._attend reads them
        i1 = min(i0 + band, hp // ws)
        for a, e in wrapped_rows((i0 * ws + shift) % hp, (i1 - i0) * ws, hp):
            if a < h:
                assert (lazy.rows(a, min(e, h)) - ref[:, :, a:min(e, h)]).abs().max().item() <= TOL
    assert sum(b - a for a, b in computed) == h
    assert computed[0] == (shift, shift + 75)  # five whole bands, at least CHUNK_ROWS


def test_folded_downsample_of_the_broadcast_up_map_equals_the_expanded_input():
    torch.manual_seed(3)
    down = Downsample(6).double()
    m = torch.rand(2, 1, 10, 8, dtype=torch.float64)
    ref = down(m.expand(-1, 6, -1, -1)).detach()
    with torch.no_grad():
        out = _down_repeated(down, m, 6)
    assert out.shape == ref.shape == (2, 12, 5, 4)
    assert (out - ref).abs().max().item() <= TOL
    # channels-last, so the window branch reads the UP features below it without transposing
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()


@pytest.mark.parametrize("channels_last", [False, True])
def test_channel_layer_norm_equals_formula(channels_last):
    torch.manual_seed(2)
    norm = ChannelLayerNorm(6).double()
    with torch.no_grad():
        norm.body.weight.normal_()
        norm.body.bias.normal_()
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64) * 3 + 1
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    mean = x.mean(1, keepdim=True)
    var = (x - mean).pow(2).mean(1, keepdim=True)
    ref = (x - mean) / torch.sqrt(var + 1e-5) * norm.body.weight[:, None, None] + norm.body.bias[:, None, None]
    assert (norm(x) - ref).abs().max().item() <= TOL
