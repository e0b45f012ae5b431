"""``uptflow benchmark-data OUT``: write the project's deterministic benchmark pairs."""

from __future__ import annotations

import argparse
import sys

from uptflow.messages import say, show_path
from uptflow.validation import seed_arg


def add_parser(sub) -> None:
    from uptflow.evaluation.benchmark_data import DEFAULT_SEED, SUBSETS

    p = sub.add_parser(
        "benchmark-data", help="write the project benchmark (Kodak24 synthetic + SICE held-out pairs)",
        description="Write deterministic low/normal pairs for benchmarking: Kodak24 darkened by the calibrated "
                    "synthesiser (seeded), the SICE validation pairs and the 40 official SICE benchmark scenes. "
                    "Each subset is OUT/<subset>/{low,normal}/*.png; OUT/MANIFEST.json records seeds and checksums. "
                    "Score a model on it with `uptflow evaluate` or benchmarks/quality.py.")
    p.add_argument("out", help="output folder")
    p.add_argument("--data-root", default=None,
                   help="folder holding photos/kodak24 and sice_part1 (default: $UPTFLOW_SHARED/data)")
    p.add_argument("--seed", type=seed_arg, default=DEFAULT_SEED, help=f"synthesis seed, 0 .. 2**63-1 (default {DEFAULT_SEED})")
    p.add_argument("--subsets", default=",".join(SUBSETS), help=f"comma-separated subset names (default: {','.join(SUBSETS)})")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from uptflow.evaluation.benchmark_data import write_benchmark_data

    subsets = tuple(s.strip() for s in args.subsets.split(",") if s.strip())
    with tqdm(desc="benchmark-data", unit="pair") as bar:
        manifest = write_benchmark_data(args.out, args.data_root, args.seed, subsets,
                                        progress=lambda name: bar.update(1))
    counts = ", ".join(f"{k}: {v['pairs']}" for k, v in manifest["subsets"].items())
    say(f"wrote {counts} pairs -> {show_path(args.out)}", sys.stdout)
    return 0
