"""``uptflow info MODEL``: what a checkpoint or preset is."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from uptflow.messages import say, show_path


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="describe a model: preset, parameters, window, recorded training data and metrics",
                       description="Print the architecture of a checkpoint (ours or the authors') or a preset name, "
                                   "and the training record stored in our checkpoints.")
    p.add_argument("model", help="checkpoint path (.safetensors / .pth) or preset name (paper, paper-lol, small, tiny)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from uptflow.checkpoints import load_model, read_metadata
    from uptflow.config import presets
    from uptflow.model import UPTFlow

    record: dict = {}
    if args.model in presets and not Path(args.model).exists():
        model = UPTFlow.from_preset(args.model)
        record["source"] = f"preset {args.model} (random weights)"
    else:
        model = load_model(args.model)
        record["source"] = show_path(args.model)
        if str(args.model).endswith(".safetensors"):
            meta = read_metadata(args.model)
            meta.pop("config", None)
            record.update(meta)
    cfg = model.config
    record["parameters"] = model.num_parameters()
    record["config"] = cfg.to_dict()
    if args.json:
        say(json.dumps(record, indent=2), sys.stdout)
        return 0
    say(f"source:      {record.pop('source')}", sys.stdout)
    say(f"parameters:  {record.pop('parameters'):,}", sys.stdout)
    say(f"width C={cfg.width}  window={cfg.window}  K={cfg.flow_steps}  L={cfg.levels}  "
        f"plain={cfg.plain_steps}  coupling hidden={cfg.coupling_hidden}  q={cfg.quantization}", sys.stdout)
    record.pop("config")
    for k, v in record.items():
        say(f"{k + ':':<12} {v if isinstance(v, str) else json.dumps(v)}", sys.stdout)
    return 0
