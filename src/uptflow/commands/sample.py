"""``uptflow sample --low L -o OUT``: diverse enhancements, i.e. ``enhance`` with sampling defaults.

UPT-Flow models a distribution of normal-light images given the low-light one; drawing the latent
at temperature T > 0 gives different plausible results.  This command is ``uptflow enhance`` with
``--temperature 0.8 --samples 4`` as defaults (outputs ``NAME_s0.png`` ... ``NAME_s3.png``), and
the inputs may also be given with ``--low``.
"""

from __future__ import annotations

import argparse

from uptflow.commands.enhance import EPILOG, add_common_arguments, enhance_files


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sample", help="draw several diverse enhancements per image (temperature 0.8, 4 samples)",
        description="Sample enhancements at a temperature > 0: the same as 'uptflow enhance' with "
                    "--temperature 0.8 --samples 4 by default.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("--low", action="append", default=[], metavar="L",
                   help="a low-light input (file, folder or pattern); may be repeated")
    add_common_arguments(p, temperature=0.8, samples=4)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    inputs = list(args.low) + list(args.inputs)
    if not inputs:
        raise ValueError("no inputs given; pass --low FILE (or files, folders, patterns)")
    return enhance_files(args, inputs, prog="uptflow sample")
