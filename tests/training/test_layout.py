"""``train.channels_last``: NHWC weights and batches on CPU by default, the same loss and step as
NCHW up to float rounding, checkpoints that resume in either layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from uptflow.training import Trainer
from uptflow.training.config import TrainConfig

from .conftest import tiny_config

NHWC = torch.channels_last


def _conv_weights(trainer: Trainer) -> list[torch.Tensor]:
    return [p for p in trainer.model.parameters() if p.dim() == 4 and p.shape[-1] > 1]


@pytest.mark.parametrize("value", ["on", "yes", 1, 0, None, 2.0])
def test_bad_values_are_refused(pair_dirs, tmp_path: Path, value) -> None:
    low, normal = pair_dirs
    with pytest.raises(ValueError, match="train.channels_last must be true, false or auto"):
        tiny_config(low, normal, tmp_path, channels_last=value)


def test_auto_is_nhwc_on_cpu_and_false_is_nchw(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    auto = Trainer(tiny_config(low, normal, tmp_path / "a"), tensorboard=False)
    plain = Trainer(tiny_config(low, normal, tmp_path / "b", channels_last=False), tensorboard=False)
    assert auto.channels_last and not plain.channels_last
    assert all(w.is_contiguous(memory_format=NHWC) for w in _conv_weights(auto))
    assert any(not w.is_contiguous() for w in _conv_weights(auto))  # (depth-wise weights are both)
    assert all(w.is_contiguous() for w in _conv_weights(plain))
    batch = {"low": torch.rand(2, 3, 32, 32), "normal": torch.rand(2, 3, 32, 32)}
    low_t, normal_t = auto._to_device(batch)
    assert low_t.is_contiguous(memory_format=NHWC) and normal_t.is_contiguous(memory_format=NHWC)
    auto.close()
    plain.close()


def test_same_loss_and_step_as_nchw(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    runs = [Trainer(tiny_config(low, normal, tmp_path / name, channels_last=v), tensorboard=False)
            for name, v in (("nhwc", True), ("nchw", False))]
    g = torch.Generator().manual_seed(0)
    normal_b = torch.rand(2, 3, 32, 32, generator=g)
    batch = {"low": 0.2 * normal_b, "normal": normal_b}
    stats = [t._step(batch, 0)[0] for t in runs]
    torch.testing.assert_close(stats[0], stats[1], rtol=1e-5, atol=1e-6)  # loss, nll, l1, flag
    # Adam's first step is ~lr * sign(gradient): rounding noise in near-zero gradients flips a few
    # elements by ~lr (as between DDP and one process), so the weights agree as a whole
    va, vb = (torch.cat([p.detach().flatten() for p in t.model.parameters()]) for t in runs)
    assert float((va - vb).norm() / va.norm()) < 1e-4
    for t in runs:
        t.close()


def test_checkpoints_resume_in_the_other_layout(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    first = Trainer(tiny_config(low, normal, tmp_path, iters=4, channels_last=True), tensorboard=False)
    first.fit(stop_at=2)
    first.close()
    cfg: TrainConfig = tiny_config(low, normal, tmp_path, iters=4, channels_last=False)
    second = Trainer(cfg, resume="auto", tensorboard=False)
    assert second.iteration == 2 and not second.channels_last
    for (k, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert all(w.is_contiguous() for w in _conv_weights(second))
    second.fit()
    second.close()
