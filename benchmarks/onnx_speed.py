"""ONNX Runtime vs PyTorch (``uptflow.enhance``) on CPU: max |diff| and time; real captures.

Exports the model with ``uptflow export`` (or uses ``--onnx FILE``), then for each size runs
both on the same deterministic low-light test image (``uptflow.export.export.probe_image``) with
``--threads`` threads each (torch.set_num_threads / ORT intra-op threads): one un-timed warm-up,
then ``--runs`` timed runs, median wall time.

``--real`` compares instead on real low-light captures of odd sizes (crops of
../shared/data/lowlight_real: LOL eval15, LIME, DICM), as float [0, 1] outputs and after 8-bit
quantisation, which is what a deployed app writes.

Usage::

    python benchmarks/onnx_speed.py [--model M] [--onnx FILE] [--sizes 256x256,400x600] [--runs 3]
    python benchmarks/onnx_speed.py --real [--per-folder 2]

Prints Markdown tables.  Timings on a shared machine are disturbed; say so with ``--label``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import uptflow  # noqa: E402
from uptflow.export.export import export_onnx, make_session, run_session, probe_image  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "lowlight_real"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def odd_crop(img: np.ndarray, max_h: int, max_w: int) -> np.ndarray:
    """A centred crop with odd height and width (at most max_h x max_w)."""
    h, w = img.shape[:2]
    ch, cw = min(h, max_h), min(w, max_w)
    ch -= 1 - ch % 2
    cw -= 1 - cw % 2
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y:y + ch, x:x + cw]


def real_images(per_folder: int, max_h: int, max_w: int) -> list[tuple[str, np.ndarray]]:
    from PIL import Image

    out = []
    for folder in sorted(p for p in REAL.iterdir() if p.is_dir()):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".png", ".jpg", ".bmp"))
        for f in files[:per_folder]:
            rgb = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0
            out.append((f"{folder.name}/{f.name}", odd_crop(rgb, max_h, max_w)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    ap.add_argument("--onnx", type=Path, default=None, help="an exported graph of --model (default: export one "
                                                            "to out/onnx/)")
    ap.add_argument("--sizes", default="256x256,400x600", help="HxW list")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--real", action="store_true", help="compare on real captures of odd sizes instead")
    ap.add_argument("--per-folder", type=int, default=2, help="--real: images per folder")
    ap.add_argument("--crop", default="401x601", help="--real: largest crop HxW (odd sides are kept odd)")
    ap.add_argument("--label", default="", help="note printed with the table (e.g. 'shared busy machine')")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = uptflow.load_model(args.model) if args.model else uptflow.load_model(_bundled())
    onnx_path = args.onnx
    if onnx_path is None:
        onnx_path = ROOT / "out" / "onnx" / "model.onnx"
        onnx_path.parent.mkdir(parents=True, exist_ok=True)
        print(f"exporting to {onnx_path} ...", file=sys.stderr)
        export_onnx(model, onnx_path, overwrite=True)
    session = make_session(onnx_path, threads=args.threads)
    # the network alone, as exported (the highlight ceiling is a post-process outside the graph)
    torch_enhance = lambda low: uptflow.enhance(low, model=model, device="cpu", tile=0, highlights="off")  # noqa: E731

    note = f"{cpu_name()}, {args.threads} threads" + (f", {args.label}" if args.label else "")
    if args.real:
        crop = tuple(int(v) for v in args.crop.lower().split("x"))
        print(f"\nONNX Runtime vs uptflow.enhance on real captures (odd crops), {note}\n")
        print("| image | size | max abs diff (float) | max diff (8-bit levels) | pixels differing in 8-bit |")
        print("|---|---|---|---|---|")
        worst = 0.0
        for name, rgb in real_images(args.per_folder, *crop):
            low = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
            with torch.no_grad():
                ref = torch_enhance(low)
            got = run_session(session, low)
            diff = float((got - ref).abs().max())
            q_ref, q_got = (ref * 255).round(), (got.clamp(0, 1) * 255).round()
            levels = int((q_ref - q_got).abs().max())
            frac = float((q_ref != q_got).float().mean())
            worst = max(worst, diff)
            print(f"| {name} | {rgb.shape[0]}x{rgb.shape[1]} | {diff:.2e} | {levels} | {100 * frac:.4f} % |")
        print(f"\nworst max |diff| = {worst:.2e} = {worst * 255:.4f}/255 (bound 2/255: "
              f"{'met' if worst <= 2 / 255 else 'NOT met'})")
        return 0 if worst <= 2 / 255 else 1

    print(f"\nONNX Runtime vs PyTorch (uptflow.enhance, whole image), {note}, median of {args.runs} runs\n")
    print("| size | max abs diff | PyTorch s | ONNX Runtime s | ORT / PyTorch |")
    print("|---|---|---|---|---|")
    for spec in args.sizes.split(","):
        h, w = (int(v) for v in spec.lower().split("x"))
        low = probe_image(h, w)
        with torch.no_grad():
            ref = torch_enhance(low)
        got = run_session(session, low)
        diff = float((got - ref).abs().max())
        t_torch = timed(lambda: torch_enhance(low), args.runs)
        t_ort = timed(lambda: run_session(session, low), args.runs)
        print(f"| {h}x{w} | {diff:.2e} | {t_torch:.3f} | {t_ort:.3f} | {t_ort / t_torch:.2f} |")
    return 0


def _bundled() -> Path:
    from uptflow.inference.models import bundled_model_path

    path = bundled_model_path()
    if path is None:
        raise SystemExit("no bundled model installed; pass --model")
    return path


if __name__ == "__main__":
    sys.exit(main())
