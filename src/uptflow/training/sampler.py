"""Which samples each iteration (and each DDP rank) trains on: a pure function of the iteration.

Global sample position ``p = iteration * global_batch + j`` (``0 <= j < global_batch``) belongs to
epoch ``p // N`` (``N = len(dataset)``) and is dataset item
``np.random.default_rng([seed, epoch]).permutation(N)[p % N]``.  Rank ``r`` of ``W`` takes the
contiguous slice ``j in [r * B/W, (r+1) * B/W)``.  Because the order depends on nothing but
``(seed, iteration)``, resuming at iteration ``k`` continues the exact sequence, and ``W``
processes see the same samples as one process with the same global batch.

Batches may straddle an epoch boundary, so the loader asks for ``(epoch, index)`` keys and
:class:`EpochIndexed` sets the dataset's epoch before each item (dataset items draw their crops
from ``default_rng([data_seed, epoch, index])``).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
from torch.utils.data import Dataset, Sampler

from uptflow.data.paired import set_dataset_epoch

__all__ = ["GlobalBatchSampler", "EpochIndexed"]

Key = tuple[int, int]


class GlobalBatchSampler(Sampler[list[Key]]):
    """Yields, for iterations ``start .. end-1``, this rank's list of ``(epoch, index)`` keys.

    Args:
        dataset_len: ``N >= 1``.
        global_batch: samples per iteration over all ranks (divisible by ``world_size``).
        seed: order seed.
        rank, world_size: this process's slice.
        start, end: iteration range (``start`` = completed iterations when resuming).
    """

    def __init__(self, dataset_len: int, global_batch: int, seed: int, rank: int = 0, world_size: int = 1,
                 start: int = 0, end: int = 0) -> None:
        if dataset_len < 1:
            raise ValueError("the training dataset is empty")
        if global_batch < 1 or global_batch % world_size:
            raise ValueError(f"batch size {global_batch} must be a positive multiple of the number of processes ({world_size})")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.n = int(dataset_len)
        self.global_batch = int(global_batch)
        self.seed = int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.start, self.end = int(start), int(end)
        self._perms: dict[int, np.ndarray] = {}

    @property
    def local_batch(self) -> int:
        return self.global_batch // self.world_size

    def permutation(self, epoch: int) -> np.ndarray:
        """Item order of ``epoch`` (two epochs cached: a batch spans at most two)."""
        perm = self._perms.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            if len(self._perms) >= 2:
                self._perms.pop(min(self._perms))
            self._perms[epoch] = perm
        return perm

    def global_keys(self, iteration: int) -> list[Key]:
        """All ``global_batch`` keys of ``iteration``, in global order."""
        out = []
        for j in range(self.global_batch):
            p = iteration * self.global_batch + j
            epoch, pos = divmod(p, self.n)
            out.append((epoch, int(self.permutation(epoch)[pos])))
        return out

    def rank_keys(self, iteration: int) -> list[Key]:
        """This rank's contiguous slice of :meth:`global_keys`."""
        b = self.local_batch
        return self.global_keys(iteration)[self.rank * b:(self.rank + 1) * b]

    def __iter__(self) -> Iterator[list[Key]]:
        for it in range(self.start, self.end):
            yield self.rank_keys(it)

    def __len__(self) -> int:
        return max(0, self.end - self.start)


class EpochIndexed(Dataset):
    """``ds[(epoch, index)]`` = ``ds.set_epoch(epoch); ds[index]`` (works inside workers too)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._epoch: int | None = None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: Key) -> Any:
        epoch, index = key
        if epoch != self._epoch:
            set_dataset_epoch(self.dataset, int(epoch))
            self._epoch = int(epoch)
        return self.dataset[int(index)]
