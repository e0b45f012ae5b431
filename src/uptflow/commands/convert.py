"""``uptflow convert SOURCE OUT.safetensors``: the authors' checkpoint, or one of our training
checkpoints, to a weights-only safetensors file with its config (and training record) inside."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from uptflow.messages import say, show_path


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert a checkpoint (e.g. the authors' .pth) to uptflow safetensors",
                       description="Load a checkpoint safely (no pickled code is executed), infer its architecture "
                                   "and write it as .safetensors with the config recorded.")
    p.add_argument("source", help="checkpoint to read (.pth/.pt/.safetensors; the authors' or ours)")
    p.add_argument("output", help="output .safetensors path")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=JSON",
                   help="extra metadata to record (repeatable), e.g. --meta 'benchmark={\"kodak24_psnr\": 20.1}', "
                        "or KEY=@FILE to record a JSON file a tool wrote (benchmarks/quality.py --record); "
                        "a training checkpoint's iteration and run config are recorded automatically")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from uptflow.checkpoints import load_model, save_model, training_record

    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise ValueError(f"output must end in .safetensors, got {show_path(out.name)}")
    if out.is_dir():
        raise ValueError(f"output {show_path(out)} is a folder; give a file name ending in .safetensors")
    if _same_file(out, Path(args.source)):
        raise ValueError(f"output {show_path(out)} is the source checkpoint itself; write to another file")
    meta: dict = {"converted_from": Path(args.source).name}
    for item in args.meta:
        key, value = _meta_item(item)
        meta[key] = value
    model = load_model(args.source)
    record = training_record(args.source)
    if record is not None:
        meta["training"] = record
    save_model(model, out, metadata=meta)  # atomic: a full disk leaves no partial file and no temporary
    say(f"wrote {show_path(out)} ({model.num_parameters():,} parameters, window {model.config.window})", sys.stdout)
    return 0


def _meta_item(item: str) -> tuple[str, object]:
    """``KEY=JSON`` -> (key, parsed JSON or the plain string); ``KEY=@FILE`` -> (key, the file's JSON).

    ``@FILE`` is how numbers a tool measured reach the weights without being typed: the file must
    hold valid JSON (one-line ``ValueError`` otherwise, never a plain-string fallback).
    """
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--meta expects KEY=JSON or KEY=@FILE, got {item!r}")
    key = key.strip()
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return key, json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ValueError(f"--meta {key}: cannot read {show_path(path)} ({e.strerror or e})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"--meta {key}: {show_path(path)} is not JSON ({e})") from None
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a plain string


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (links and ``..`` included); False if ``a`` is new."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except (OSError, RuntimeError):
        return False
