"""Torch datasets of low/normal image pairs with bit-exact, resumable randomness.

Determinism contract (shared by every dataset in ``uptflow.data``): an item's randomness comes
only from ``numpy.random.default_rng([seed, epoch, index])``; no dataset touches global RNG state.
So item ``i`` of epoch ``e`` is the same in any process, with any number of DataLoader workers and
after a resume, as long as the trainer calls ``set_epoch(e)`` (use :func:`set_dataset_epoch`,
which also reaches inside ``ConcatDataset``/``Subset``/:class:`MixedDataset`) before iterating.

Items are dicts ``{"low": (3, h, w) float32 in [0, 1], "normal": (3, h, w), "name": str}``, which
the default ``collate_fn`` batches as long as the sizes agree (always with a crop).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from uptflow.data.augment import paired_augment
from uptflow.data.layouts import PairRecord, read_pair_image

__all__ = ["PairedDataset", "MixedDataset", "set_dataset_epoch", "item_rng", "to_chw", "crop_to_multiple"]


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of item ``index`` in ``epoch``: ``default_rng([seed, epoch, index])``."""
    return np.random.default_rng([int(seed), int(epoch), int(index)])


def to_chw(img: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` array -> ``(3, H, W)`` float32 tensor that owns its memory (a copy)."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32).copy())


def crop_to_multiple(img: np.ndarray, multiple: int) -> np.ndarray:
    """Drop bottom rows / right columns so H and W are multiples of ``multiple`` (>= 1)."""
    if multiple <= 1:
        return img
    h, w = (img.shape[0] // multiple) * multiple, (img.shape[1] // multiple) * multiple
    if h == 0 or w == 0:
        raise ValueError(f"image of size {img.shape[0]}x{img.shape[1]} is smaller than the size multiple {multiple}")
    return img[:h, :w]


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_crop(crop: int | None) -> int | None:
    if crop is None:
        return None
    if isinstance(crop, bool) or not isinstance(crop, (int, np.integer)) or crop < 1:
        raise ValueError(f"crop must be a positive integer or None, got {crop!r}")
    return int(crop)


class LRUCache:
    """A tiny least-recently-used cache (``capacity`` 0 disables it). Picklable for workers."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"cache size must be >= 0, got {capacity}")
        self.capacity = int(capacity)
        self._data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = make()
        if self.capacity:
            self._data[key] = value
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)


class EpochDataset(Dataset):
    """Base class: holds ``seed`` and ``epoch`` and derives each item's generator from them."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = _check_seed(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops/flips (and synthetic degradations) items use."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def rng_for(self, index: int) -> np.random.Generator:
        return item_rng(self.seed, self.epoch, index)

    def load(self, index: int, rng: np.random.Generator) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _index(self, index: int) -> int:
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} items")
        return i

    def __getitem__(self, index: int) -> dict[str, Any]:
        i = self._index(index)
        return self.load(i, self.rng_for(i))


class PairedDataset(EpochDataset):
    """Low/normal pairs from :class:`~uptflow.data.layouts.PairRecord` s.

    Args:
        records: the pairs (e.g. from :func:`~uptflow.data.layouts.discover_pairs`).
        crop: square random-crop side for training (images smaller than it are reflect-padded),
            or None for whole images (validation; sizes may then differ between items).  The crop
            position is random even with ``augment=False`` — cropping samples, it does not alter.
        augment: random horizontal/vertical flips and quarter turns.
        seed: base seed of the per-item generators.
        multiple: after cropping, drop bottom/right pixels so H and W are multiples of this
            (e.g. 8 for likelihoods on whole validation images); 1 keeps sizes.
        cache_size: decoded pairs kept in memory per process (0 = decode every time).  A pair takes
            2 x H x W x 3 x 4 bytes (float32), e.g. 5.8 MB for a 400x600 LOL pair.

    Item: ``{"low": (3, h, w) float32 [0, 1], "normal": (3, h, w), "name": str}``.
    """

    def __init__(self, records: Sequence[PairRecord], crop: int | None = None, augment: bool = False,
                 seed: int = 0, *, multiple: int = 1, cache_size: int = 0) -> None:
        super().__init__(seed)
        records = list(records)
        if not records:
            raise ValueError("PairedDataset needs at least one pair")
        for r in records:
            if not isinstance(r, PairRecord):
                raise TypeError(f"records must be PairRecord objects, got {type(r).__name__}")
        if multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {multiple}")
        self.records = records
        self.crop = _check_crop(crop)
        self.augment = bool(augment)
        self.multiple = int(multiple)
        self._cache = LRUCache(cache_size)

    def __len__(self) -> int:
        return len(self.records)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Decoded ``(low, normal)`` of record ``index``, ``(H, W, 3)`` float32 in [0, 1]."""
        rec = self.records[index]

        def make() -> tuple[np.ndarray, np.ndarray]:
            low, normal = read_pair_image(rec.low), read_pair_image(rec.normal)
            if low.shape != normal.shape:
                raise ValueError(f"{rec.low} ({low.shape[0]}x{low.shape[1]}) and {rec.normal} "
                                 f"({normal.shape[0]}x{normal.shape[1]}) differ in size")
            return low, normal

        return self._cache.get(index, make)

    def load(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        """Item ``index`` with randomness from ``rng`` (used by :class:`MixedDataset`)."""
        low, normal = self.read(index)
        if self.crop is not None or self.augment:
            low, normal = paired_augment(low, normal, rng, self.crop, flips=self.augment, rot90=self.augment)
        low, normal = crop_to_multiple(low, self.multiple), crop_to_multiple(normal, self.multiple)
        return {"low": to_chw(low), "normal": to_chw(normal), "name": self.records[index].name}


class MixedDataset(EpochDataset):
    """Draw each item from one of several datasets with given probabilities.

    Item ``i`` uses ``default_rng([seed, epoch, i])`` to pick a dataset ``k`` (probabilities
    ``weights``), an index ``j`` in it (uniform), and then passes the same generator on to
    ``datasets[k].load(j, rng)`` for crops and degradations — so repeated ``j`` within an epoch
    still give different crops.  Every sub-dataset must provide ``load(index, rng)``
    (:class:`PairedDataset` and ``SyntheticPairDataset`` do).

    Args:
        datasets: the sources, e.g. ``[synthetic, sice_pairs]``.
        weights: non-negative, not all zero; normalised to sum to one.
        length: items per epoch (default: the sum of the source lengths).
        seed: base seed.
    """

    def __init__(self, datasets: Sequence[Dataset], weights: Sequence[float], length: int | None = None,
                 seed: int = 0) -> None:
        super().__init__(seed)
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("MixedDataset needs at least one dataset")
        if len(weights) != len(self.datasets):
            raise ValueError(f"got {len(weights)} weights for {len(self.datasets)} datasets")
        w = np.asarray(weights, dtype=np.float64)
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be non-negative and not all zero, got {list(weights)}")
        for d, wk in zip(self.datasets, w):
            if not callable(getattr(d, "load", None)):
                raise TypeError(f"{type(d).__name__} has no load(index, rng) method")
            if wk > 0 and len(d) == 0:
                raise ValueError(f"dataset {type(d).__name__} with a positive weight is empty")
        self.weights = w / w.sum()
        self.length = int(length) if length is not None else sum(len(d) for d in self.datasets)
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {self.length}")

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        for d in self.datasets:
            set_dataset_epoch(d, epoch)

    def load(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        k = int(rng.choice(len(self.datasets), p=self.weights))
        d = self.datasets[k]
        j = int(rng.integers(0, len(d)))
        return d.load(j, rng)


def set_dataset_epoch(dataset: Dataset, epoch: int) -> None:
    """Call ``set_epoch(epoch)`` on ``dataset`` and on every dataset nested in it.

    Walks ``ConcatDataset.datasets`` and ``Subset.dataset`` (torch's wrappers do not forward
    ``set_epoch``); datasets without ``set_epoch`` are left alone.
    """
    if isinstance(dataset, ConcatDataset):
        for d in dataset.datasets:
            set_dataset_epoch(d, epoch)
    elif isinstance(dataset, Subset):
        set_dataset_epoch(dataset.dataset, epoch)
    elif callable(getattr(dataset, "set_epoch", None)):
        dataset.set_epoch(epoch)
