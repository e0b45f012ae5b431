"""One module per ``uptflow`` sub-command: ``add_parser(subparsers)`` and ``run(args) -> int``."""
