"""Start-up time of ``uptflow demo``: from process start until the page answers HTTP 200.

Each run starts ``python -m uptflow demo`` in a fresh process on a free port, polls the page,
records the time to the first 200, then stops the server with Ctrl-C (SIGINT).  Prints one row per
run and the median, with the CPU.  Needs the ``demo`` extra.

    python benchmarks/demo_startup.py [--runs 5] [--model M]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(model: str | None, timeout: float) -> float:
    """Seconds from ``Popen`` to the first HTTP 200 of the page."""
    port = _free_port()
    cmd = [sys.executable, "-m", "uptflow", "demo", "--port", str(port)] + (["--model", model] if model else [])
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"uptflow demo exited with {proc.returncode}: {proc.stderr.read().strip()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"no HTTP 200 from {url} within {timeout:.0f} s")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--model", default=None, help="passed to uptflow demo (default: the bundled model)")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for one start")
    args = p.parse_args()
    times = []
    print("| run | start-up to HTTP 200 (s) |\n|---|---|")
    for i in range(args.runs):
        times.append(one_run(args.model, args.timeout))
        print(f"| {i + 1} | {times[-1]:.2f} |", flush=True)
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"\nmedian {statistics.median(times):.2f} s over {args.runs} runs "
          f"(min {min(times):.2f}, max {max(times):.2f}); CPU: {_cpu()}, {os.cpu_count()} logical cores, "
          f"OMP_NUM_THREADS={threads}; model: {args.model or 'bundled'}")


if __name__ == "__main__":
    main()
