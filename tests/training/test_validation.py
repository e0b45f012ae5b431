"""Validation scores under the evaluation protocol (8-bit predictions), like ``uptflow evaluate``."""

from __future__ import annotations

import torch

from uptflow.metrics import EvalProtocol, evaluate_pair, psnr
from uptflow.model import UPTFlow
from uptflow.training.objective import TrainingObjective
from uptflow.training.validation import VALIDATION_PROTOCOL, validate_model


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, n: int = 2, h: int = 20, w: int = 28) -> None:
        g = torch.Generator().manual_seed(1)
        self.normal = [torch.rand(3, h, w, generator=g) for _ in range(n)]

    def __len__(self) -> int:
        return len(self.normal)

    def __getitem__(self, i: int) -> dict:
        return {"low": self.normal[i] * 0.15, "normal": self.normal[i], "name": f"p{i}"}


def _model() -> UPTFlow:
    torch.manual_seed(0)
    model = UPTFlow.from_preset("tiny")
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        TrainingObjective(model)(x * 0.2, x)  # ActNorm init
    return model.train()


def test_validation_psnr_is_the_evaluate_protocol_psnr() -> None:
    model, data = _model(), _Pairs()
    seen = []
    rec = validate_model(model, data, torch.device("cpu"), seed=0, on_image=lambda i, item, out: seen.append(i))
    assert model.training  # mode restored
    assert seen == [0, 1] and rec["val_images"] == 2 and rec["val_nll"] > 0
    model.eval()
    outs = [model.enhance(data[i]["low"][None]) for i in range(2)]
    protocol = EvalProtocol(lpips=False)  # what `uptflow evaluate --no-lpips` computes
    assert VALIDATION_PROTOCOL == protocol
    rows = [evaluate_pair(o, data[i]["normal"], protocol) for i, o in enumerate(outs)]
    assert rec["val_psnr"] == sum(r["psnr"] for r in rows) / 2
    assert rec["val_ssim"] == sum(r["ssim"] for r in rows) / 2
    # ... which is not the float-precision PSNR an unquantised validation would report
    float_psnr = sum(float(psnr(o, data[i]["normal"][None])[0]) for i, o in enumerate(outs)) / 2
    assert rec["val_psnr"] != float_psnr


def test_validation_nll_uses_fixed_noise() -> None:
    model, data = _model(), _Pairs()
    a = validate_model(model, data, torch.device("cpu"), seed=3)
    b = validate_model(model, data, torch.device("cpu"), seed=3)
    c = validate_model(model, data, torch.device("cpu"), seed=4)
    assert a == b and a["val_nll"] != c["val_nll"] and a["val_psnr"] == c["val_psnr"]
