"""Learning-rate schedule and the global-batch sampler (pure functions of the iteration)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from uptflow.training.config import ScheduleConfig
from uptflow.training.sampler import EpochIndexed, GlobalBatchSampler
from uptflow.training.schedule import WarmupMultiStep, lr_factor, milestone_iterations


def test_authors_schedule() -> None:
    ms = milestone_iterations((0.4, 0.6, 0.8, 0.9), 50_000)
    assert ms == [20_000, 30_000, 40_000, 45_000]
    assert lr_factor(0, 800, ms, 0.5) == pytest.approx(1 / 800)
    assert lr_factor(399, 800, ms, 0.5) == pytest.approx(0.5)
    assert lr_factor(799, 800, ms, 0.5) == 1.0
    assert lr_factor(19_999, 800, ms, 0.5) == 1.0
    assert lr_factor(20_000, 800, ms, 0.5) == 0.5
    assert lr_factor(30_000, 800, ms, 0.5) == 0.25
    assert lr_factor(49_999, 800, ms, 0.5) == 0.0625
    assert lr_factor(5, 0, ms, 0.5) == 1.0


def test_scheduler_sets_rates_and_round_trips() -> None:
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    sched = WarmupMultiStep(opt, ScheduleConfig(warmup_iters=10), total_iters=100)
    assert sched.apply(4) == pytest.approx(1e-4) and opt.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert sched.lr_at(95) == pytest.approx(2e-4 / 16)
    other = WarmupMultiStep(opt, ScheduleConfig(kind="constant"), total_iters=100)
    other.load_state_dict(sched.state_dict())
    assert other.lr_at(95) == sched.lr_at(95)
    assert WarmupMultiStep(opt, ScheduleConfig(kind="constant", warmup_iters=0), 100).lr_at(99) == other.base_lrs[0]


def test_ranks_partition_the_global_batch_and_epochs_are_permutations() -> None:
    n, g = 7, 4
    one = GlobalBatchSampler(n, g, seed=3, end=7)
    two = [GlobalBatchSampler(n, g, seed=3, rank=r, world_size=2, end=7) for r in range(2)]
    for it in range(7):
        assert two[0].rank_keys(it) + two[1].rank_keys(it) == one.global_keys(it)
    keys = [k for batch in one for k in batch]
    assert len(keys) == 28 and [k[0] for k in keys] == [p // n for p in range(28)]
    for epoch in range(4):
        assert sorted(i for e, i in keys if e == epoch) == list(range(n))
    assert [i for e, i in keys[:n]] == list(np.random.default_rng([3, 0]).permutation(n))


def test_resumed_sampler_continues_the_sequence() -> None:
    full = list(GlobalBatchSampler(5, 2, seed=1, end=9))
    tail = list(GlobalBatchSampler(5, 2, seed=1, start=4, end=9))
    assert tail == full[4:] and len(GlobalBatchSampler(5, 2, seed=1, start=4, end=9)) == 5


def test_sampler_errors() -> None:
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        GlobalBatchSampler(5, 3, seed=0, world_size=2)
    with pytest.raises(ValueError, match="empty"):
        GlobalBatchSampler(0, 2, seed=0)


def test_epoch_indexed_sets_the_epoch() -> None:
    class Probe(torch.utils.data.Dataset):
        epoch = -1

        def set_epoch(self, e: int) -> None:
            self.epoch = e

        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> tuple[int, int]:
            return self.epoch, i

    ds = EpochIndexed(Probe())
    assert ds[(2, 1)] == (2, 1) and ds[(5, 0)] == (5, 0) and len(ds) == 3
