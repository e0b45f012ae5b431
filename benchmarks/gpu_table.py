"""The GPU table of issue 18: inference time and memory per precision, with and without ``torch.compile``.

One process, one model per preset (random weights, seed 0: the work does not depend on their
values), one ``(B, 3, H, W)`` random input per size.  For every (preset, size, precision,
compile) cell: one un-timed warm-up (for ``--compile`` the first call compiles; its time is
reported separately), then ``--runs`` timed calls of ``UPTFlow.enhance`` under
``uptflow.nets.precision.encoder_precision`` (float32, or bfloat16 / float16 autocast of the
encoder and the decode's coupling sub-networks — what ``uptflow enhance --precision`` does),
each ended by a device synchronisation.  Peak memory is ``torch.cuda.max_memory_allocated``
over the timed calls minus what was allocated before them (the model and the input); on CPU
(``--device cpu``, a dry run of the script) it is not measured.  A cell that runs out of memory
or fails to compile becomes a row saying so, not a crash.

Prepared on CPU, meant for one run on a lent GPU machine (device time is scarce; nothing here has
run on a GPU yet, so no duration is known).  ``torch.compile`` recompiles per input size and per
precision (autocast is part of its guards), and one compile of the ``tiny`` encoder took 104 s on
the 2-core CPU: keep compiled cells few::

    python benchmarks/gpu_table.py --json $OUT/gpu_table.json        # eager, all precisions
    python benchmarks/gpu_table.py --compile both --presets paper-lol --sizes 1080x1920 \
        --precisions bfloat16 --json $OUT/gpu_compile.json             # one compiled cell beside eager
    python benchmarks/gpu_table.py --device cpu --presets tiny --sizes 64x64 --runs 1   # dry run

Prints the machine (GPU name, capability, memory; torch, CUDA, cuDNN) and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import _parse_size  # noqa: E402  (benchmarks/ is not a package)

PRECISIONS = ("float32", "bfloat16", "float16")


def describe_device(device: str) -> str:
    """One line naming the accelerator (or the CPU for a dry run) and the libraries."""
    import torch

    if device == "cpu":
        from machine_info import describe

        return describe(torch.get_num_threads())
    props = torch.cuda.get_device_properties(0)
    return (f"GPU: {props.name} (compute capability {props.major}.{props.minor}, "
            f"{props.total_memory / 2**30:.0f} GiB); torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}")


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def measure_cell(model, image, precision: str, runs: int, device: str) -> dict:
    """Median / min seconds, first-call seconds and peak MiB of ``runs`` enhancements of ``image``."""
    import torch

    from uptflow.nets.precision import encoder_precision

    def call() -> None:
        with encoder_precision(precision):
            model.enhance(image)
        _sync(device)

    t0 = time.perf_counter()
    call()  # warm-up: compiles under --compile, picks kernels, fills caches
    first = time.perf_counter() - t0
    base = 0
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device == "cuda" else None
    return {"median_s": statistics.median(times), "min_s": min(times), "first_s": first, "peak_mib": peak}


def run_table(presets: list[str], sizes: list[tuple[int, int]], precisions: list[str], compile_modes: list[bool],
              runs: int, device: str, batch: int = 1) -> list[dict]:
    """One row per (preset, size, precision, compile) cell, failures included (``error``)."""
    import torch

    from uptflow.model import UPTFlow

    rows = []
    for preset in presets:
        for compiled in compile_modes:
            torch.manual_seed(0)
            model = UPTFlow.from_preset(preset).eval().to(device)
            if compiled:
                model.encoder = torch.compile(model.encoder)
            for h, w in sizes:
                image = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(1)).to(device)
                for precision in precisions:
                    row = {"preset": preset, "size": f"{h}x{w}", "batch": batch, "precision": precision,
                           "compile": compiled}
                    try:
                        row.update(measure_cell(model, image, precision, runs, device))
                    except torch.cuda.OutOfMemoryError:
                        row["error"] = "out of memory"
                    except Exception as exc:  # noqa: BLE001 - a failing cell (e.g. a compile error) is a result
                        first_line = str(exc).splitlines()[0][:120] if str(exc) else ""
                        row["error"] = f"{type(exc).__name__}: {first_line}"
                    if device == "cuda":
                        torch.cuda.empty_cache()  # an out-of-memory cell leaves nothing behind for the next
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
                del image
            del model
    return rows


def markdown(rows: list[dict]) -> str:
    """The table: seconds, megapixels per second, peak memory; failures spelled out."""
    lines = ["| preset | size (HxW) | batch | precision | torch.compile | median s | min s | first call s | "
             "MP/s | peak MiB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        head = f"| {r['preset']} | {r['size']} | {r['batch']} | {r['precision']} | {'yes' if r['compile'] else 'no'} |"
        if "error" in r:
            lines.append(f"{head} {r['error']} | | | | |")
            continue
        h, w = (int(v) for v in r["size"].split("x"))
        mps = r["batch"] * h * w / 1e6 / r["median_s"]
        peak = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        lines.append(f"{head} {r['median_s']:.3f} | {r['min_s']:.3f} | {r['first_s']:.2f} | {mps:.2f} | {peak} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                   help="cuda (the table) or cpu (a dry run of the script; no memory column)")
    p.add_argument("--presets", default="small,paper-lol")
    p.add_argument("--sizes", default="400x600,1080x1920,2160x3840",
                   help="comma-separated HxW (a first number >= 1000 larger than the second is a width)")
    p.add_argument("--precisions", default=",".join(PRECISIONS))
    p.add_argument("--compile", choices=["no", "yes", "both"], default="no",
                   help="time the encoder eager, under torch.compile, or both")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the rows and the machine line here")
    args = p.parse_args(argv)

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_table: no CUDA device here (use --device cpu for a dry run)", file=sys.stderr)
        return 2
    precisions = [v for v in args.precisions.split(",") if v]
    unknown = sorted(set(precisions) - set(PRECISIONS))
    if unknown:
        p.error(f"unknown precision(s) {', '.join(unknown)}; choose from {', '.join(PRECISIONS)}")
    compile_modes = {"no": [False], "yes": [True], "both": [False, True]}[args.compile]
    machine = describe_device(args.device)
    rows = run_table(args.presets.split(","), [_parse_size(s) for s in args.sizes.split(",")], precisions,
                     compile_modes, args.runs, args.device, args.batch)
    print(machine)
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
