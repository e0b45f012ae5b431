"""Conformance: our network reproduces the authors' network's recorded outputs.

The fixtures in ``../shared/conformance`` hold reduced-width weights (C=16, coupling hidden 32,
everything else as the paper) for window 5 and 8, inputs and every recorded output.
Tolerances: 1e-4 max abs on tensors, 1e-5 relative on log-dets (the fixture README).
"""

from __future__ import annotations

import pytest
import torch

from uptflow.checkpoints import load_model
from uptflow.model import standard_normal_logp
from uptflow.prior import up_map

ATOL = 1e-4
RTOL_LOGDET = 1e-5


@pytest.fixture(scope="module", params=["5", "8"])
def fixture(request, shared_dir):
    from safetensors.torch import load_file

    data = load_file(str(shared_dir / "conformance" / f"fixture_win{request.param}.safetensors"))
    weights = {k[len("weight/"):]: v for k, v in data.items() if k.startswith("weight/")}
    model = load_model(weights)
    assert model.config.window == int(request.param)
    return model, data


def _close(actual: torch.Tensor, expected: torch.Tensor, name: str) -> None:
    assert actual.shape == expected.shape, name
    err = (actual - expected).abs().max().item()
    assert err <= ATOL, f"{name}: max abs error {err:.3g} > {ATOL}"


def test_inferred_config_is_the_reduced_paper_network(fixture):
    model, _ = fixture
    cfg = model.config
    assert (cfg.width, cfg.flow_steps, cfg.levels, cfg.plain_steps, cfg.coupling_hidden) == (16, 8, 3, 2, 32)
    assert cfg.heads_r == (2, 2, 4, 8) and cfg.heads_u == (1, 2, 4, 8, 8, 4, 2)


def test_up_map(fixture):
    _, fx = fixture
    torch.testing.assert_close(up_map(fx["input/lr"]), fx["input/zero_map"], atol=0, rtol=0)


def test_encoder_features(fixture):
    model, fx = fixture
    lr = fx["input/lr"]
    with torch.no_grad():
        feats = model.encoder.features(lr, up_map(lr))
        conds = model.encoder.conditions(feats)
    _close(feats["cat_f"], fx["output/encoder/cat_f"], "cat_f")
    for cond, name in zip(conds, ["fea_up2", "fea_up1", "fea_up0"]):
        _close(cond, fx[f"output/encoder/{name}"], name)


def test_encode(fixture):
    model, fx = fixture
    with torch.no_grad():
        conds = model.condition(fx["input/lr"])
        levels: list[torch.Tensor] = []
        z, logdet = model.flow(fx["input/gt"], conds, levels)
        z_api, logdet_api = model.encode(fx["input/gt"], fx["input/lr"])
    _close(z, fx["output/encode/z"], "encode/z")
    _close(levels[0], fx["output/encode/level1_out"], "encode/level1_out")
    _close(levels[1], fx["output/encode/level2_out"], "encode/level2_out")
    torch.testing.assert_close(z_api, z, atol=0, rtol=0)
    torch.testing.assert_close(logdet_api, logdet, atol=0, rtol=0)
    for actual, key in ((logdet, "output/encode/logdet"), (standard_normal_logp(z), "output/encode/logp_z")):
        rel = ((actual - fx[key]) / fx[key]).abs().max().item()
        assert rel <= RTOL_LOGDET, f"{key}: relative error {rel:.3g}"


@pytest.mark.parametrize("which", ["z0", "z0p8"])
def test_decode(fixture, which):
    model, fx = fixture
    z = fx["input/z_heat0" if which == "z0" else "input/z_heat0p8"]
    with torch.no_grad():
        conds = model.condition(fx["input/lr"])
        levels: list[torch.Tensor] = []
        x, _ = model.flow.inverse(z, conds, levels)
        x_api = model.decode(z, fx["input/lr"])
    _close(x, fx[f"output/reverse_{which}/x"], f"reverse_{which}/x")
    torch.testing.assert_close(x_api, x, atol=0, rtol=0)
    if which == "z0":
        _close(levels[0], fx["output/reverse_z0/level3_out"], "reverse_z0/level3_out")
        _close(levels[1], fx["output/reverse_z0/level2_out"], "reverse_z0/level2_out")


def test_encode_decode_roundtrip_and_logdets_cancel(fixture):
    model, fx = fixture
    with torch.no_grad():
        z, logdet = model.encode(fx["input/gt"], fx["input/lr"])
        x, inv_logdet = model.decode_with_logdet(z, fx["input/lr"])
    _close(x, fx["output/encode_decode/x"], "encode_decode/x")
    _close(x, fx["input/gt"], "roundtrip")
    # Unlike the authors' release (their reverse log-det double-counts one sub-step), ours cancels.
    rel = ((logdet + inv_logdet).abs() / logdet.abs()).max().item()
    assert rel < 1e-6, rel


def test_enhance_equals_decode_at_zero(fixture):
    model, fx = fixture
    out = model.enhance(fx["input/lr"])
    torch.testing.assert_close(out, fx["output/reverse_z0/x"].clamp(0, 1), atol=ATOL, rtol=0)
