"""paper-lol against the authors' UPT-Flow code: same weights, same input, one process.

    python benchmarks/authors_side_by_side.py --authors-dir /work/authors/UPT-Flow \\
        --sizes 256x256,400x600 --runs 2 --threads 2

The authors' code is NOT part of uptflow and must never be committed here (licence).  Fetch
it yourself: ``--authors-dir`` is the ``UPT-Flow/`` folder of
github.com/NJUPT-IPR-XuLintao/UPT-Flow with at least ``models/networks.py``,
``models/modules/{UPTFlow_arch,Lowlight_Encoder,FlowUpsamplerNet,FlowStep,
FlowAffineCouplingsAblation,flow,thops,Split}.py``, ``options/options.py``, ``utils/util.py`` and
``confs/UPT-Flow.yml``.  Their ``FlowStep.py`` imports ``models/modules/FlowActNorms.py`` and
``Permutations.py``, which that repository does not hold; they come unchanged from the code
base it derives from, github.com/wyf0912/LLFlow (``code/models/modules/``).  Their files are
used as fetched, NOT edited.

What it does:

1. Builds their network exactly as their ``test.py`` does (``options.parse`` of
   ``confs/UPT-Flow.yml``, ``dict_to_nonedict``, ``networks.define_Flow``): the full-width
   window-5 LOL network that our ``paper-lol`` preset is.  Then it gives every floating entry of
   its state dict a seeded random value (the recipe of ``shared/conformance/README.md``: scaled
   normal weights, orthogonal 1x1 convs, near-identity norms, small non-zero "zero" convs with
   +2 on the coupling scale channels, so every layer does work and the decode stays bounded) and
   loads that state dict into ours with ``uptflow.checkpoints.load_model``.
2. Checks that both enhance a seeded random low-light image (``--check-size``) identically at
   z = 0 -- their test path: ``netG(lr=, zc=up_map(lr), z=0, reverse=True)`` -- and stops with a
   one-line error when the max abs difference exceeds ``--tolerance`` (otherwise the timing
   would compare different work).
3. Times both per size in this process under ``torch.inference_mode()`` with
   ``torch.set_num_threads(--threads)``: one warm-up each, then ``--runs`` timed runs,
   interleaved (authors, ours, authors, ...) so drifting load hits both alike; the median.  Beside it,
   the median CPU time each run spent in the kernel (``getrusage``): the authors' full-size
   intermediates are fresh pages every run, so their wall time follows what a page fault costs on
   the host at the moment.
4. Measures each (network, size)'s peak memory in a FRESH subprocess after a warm-up and one
   run, so the two never share a high-water mark.  The peak is ``VmHWM`` of /proc/self/status,
   not ``ru_maxrss``: Linux carries ``ru_maxrss`` over fork/vfork + exec, so a child of this
   (large) process would report this process's peak for both networks.

Run-time shims (nothing in their files is changed):
- ``timm`` is not installed (it pulls torchvision, which uptflow must not depend on): a stand-in
  ``timm.models.layers`` gives their encoder ``DropPath`` (identity; the benchmark runs in eval
  mode, where timm's DropPath is the identity too), ``to_2tuple`` and ``trunc_normal_``
  (= ``torch.nn.init.trunc_normal_``; only initial values, which step 1 overwrites).
- ``utils/util.py`` imports cv2, natsort and torchvision for image-file helpers the network never
  calls: empty stand-ins are in ``sys.modules`` only while that file is imported.
- ``models``, ``models.modules``, ``utils`` and ``options`` are registered as packages rooted in
  ``--authors-dir`` (their repository may lack ``__init__.py`` files).
- Their ``forward`` is decorated with ``torch.cuda.amp.autocast()``; on CPU that is a no-op that
  warns, and the warning is silenced.  Their network code calls no ``.cuda()``.
Needs ``einops`` (``pip install einops``) and PyYAML.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_info import describe, peak_rss_bytes  # noqa: E402  (benchmarks/ is not a package)
from speed import _parse_size  # noqa: E402

PROG = "authors_side_by_side.py"
#: Files of their code the network needs, relative to --authors-dir.
REQUIRED = ("confs/UPT-Flow.yml", "options/options.py", "utils/util.py", "models/networks.py",
            *(f"models/modules/{n}.py" for n in (
                "UPTFlow_arch", "Lowlight_Encoder", "FlowUpsamplerNet", "FlowStep",
                "FlowAffineCouplingsAblation", "flow", "thops", "Split", "FlowActNorms", "Permutations")))

warnings.filterwarnings("ignore", message=r".*(autocast|CUDA is not available|meshgrid).*")


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def missing_files(authors_dir: Path) -> list[str]:
    return [rel for rel in REQUIRED if not (authors_dir / rel).is_file()]


# -- importing their code ---------------------------------------------------------------------
def _timm_stand_in() -> None:
    import torch

    class DropPath(torch.nn.Module):
        """Stochastic depth; the identity in eval mode (all this benchmark runs)."""

        def __init__(self, drop_prob: float = 0.0) -> None:
            super().__init__()
            self.drop_prob = drop_prob

        def forward(self, x):
            if self.training and self.drop_prob > 0:
                raise RuntimeError("the timm stand-in only supports eval mode")
            return x

    def to_2tuple(x):
        return tuple(x) if isinstance(x, (list, tuple)) else (x, x)

    layers = types.ModuleType("timm.models.layers")
    layers.DropPath, layers.to_2tuple, layers.trunc_normal_ = DropPath, to_2tuple, torch.nn.init.trunc_normal_
    timm, models = types.ModuleType("timm"), types.ModuleType("timm.models")
    timm.models, models.layers = models, layers
    for name, mod in (("timm", timm), ("timm.models", models), ("timm.models.layers", layers)):
        sys.modules.setdefault(name, mod)


@contextlib.contextmanager
def _absent_helpers():
    """Empty cv2 / natsort / torchvision(.utils) modules while their utils/util.py imports."""
    names = ("cv2", "natsort", "torchvision", "torchvision.utils")
    added = []
    for name in names:
        if name not in sys.modules:
            try:
                __import__(name)
                continue
            except ImportError:
                pass
            mod = types.ModuleType(name)
            if name == "torchvision.utils":
                mod.make_grid = None
                sys.modules["torchvision"].utils = mod
            sys.modules[name] = mod
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def import_authors(authors_dir: Path):
    """Import their ``options.options`` and ``models.networks`` from ``authors_dir``."""
    import importlib

    missing = missing_files(authors_dir)
    if missing:
        raise UsageError(f"--authors-dir {str(authors_dir)!r} does not hold the authors' UPT-Flow code "
                         f"(missing {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); "
                         "see this script's --help")
    try:
        import einops  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as err:
        raise UsageError(f"their code needs {err.name}: pip install {err.name}") from None
    for pkg, rel in (("models", "models"), ("models.modules", "models/modules"),
                     ("utils", "utils"), ("options", "options")):
        mod = types.ModuleType(pkg)
        mod.__path__ = [str(authors_dir / rel)]
        sys.modules[pkg] = mod
        if "." in pkg:  # what the import system does for a loaded submodule
            parent, _, child = pkg.rpartition(".")
            setattr(sys.modules[parent], child, mod)
    _timm_stand_in()
    try:
        with _absent_helpers():
            importlib.import_module("utils.util")
        importlib.import_module("models.modules.UPTFlow_arch")  # what define_Flow will import
        return importlib.import_module("options.options"), importlib.import_module("models.networks")
    except Exception as err:  # noqa: BLE001  (a partial or altered copy: say so in one line)
        raise UsageError(f"could not import the authors' code from {str(authors_dir)!r}: "
                         f"{type(err).__name__}: {err}") from None


def build_authors(authors_dir: Path, seed: int):
    """Their network from their config, eval mode, every floating entry seeded-random."""
    options, networks = import_authors(authors_dir)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # parse() prints the training options
            opt = options.dict_to_nonedict(options.parse(str(authors_dir / "confs/UPT-Flow.yml"), is_train=False))
        net = networks.define_Flow(opt, step=0).eval()
    except Exception as err:  # noqa: BLE001
        raise UsageError(f"could not build the authors' network from {str(authors_dir)!r}: "
                         f"{type(err).__name__}: {err}") from None
    randomize_(net, seed)
    return net


def randomize_(net, seed: int) -> None:
    """Seeded values for every floating state-dict entry (see shared/conformance/README.md)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    zero_convs = {name for name, m in net.named_modules() if type(m).__name__ == "Conv2dZeros"}

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=g) * std + mean

    with torch.no_grad():
        for key, t in net.state_dict(keep_vars=True).items():
            if not t.is_floating_point():
                continue
            owner, leaf = key.rsplit(".", 1)
            if key.endswith("invconv.weight"):
                q, r = torch.linalg.qr(torch.randn(t.shape, generator=g, dtype=torch.float64))
                new = (q * torch.sign(torch.diagonal(r))).float()
            elif owner in zero_convs:
                std = 0.3 / math.sqrt(t[0].numel()) if leaf == "weight" else 0.02  # bias, logs
                new = normal(t.shape, std)
                if leaf == "bias" and owner.split(".")[-3].startswith(("fAffine", "fFeatures")):
                    new[1::2] += 2.0  # the "cross" split: odd channels are the scales
            elif leaf == "relative_position_bias_table" or ".actnorm." in key or owner.endswith("actnorm"):
                new = normal(t.shape, 0.05)
            elif leaf == "temperature" or (leaf == "weight" and t.dim() == 1):
                new = normal(t.shape, 0.05, 1.0)
            elif leaf == "bias":
                new = normal(t.shape, 0.02)
            else:
                new = normal(t.shape, 0.6 / math.sqrt(t[0].numel()))
            t.copy_(new)


# -- the two enhancements ---------------------------------------------------------------------
def authors_decode(net, low):
    """Their test path at z = 0: (1, 3, H, W) in [0, 1] -> raw decode (H, W multiples of 8)."""
    import torch

    from uptflow.prior import up_map

    z = low.new_zeros(low.shape[0], 192, low.shape[2] // 8, low.shape[3] // 8)
    x, _ = net(lr=low, z=z, zc=up_map(low), eps_std=None, reverse=True)
    return x.float() if x.dtype != torch.float32 else x


def authors_enhance(net, low):
    """As ``UPTFlow.enhance``: reflect-pad bottom/right to a multiple of 8 (their test.py pads
    the same way), decode, crop, clamp."""
    from uptflow.model import pad_to_multiple

    h, w = low.shape[-2:]
    return authors_decode(net, pad_to_multiple(low, 8))[..., :h, :w].clamp(0.0, 1.0)


def test_image(h: int, w: int):
    import torch

    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1)) * 0.4  # low light


def load_ours(state_dict):
    from uptflow.checkpoints import load_model
    from uptflow.config import get_preset

    return load_model(state_dict, config=get_preset("paper-lol")).eval()


# -- memory worker ----------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    sd = torch.load(args.weights, weights_only=True)
    if args.worker == "authors":
        net = build_authors(args.authors_dir, seed=args.seed)
        net.load_state_dict(sd)
        run = functools.partial(authors_enhance, net)
    else:
        model = load_ours(sd)
        run = model.enhance
    del sd
    image = test_image(*_parse_size(args.size))
    with torch.inference_mode():
        run(image)
        run(image)
    return {"peak_bytes": peak_rss_bytes(), "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}




def peak_mib(args: argparse.Namespace, which: str, size: str, weights: Path) -> str:
    cmd = [sys.executable, __file__, "--worker", which, "--size", size, "--weights", str(weights),
           "--authors-dir", str(args.authors_dir), "--threads", str(args.threads), "--seed", str(args.seed)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=dict(os.environ))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        print(f"{which} {size}: memory worker failed (rc {proc.returncode}): {tail[0]}", file=sys.stderr)
        return "failed"
    return f"{json.loads(lines[-1][7:])['peak_bytes'] / 2**20:.0f}"


# -- main -------------------------------------------------------------------------------------
def compare(theirs, ours, size: str, tolerance: float) -> float:
    """Max abs difference of the raw z = 0 decodes; UsageError-free hard failure above tolerance."""
    import torch

    from uptflow.model import pad_to_multiple

    low = pad_to_multiple(test_image(*_parse_size(size)), 8)
    with torch.inference_mode():
        a = authors_decode(theirs, low)
        b = ours.decode(low.new_zeros(ours.latent_shape(low)), low)
        diff = (a - b).abs().max().item()
        clamped = (authors_enhance(theirs, low) - ours.enhance(low)).abs().max().item()
    print(f"same weights, same {size} input, z = 0: max abs difference {diff:.3g} "
          f"(clamped outputs {clamped:.3g}; output range [{b.min().item():.3g}, {b.max().item():.3g}])")
    if not math.isfinite(diff) or diff > tolerance:
        raise SystemExit(f"{PROG}: error: the two networks differ by {diff:.3g} > {tolerance:g} at {size}: "
                         "they do not compute the same enhancement, so a timing would compare different work")
    return diff


def side_by_side(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    theirs = build_authors(args.authors_dir, args.seed)
    sd = {k: v.detach().clone() for k, v in theirs.state_dict().items()}
    ours = load_ours(sd)
    n_theirs = sum(p.numel() for p in theirs.parameters())
    n_ours = ours.num_parameters()
    print(f"parameters: authors {n_theirs:,}, uptflow {n_ours:,} (paper-lol)")
    if n_theirs != n_ours:
        raise SystemExit(f"{PROG}: error: parameter counts differ ({n_theirs} vs {n_ours})")
    diff = compare(theirs, ours, args.check_size, args.tolerance)

    rows = []
    for size in args.sizes.split(","):
        image = test_image(*_parse_size(size))
        fns = {"authors": functools.partial(authors_enhance, theirs, image),
               "uptflow": functools.partial(ours.enhance, image)}
        if args.bf16:
            fns["bf16"] = functools.partial(_enhance_bf16, ours, image)
        times: dict[str, list[float]] = {k: [] for k in fns}
        kernel: dict[str, list[float]] = {k: [] for k in fns}  # CPU-s in the kernel (page faults)
        with torch.inference_mode():
            for fn in fns.values():
                fn()  # warm-up
            for _ in range(args.runs):
                for name, fn in fns.items():
                    s0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime, time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
                    kernel[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_stime - s0)
        med = {k: statistics.median(v) for k, v in times.items()}
        sys_s = {k: statistics.median(v) for k, v in kernel.items()}
        rows.append([size, med["authors"], med["uptflow"], med.get("bf16"), sys_s["authors"], sys_s["uptflow"]])
        print(f"{size}: authors {med['authors']:.2f} s, uptflow {med['uptflow']:.2f} s", file=sys.stderr, flush=True)
    del theirs, ours

    with tempfile.TemporaryDirectory(prefix="authors_sbs_") as tmp:
        weights = Path(tmp) / "weights.pt"
        torch.save(sd, weights)
        for row in rows:
            row += [peak_mib(args, "authors", row[0], weights), peak_mib(args, "uptflow", row[0], weights)]

    print(f"\n{describe(args.threads)}")
    print(f"weights: seeded random (seed {args.seed}), shared; max abs difference at {args.check_size}: {diff:.3g}; "
          f"median of {args.runs} run(s) after one warm-up; kernel = CPU-s spent in the kernel per run (page "
          f"faults; median); peak = VmHWM of a fresh process per cell\n")
    extra = " uptflow --precision bfloat16 s | speed-up |" if args.bf16 else ""
    print("| size (HxW) | authors s | uptflow s | speed-up | authors / uptflow kernel s | authors peak MiB | "
          "uptflow peak MiB |" + extra)
    print("|---|---|---|---|---|---|---|" + ("---|---|" if args.bf16 else ""))
    for size, ta, tu, tb, ka, ku, ma, mu in rows:
        cells = f" {tb:.2f} | {ta / tb:.2f}x |" if tb else ""
        print(f"| {size} | {ta:.2f} | {tu:.2f} | {ta / tu:.2f}x | {ka:.2f} / {ku:.2f} | {ma} | {mu} |" + cells)
    return 0


def _enhance_bf16(model, image):
    """``model.enhance`` with the encoder in bfloat16 (``--precision bfloat16``; not bit-identical)."""
    from uptflow.nets.precision import encoder_precision

    with encoder_precision("bfloat16"):
        return model.enhance(image)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--authors-dir", type=Path, required=True,
                   help="the UPT-Flow/ folder of the authors' repository (see below)")
    p.add_argument("--sizes", default="256x256,400x600", help="comma-separated HxW sizes to time")
    p.add_argument("--runs", type=int, default=2, help="timed runs per network and size (median)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="seed of the shared random weights")
    p.add_argument("--check-size", default="64x64", help="size of the equality check")
    p.add_argument("--bf16", action="store_true",
                   help="also time uptflow with the encoder in bfloat16 (--precision bfloat16; close to, not "
                        "equal to, float32: see benchmarks/precision_quality.py)")
    p.add_argument("--tolerance", type=float, default=1e-3, help="max abs difference allowed (float32)")
    p.add_argument("--worker", choices=["authors", "uptflow"], help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    p.add_argument("--weights", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        if args.runs < 1:
            raise UsageError("--runs must be >= 1")
        for size in [args.check_size, *args.sizes.split(",")]:
            try:
                _parse_size(size)
            except ValueError as err:
                raise UsageError(str(err)) from None
        if args.worker:
            print("RESULT " + json.dumps(worker(args)), flush=True)
            return 0
        return side_by_side(args)
    except UsageError as err:
        from uptflow.messages import one_line

        print(f"{PROG}: error: {one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
