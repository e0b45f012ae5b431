"""Scale-out of ``uptflow enhance`` / ``uptflow evaluate --model`` with PyTorch's launcher.

``torchrun --nproc_per_node=N [--nnodes ...] -m uptflow enhance IN -o OUT`` starts N processes
per node; each joins a gloo process group (the collectives here are a few numbers and metric
rows, so gloo suffices even on GPUs) and works on its *share* of the inputs:

- **every file exactly once**: all ranks list the same inputs and plan the same outputs (the
  output plan stays global, so the no-overwrite and name-clash checks see every file), then
  :func:`shard` splits the file indices;
- **balanced by pixel count**: image sizes are read from the file headers (PIL opens lazily, no
  decoding) and files are dealt largest first to the least loaded rank (longest-processing-time
  rule: the busiest rank gets at most 4/3 of the optimum);
- **deterministic**: ties broken by index and rank, so every rank computes the same split;
- one GPU per rank (``cuda:LOCAL_RANK``) or, on CPU, ``max(1, cores // LOCAL_WORLD_SIZE)``
  threads per rank (``UPTFLOW_THREADS`` overrides);
- rank 0 prints the summary; failure counts are summed over all ranks (``all_reduce``), so every
  rank returns the exit code of the whole job.

Without torchrun (``WORLD_SIZE`` unset or 1) :func:`start` returns a :class:`Share` that owns
everything and whose collectives are identities: the single-process path is the same code.
"""

from __future__ import annotations

import atexit
import heapq
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence, TypeVar

from uptflow.training.distributed import RankPlace, env_int

T = TypeVar("T")

__all__ = ["Share", "start", "shard", "file_pixels", "is_main"]


def shard(weights: Sequence[int | float], world: int) -> list[list[int]]:
    """Split item indices ``0..len(weights)-1`` into ``world`` lists with balanced total weight.

    Largest weight first (ties: lower index first), each to the rank with the smallest load so
    far (ties: lower rank).  Every index appears in exactly one list; each list is ascending, so
    a rank processes its files in the order they were given.  Deterministic.
    """
    if world < 1:
        raise ValueError(f"world size must be >= 1, got {world}")
    order = sorted(range(len(weights)), key=lambda i: (-float(weights[i]), i))
    heap = [(0.0, r) for r in range(world)]
    parts: list[list[int]] = [[] for _ in range(world)]
    for i in order:
        load, r = heapq.heappop(heap)
        parts[r].append(i)
        heapq.heappush(heap, (load + float(weights[i]), r))
    return [sorted(p) for p in parts]


def file_pixels(path: str | os.PathLike) -> int:
    """Pixels of an image file from its header (no decoding); for a file PIL cannot identify
    (e.g. a video, or a broken file that will fail anyway) its size in bytes / 3, a rough proxy."""
    from uptflow.io.read import header_size

    try:
        w, h = header_size(path)
        return max(1, int(w) * int(h))
    except Exception:  # noqa: BLE001 - any unreadable header: fall back to the file size
        try:
            return max(1, os.path.getsize(path) // 3)
        except OSError:
            return 1


@dataclass
class Share(RankPlace):
    """This process's place in a torchrun job and the collectives the commands need."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world: int = 1
    _group: bool = field(default=False, repr=False)

    def device(self, preference: Any = "auto"):
        """The device for this rank: ``preference`` resolved as usual, and with several ranks on
        CUDA, ``cuda:LOCAL_RANK`` (mod the GPU count).  On CPU with several ranks per node, sets
        this process's torch threads to its share of the cores."""
        import torch

        from uptflow.inference.models import resolve_device

        dev = resolve_device(preference)
        if not self.enabled:
            return dev
        if dev.type == "cuda":
            index = self.local_rank % max(torch.cuda.device_count(), 1)
            torch.cuda.set_device(index)
            return torch.device("cuda", index)
        torch.set_num_threads(self.cpu_threads())
        return dev

    def cpu_threads(self) -> int:
        """``UPTFLOW_THREADS`` if set, else ``max(1, cores // LOCAL_WORLD_SIZE)``."""
        forced = env_int("UPTFLOW_THREADS", 0)
        if forced > 0:
            return forced
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cores = os.cpu_count() or 1
        return max(1, cores // max(self.local_world, 1))

    def take(self, items: Sequence[T], weights: Sequence[int | float] | None = None,
             prog: str = "uptflow") -> list[int]:
        """Indices of ``items`` this rank handles (all of them in a single process).  ``weights``
        default to 1 per item.  An empty share (more ranks than items) is not an error: it is
        said in one line on stderr and the rank only joins the final counts."""
        if not self.enabled:
            return list(range(len(items)))
        weights = [1] * len(items) if weights is None else weights
        mine = shard(weights, self.world_size)[self.rank]
        if not mine:
            print(f"{prog}: rank {self.rank} of {self.world_size} has nothing to work on "
                  f"({len(items)} input(s) for {self.world_size} ranks)", file=sys.stderr)
        return mine

    def take_files(self, files: Sequence[str | os.PathLike], prog: str) -> set[int]:
        """Indices of ``files`` this rank enhances, balanced by pixel count; prints a one-line
        note when the share is empty (more ranks than files: not an error)."""
        if not self.enabled:
            return set(range(len(files)))
        return set(self.take(files, [file_pixels(f) for f in files], prog))

    def total(self, *counts: int) -> tuple[int, ...]:
        """Sum integers over all ranks (every rank gets the totals)."""
        if not self.enabled:
            return tuple(int(c) for c in counts)
        import torch
        import torch.distributed as dist

        t = torch.tensor([int(c) for c in counts], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return tuple(int(v) for v in t.tolist())

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` in rank order, on every rank (``[obj]`` in a single process)."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


_current: Share | None = None


def start() -> Share:
    """Join the torchrun job described by the environment (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``/``PORT``) over gloo, once per process;
    without one, a single-process :class:`Share`."""
    global _current
    if _current is not None:
        return _current
    world = env_int("WORLD_SIZE", 1)
    rank = env_int("RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"inconsistent RANK={rank} / WORLD_SIZE={world}")
    share = Share(rank=rank, world_size=world, local_rank=env_int("LOCAL_RANK", 0),
                  local_world=env_int("LOCAL_WORLD_SIZE", 1))
    if share.enabled:
        import torch.distributed as dist

        for var in ("MASTER_ADDR", "MASTER_PORT"):
            if var not in os.environ:
                raise ValueError(f"WORLD_SIZE={world} but {var} is not set: launch with torchrun")
        if not dist.is_initialized():
            dist.init_process_group(backend="gloo", rank=rank, world_size=world)
            share._group = True
            atexit.register(_shutdown)
    _current = share
    return share


def is_main() -> bool:
    """Whether this process reports for the job (rank 0, or no torchrun job)."""
    return (_current or start()).is_main


def _shutdown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def merge_evaluations(share: Share, result: Any, pairs: Sequence[Any]) -> Any:
    """The :class:`~uptflow.evaluation.EvalResult` of all ranks as one, on every rank.

    Each rank scored its share of ``pairs``; rows and skipped pairs are put back in the order
    of ``pairs`` and the means recomputed over all rows, so the report equals a single-process
    run's (only the timing differs: the slowest rank's seconds are recorded).
    """
    if not share.enabled:
        return result
    from uptflow.evaluation.paired import EvalResult, _mean

    order = {rec.name: i for i, rec in enumerate(pairs)}
    parts = share.gather((result.rows, result.skipped, result.source.get("seconds", 0.0)))
    rows = sorted((r for p in parts for r in p[0]), key=lambda r: order.get(r["name"], len(order)))
    skipped = sorted((s for p in parts for s in p[1]), key=lambda s: order.get(s[0], len(order)))
    source = dict(result.source)
    source["seconds"] = max(float(p[2]) for p in parts)
    return EvalResult(rows, _mean(rows, result.protocol), result.protocol, skipped, dict(result.unmatched), source)
