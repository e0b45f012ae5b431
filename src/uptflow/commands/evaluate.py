"""``uptflow evaluate``: PSNR / SSIM / LPIPS on a paired set, per image and mean.

Either score existing results (``--pred-dir P --gt-dir G``, matched by file stem) or run a model
first (``--model M`` with ``--low-dir L --normal-dir N`` or ``--data-root R [--layout ...]``).
With ``--out DIR`` the numbers go to ``DIR/metrics.csv`` and ``DIR/metrics.json`` and the protocol
in words to ``DIR/PROTOCOL.md``.
"""

from __future__ import annotations

import argparse
import sys

from uptflow import scaleout
from uptflow.messages import one_line, printable, say, show_path
from uptflow.validation import seed_arg

EPILOG = """\
examples:
  uptflow evaluate --pred-dir results/ --gt-dir LOL/eval15/high --out eval/
  uptflow evaluate --model my_model.safetensors --data-root LOL --layout lol --split test --out eval/
  uptflow evaluate --model my_model.safetensors --low-dir low/ --normal-dir high/ --no-lpips
  uptflow evaluate --model my_model.safetensors --layout sice --split benchmark --out eval_sice/

Exit code: 0 when every pair was scored; 1 if any pair was skipped (unreadable, size mismatch) or
on an error (missing folders, no LPIPS weights: use --no-lpips or --lpips-dir).
"""


def add_parser(sub) -> None:
    try:  # the choices come from the data module; the command must still list if it is broken
        from uptflow.data.layouts import LAYOUTS, SPLITS
    except ImportError:  # pragma: no cover
        LAYOUTS, SPLITS = ("lol", "lolv2", "folders", "sice"), ("train", "val", "test", "benchmark")

    p = sub.add_parser(
        "evaluate", help="PSNR/SSIM/LPIPS of enhanced results or of a model on a paired set",
        description="Score enhanced images against ground truth (matched by file name), or run a model on "
                    "low/normal pairs and score its outputs. The protocol is printed and saved with the numbers.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("existing results")
    g.add_argument("--pred-dir", metavar="P", help="folder of enhanced images to score")
    g.add_argument("--gt-dir", metavar="G", help="folder of ground-truth images (same file names)")
    m = p.add_argument_group("run a model")
    m.add_argument("--model", metavar="M", help="checkpoint path or preset name (random weights!); "
                                                 "with the data options, default: the bundled model")
    m.add_argument("--low-dir", metavar="L", help="low-light inputs")
    m.add_argument("--normal-dir", metavar="N", help="normal-light ground truth (same file names)")
    m.add_argument("--data-root", metavar="R", help="dataset folder (see --layout)")
    m.add_argument("--layout", default="auto", choices=("auto", *LAYOUTS), help="dataset layout (default auto)")
    m.add_argument("--split", default="test", choices=SPLITS, help="dataset split (default test)")
    m.add_argument("--temperature", type=float, default=0.0, metavar="T",
                   help="latent temperature (default 0, the published setting)")
    m.add_argument("--seed", type=seed_arg, default=None, help="seed for temperature > 0 (0 .. 2**63-1)")
    m.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    m.add_argument("--tile", type=int, default=None, metavar="SIZE",
                   help="tile side (>= 64), 0 = never; default: only if the image does not fit in memory")
    m.add_argument("--overlap", type=int, default=32, metavar="PX", help="tile overlap (default 32)")
    # choices = uptflow.inference.highlights.HIGHLIGHT_MODES, written out so --help does not import torch
    m.add_argument("--highlights", choices=("auto", "protect", "off"), default="auto",
                   help="highlight ceiling, as uptflow enhance --highlights (default auto; off = the network alone)")
    m.add_argument("--save-pred", metavar="DIR", help="also write the model's outputs as DIR/NAME.png")
    q = p.add_argument_group("protocol and output")
    q.add_argument("--gt-mean", choices=("off", "on"), default="off",
                   help="rescale each output to the ground truth's mean first (a separately labelled figure)")
    q.add_argument("--ssim", choices=("rgb", "gray", "y"), default="rgb",
                   help="SSIM variant: rgb (paper, scikit-image), gray, y (BasicSR); default rgb")
    q.add_argument("--no-lpips", action="store_true", help="do not compute LPIPS")
    q.add_argument("--lpips-dir", metavar="DIR", help="folder holding the LPIPS weight files")
    q.add_argument("--no-quantize", action="store_true",
                   help="score outputs at float precision instead of rounding to 8 bit first")
    q.add_argument("--out", metavar="DIR", help="write metrics.csv, metrics.json and PROTOCOL.md here")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no per-image table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from uptflow.evaluation import evaluate_folders, format_table, write_results
    from uptflow.metrics import EvalProtocol

    protocol = EvalProtocol(gt_mean=args.gt_mean == "on", ssim_mode=args.ssim, lpips=not args.no_lpips,
                            quantize_8bit=not args.no_quantize)
    model_opts = [o for o in ("low_dir", "normal_dir", "data_root", "save_pred") if getattr(args, o)]
    if args.out is not None:
        from pathlib import Path

        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {show_path(out)} exists and is not a folder")

    def report_skip(name: str, reason: str) -> None:
        from tqdm import tqdm

        tqdm.write(printable(f"uptflow evaluate: skipped {show_path(name)}: {one_line(reason)}"), file=sys.stderr)

    if args.pred_dir or args.gt_dir:
        if not (args.pred_dir and args.gt_dir):
            raise ValueError("--pred-dir and --gt-dir go together")
        if model_opts or args.model:
            raise ValueError("use either --pred-dir/--gt-dir (existing results) or --model with "
                             "--low-dir/--normal-dir or --data-root (run a model), not both")
        result = evaluate_folders(args.pred_dir, args.gt_dir, protocol, lpips_dir=args.lpips_dir,
                                  progress=not args.quiet, on_skip=report_skip)
        for side, names in result.unmatched.items():
            if names:
                what = "predictions without ground truth" if side == "pred" else "ground-truth images without prediction"
                shown = ", ".join(show_path(n) for n in names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")
                say(f"uptflow evaluate: warning: {len(names)} {what} (not scored): {shown}")
    elif args.low_dir or args.normal_dir or args.data_root or args.layout == "sice":  # sice has a default root
        result = _run_model(args, protocol, report_skip)
    else:
        raise ValueError("nothing to evaluate: give --pred-dir and --gt-dir, or --model with "
                         "--low-dir/--normal-dir or --data-root")
    if not scaleout.is_main():  # torchrun: rank 0 prints and writes the merged report
        return 1 if not result.rows or result.skipped else 0

    if not args.quiet:
        say(format_table(result), sys.stdout)
    say(f"protocol: {protocol.describe()}", sys.stdout)
    if result.mean:
        means = "  ".join(f"{k.upper()} {result.mean[k]:.4f}" for k in result.metric_names)
        say(f"mean over {len(result.rows)} images: {means}", sys.stdout)
    if args.out:
        paths = write_results(result, args.out)
        say(f"wrote {show_path(paths['csv'])}, {show_path(paths['json'])}, {show_path(paths['protocol'])}", sys.stdout)
    if not result.rows:
        say("uptflow evaluate: error: no pair could be scored")
        return 1
    if result.skipped:
        say(f"uptflow evaluate: {len(result.skipped)} pair(s) skipped")
        return 1
    return 0


def _run_model(args: argparse.Namespace, protocol, report_skip):
    from uptflow import api
    from uptflow.data.layouts import discover_pairs
    from uptflow.evaluation import evaluate_model, load_lpips
    from uptflow.inference.models import load_cached

    if (args.low_dir is None) != (args.normal_dir is None):
        raise ValueError("--low-dir and --normal-dir go together")
    api.check_options(temperature=args.temperature, tile=args.tile, overlap=args.overlap, seed=args.seed,
                      highlights=args.highlights)
    lpips_net = load_lpips(protocol, args.lpips_dir)  # fail before the (slow) model runs
    if args.low_dir is not None:
        pairs = discover_pairs(args.data_root, low_dir=args.low_dir, normal_dir=args.normal_dir,
                               layout="folders")
        data = {"low_dir": str(args.low_dir), "normal_dir": str(args.normal_dir)}
    else:
        pairs = discover_pairs(args.data_root, layout=args.layout, split=args.split)
        data = {"data_root": str(args.data_root), "layout": args.layout, "split": args.split}
    share = scaleout.start()  # torchrun: this rank scores its share, rank 0 reports for all
    mine = share.take(pairs, [scaleout.file_pixels(rec.low) for rec in pairs] if share.enabled else None,
                      "uptflow evaluate")
    model = load_cached(args.model, share.device(args.device))
    source = {"model": str(args.model) if args.model else "bundled default", **data}
    result = evaluate_model(model, [pairs[i] for i in mine], protocol, temperature=args.temperature, seed=args.seed,
                            tile=args.tile, overlap=args.overlap, save_dir=args.save_pred, lpips_net=lpips_net,
                            progress=not args.quiet and share.is_main, on_skip=report_skip, source=source,
                            highlights=args.highlights)
    return scaleout.merge_evaluations(share, result, pairs)
