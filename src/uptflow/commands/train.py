"""``uptflow train``: train UPT-Flow on paired (or synthetic) data from a YAML config.

The configuration is assembled in this order, later wins: packaged preset (``--preset``, default
``paper``) or ``--config FILE`` (or, with ``--resume`` and neither, the config stored in the
checkpoint) -> the common flags below -> ``--set key.sub=value`` (repeatable, values parsed as
YAML).  The resolved config is written to ``RUN/config.yaml``.  Multi-GPU: launch the same
command with ``torchrun --nproc_per_node=N -m uptflow.cli train ...``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any

from uptflow.messages import one_line, printable, say, show_path
from uptflow.validation import seed_arg

#: flag attribute -> dotted config key
_FLAG_KEYS: dict[str, tuple[str, ...]] = {
    "low_dir": ("data.low_dir",),
    "normal_dir": ("data.normal_dir",),
    "data_root": ("data.root",),
    "layout": ("data.layout",),
    "val_low_dir": ("data.val_low_dir",),
    "val_normal_dir": ("data.val_normal_dir",),
    "val_root": ("data.val_root",),
    "crop": ("data.crop",),
    "skip_bad": ("data.skip_bad",),
    "iters": ("train.iters",),
    "batch_size": ("train.batch_size",),
    "val_every": ("train.val_every",),
    "log_every": ("train.log_every",),
    "ckpt_every": ("train.ckpt_every",),
    "workers": ("train.workers",),
    "amp": ("train.amp",),
    "cpu_amp": ("train.cpu_amp",),
    "grad_clip": ("train.grad_clip",),
    "l1_weight": ("train.l1_weight",),
    "l1_highlight": ("train.l1_highlight",),
    "device": ("train.device",),
    "lr": ("optim.lr",),
    "seed": ("seed", "data.seed"),
    "out": ("out",),
    "init_from": ("train.init_from",),
}

USAGE = ("uptflow train --low-dir LOW --normal-dir NORMAL [--preset paper|paper-lol|small|tiny | --config FILE] "
         "[--iters N --batch-size B --crop C --out RUN] [--resume [auto|PATH]] [--set key.sub=value ...]")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train a model on low/normal pairs (YAML config + overrides; resumable; DDP via torchrun)",
        description="Train UPT-Flow with the authors' recipe (Adam 2e-4, warm-up, MultiStep, NLL in bits/dim). "
                    "Writes RUN/config.yaml, RUN/metrics.jsonl, RUN/last.pt and RUN/best.pt (best validation PSNR).",
        usage=USAGE)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", metavar="FILE", help="run config YAML (see uptflow/configs/*.yaml)")
    src.add_argument("--preset", metavar="NAME", help="packaged run preset: paper, paper-lol, small, tiny (default paper)")
    d = p.add_argument_group("data")
    d.add_argument("--low-dir", metavar="DIR", help="folder of low-light images (matched to --normal-dir by file name)")
    d.add_argument("--normal-dir", metavar="DIR", help="folder of normal-light ground truths")
    d.add_argument("--data-root", metavar="DIR", help="dataset root (LOL, LOL-v2, SICE, SMID, SDSD layouts)")
    d.add_argument("--layout", help="auto, lol, lolv2, folders, sice, smid, sdsd, synthetic, mixed")
    d.add_argument("--val-low-dir", metavar="DIR", help="validation low-light folder")
    d.add_argument("--val-normal-dir", metavar="DIR", help="validation normal-light folder")
    d.add_argument("--val-root", metavar="DIR", help="validation dataset root (its val split)")
    d.add_argument("--photos", nargs="+", metavar="DIR", help="normal-light photo folders for synthetic pairs "
                   "(layout synthetic unless --layout says otherwise)")
    d.add_argument("--crop", type=int, help="training crop side, a multiple of 8")
    d.add_argument("--skip-bad", action="store_true", default=None, help="skip unmatched/unreadable files with a warning")
    t = p.add_argument_group("training")
    t.add_argument("--iters", type=int, help="optimiser steps")
    t.add_argument("--batch-size", type=int, help="global batch size (split over DDP processes)")
    t.add_argument("--lr", type=float, help="base learning rate")
    t.add_argument("--seed", type=seed_arg, help="seed of weights, sample order, crops and dequantisation noise "
                   "(0 .. 2**63-1)")
    t.add_argument("--amp", choices=("bf16", "fp16", "off"), help="mixed precision of the encoder on CUDA")
    t.add_argument("--cpu-amp", action="store_true", default=None,
                   help="on CPU, run the encoder in bfloat16 where the CPU has it natively (AVX512-BF16 / AMX; "
                        "faster, see docs/DEVELOPMENT.md); default float32")
    t.add_argument("--grad-clip", type=float, help="clip the global gradient norm (0 = off)")
    t.add_argument("--l1-weight", type=float, help="weight of L1(decode(z=0), normal) (default 0)")
    t.add_argument("--l1-highlight", type=float, metavar="EXTRA",
                   help="weigh the L1 on pixels already lit in the low image (max channel >= 110/255) "
                        "1+EXTRA times: against blown-out lamps and lit regions (default 0; needs --l1-weight)")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"))
    t.add_argument("--init-from", metavar="WEIGHTS", help="start from these weights (ours or the authors'; same architecture)")
    t.add_argument("--workers", type=int, help="DataLoader workers per process")
    r = p.add_argument_group("run")
    r.add_argument("--out", metavar="RUN", help="run folder (checkpoints, metrics, config)")
    r.add_argument("--resume", nargs="?", const="auto", metavar="PATH|auto",
                   help="continue from a checkpoint; 'auto' (or no value) = RUN/last.pt if it exists")
    r.add_argument("--val-every", type=int, help="validate every N iterations (0 = never)")
    r.add_argument("--log-every", type=int, help="write a metrics line every N iterations")
    r.add_argument("--ckpt-every", type=int, help="write RUN/last.pt every N iterations")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set schedule.warmup_iters=100 (repeatable)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.set_defaults(run=run)


def build_config(args: argparse.Namespace) -> tuple[Any, str]:
    """The validated :class:`TrainConfig` from presets/files/flags/--set; and where it came from."""
    from uptflow.training.checkpointing import load_checkpoint
    from uptflow.training.config import TrainConfig, apply_override, parse_set, preset_dict, read_yaml

    if args.config:
        base, where = read_yaml(args.config), str(args.config)
    elif args.preset:
        base, where = preset_dict(args.preset), f"preset {args.preset}"
    else:
        base, where = None, "preset paper"
        resume = _resume_path(args, None)
        if resume is not None and resume.is_file():
            base, where = load_checkpoint(resume)["config"], str(resume)
        if base is None:
            base = preset_dict("paper")
    config: dict[str, Any] = dict(base)
    for attr, keys in _FLAG_KEYS.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if attr in ("low_dir", "normal_dir", "data_root", "val_low_dir", "val_normal_dir", "val_root", "init_from"):
            value = str(value)
        for key in keys:
            config = apply_override(config, key, value)
    if args.photos:
        config = apply_override(config, "data.photo_dirs", [str(p) for p in args.photos])
        if args.layout is None and not (args.low_dir or args.normal_dir or args.data_root):
            config = apply_override(config, "data.layout", "synthetic")
    if getattr(args, "no_progress", False):
        config = apply_override(config, "train.progress", False)
    if args.resume not in (None, "auto") and args.out is None and not args.config and not args.preset:
        config = apply_override(config, "out", str(Path(args.resume).parent))
    for item in args.set:
        key, value = parse_set(item)
        config = apply_override(config, key, value)
    return TrainConfig.from_dict(config, where=where), where


def _resume_path(args: argparse.Namespace, out: str | None) -> Path | None:
    if args.resume is None:
        return None
    if args.resume != "auto":
        return Path(args.resume)
    run_dir = args.out or out
    return Path(run_dir) / "last.pt" if run_dir else None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from uptflow.training.loop import Trainer, TrainingInterrupted, TrainingStopped

    cfg, _ = build_config(args)
    if args.print_config:
        print(cfg.resolved().to_yaml(), end="")
        return 0
    resume = args.resume
    if resume is not None and resume != "auto" and not Path(resume).is_file():
        raise FileNotFoundError(f"--resume: checkpoint not found: {resume}")

    def echo(msg: str) -> None:
        tqdm.write(printable(msg), file=sys.stderr)

    trainer = Trainer(cfg, resume=resume, echo=echo)
    try:
        result = trainer.fit()
    except TrainingInterrupted as err:
        say(f"uptflow train: {one_line(err, 400)}")
        return 130
    except TrainingStopped as err:
        say(f"uptflow train: error: {one_line(err, 400)}")
        return 1
    except (ValueError, TypeError, OSError, KeyboardInterrupt):
        raise  # one-line messages from uptflow.cli.main
    except Exception as err:  # a bug or a device failure: keep the traceback in the run folder
        log = Path(cfg.out) / "error.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(traceback.format_exc(), encoding="utf-8")
            where = f"; traceback in {show_path(log)}"
        except OSError:
            where = ""
        first = (str(err).strip().splitlines() or [""])[0]
        saved = f"; state saved to {show_path(trainer.last_path)}" if trainer.last_path.is_file() else ""
        say(f"uptflow train: error: {type(err).__name__}: {one_line(first)} (after iteration {trainer.iteration}"
            f"{saved}{where})")
        return 1
    finally:
        trainer.close()
    if trainer.dist.is_main:
        best = f", best validation PSNR {result.best_psnr:.3f} dB ({show_path(str(result.best_checkpoint))})" \
            if result.best_psnr is not None else ""
        say(f"trained {result.iteration} iterations; checkpoint {show_path(str(result.last_checkpoint))}{best}", sys.stdout)
    return 0
