"""PSNR / SSIM / LPIPS on the project benchmark for baselines and uptflow models.

    python benchmarks/quality.py [--bench out/benchmark] [--model PATH ...] [--subsets kodak24,sice_val]
                                 [--limit N] [--no-lpips] [--json OUT.json] [--highlights auto off protect]
                                 [--record OUT.json]

Writes the benchmark first (``uptflow benchmark-data``) if ``--bench`` does not exist.  Methods:
the input itself, adaptive gamma, histogram equalisation, CLAHE, and every uptflow model given
with ``--model`` (plus the bundled default model when one is installed), each with every ``--highlights`` mode given
(default ``auto``, what ``uptflow enhance`` does; other modes are labelled ``NAME --highlights MODE``).  Each metric is shown
plain and with the GT-mean correction, as separately labelled columns.  ``--record`` writes one model's
scores (the last ``--model``, or the bundled one; the first ``--highlights`` mode) in the form the
shipped weights keep them: ``uptflow convert RUN/best.pt OUT.safetensors --meta benchmark=@OUT.json``.  Protocol: predictions
clamped and rounded to 8 bit; PSNR on RGB; SSIM scikit-image RGB recipe; LPIPS AlexNet v0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from uptflow.evaluation.baselines import BASELINES
from uptflow.inference.highlights import HIGHLIGHT_MODES, protect_highlights
from uptflow.io.listing import list_images
from uptflow.io.read import read_rgb
from uptflow.io.tensors import to_numpy, to_tensor
from uptflow.io.write import atomic_write
from uptflow.metrics import EvalProtocol, evaluate_pair

REPO = Path(__file__).resolve().parents[1]


def _pairs(folder: Path, limit: int | None) -> list[tuple[str, Path, Path]]:
    lows = list_images([folder / "low"])
    pairs = [(p.stem, p, folder / "normal" / p.name) for p in lows]
    return pairs[:limit] if limit else pairs


def _default_model() -> Path:
    return REPO / "src" / "uptflow" / "weights" / "default.safetensors"


def _label(spec: str, mode: str) -> str:
    """The table's name for model ``spec`` in highlight mode ``mode``."""
    name = f"uptflow:{Path(spec).stem}"
    return name if mode == "auto" else f"{name} --highlights {mode}"


def _methods(model_specs: list[str], highlights: tuple[str, ...] = ("auto",)) -> dict[str, object]:
    methods: dict[str, object] = {"input": lambda x: x}
    methods.update(BASELINES)
    from uptflow.checkpoints import load_model

    specs = list(model_specs)
    default = _default_model()
    if default.exists() and str(default) not in specs:
        specs.insert(0, str(default))
    for spec in specs:
        model = load_model(spec)

        def run(x: np.ndarray, model=model, mode: str = "auto") -> np.ndarray:
            with torch.inference_mode():
                low = to_tensor(x)
                return to_numpy(protect_highlights(low, model.enhance(low), mode))

        for mode in highlights:
            methods[_label(spec, mode)] = lambda x, run=run, mode=mode: run(x, mode=mode)
    return methods


def evaluate(bench: Path, subsets: list[str], methods: dict, lpips: bool, limit: int | None) -> dict:
    plain, gtm = EvalProtocol(lpips=lpips), EvalProtocol(lpips=lpips, gt_mean=True)
    lpips_net = None
    if lpips:
        from uptflow.metrics import LPIPS

        lpips_net = LPIPS.from_dir()  # $UPTFLOW_LPIPS_DIR, ~/.cache/uptflow/lpips, $UPTFLOW_SHARED/data/lpips
    results: dict = {}
    for subset in subsets:
        pairs = _pairs(bench / subset, limit)
        for method, fn in methods.items():
            rows, rows_gt, seconds = [], [], 0.0
            for _, low_path, normal_path in pairs:
                low, normal = read_rgb(low_path), read_rgb(normal_path)
                t0 = time.perf_counter()
                pred = fn(low)
                seconds += time.perf_counter() - t0
                rows.append(evaluate_pair(pred, normal, plain, lpips_net))
                rows_gt.append(evaluate_pair(pred, normal, gtm, lpips_net))
            results[(subset, method)] = (
                {k: float(np.mean([r[k] for r in rows])) for k in rows[0]},
                {k: float(np.mean([r[k] for r in rows_gt])) for k in rows_gt[0]},
                seconds / max(len(pairs), 1), len(pairs))
            print(f"  {subset:15s} {method:22s} done ({len(pairs)} pairs)", file=sys.stderr)
    return results


def print_table(results: dict, subsets: list[str], methods: dict, lpips: bool) -> None:
    keys = ["psnr", "ssim"] + (["lpips"] if lpips else [])
    head = " | ".join(k.upper() for k in keys)
    for subset in subsets:
        n = next(v[3] for (s, _), v in results.items() if s == subset)
        print(f"\n### {subset} ({n} pairs)\n")
        print(f"| method | {head} | GT-mean {' | GT-mean '.join(k.upper() for k in keys)} | s/image |")
        print("|---" * (2 * len(keys) + 2) + "|")
        for method in methods:
            plain, gt, sec, _ = results[(subset, method)]
            cells = [f"{plain[k]:.3f}" if k != "psnr" else f"{plain[k]:.2f}" for k in keys]
            cells += [f"{gt[k]:.3f}" if k != "psnr" else f"{gt[k]:.2f}" for k in keys]
            print(f"| {method} | " + " | ".join(cells) + f" | {sec:.2f} |")


def model_record(results: dict, subsets: list[str], label: str, mode: str) -> dict:
    """One method's scores as the shipped weights' ``benchmark`` metadata:
    ``{"highlights": mode, "protocol": ..., subset: {"psnr": .., "ssim": .., ["lpips": ..,] "gt_mean_psnr": .., ...}}``
    (rounded to 4 decimals)."""
    record: dict = {"highlights": mode,
                    "protocol": EvalProtocol().describe() + " gt_mean_* keys: the same with the GT-mean correction."}
    for subset in subsets:
        plain, gt, _, n = results[(subset, label)]
        row = {k: round(v, 4) for k, v in plain.items()}
        row.update({f"gt_mean_{k}": round(v, 4) for k, v in gt.items()})
        row["pairs"] = n
        record[subset] = row
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=REPO / "out" / "benchmark")
    parser.add_argument("--model", action="append", default=[], help="uptflow checkpoint (repeatable)")
    parser.add_argument("--subsets", default="kodak24,sice_val,sice_benchmark")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs per subset (quick runs)")
    parser.add_argument("--no-lpips", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--highlights", nargs="+", choices=HIGHLIGHT_MODES, default=["auto"],
                        help="highlight modes to score each model with (uptflow.inference.highlights; default auto, "
                             "as uptflow enhance)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--record", type=Path, default=None, metavar="OUT.json",
                        help="write the last --model's scores (or the bundled model's), first --highlights mode, "
                             "as weights metadata for `uptflow convert ... --meta benchmark=@OUT.json`")
    args = parser.parse_args(argv)
    os.environ.setdefault("UPTFLOW_SHARED", str(REPO.parent / "shared"))  # benchmarks run from a checkout
    torch.set_num_threads(args.threads)
    subsets = [s for s in args.subsets.split(",") if s]
    if not args.bench.exists():
        from uptflow.evaluation.benchmark_data import write_benchmark_data

        print(f"writing the benchmark to {args.bench} ...", file=sys.stderr)
        from uptflow.shared_data import shared_root

        write_benchmark_data(args.bench, shared_root(default=REPO.parent / "shared") / "data")
    methods = _methods(args.model, tuple(args.highlights))
    t0 = time.perf_counter()
    results = evaluate(args.bench, subsets, methods, not args.no_lpips, args.limit)
    print_table(results, subsets, methods, not args.no_lpips)
    if args.json is not None:
        out: dict = {}
        for (subset, method), (plain, gt, sec, n) in results.items():
            out.setdefault(subset, {})[method] = {"plain": plain, "gt_mean": gt, "s_per_image": sec, "pairs": n}
        args.json.write_text(json.dumps(out, indent=1))
    if args.record is not None:
        spec = args.model[-1] if args.model else str(_default_model())
        mode = args.highlights[0]
        text = json.dumps(model_record(results, subsets, _label(spec, mode), mode), indent=1)
        atomic_write(args.record, lambda tmp: tmp.write_text(text, encoding="utf-8"), what="record")
        print(f"record of {_label(spec, mode)}: {args.record}")
    print(f"\n{time.perf_counter() - t0:.0f} s; protocol: {EvalProtocol().describe()}")


if __name__ == "__main__":
    main()
