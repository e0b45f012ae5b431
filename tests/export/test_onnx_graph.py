"""The traceable twin of ``UPTFlow.enhance`` (eager checks; the ONNX round trip is in
tests/commands/test_export.py)."""

from __future__ import annotations

import itertools

import pytest
import torch

from uptflow.inference import models as reg
from uptflow.export.onnx_graph import EnhanceGraph, reflect_pad_indices, window_shift_mask
from uptflow.flows.invconv import InvertibleConv1x1
from uptflow.model import pad_to_multiple
from uptflow.nets.strips import strip_size
from uptflow.nets.window_attention import UPWindowBlock, shift_mask


@pytest.fixture(scope="module")
def model():
    return reg.random_model("tiny", seed=3)


def test_pad_indices_replay_pad_to_multiple_for_every_small_size():
    # sides 1..17 cover replicate rounds (1 px), several reflection rounds (2..7 px) and none (8, 16)
    for h, w in itertools.product(range(1, 18), range(1, 18)):
        x = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
        ref = pad_to_multiple(x, 8)
        rows, cols = reflect_pad_indices(torch.tensor(h), torch.tensor(w), ref.shape[2], ref.shape[3])
        assert torch.equal(x.index_select(2, rows).index_select(3, cols), ref), (h, w)


@pytest.mark.parametrize("hp,wp,window,shift", [(8, 8, 4, 2), (12, 20, 4, 2), (10, 15, 5, 2), (16, 8, 8, 4)])
def test_shift_mask_from_comparisons_equals_the_cached_one(hp, wp, window, shift):
    ref = shift_mask(hp, wp, window, shift)
    assert torch.equal(window_shift_mask(hp, wp, window, shift, ref), ref)


@pytest.mark.parametrize("h,w", [(67, 93), (40, 24), (5, 3), (1, 9), (1, 1)])
def test_graph_equals_enhance(model, h, w):
    low = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h * 100 + w)) * 0.4
    graph = EnhanceGraph(model)
    with torch.no_grad(), strip_size(None):
        got = graph(low)
    ref = model.enhance(low)
    assert got.shape == ref.shape
    assert ref.std() > 0  # a random model whose output depends on the input
    assert (got - ref).abs().max() <= 1e-5


def test_twin_is_a_converted_copy(model):
    graph = EnhanceGraph(model)
    blocks = [m for m in graph.modules() if isinstance(m, UPWindowBlock)]
    convs = [m for m in graph.modules() if isinstance(m, InvertibleConv1x1)]
    assert blocks and all(type(b) is not UPWindowBlock for b in blocks)
    assert convs and all(hasattr(c, "folded") for c in convs)
    # the folded weight is the float64 inverse, and the caller's model is untouched
    c = convs[0]
    eye = (c.folded.view(c.weight.shape).double() @ c.weight.double())
    assert torch.allclose(eye, torch.eye(eye.shape[0], dtype=torch.float64), atol=1e-5)
    assert all(type(m) is UPWindowBlock for m in model.modules() if isinstance(m, UPWindowBlock))
