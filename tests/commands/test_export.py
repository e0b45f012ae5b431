"""``uptflow export``: one ONNX graph for any image size, checked with ONNX Runtime.

One real export of the ``tiny`` model (module fixture: the capture takes tens of seconds); the
failure paths reuse its file or fail before any capture.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime", reason="the onnx extra is part of the test extra")  # declared in pyproject

import onnx  # noqa: E402

from uptflow.inference import models as reg  # noqa: E402
from uptflow.checkpoints import load_model  # noqa: E402
from uptflow.cli import main  # noqa: E402
from uptflow.export import export as ex  # noqa: E402


@pytest.fixture(scope="module")
def exported(tiny: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert main(["export", str(out), "--model", str(tiny), "-q"]) == 0
    return out


@pytest.mark.slow  # the fixture exports the tiny model once (torch.export + ONNX translation)
@pytest.mark.parametrize("h,w", [(67, 93), (33, 17), (5, 3), (1, 1), (24, 40)])
def test_onnx_runtime_matches_enhance_on_odd_sizes(exported: Path, tiny: Path, h, w):
    model = load_model(tiny)
    low = ex.probe_image(h, w, seed=7)
    got = ex.run_session(ex.make_session(exported, threads=1), low)
    ref = model.enhance(low)
    assert got.shape == (1, 3, h, w)
    assert ref.std() > 0
    assert (got - ref).abs().max() <= 1e-4


@pytest.mark.slow
def test_graph_has_dynamic_size_and_constant_inverse_weights(exported: Path):
    proto = onnx.load(str(exported))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[:2]] == [1, 3]
    assert all(d.dim_param and not d.dim_value for d in dims[2:])
    assert not any(n.op_type in ("Inverse", "Loop", "If") for n in proto.graph.node)
    assert [o.name for o in proto.graph.output] == ["enhanced"]


def test_bad_opset_is_one_line(tmp_path: Path, tiny: Path, capsys):
    out = tmp_path / "x.onnx"
    assert main(["export", str(out), "--model", str(tiny), "--opset", "11"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "uptflow export: error: unsupported ONNX opset 11: choose 18..23 (default 18)"
    assert not out.exists()


def test_parser_defaults_match_the_module():
    from uptflow.cli import build_parser

    args = build_parser().parse_args(["export", "x.onnx"])
    assert args.opset == ex.DEFAULT_OPSET and args.tolerance == ex.DEFAULT_TOLERANCE


def test_missing_extra_names_it(tmp_path: Path, tiny: Path, capsys, monkeypatch):
    real = ex.importlib.util.find_spec
    monkeypatch.setattr(ex.importlib.util, "find_spec", lambda name: None if name == "onnxscript" else real(name))
    assert main(["export", str(tmp_path / "x.onnx"), "--model", str(tiny)]) == 1
    err = capsys.readouterr().err
    assert "pip install 'uptflow[onnx]'" in err and "onnxscript" in err and err.count("\n") == 1


def test_model_that_cannot_be_captured_leaves_nothing(tmp_path: Path, tiny: Path, capsys, monkeypatch):
    def refuse(graph, example):
        raise RuntimeError("Could not guard on data-dependent expression\nmore lines")

    monkeypatch.setattr(ex, "_capture", refuse)
    out = tmp_path / "x.onnx"
    assert main(["export", str(out), "--model", str(tiny), "-q"]) == 1
    err = capsys.readouterr().err
    assert "cannot export this model: torch.export failed: Could not guard" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_failed_runtime_check_leaves_nothing(tmp_path: Path, exported: Path, monkeypatch):
    """A graph whose ONNX Runtime output differs from PyTorch is not kept (no file, no temp file)."""
    class Program:  # stands in for torch.onnx.export's result: the tiny graph of *another* model
        def save(self, path: str) -> None:
            shutil.copy(exported, path)

    monkeypatch.setattr(ex, "_capture", lambda graph, example: None)
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: Program())
    other = reg.random_model("tiny", seed=1)
    out = tmp_path / "x.onnx"
    with pytest.raises(ValueError, match=r"differs from PyTorch by .* at 67x93 .*not written"):
        ex.export_onnx(other, out)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(tmp_path: Path, tiny: Path, capsys):
    out = tmp_path / "x.onnx"
    out.write_bytes(b"keep")
    assert main(["export", str(out), "--model", str(tiny)]) == 1
    assert "exists; use --force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep"
