"""uptflow.inference.memory: the memory estimate, each reader of available memory (fed fake
files), their combination (the minimum), a real RLIMIT_AS in a subprocess, the allocator hooks."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from uptflow.config import get_preset, presets
from uptflow.inference import memory
from uptflow.inference.memory import available_memory_bytes, bytes_per_pixel

MiB = 2**20


def test_bytes_per_pixel_grows_with_width():
    tiny, small, paper = (bytes_per_pixel(get_preset(n)) for n in ("tiny", "small", "paper"))
    assert 0 < tiny < small < paper
    assert paper / small == pytest.approx(48 / 16)
    assert bytes_per_pixel(presets["paper-lol"]) > bytes_per_pixel(presets["small"]) > 0


# ---------------------------------------------------------------- readers on fake files
def test_meminfo_reader(tmp_path):
    fake = tmp_path / "meminfo"
    fake.write_text("MemTotal:       1000 kB\nMemAvailable:     512 kB\n")
    assert memory._meminfo_available(str(fake)) == 512 * 1024
    assert memory._meminfo_available(str(tmp_path / "missing")) is None
    fake.write_text("MemTotal:       1000 kB\n")
    assert memory._meminfo_available(str(fake)) is None


def _cgroup_v2(root: Path, rel: str, limits: dict[str, tuple[str, int, int]]) -> Path:
    """A fake v2 tree: ``limits[folder] = (memory.max, memory.current, inactive_file)``."""
    for folder, (limit, usage, inactive) in limits.items():
        d = root / folder if folder else root
        d.mkdir(parents=True, exist_ok=True)
        (d / "memory.max").write_text(limit + "\n")
        (d / "memory.current").write_text(f"{usage}\n")
        (d / "memory.stat").write_text(f"anon 1\ninactive_file {inactive}\nactive_file 5\n")
    me = root.parent / "self_cgroup"
    me.write_text(f"0::/{rel}\n")
    return me


def test_cgroup_v2_takes_the_tightest_limit_on_the_path(tmp_path):
    root = tmp_path / "cg"
    me = _cgroup_v2(root, "a/b", {"": ("max", 0, 0), "a": (str(1000 * MiB), 300 * MiB, 100 * MiB),
                                  "a/b": ("max", 50 * MiB, 0)})
    # the parent "a" binds: 1000 - (300 - 100 reclaimable) MiB
    assert memory._cgroup_headroom(str(root), str(me)) == 800 * MiB
    (root / "a" / "b" / "memory.max").write_text(f"{400 * MiB}\n")
    assert memory._cgroup_headroom(str(root), str(me)) == 350 * MiB  # now the child binds
    (root / "a" / "memory.max").write_text("max\n")
    (root / "a" / "b" / "memory.max").write_text("max\n")
    assert memory._cgroup_headroom(str(root), str(me)) is None  # no limit anywhere


def test_cgroup_v1(tmp_path):
    root = tmp_path / "cg"
    d = root / "memory" / "job"
    d.mkdir(parents=True)
    (d / "memory.limit_in_bytes").write_text(f"{600 * MiB}\n")
    (d / "memory.usage_in_bytes").write_text(f"{250 * MiB}\n")
    (d / "memory.stat").write_text(f"total_inactive_file {50 * MiB}\n")
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # "unlimited"
    (root / "memory" / "memory.usage_in_bytes").write_text(f"{5000 * MiB}\n")
    me = tmp_path / "self_cgroup"
    me.write_text("5:cpu:/\n4:memory:/job\n0::/\n")
    assert memory._cgroup_headroom(str(root), str(me)) == 400 * MiB
    assert memory._cgroup_headroom(str(tmp_path / "nothing"), str(me)) is None


def test_address_space_reader(tmp_path, monkeypatch):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t 9999 kB\nVmSize:\t 102400 kB\n")
    monkeypatch.setattr(memory.resource, "getrlimit", lambda which: (300 * MiB, memory.resource.RLIM_INFINITY))
    assert memory._address_space_headroom(str(status)) == 200 * MiB  # 300 MiB limit - 100 MiB in use
    monkeypatch.setattr(memory.resource, "getrlimit", lambda which: (50 * MiB, 50 * MiB))
    assert memory._address_space_headroom(str(status)) == 0
    monkeypatch.setattr(memory.resource, "getrlimit",
                        lambda which: (memory.resource.RLIM_INFINITY, memory.resource.RLIM_INFINITY))
    assert memory._address_space_headroom(str(status)) is None


# ---------------------------------------------------------------- the combination
def _readers(monkeypatch, ram=None, cgroup=None, address=None, psutil=None):
    monkeypatch.setattr(memory, "_meminfo_available", lambda: ram)
    monkeypatch.setattr(memory, "_cgroup_headroom", lambda: cgroup)
    monkeypatch.setattr(memory, "_address_space_headroom", lambda: address)
    monkeypatch.setattr(memory, "_psutil_available", lambda: psutil)


@pytest.mark.parametrize("ram, cgroup, address, expected", [
    (8000, 3000, 5000, 3000),   # the container binds
    (8000, None, 1200, 1200),   # ulimit -v binds although RAM is free
    (900, 3000, 5000, 900),     # free RAM binds
    (8000, None, None, 8000),
])
def test_available_memory_is_the_tightest_source(monkeypatch, ram, cgroup, address, expected):
    _readers(monkeypatch, ram * MiB, None if cgroup is None else cgroup * MiB,
             None if address is None else address * MiB)
    assert available_memory_bytes("cpu") == expected * MiB


def test_available_memory_fallbacks(monkeypatch):
    _readers(monkeypatch, psutil=777 * MiB)
    assert available_memory_bytes("cpu") == 777 * MiB  # /proc/meminfo unreadable: psutil
    _readers(monkeypatch)
    assert available_memory_bytes(torch.device("cpu")) == memory.FALLBACK_BYTES
    _readers(monkeypatch, cgroup=12345)
    assert available_memory_bytes("cpu") == 12345
    _readers(monkeypatch, ram=8000 * MiB, address=0)
    assert available_memory_bytes("cpu") == 1  # exhausted, still positive


def test_available_memory_on_this_machine_is_bounded_by_meminfo():
    ram = memory._meminfo_available()
    if ram is None:
        pytest.skip("no /proc/meminfo here")
    m = available_memory_bytes("cpu")
    assert 0 < m <= ram


_CHILD = """
import resource, sys
import torch
from uptflow.config import get_preset
from uptflow.inference import memory, EnhanceOptions, make_plan
cap = int(sys.argv[1])
used = memory._status_kb("/proc/self/status", "VmSize:") * 1024
resource.setrlimit(resource.RLIMIT_AS, (used + cap, resource.RLIM_INFINITY))
avail = memory.available_memory_bytes("cpu")
plan = make_plan(1000, 1500, get_preset("small"), "cpu", EnhanceOptions())
try:
    make_plan(3000, 4000, get_preset("small"), "cpu", EnhanceOptions())  # 768 MB of image buffers alone
    refused = "no"
except ValueError as err:
    refused = type(err).__name__
print(avail, plan.tile, plan.estimated_bytes, plan.budget_bytes, refused)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status are Linux's")
def test_a_real_address_space_limit_caps_the_available_memory_and_the_plan():
    cap = 400 * MiB
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", _CHILD, str(cap)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    avail, tile, need, budget, refused = run.stdout.split()
    assert cap / 2 < int(avail) <= cap  # the limit, less what the child mapped since it measured
    assert tile != "None" and float(need) <= int(budget) <= 0.6 * cap  # tiled to fit the cap
    assert refused == "NotEnoughMemoryError"  # cannot fit at all: said before any work


# ---------------------------------------------------------------- allocator hooks
class _FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


def test_allocator_hooks_call_glibc_with_the_right_arguments(monkeypatch):
    fake = _FakeLibc()
    monkeypatch.setattr(memory, "_libc", lambda: fake)
    assert memory.limit_allocator_caching(4 << 20) is True and memory.trim_heap() is True
    assert fake.calls == [("mallopt", -3, 4 << 20), ("malloc_trim", 0)]  # M_MMAP_THRESHOLD = -3
    monkeypatch.setattr(memory, "_libc", lambda: None)
    assert memory.limit_allocator_caching() is False and memory.trim_heap() is False


_MALLOC_CHILD = """
import ctypes, ctypes.util, sys
from uptflow.inference import memory
libc = ctypes.CDLL(ctypes.util.find_library("c"))
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "limit":
    print(memory.limit_allocator_caching(1 << 20))
libc.free(libc.malloc(8 << 20))  # glibc's dynamic mmap threshold rises to 8 MiB after this free
before = libc.mallinfo2().hblkhd  # bytes in mmapped blocks
p = libc.malloc(4 << 20)
print(libc.mallinfo2().hblkhd - before >= 4 << 20)  # served by mmap (given back to the OS on free)
"""


@pytest.mark.skipif(not (sys.platform.startswith("linux") and ctypes.util.find_library("c")
                         and hasattr(ctypes.CDLL(ctypes.util.find_library("c")), "mallinfo2")),
                    reason="needs glibc >= 2.33")
def test_limit_allocator_caching_really_pins_glibcs_mmap_threshold():
    # In child processes: the setting is process-wide.
    def child(mode: str) -> list[str]:
        run = subprocess.run([sys.executable, "-c", _MALLOC_CHILD, mode], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        return run.stdout.split()

    assert child("default") == ["False"]  # glibc keeps a 4 MiB block in its heap (the RSS growth)
    assert child("limit") == ["True", "True"]  # pinned at 1 MiB: mmapped, returned on free


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_available_memory_cuda():
    free, total = torch.cuda.mem_get_info()
    assert 0 < available_memory_bytes("cuda") <= total
