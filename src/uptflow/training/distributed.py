"""Multi-process data parallel training (``torchrun --nproc_per_node=N``): setup and collectives.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_distributed` reads them and joins the process group (NCCL on CUDA, gloo on CPU).
With ``WORLD_SIZE`` unset or 1 everything here is a cheap no-op, so the single-process path
is the same code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

__all__ = ["DistInfo", "RankPlace", "env_int", "dist_from_env", "init_distributed", "select_device", "all_reduce_sum", "barrier",
           "shutdown"]


class RankPlace:
    """``enabled`` (more than one process) and ``is_main`` (rank 0) for a class with ``rank`` and
    ``world_size`` fields: shared by training's :class:`DistInfo` and inference's scale-out."""

    rank: int
    world_size: int

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass(frozen=True)
class DistInfo(RankPlace):
    """This process's place in the job.  ``owns_group``: we created the process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False


def env_int(name: str, default: int) -> int:
    """The integer in environment variable ``name`` (``default`` when unset or empty); a one-line
    ``ValueError`` naming the variable otherwise."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def dist_from_env() -> DistInfo:
    """Rank / world size / local rank from the torchrun environment (no group is created)."""
    world = env_int("WORLD_SIZE", 1)
    rank = env_int("RANK", 0)
    local = env_int("LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"inconsistent RANK={rank} / WORLD_SIZE={world}")
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def select_device(preference: str, info: DistInfo) -> torch.device:
    """``auto`` -> CUDA if available else CPU; with several ranks on CUDA, ``cuda:LOCAL_RANK``."""
    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {preference!r}")
    use_cuda = torch.cuda.is_available() if preference == "auto" else preference == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but CUDA is not available (this torch build or machine has no GPU)")
    if not use_cuda:
        return torch.device("cpu")
    index = info.local_rank % max(torch.cuda.device_count(), 1)
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def init_distributed(device: torch.device, info: DistInfo | None = None) -> DistInfo:
    """Join the process group if ``WORLD_SIZE > 1`` and none exists yet; return the info."""
    info = info or dist_from_env()
    if not info.enabled:
        return info
    if torch_dist.is_initialized():
        return DistInfo(torch_dist.get_rank(), torch_dist.get_world_size(), info.local_rank,
                        torch_dist.get_backend(), owns_group=False)
    backend = "nccl" if device.type == "cuda" else "gloo"
    for var in ("MASTER_ADDR", "MASTER_PORT"):
        if var not in os.environ:
            raise ValueError(f"WORLD_SIZE={info.world_size} but {var} is not set: launch with torchrun")
    try:  # device_id (torch >= 2.3) binds NCCL to this rank's GPU eagerly
        kwargs = {"device_id": device} if device.type == "cuda" else {}
        torch_dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size, **kwargs)
    except TypeError:  # pragma: no cover - older torch
        torch_dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return DistInfo(info.rank, info.world_size, info.local_rank, backend, owns_group=True)


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """In-place sum over ranks (identity for one process); returns ``tensor``."""
    if info.enabled:
        torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
    return tensor


def barrier(info: DistInfo) -> None:
    if info.enabled and torch_dist.is_initialized():
        torch_dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    if info.owns_group and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
