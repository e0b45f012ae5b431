"""``uptflow export OUT.onnx``: the enhancer as one ONNX graph, checked with ONNX Runtime."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
The graph takes 'low', a (1, 3, H, W) float32 image in [0, 1] of any height and width, and returns
'enhanced', the same size, clamped to [0, 1] (temperature 0: the deterministic published setting).
Padding to a multiple of 8, the UP map, the encoder and the inverse flow are all inside the graph;
the inverse 1x1 convolutions are stored as constant weights.  Before the file is written, ONNX
Runtime runs it on 67x93, 128x160 and 5x7 test images and must match PyTorch (max |diff| <=
--tolerance); otherwise nothing is written.  Needs the extra: pip install 'uptflow[onnx]'.

examples:
  uptflow export uptflow.onnx
  uptflow export my_model.onnx --model my_model.safetensors --opset 18
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="export the enhancer as one ONNX graph (any image size), verified with ONNX Runtime",
        description="Export the enhancer (temperature 0) as an ONNX graph with dynamic height and width, "
                    "and check it with ONNX Runtime against PyTorch before writing it.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--model", metavar="M", default=None,
                   help="checkpoint path (.safetensors / .pth) or preset name (random weights, for testing "
                        "only); default: the bundled model")
    # defaults written out so --help does not import torch (tests check they match export.py)
    p.add_argument("--opset", type=int, default=18, metavar="N", help="ONNX opset, 18..23 (default 18)")
    p.add_argument("--tolerance", type=float, default=1e-3, metavar="T",
                   help="largest accepted max |ONNX Runtime - PyTorch| on [0, 1] images (default 1e-3)")
    p.add_argument("--force", action="store_true", help="replace OUT.onnx if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="only the final line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from uptflow.export.export import check_opset, export_onnx, require_onnx

    check_opset(args.opset)  # usage mistakes before the (slow) model load
    require_onnx()
    from uptflow.inference.models import load_cached

    model = load_cached(args.model, "cpu")
    log = None if args.quiet else (lambda msg: print(f"uptflow export: {msg}", file=sys.stderr))
    report = export_onnx(model, args.output, opset=args.opset, tolerance=args.tolerance,
                         overwrite=args.force, log=log)
    diffs = ", ".join(f"{h}x{w} {d:.2g}" for (h, w), d in report.max_diff.items())
    print(f"exported {report.path} (opset {report.opset}, {report.nodes} nodes, {report.bytes / 2**20:.1f} MiB) "
          f"in {report.seconds:.0f} s; ONNX Runtime vs PyTorch max |diff|: {diffs}")
    return 0
