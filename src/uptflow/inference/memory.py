"""How much memory an enhancement needs and how much the process may use now.

- :func:`bytes_per_pixel`: peak memory of one whole-image pass per input pixel (measured).
- :func:`available_memory_bytes`: what a new allocation can use now — on the CPU the *smallest*
  of free RAM, the cgroup's headroom and the address-space limit's headroom (a container or a
  ``ulimit -v`` caps a process long before ``/proc/meminfo`` runs dry); on CUDA the device's
  free memory.
- :func:`limit_allocator_caching` / :func:`trim_heap`: glibc keeps freed activation buffers in
  its heap (on this network the peak RSS is ~1.5x the live-tensor peak); these give them back.

The readers take their file paths as arguments so tests can point them at fakes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import resource

import torch

from uptflow.config import UPTFlowConfig

__all__ = [
    "BYTES_PER_PIXEL_PER_WIDTH",
    "FALLBACK_BYTES",
    "bytes_per_pixel",
    "available_memory_bytes",
    "limit_allocator_caching",
    "trim_heap",
]

#: Peak inference memory per input pixel divided by the encoder width ``C`` (float32, batch 1,
#: CPU, default allocator).  Measured with ``python benchmarks/inference_memory.py`` (slope of the
#: peak RSS between two input sizes, fresh process each); the figures are in docs/DEVELOPMENT.md
#: and the constant is their upper envelope, so the estimate errs on the safe side.
BYTES_PER_PIXEL_PER_WIDTH = 80.0

#: What :func:`available_memory_bytes` assumes when no source of information works (2 GiB).
FALLBACK_BYTES = 2 * 1024**3

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter id (malloc.h)
_CGROUP_ROOT = "/sys/fs/cgroup"


def bytes_per_pixel(config: UPTFlowConfig) -> float:
    """Estimated peak memory of one enhancement pass per input pixel (bytes) for ``config``.

    Proportional to the width ``C``: the full-resolution ``C``/``2C``-channel maps dominate the
    peak.  :mod:`uptflow.inference.plan` uses it to decide when and how finely to tile.
    """
    return BYTES_PER_PIXEL_PER_WIDTH * float(config.width)


# ------------------------------------------------------------------------------ available memory
def available_memory_bytes(device: str | torch.device) -> int:
    """Memory that a new allocation on ``device`` can use now, in bytes (> 0).

    CUDA: free device memory (``torch.cuda.mem_get_info``).  CPU: the minimum of the sources that
    answer — ``MemAvailable`` (``/proc/meminfo``, else ``psutil``), the cgroup v2/v1 limit minus
    usage (reclaimable page cache not counted), and ``RLIMIT_AS`` minus the address space in use
    — or :data:`FALLBACK_BYTES` when none does.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        return int(free)
    ram = _meminfo_available()
    if ram is None:
        ram = _psutil_available()
    known = [v for v in (ram, _cgroup_headroom(), _address_space_headroom()) if v is not None]
    return max(int(min(known)), 1) if known else FALLBACK_BYTES


def _meminfo_available(path: str = "/proc/meminfo") -> int | None:
    """``MemAvailable`` in bytes, or None if the file is missing or has no such line."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # value is in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _psutil_available() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or unusable
        return None


def _address_space_headroom(status_path: str = "/proc/self/status") -> int | None:
    """``RLIMIT_AS`` (soft) minus the current virtual size ``VmSize``, or None if unlimited.

    Under ``ulimit -v`` every mapping counts, also memory that is never touched; an allocation
    beyond the limit fails however much RAM is free.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = _status_kb(status_path, "VmSize:")
    return max(int(soft) - (used or 0) * 1024, 0)


def _status_kb(path: str, key: str) -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_headroom(root: str = _CGROUP_ROOT, self_cgroup: str = "/proc/self/cgroup") -> int | None:
    """The tightest cgroup memory limit minus usage on the way from ``root`` to this process.

    v2 (``memory.max - memory.current``) and v1 (``memory/memory.limit_in_bytes -
    memory.usage_in_bytes``): the process's cgroup (``/proc/self/cgroup``) and every parent
    below the mount count, since a parent's limit binds its children.  Usage counts the page
    cache; its inactive part is reclaimable, so it is not held against us (the correction
    ``docker stats`` makes).  None if no limit is set or nothing is readable.
    """
    v2 = ("memory.max", "memory.current", "inactive_file")
    v1 = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    heads = []
    for base, names, controller in ((root, v2, None), (os.path.join(root, "memory"), v1, "memory")):
        for folder in _cgroup_folders(base, _cgroup_path(self_cgroup, controller)):
            limit_file, usage_file, inactive_key = names
            heads.append(_headroom(os.path.join(folder, limit_file), os.path.join(folder, usage_file),
                                   os.path.join(folder, "memory.stat"), inactive_key))
    known = [h for h in heads if h is not None]
    return min(known) if known else None


def _cgroup_path(self_cgroup: str, controller: str | None) -> str:
    """This process's cgroup path for ``controller`` (v1) or the unified hierarchy (None)."""
    try:
        with open(self_cgroup) as f:
            for line in f:
                _id, _, rest = line.rstrip("\n").partition(":")
                names, _, path = rest.partition(":")
                if (controller is None and _id == "0" and names == "") or \
                        (controller is not None and controller in names.split(",")):
                    return path
    except OSError:
        pass
    return "/"


def _cgroup_folders(base: str, path: str) -> list[str]:
    """``base`` and each folder on ``path`` below it (``/a/b`` -> base, base/a, base/a/b)."""
    folders = [base]
    for part in (p for p in path.split("/") if p and p not in (".", "..")):
        folders.append(os.path.join(folders[-1], part))
    return folders


def _headroom(limit_path: str, usage_path: str, stat_path: str, inactive_key: str) -> int | None:
    try:
        with open(limit_path) as f:
            raw = f.read().strip()
        if raw == "max":
            return None
        limit = int(raw)
        if limit >= 1 << 60:  # v1 reports "unlimited" as a huge number
            return None
        with open(usage_path) as f:
            usage = int(f.read().strip())
    except (OSError, ValueError):
        return None
    usage -= _stat_value(stat_path, inactive_key)
    return max(limit - max(usage, 0), 0)


def _stat_value(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


# ------------------------------------------------------------------------------ allocator
def limit_allocator_caching(threshold_bytes: int = 1 << 20) -> bool:
    """Serve allocations >= ``threshold_bytes`` by mmap so freed activations go back to the OS.

    glibc raises its mmap threshold dynamically after large frees and then keeps freed
    activation buffers in the heap; on this network that adds ~50 % to the peak RSS.  Pinning
    the threshold (as ``MALLOC_MMAP_THRESHOLD_`` would) is process-wide, so it is opt-in: call
    it once at the start of an inference program.  Returns False where glibc is not available.
    """
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt(_M_MMAP_THRESHOLD, int(threshold_bytes))) if mallopt is not None else False


def trim_heap() -> bool:
    """Give the heap's free pages back to the OS now (glibc ``malloc_trim(0)``; False elsewhere).

    Cheap (milliseconds).  Called between tiles: each tile frees all of its activations, and
    without a trim glibc keeps that memory and fragments it, so the process's peak RSS drifts up
    tile after tile.
    """
    malloc_trim = getattr(_libc(), "malloc_trim", None)
    return bool(malloc_trim(0)) if malloc_trim is not None else False


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once (``None`` where it cannot be found or loaded)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None
