"""The per-frame engine and the frame generator (uptflow.video.stream)."""

from __future__ import annotations

import numpy as np
import pytest

import uptflow
from uptflow.api import enhance_tensor
from uptflow.io.tensors import to_numpy, to_tensor
from uptflow.video.stream import FrameEnhancer, TemporalOptions
from video.clips import night_frames


def test_frame_by_frame_is_exactly_the_image_path(bundled_model):
    frames = [f.astype(np.float32) / 255 for f in night_frames(3)]
    enh = FrameEnhancer(bundled_model, TemporalOptions(enabled=False))
    for f in frames:
        ref = to_numpy(enhance_tensor(bundled_model, to_tensor(f)))
        np.testing.assert_array_equal(enh(f), ref)


def test_shared_statistics_replay_the_moving_average(bundled_model):
    """With sharing (no denoiser), frame 2 differs from its own frame-by-frame result, and
    with momentum 0 (own statistics recorded and replayed) it does not."""
    frames = [f.astype(np.float32) / 255 for f in night_frames(3, seed=3)]
    plain = FrameEnhancer(bundled_model, TemporalOptions(enabled=False))
    shared = FrameEnhancer(bundled_model, TemporalOptions(stats_momentum=0.8, denoise=1.0))
    own = FrameEnhancer(bundled_model, TemporalOptions(stats_momentum=0.0, denoise=1.0))
    outs = [(plain(f), shared(f), own(f)) for f in frames]
    # (recording sums in another order: float32 rounding, 1e-6)
    np.testing.assert_allclose(outs[0][0], outs[0][1], atol=1e-5)  # the first frame pools its own input
    assert np.abs(outs[2][0] - outs[2][1]).max() > 1e-3
    np.testing.assert_allclose(outs[2][0], outs[2][2], atol=1e-5)
    assert shared.stats.value and len(shared.stats.value) > 10


def test_enhance_frames_generator_keeps_dtype_and_is_lazy(bundled_model):
    pulled = []

    def camera():
        for i, f in enumerate(night_frames(4)):
            pulled.append(i)
            yield f

    gen = uptflow.enhance_frames(camera(), model=bundled_model)
    first = next(gen)
    assert pulled == [0]  # one frame in flight, not the whole stream
    assert first.dtype == np.uint8 and first.shape == (48, 64, 3)
    rest = list(gen)
    assert len(rest) == 3 and first.mean() > night_frames(1)[0].mean()  # brighter: enhanced
    as_float = list(uptflow.enhance_frames((f / 255.0 for f in night_frames(2)), model=bundled_model))
    assert as_float[0].dtype == np.float64
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        list(uptflow.enhance_frames([np.zeros((4, 4))], model=bundled_model))


def test_large_frames_are_tiled():
    """Frames larger than the tile are tiled by enhance_tensor (as images are); the result has the
    frame's size and the temporal filter still runs (a tiny random model: shapes only)."""
    model = uptflow.UPTFlow.from_preset("tiny").eval()
    enh = FrameEnhancer(model, TemporalOptions(), tile=64, overlap=16, tile_refine=0)
    f = night_frames(2, h=72, w=136)
    a, b = enh(f[0] / np.float32(255)), enh(f[1] / np.float32(255))
    assert a.shape == b.shape == (72, 136, 3) and np.isfinite(b).all()
    assert enh.stats.value is None  # tiled frames share statistics across their tiles instead
    assert enh.denoiser._prev is not None


def test_exposure_applies_to_the_filtered_frames(bundled_model):
    """``exposure=EV`` is ``apply_exposure`` of the frame the temporal filter gives (statistics and
    denoiser see the model's own output), for the engine and the frame generator alike."""
    from uptflow.inference.exposure import apply_exposure

    frames = [f.astype(np.float32) / 255 for f in night_frames(3, seed=5)]
    plain = FrameEnhancer(bundled_model, TemporalOptions())
    brighter = FrameEnhancer(bundled_model, TemporalOptions(), exposure=1.0)
    for f in frames:
        own = plain(f)
        got = brighter(f)
        np.testing.assert_allclose(got, apply_exposure(own, 1.0), atol=1e-6)
        assert got.mean() > own.mean() + 0.01
    via_api = list(uptflow.enhance_frames(night_frames(3, seed=5), model=bundled_model, exposure=1.0))
    no_ev = list(uptflow.enhance_frames(night_frames(3, seed=5), model=bundled_model))
    assert all(a.mean() > b.mean() for a, b in zip(via_api, no_ev))
    with pytest.raises(ValueError, match="exposure must be"):
        FrameEnhancer(bundled_model, exposure=float("nan"))
