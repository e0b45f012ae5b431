"""``uptflow demo``: serve a local web page (Gradio) for enhancing photos, plus an ``/enhance`` API.

The page and the API use the same reading, tiling and writing as ``uptflow enhance`` (see
:mod:`uptflow.demo.engine`), so a downloaded result equals ``uptflow enhance FILE --format png``.
It binds to 127.0.0.1 by default (only this machine can connect), sends no analytics, makes no
share link and needs no network.  Gradio is the optional ``demo`` extra; without it the command
says so in one line.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

EPILOG = """\
The page: upload a photo or pick a sample, set temperature / seed / number of samples, press
Enhance; compare before and after with the slider and download the full-resolution PNG.
Images larger than --max-megapixels are refused with a message; smaller ones that do not fit in
memory are tiled automatically, as by `uptflow enhance`.

API (same result as `uptflow enhance FILE --format png`):
  from gradio_client import Client, handle_file
  client = Client("http://127.0.0.1:7860/", analytics_enabled=False)
  png_path = client.predict(handle_file("dark.jpg"), api_name="/enhance")

examples:
  uptflow demo                              # bundled model, http://127.0.0.1:7860/
  uptflow demo --model my_model.safetensors --port 8080
  uptflow demo --precision bfloat16          # faster on CPUs with AVX512-BF16 / AMX
  uptflow demo --host 0.0.0.0               # reachable from other machines: you decide who may use it
"""


def add_parser(sub) -> None:
    from uptflow.demo.server import DEFAULT_HOST, DEFAULT_PORT

    p = sub.add_parser(
        "demo", help="serve a local web page for trying the model (needs uptflow[demo])",
        description="Serve a local Gradio page for enhancing photos, and an /enhance API endpoint.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="M", default=None,
                   help="checkpoint path or preset name (random weights, testing only); default: the bundled model")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to bind (default {DEFAULT_HOST}: this machine only; 0.0.0.0 = every interface)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--concurrency", type=int, default=2, metavar="N",
                   help="enhancements running at the same time; more requests wait in a queue (default 2)")
    p.add_argument("--max-megapixels", type=float, default=16.0, metavar="MP",
                   help="largest image accepted, in millions of pixels (default 16)")
    p.add_argument("--tile", type=int, default=None, metavar="SIZE",
                   help="as in `uptflow enhance`: tile side in pixels (>= 64); 0 = never tile; default: tile "
                        "only images that would not fit in memory")
    p.add_argument("--precision", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="as in `uptflow enhance`: arithmetic of the networks; float32 (default, the authors' "
                        "numbers), bfloat16 (faster on CPUs with AVX512-BF16 / AMX and on GPUs), float16 (GPUs)")
    p.set_defaults(run=run)


def _model_name(spec: str | None) -> str:
    if spec is None:
        return "bundled default (small)"
    return Path(spec).name


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from uptflow.demo.gradio_env import DemoUnavailable, import_gradio

    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be in 1..65535, got {args.port}")
    if args.concurrency < 1:
        raise ValueError(f"--concurrency must be >= 1, got {args.concurrency}")
    if not args.max_megapixels > 0:
        raise ValueError(f"--max-megapixels must be > 0, got {args.max_megapixels}")
    if args.tile is not None and args.tile != 0 and args.tile < 64:
        raise ValueError(f"--tile must be >= 64 pixels (or 0 for no tiling), got {args.tile}")
    try:
        import_gradio()
    except DemoUnavailable as err:
        print(f"uptflow demo: error: {err}", file=sys.stderr)
        return 1

    from uptflow.demo.app import build_app
    from uptflow.demo.engine import Enhancer
    from uptflow.demo.samples import sample_paths
    from uptflow.demo.server import is_loopback, start
    from uptflow.inference.models import load_cached, resolve_device

    model = load_cached(args.model, resolve_device(args.device))
    enhancer = Enhancer(model, max_pixels=int(args.max_megapixels * 1e6), model_name=_model_name(args.model),
                        tile=args.tile, precision=args.precision)
    # SIGTERM (kill, docker stop, systemd) stops the server like Ctrl-C, so the result folder is removed
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        samples = sample_paths()
        app = build_app(enhancer, samples, concurrency=args.concurrency)
        server = start(app, args.host, args.port, allowed_paths=sorted({p.parent for p in samples}))
        if not is_loopback(args.host):
            print(f"uptflow demo: WARNING: listening on {args.host}: other machines can use this demo",
                  file=sys.stderr)
        print(f"uptflow demo: serving on {server.url} ({enhancer.device}; Ctrl-C to stop)", flush=True)
        server.wait()
        print("uptflow demo: stopped")
    finally:
        enhancer.close()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return 0
