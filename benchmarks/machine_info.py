"""What a timing depends on: CPU model, the ISA extensions that matter, library versions, threads.

Every benchmark table prints :func:`describe` beside it, because the same command runs at very
different speeds on different CPUs (oneDNN picks other kernels with AVX-512 / AMX than with
AVX2 only), and a number without its machine cannot be compared.
"""

from __future__ import annotations

import os
import platform
import re

#: CPU flags (as /proc/cpuinfo names them) that change which kernels oneDNN / MKL / OpenBLAS use.
_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx512_fp16", "amx_tile", "amx_bf16",
          "amx_int8")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The flags of :data:`_FLAGS` this CPU has (read by the package's own reader, the one
    ``train.cpu_amp`` decides with)."""
    from uptflow.training.precision import cpu_flags as all_flags

    have = all_flags()
    return [f for f in _FLAGS if f in have]


def torch_backends() -> dict[str, str]:
    """torch version, its BLAS / oneDNN versions and CPU capability as torch reports them."""
    import torch

    info = {"torch": torch.__version__, "threads": str(torch.get_num_threads()),
            "cpu capability": str(getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")())}
    config = torch.__config__.show()
    for name, pattern in (("oneDNN", r"(?:MKL-DNN|oneDNN)[^\n]*?v([\d.]+)"),
                          ("MKL", r"Intel\(R\) (?:oneAPI )?Math Kernel Library Version ([\d.]+)"),
                          ("BLAS", r"BLAS_INFO=(\w+)")):
        m = re.search(pattern, config)
        if m:
            info[name] = m.group(1)
    return info


def describe(threads: int | None = None) -> str:
    """One line naming the machine for a benchmark table."""
    info = torch_backends()
    if threads is not None:
        info["threads"] = str(threads)
    libs = ", ".join(f"{k} {v}" for k, v in info.items())
    return (f"CPU: {cpu_model()} ({os.cpu_count()} logical cores; flags: {' '.join(cpu_flags()) or 'none of note'}); "
            f"{libs}")


def peak_rss_bytes() -> int:
    """Peak resident set of this process image in bytes (``VmHWM``).

    Not ``ru_maxrss``: Linux carries it over fork + exec, so a benchmark worker started by a
    parent holding 400 MiB would report at least 400 MiB whatever it used itself.
    """
    import resource

    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def top_ops(fn, rows: int = 15) -> str:
    """Profile one call of ``fn()`` with ``torch.profiler`` and return the table of the ``rows``
    ops that take the most self CPU time (what to optimise first)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


if __name__ == "__main__":
    print(describe())
