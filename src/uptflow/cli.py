"""The ``uptflow`` command.

Each sub-command lives in its own module under ``uptflow.commands`` and registers itself
through :data:`COMMANDS`; this file only builds the parser and turns user mistakes into
one-line messages with a non-zero exit code.

Exit codes: 0 success; 1 an error, or some inputs skipped / failed; 2 a bad command line
(argparse) or no command; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from uptflow.messages import one_line, say

#: sub-command name -> module under uptflow.commands providing ``add_parser(subparsers)`` and
#: ``run(args) -> int``.
COMMANDS: dict[str, str] = {
    "enhance": "uptflow.commands.enhance",
    "sample": "uptflow.commands.sample",
    "evaluate": "uptflow.commands.evaluate",
    "likelihood": "uptflow.commands.likelihood",
    "info": "uptflow.commands.info",
    "convert": "uptflow.commands.convert",
    "benchmark-data": "uptflow.commands.benchmark_data",
    "train": "uptflow.commands.train",
    "demo": "uptflow.commands.demo",
    "export": "uptflow.commands.export",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uptflow",
        description="UPT-Flow low-light image enhancement: enhance photos, train on your own pairs, "
                    "evaluate PSNR/SSIM/LPIPS, compute exact likelihoods.",
    )
    from uptflow import __version__

    parser.add_argument("--version", action="version", version=f"uptflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()  # imports the commands (and torch): the process's first big allocations
    except (MemoryError, ImportError) as err:
        text = str(err)
        if not isinstance(err, MemoryError) and "failed to map segment" not in text and "allocate memory" not in text:
            raise  # a broken installation: keep the traceback
        say("uptflow: error: out of memory while starting (is an address-space limit, ulimit -v, too low? "
            "uptflow needs about 1 GB of address space to start)")
        return 1
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        say("uptflow: interrupted")
        return 130
    except (ValueError, TypeError, FileNotFoundError, PermissionError, OSError) as err:
        say(f"uptflow {args.command}: error: {one_line(err, 400)}")
        return 1
    except MemoryError:
        say(f"uptflow {args.command}: error: out of memory (try smaller images or --tile)")
        return 1
    except RuntimeError as err:
        if "out of memory" not in str(err).lower():  # anything else is a bug: keep the traceback
            raise
        say(f"uptflow {args.command}: error: out of memory ({one_line(err, 120)}); try smaller images or --tile")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
