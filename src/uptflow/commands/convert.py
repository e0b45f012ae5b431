"""``uptflow convert AUTHORS.pth OUT.safetensors``: the authors' checkpoint to our format."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert a checkpoint (e.g. the authors' .pth) to uptflow safetensors",
                       description="Load a checkpoint safely (no pickled code is executed), infer its architecture "
                                   "and write it as .safetensors with the config recorded.")
    p.add_argument("source", help="checkpoint to read (.pth/.pt/.safetensors; the authors' or ours)")
    p.add_argument("output", help="output .safetensors path")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from uptflow.checkpoints import load_model, save_model

    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise ValueError(f"output must end in .safetensors, got {out.name}")
    model = load_model(args.source)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, out, metadata={"converted_from": Path(args.source).name})
    print(f"wrote {out} ({model.num_parameters():,} parameters, window {model.config.window})")
    return 0
