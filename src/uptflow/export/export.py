"""``export_onnx``: the enhancer as one ONNX graph, verified with ONNX Runtime before it is kept.

The graph is :class:`~uptflow.export.onnx_graph.EnhanceGraph` captured by ``torch.export`` with
dynamic height and width and translated by PyTorch's ONNX exporter (``torch.onnx.export(...,
dynamo=True)``, which needs ``onnxscript``).  Capture runs with size-oblivious reasoning
(``backed_size_oblivious``), the setting the ONNX exporter itself uses for dynamic sizes; the
remaining guards the tracer records concern memory layout (e.g. channels-last convolutions of
maps with more than one row), which ONNX does not have.  Because a guard could in principle hide
a size-specific decision, the written file is only kept after ONNX Runtime reproduced
``model.enhance`` on several sizes (odd, a multiple of 8, and one smaller than the padding
multiple); otherwise nothing is left at the output path (temp file + rename).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from uptflow.messages import one_line

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "MAX_OPSET", "CHECK_SIZES", "ExportReport", "check_opset",
           "require_onnx", "export_onnx", "make_session", "run_session", "probe_image"]

#: The ONNX exporter of ``torch.export`` graphs emits opset 18 and converts to newer ones.
DEFAULT_OPSET = 18
MIN_OPSET = 18
MAX_OPSET = 23
#: (H, W) checked with ONNX Runtime before an export is kept: odd sizes (padding inside the
#: graph), a multiple of 8 (no padding), and sides below 8 (several rounds of reflection).
CHECK_SIZES: tuple[tuple[int, int], ...] = ((67, 93), (128, 160), (5, 7))
#: Largest accepted max |ONNX Runtime - PyTorch| on [0, 1] images (float32 rounding is ~1e-5).
DEFAULT_TOLERANCE = 1e-3
#: Packages of the ``onnx`` extra (import name -> pip name).
_EXTRA = {"onnx": "onnx", "onnxruntime": "onnxruntime", "onnxscript": "onnxscript"}


@dataclass
class ExportReport:
    """What :func:`export_onnx` wrote and measured.  ``max_diff[(h, w)]`` = max |ORT - PyTorch|."""

    path: Path
    opset: int
    max_diff: dict[tuple[int, int], float] = field(default_factory=dict)
    nodes: int = 0
    bytes: int = 0
    seconds: float = 0.0


def require_onnx() -> None:
    """Raise a one-line ``ValueError`` naming the extra when an ONNX package is missing."""
    missing = [pip for mod, pip in _EXTRA.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise ValueError(f"ONNX export needs the optional extra: pip install 'uptflow[onnx]' "
                         f"(missing: {', '.join(missing)})")


def check_opset(opset: object) -> int:
    """``opset`` as an int in ``MIN_OPSET..MAX_OPSET`` or a one-line ``ValueError``."""
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"unsupported ONNX opset {opset!r}: choose {MIN_OPSET}..{MAX_OPSET} "
                         f"(default {DEFAULT_OPSET})")
    return opset


def probe_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A deterministic low-light-like (1, 3, h, w) test image in [0, 0.4]: smooth gradients,
    a saturated-colour patch (unbalanced UP pixels) and noise."""
    g = torch.Generator().manual_seed(seed * 100003 + h * 1009 + w)
    yy = torch.linspace(0, 1, h).view(1, 1, h, 1)
    xx = torch.linspace(0, 1, w).view(1, 1, 1, w)
    base = torch.cat([0.25 * xx + 0.05 * yy, 0.2 * yy + 0.02 * xx, 0.1 * (xx * yy) + 0.03], dim=1)
    noise = 0.03 * torch.rand((1, 3, h, w), generator=g)
    img = base + noise
    img[:, 1:, : max(1, h // 3), : max(1, w // 3)] = 0.0  # pure red corner: collapsed shares
    return img.clamp(0.0, 0.4)


def make_session(path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime CPU session for ``path`` with ``threads`` intra-op threads (default:
    torch's thread count), sequential execution."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads or torch.get_num_threads())
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def run_session(session, low: torch.Tensor) -> torch.Tensor:
    """Run an exported graph on a (1, 3, H, W) float tensor; returns (1, 3, H, W) float32."""
    name = session.get_inputs()[0].name
    out = session.run(None, {name: low.detach().cpu().float().contiguous().numpy()})[0]
    return torch.from_numpy(out)


def _capture(graph: torch.nn.Module, example: torch.Tensor):
    """``torch.export`` of ``graph`` with dynamic H and W (axes 2 and 3)."""
    from torch.export import Dim

    from uptflow.nets import pooled_stats
    from uptflow.nets.pointwise import use_backend
    from uptflow.nets.strips import strip_size

    dyn = ({2: Dim.DYNAMIC, 3: Dim.DYNAMIC},)
    with torch.no_grad(), strip_size(None), pooled_stats.use(None), use_backend("conv"), \
            torch.fx.experimental._config.patch(backed_size_oblivious=True):
        return torch.export.export(graph, (example,), dynamic_shapes=dyn, strict=False)


def export_onnx(model, path: str | os.PathLike, opset: int = DEFAULT_OPSET,
                check_sizes: tuple[tuple[int, int], ...] = CHECK_SIZES, tolerance: float = DEFAULT_TOLERANCE,
                overwrite: bool = False, log=None) -> ExportReport:
    """Export ``model`` (an :class:`~uptflow.model.UPTFlow`) at temperature 0 to ``path``.

    The graph maps ``low`` (1, 3, H, W) float32 in [0, 1], any H, W >= 1, to ``enhanced``
    (1, 3, H, W) in [0, 1].  Before ``path`` appears, ONNX Runtime runs it on ``check_sizes``
    and its outputs must be within ``tolerance`` (max abs) of ``model.enhance`` in PyTorch.

    Raises ``ValueError`` (one line) for a bad opset or path, a missing ONNX extra, a model the
    exporter cannot capture, or a failed check; nothing is written then.
    """
    say = log or (lambda msg: None)
    check_opset(opset)
    require_onnx()
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"the output file must end in .onnx, got {path.name}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'uptflow.onnx'}")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist")
    if path.exists() and not overwrite:
        raise ValueError(f"{path} exists; use --force to replace it")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")

    from uptflow.export.onnx_graph import EnhanceGraph

    start = time.perf_counter()
    p = next(model.parameters(), None)
    if p is not None and (p.device.type != "cpu" or p.dtype != torch.float32 or model.training):
        model = copy.deepcopy(model).float().cpu().eval()  # the caller's model stays as it is
    try:
        graph = EnhanceGraph(model).eval()
    except TypeError as err:
        raise ValueError(f"cannot export this model: {one_line(err)}") from None
    example = probe_image(*check_sizes[0])
    say("capturing the graph with torch.export (dynamic H, W)...")
    try:
        with _quiet_exporter():
            program = _capture(graph, example)
    except Exception as err:  # noqa: BLE001 - any capture failure means: this model cannot be exported
        raise ValueError(f"cannot export this model: torch.export failed: {one_line(err, 300)}") from None
    say(f"translating to ONNX opset {opset}...")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        try:
            with _quiet_exporter():
                onnx_program = torch.onnx.export(program, (example,), dynamo=True, opset_version=opset,
                                                 input_names=["low"], output_names=["enhanced"],
                                                 verbose=False, report=False)
                onnx_program.save(str(tmp))
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"cannot export this model to ONNX opset {opset}: {one_line(err, 300)}") from None
        report = ExportReport(path=path, opset=opset)
        report.nodes = _check_graph(tmp)
        say("checking ONNX Runtime against PyTorch...")
        session = make_session(tmp)
        for h, w in check_sizes:
            low = probe_image(h, w)
            with torch.no_grad():
                ref = model.enhance(low)
            got = run_session(session, low)
            if tuple(got.shape) != tuple(ref.shape):
                raise ValueError(f"exported graph gave shape {tuple(got.shape)} for a {h}x{w} input "
                                 f"(expected {tuple(ref.shape)}); not written")
            diff = float((got - ref).abs().max())
            report.max_diff[(h, w)] = diff
            if not diff <= tolerance:
                raise ValueError(f"exported graph differs from PyTorch by {diff:.3g} at {h}x{w} "
                                 f"(tolerance {tolerance:g}); not written")
        del session
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    report.bytes = path.stat().st_size
    report.seconds = time.perf_counter() - start
    return report


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's progress prints, warnings and log lines (e.g. about torchvision
    ops it skips): the command reports in its own words."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _check_graph(path: Path) -> int:
    """Structural checks of the written graph: ONNX checker, H and W symbolic, no matrix
    inverse at run time.  Returns the node count."""
    import onnx

    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4 or any(d.HasField("dim_value") for d in dims[2:]):
        raise ValueError("exported graph does not have dynamic height and width; not written")
    if any(n.op_type == "Inverse" for n in proto.graph.node):
        raise ValueError("exported graph inverts matrices at run time; not written")
    return len(proto.graph.node)
