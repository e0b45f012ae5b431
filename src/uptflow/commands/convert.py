"""``uptflow convert SOURCE OUT.safetensors``: the authors' checkpoint, or one of our training
checkpoints, to a weights-only safetensors file with its config (and training record) inside."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert a checkpoint (e.g. the authors' .pth) to uptflow safetensors",
                       description="Load a checkpoint safely (no pickled code is executed), infer its architecture "
                                   "and write it as .safetensors with the config recorded.")
    p.add_argument("source", help="checkpoint to read (.pth/.pt/.safetensors; the authors' or ours)")
    p.add_argument("output", help="output .safetensors path")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=JSON",
                   help="extra metadata to record (repeatable), e.g. --meta 'benchmark={\"kodak24_psnr\": 20.1}'; "
                        "a training checkpoint's iteration and run config are recorded automatically")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from uptflow.checkpoints import load_model, save_model, training_record

    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise ValueError(f"output must end in .safetensors, got {out.name}")
    meta: dict = {"converted_from": Path(args.source).name}
    for item in args.meta:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--meta expects KEY=JSON, got {item!r}")
        try:
            meta[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            meta[key.strip()] = value  # a plain string
    model = load_model(args.source)
    record = training_record(args.source)
    if record is not None:
        meta["training"] = record
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, out, metadata=meta)
    print(f"wrote {out} ({model.num_parameters():,} parameters, window {model.config.window})")
    return 0
