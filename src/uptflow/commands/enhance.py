"""``uptflow enhance INPUT... -o OUTDIR``: enhance image files, folders and glob patterns.

A batch never dies because of one file: a file that cannot be read, enhanced or written, an input
that is a FIFO, a symbolic link loop or a folder without images, and an input whose output would
overwrite an input are reported in one line (``uptflow enhance: skipped FILE: reason``, the name
escaped if it holds control characters or undecodable bytes) and skipped; the others go on and
the exit code is 1 if anything failed.  Ctrl-C stops the batch with exit code 130: finished
outputs stay, the one being written is not left half-written.  Problems that concern the whole run (no model, an
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

from uptflow import scaleout
from uptflow.messages import is_out_of_memory, one_line, printable, say, show_path
from uptflow.validation import MAX_SAMPLES, int_arg, seed_arg

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
An output never replaces an input of the call: all output names are decided first, and an
input whose output would overwrite an input (or another input's output) is skipped.
Exit code: 0 if every image was enhanced, 1 if any input was skipped or failed or on an error,
2 on a bad command line, 130 on Ctrl-C (finished outputs are kept, no temporary files left).

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
    p.add_argument("--samples", "-n", type=int_arg(1, MAX_SAMPLES, "samples"), default=samples, metavar="N",
                   help=f"samples per image (1..{MAX_SAMPLES}), needs --temperature > 0 (default {samples})")
    p.add_argument("--seed", type=seed_arg, default=None, metavar="S",
                   help="random seed for sampling, 0 .. 2**63-1 (sample i uses S+i); printed when not given")
    p.add_argument("--tile", type=int, default=None, metavar="SIZE",
                   help="tile side in pixels (>= 64); 0 = never tile; default: tile only when the "
                        "image would not fit in memory")
    p.add_argument("--overlap", type=int, default=32, metavar="PX",
                   help="overlap between tiles in pixels (default 32; at most 3/4 of --tile)")
    # default = uptflow.inference.options.DEFAULT_REFINE, written out so --help does not import torch
    # (tests/commands check that they agree)
    p.add_argument("--tile-refine", type=int, default=1, metavar="N",
                   help="when tiling: passes over the tiles that refine the image statistics they share "
                        "(0 .. 8, default 1; 0 = fastest, less faithful to a whole-image run)")
    p.add_argument("--exposure", type=float, default=0.0, metavar="EV",
                   help="brighten (+) or darken (-) the result by EV stops in linear light; a soft highlight "
                        "shoulder keeps what was not clipped unclipped (default 0 = unchanged)")
    p.add_argument("--precision", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="arithmetic of the networks (encoder, coupling sub-networks; the flow's own steps stay "
                        "float32): float32 (default, the authors' numbers); bfloat16 is faster on CPUs with "
                        "AVX512-BF16 / AMX and on GPUs, results within a few 8-bit levels; float16 for GPUs")
    # choices = uptflow.inference.highlights.HIGHLIGHT_MODES, written out so --help does not import torch
    p.add_argument("--highlights", choices=("auto", "protect", "off"), default="auto",
                   help="keep regions already lit in the photo (lamps, signs, windows, lamp-lit walls, skies) "
                        "from blowing out: auto (default) for photos that are not dark overall; protect for "
                        "every photo with lit regions, e.g. night scenes (lowers PSNR on underexposed daytime "
                        "photos); off: the network's result as it is")
    p.add_argument("-r", "--recursive", action="store_true", help="also enhance images in sub-folders")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "enhance", help="enhance low-light images (files, folders, glob patterns)",
        description="Enhance low-light photos with UPT-Flow. Bad files are reported in one line and "
                    "skipped; the rest of the batch goes on.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, folders or glob patterns")
    add_common_arguments(p, temperature=0.0, samples=1)
    from uptflow.video.cli import VIDEO_EPILOG
    from uptflow.video.cli import add_arguments as add_video_arguments

    add_video_arguments(p)  # --codec --crf --frames-out --fps --frame-by-frame
    p.epilog = EPILOG + VIDEO_EPILOG
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
    """The body of ``enhance`` and ``sample``: returns the exit code (0, 1, or 130 on Ctrl-C).

    Every output path of the call is decided before anything is written
    (:func:`uptflow.io.outputs.plan_outputs`): an input whose output would overwrite any input of
    the call, or another input's output, is skipped with a message.
    """
    from dataclasses import replace

    from tqdm import tqdm

    from uptflow import api
    from uptflow.inference.models import load_cached
    from uptflow.interrupts import EXIT_INTERRUPTED, interrupt_guard
    from uptflow.io.listing import ImageListing, collect_images, strict_message
    from uptflow.io.outputs import plan_outputs, prepare_output_dir

    if args.temperature == 0 and args.samples > 1:
        raise ValueError("--samples > 1 needs --temperature > 0 (at temperature 0 every sample is identical)")
    options = api.check_options(temperature=args.temperature, samples=args.samples, tile=args.tile,
                                overlap=args.overlap, seed=args.seed, tile_refine=args.tile_refine,
                                precision=args.precision, highlights=args.highlights)
    check_output_options(args)
    from uptflow.inference.exposure import check_exposure

    check_exposure(args.exposure, "--exposure")  # one line before any work (uptflow.inference.exposure)
    videos: dict = {}  # video input -> VideoJob (`enhance` only; `sample` has no video options)
    if hasattr(args, "codec"):
        from uptflow.video.cli import split_inputs, video_target

        inputs, jobs = split_inputs(inputs, args.recursive, args.fps)
        videos = {job.path: job for job in jobs}
    listing = collect_images(inputs, recursive=args.recursive) if inputs or not videos else ImageListing()
    if not listing.files and not videos:
        raise ValueError(strict_message(listing.skipped[0]))
    out_dir = prepare_output_dir(Path(args.output), "-o")
    plan = plan_outputs([*listing.files, *videos],
                        lambda src: [video_target(videos[src], out_dir, args)] if src in videos
                        else output_paths(src, out_dir, args.suffix, args.format, args.samples),
                        hint="use --suffix, --format or another -o folder")

    def note(text: str) -> None:
        tqdm.write(printable(text, sys.stderr), file=sys.stderr)

    def skip(path: object, reason: object) -> None:
        note(f"{prog}: skipped {show_path(path)}: {one_line(reason)}")

    share = scaleout.start()  # torchrun: every rank has the same plan; rank 0 reports its refusals
    failed = 0
    for item in listing.skipped if share.is_main else ():  # FIFOs, link loops, missing names, empty folders
        skip(item.name, item.reason)
        failed += 1
    for src, reason in plan.refused if share.is_main else ():  # before any work: nothing written yet
        skip(src, reason)
        failed += 1
    if not plan.targets:
        if share.is_main:
            say(f"enhanced 0 images ({failed} failed) -> {show_path(out_dir)}", sys.stdout)
        return 1

    mine = share.take_files(list(plan.targets), prog)  # this rank's files (all without torchrun)
    device = share.device(args.device)
    model = load_cached(args.model, device)
    seed = args.seed
    if args.temperature > 0 and seed is None:
        seed = share.gather(api.new_seed())[0]  # every rank samples with rank 0's seed
        if share.is_main:
            say(f"{prog}: sampling with --seed {seed}")
        options = replace(options, seed=seed)

    start = time.perf_counter()
    done = 0
    mine_items = [kv for i, kv in enumerate(plan.targets.items()) if i in mine]  # this rank's inputs
    images = [(src, targets) for src, targets in mine_items if src not in videos]
    bar = tqdm(images, unit="img", disable=True if args.quiet or not share.is_main or not images else None,
               file=sys.stderr, dynamic_ncols=True)
    with interrupt_guard() as interrupt:
        try:
            for src, targets in bar:
                if interrupt.hit:
                    break
                ok = _enhance_one(src, targets, args, model, device, options, prog, note, skip, interrupt)
                done += ok
                failed += not ok
            bar.close()
            planned = [(videos[src], targets[0]) for src, targets in mine_items if src in videos]
            if planned and not interrupt.hit:
                from uptflow.video.cli import run_videos

                ok, bad = run_videos(planned, args, model, device, prog, seed, note, skip)
                done, failed = done + ok, failed + bad
        except KeyboardInterrupt:
            interrupt.hit = True
    bar.close()
    if not interrupt.hit:  # torchrun: the whole job's counts on every rank; rank 0 reports them
        done, failed = share.total(done, failed)
        if not share.is_main:
            return 1 if failed else 0

    elapsed = time.perf_counter() - start
    noun = ("image" if done == 1 else "images") if not videos else ("input" if done == 1 else "inputs")
    each = f", {args.samples} samples each" if args.samples > 1 else ""
    fail = f" ({failed} failed)" if failed else ""
    if interrupt.hit:
        say(f"{prog}: interrupted after {done} {noun}{fail}; finished outputs are in {show_path(out_dir)}")
        return EXIT_INTERRUPTED
    say(f"enhanced {done} {noun}{each}{fail} in {elapsed:.1f} s -> {show_path(out_dir)}", sys.stdout)
    return 1 if failed else 0


def _enhance_one(src: Path, targets: list[Path], args: argparse.Namespace, model, device, options, prog: str,
                 note, skip, interrupt) -> bool:
    """Enhance ``src`` into ``targets``; report and return False on a per-file failure."""
    import warnings

    from tqdm import tqdm

    from uptflow import api
    from uptflow.inference.plan import make_plan
    from uptflow.io.read import ImageReadError, load_image
    from uptflow.io.write import save_image

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # reader notes (e.g. 16-bit read as 8-bit) are shown, one line each
            loaded = load_image(src)
        h, w = loaded.rgb.shape[:2]
        plan = make_plan(h, w, model.config, device, options)  # made here so the choice can be reported
        if plan.automatic:
            note(f"{prog}: {show_path(src)}: {w}x{h} does not fit in memory at once; using {plan.tile}-pixel tiles")
        with tqdm(total=0, unit="tile", leave=False, file=sys.stderr, dynamic_ncols=True,
                  disable=True if args.quiet or not plan.tiled else None) as tiles:
            def tile_progress(done: int, total: int) -> None:
                tiles.total = total
                tiles.n = done
                tiles.refresh()

            outs = api.enhance_array(model, loaded.rgb, options=options, plan=plan, progress=tile_progress,
                                     exposure=args.exposure)  # EV in linear light, soft shoulder
        with warnings.catch_warnings(record=True) as caught_write:
            warnings.simplefilter("always")
            for target, rgb in zip(targets, outs):
                depth = loaded.bit_depth if target.suffix.lower() in _SIXTEEN_BIT else 8
                save_image(target, rgb, alpha=loaded.alpha, bit_depth=depth, quality=args.quality)
        for w_ in [*caught, *caught_write]:
            note(f"{prog}: note: {one_line(w_.message)}")
    except ImageReadError as err:
        skip(src, err.reason)
        return False
    except MemoryError:
        skip(src, "out of memory; try --tile 256")
        return False
    except (ValueError, TypeError, OSError) as err:
        skip(src, err)
        return False
    except RuntimeError as err:  # torch failures (e.g. CUDA / CPU allocator out of memory)
        if interrupt.hit:  # a Ctrl-C that torch turned into a RuntimeError
            return False
        hint = "; try --tile 256" if is_out_of_memory(err) else ""
        skip(src, f"enhancement failed ({one_line(err, 120)}){hint}")
        return False
    return True
