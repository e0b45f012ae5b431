"""``uptflow enhance INPUT... -o OUTDIR``: enhance image files, folders and glob patterns.

A batch never dies because of one file: a file that cannot be read, enhanced or written is
reported in one line (``uptflow enhance: skipped FILE: reason``) and skipped, the others go on,
and the exit code is 1 if anything failed.  Problems that concern the whole run (no model, an
output folder that cannot be used, bad option values, no inputs) stop it at once with a one-line
error and exit code 1, before any work is done.

Output conventions (documented in ``--help``): the output keeps the input's name (plus
``--suffix``, plus ``_sI`` per sample when ``--samples N > 1``); ``--format same`` keeps the input
format; 16-bit input gives 16-bit output for PNG/TIFF; alpha is copied unchanged; grey inputs are
enhanced as RGB with the grey replicated and saved as RGB (the model may add colour, and hiding
that would hide what it did); EXIF orientation is applied, so outputs are stored upright.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from uptflow.messages import one_line

_FORMATS = {"png": ".png", "jpg": ".jpg", "same": None}
_SIXTEEN_BIT = {".png", ".tif", ".tiff"}

EPILOG = """\
outputs: OUTDIR/NAME{suffix}.EXT, or NAME{suffix}_s0.EXT ... with --samples N > 1.
16-bit PNG/TIFF inputs give 16-bit outputs (with --format same or png); RGBA alpha is kept;
grey inputs are enhanced as RGB (grey replicated) and saved as RGB; EXIF orientation is applied.
Images that would not fit in memory are tiled automatically (--tile 0 disables; --tile N forces
N-pixel tiles). Tiles share the whole image's pooled statistics: a sub-sampled pass estimates
them and N = --tile-refine passes over the tiles refine them, so a tiled result stays within
about 0.5 dB of a whole-image one; a tiled run takes about (N + 1) x the time of plain tiles.
Exit code: 0 if every image was enhanced, 1 if any failed or on a usage error.

examples:
  uptflow enhance photo.jpg -o out/ --model my_model.safetensors
  uptflow enhance 'shots/*.png' more_shots/ -o out/ --suffix _enh --format png
  uptflow enhance dark.jpg -o out/ --temperature 0.8 --samples 4 --seed 1
"""


def add_common_arguments(p: argparse.ArgumentParser, temperature: float, samples: int) -> None:
    """The options ``enhance`` and ``sample`` share (they differ only in defaults)."""
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="output folder (created if missing)")
    p.add_argument("--model", metavar="M", default=None,
                   help="checkpoint path (.safetensors / .pth) or preset name (random weights, for testing "
                        "only); default: the bundled model")
    p.add_argument("--suffix", default="", help="added to each output file name before the extension")
    p.add_argument("--format", choices=sorted(_FORMATS), default="same",
                   help="output format (default: same as the input)")
    p.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality 1..100 (default 95)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--temperature", "-t", type=float, default=temperature, metavar="T",
                   help=f"latent temperature: 0 = deterministic published setting, > 0 samples "
                        f"(default {temperature})")
    p.add_argument("--samples", "-n", type=int, default=samples, metavar="N",
                   help=f"samples per image, needs --temperature > 0 (default {samples})")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="random seed for sampling (sample i uses S+i); printed when not given")
    p.add_argument("--tile", type=int, default=None, metavar="SIZE",
                   help="tile side in pixels (>= 64); 0 = never tile; default: tile only when the "
                        "image would not fit in the memory available (free RAM, container and ulimit -v limits)")
    p.add_argument("--overlap", type=int, default=32, metavar="PX",
                   help="overlap between tiles in pixels (default 32; at most 3/4 of --tile)")
    # default = uptflow.inference.options.DEFAULT_REFINE, written out so --help does not import torch
    # (tests/commands check that they agree)
    p.add_argument("--tile-refine", type=int, default=1, metavar="N",
                   help="when tiling: passes over the tiles that refine the image statistics they share "
                        "(default 1; 0 = fastest, less faithful to a whole-image run)")
    p.add_argument("-r", "--recursive", action="store_true", help="also enhance images in sub-folders")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "enhance", help="enhance low-light images (files, folders, glob patterns)",
        description="Enhance low-light photos with UPT-Flow. Bad files are reported in one line and "
                    "skipped; the rest of the batch goes on.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    add_common_arguments(p, temperature=0.0, samples=1)
    p.set_defaults(run=run)


def output_paths(src: Path, out_dir: Path, suffix: str, fmt: str, samples: int) -> list[Path]:
    """Output files for ``src``: ``NAME{suffix}[_sI].EXT`` in ``out_dir``."""
    ext = _FORMATS[fmt] or src.suffix
    stem = src.stem + suffix
    if samples == 1:
        return [out_dir / f"{stem}{ext}"]
    return [out_dir / f"{stem}_s{i}{ext}" for i in range(samples)]


def check_output_options(args: argparse.Namespace) -> None:
    if not 1 <= args.quality <= 100:
        raise ValueError(f"--quality must be in 1..100, got {args.quality}")
    if any(c in args.suffix for c in "/\\\0"):
        raise ValueError(f"--suffix must not contain path separators, got {args.suffix!r}")


def run(args: argparse.Namespace) -> int:
    return enhance_files(args, list(args.inputs), prog="uptflow enhance")


def enhance_files(args: argparse.Namespace, inputs: list[str], prog: str) -> int:
    """The body of ``enhance`` and ``sample``: returns the exit code."""
    import warnings
    from dataclasses import replace

    from tqdm import tqdm

    from uptflow import api
    from uptflow.imageio import ImageReadError, list_images, load_image, prepare_output_dir, save_image
    from uptflow.inference.models import load_cached, resolve_device
    from uptflow.inference.plan import make_plan

    if args.temperature == 0 and args.samples > 1:
        raise ValueError("--samples > 1 needs --temperature > 0 (at temperature 0 every sample is identical)")
    options = api.check_options(temperature=args.temperature, samples=args.samples, tile=args.tile,
                                overlap=args.overlap, seed=args.seed, tile_refine=args.tile_refine)
    check_output_options(args)
    files = list_images(inputs, recursive=args.recursive)
    out_dir = prepare_output_dir(Path(args.output), "-o")
    device = resolve_device(args.device)
    model = load_cached(args.model, device)
    seed = args.seed
    if args.temperature > 0 and seed is None:
        seed = api.new_seed()
        options = replace(options, seed=seed)
        print(f"{prog}: sampling with --seed {seed}", file=sys.stderr)

    start = time.perf_counter()
    done = failed = 0
    claimed: dict[Path, Path] = {}
    bar = tqdm(files, unit="img", disable=True if args.quiet else None, file=sys.stderr, dynamic_ncols=True)

    def skip(path: Path, reason: object) -> None:
        tqdm.write(f"{prog}: skipped {path}: {one_line(reason)}", file=sys.stderr)

    for src in bar:
        targets = output_paths(src, out_dir, args.suffix, args.format, args.samples)
        clash = next((claimed[t.resolve()] for t in targets if t.resolve() in claimed), None)
        if clash is not None:
            skip(src, f"output name {targets[0].name} is already used by {clash}; use separate runs or --suffix")
            failed += 1
            continue
        if any(t.resolve() == src.resolve() for t in targets):
            skip(src, "the output would overwrite the input; use --suffix or another -o folder")
            failed += 1
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # reader notes (e.g. broken EXIF) must not break the bar
                loaded = load_image(src)
            h, w = loaded.rgb.shape[:2]
            plan = make_plan(h, w, model.config, device, options)  # made here so the choice can be reported
            if plan.automatic:
                tqdm.write(f"{prog}: {src}: {w}x{h} does not fit in memory at once; using {plan.tile}-pixel tiles",
                           file=sys.stderr)
            with tqdm(total=0, unit="tile", leave=False, file=sys.stderr, dynamic_ncols=True,
                      disable=True if args.quiet or not plan.tiled else None) as tiles:
                def tile_progress(done: int, total: int) -> None:
                    tiles.total = total
                    tiles.n = done
                    tiles.refresh()

                outs = api.enhance_array(model, loaded.rgb, options=options, plan=plan, progress=tile_progress)
            for target, rgb in zip(targets, outs):
                depth = loaded.bit_depth if target.suffix.lower() in _SIXTEEN_BIT else 8
                save_image(target, rgb, alpha=loaded.alpha, bit_depth=depth, quality=args.quality)
        except ImageReadError as err:
            skip(src, err.reason)
            failed += 1
            continue
        except MemoryError:
            skip(src, "out of memory; try --tile 256")
            failed += 1
            continue
        except (ValueError, TypeError, OSError) as err:
            skip(src, err)
            failed += 1
            continue
        except RuntimeError as err:  # torch failures (e.g. CUDA / CPU allocator out of memory)
            hint = "; try --tile 256" if "memory" in str(err).lower() else ""
            skip(src, f"enhancement failed ({one_line(err, 120)}){hint}")
            failed += 1
            continue
        for t in targets:
            claimed[t.resolve()] = src
        done += 1
    bar.close()

    elapsed = time.perf_counter() - start
    noun = "image" if done == 1 else "images"
    each = f", {args.samples} samples each" if args.samples > 1 else ""
    fail = f" ({failed} failed)" if failed else ""
    print(f"enhanced {done} {noun}{each}{fail} in {elapsed:.1f} s -> {out_dir}")
    return 1 if failed else 0
