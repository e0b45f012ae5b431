"""Statistics moving average, scene cuts and the temporal denoiser (uptflow.video.temporal)."""

from __future__ import annotations

import pytest
import torch

from uptflow.video.temporal import SceneCutDetector, StatsEMA, TemporalDenoiser


def test_stats_ema_averages_and_resets():
    ema = StatsEMA(0.75)
    ema.update({"a": torch.tensor([4.0])})
    ema.update({"a": torch.tensor([0.0]), "b": torch.tensor([1.0])})
    assert ema.value["a"].item() == pytest.approx(3.0)
    assert ema.value["b"].item() == 1.0  # a new key starts from its first value
    ema.reset()
    assert ema.value is None
    with pytest.raises(ValueError):
        StatsEMA(1.0)


def test_scene_cut_on_a_new_picture_not_on_noise_or_a_small_object():
    g = torch.Generator().manual_seed(0)
    scene = torch.rand(1, 3, 72, 96, generator=g) * 0.1
    other = torch.rand(1, 3, 72, 96, generator=g).flip(-1) * 0.1 + 0.05
    det = SceneCutDetector()
    cuts = []
    for t in range(6):
        x = (scene if t < 3 else other) + 0.01 * torch.randn(1, 3, 72, 96, generator=g)
        if t in (1, 4):
            x = x.clone()
            x[..., 20:32, 10:22] += 0.2  # a small bright object
        cuts.append(det(x.clamp(0, 1)))
    assert cuts == [False, False, False, True, False, False]


def test_denoiser_averages_static_noise_and_follows_motion():
    g = torch.Generator().manual_seed(1)
    clean = torch.full((1, 3, 64, 64), 0.5)
    den = TemporalDenoiser(0.25)
    outs = []
    for t in range(12):
        frame = clean.clone()
        if t >= 8:
            frame[..., 16:48, 16:48] = 0.9  # an object appears
        outs.append(den(frame + 0.03 * torch.randn(frame.shape, generator=g)))
    static_noise = (outs[7] - clean).std().item()
    assert static_noise < 0.03 * 0.6  # noise on static pixels clearly reduced
    # where the object appeared the new frame is taken at once (no ghost of the background)
    assert (outs[8][..., 20:44, 20:44].mean() - 0.9).abs().item() < 0.02
    off = TemporalDenoiser(1.0)
    x = torch.rand(1, 3, 8, 8)
    assert off(x) is x and off(x + 1) is not None
