"""WeightEMA: the average's arithmetic, integer buffers, restart and restore."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from uptflow.training.ema import WeightEMA


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.register_buffer("initialized", torch.tensor(False))
        self.register_buffer("count", torch.tensor(0, dtype=torch.int64))


def test_update_is_the_exponential_average_and_copies_integer_buffers() -> None:
    torch.manual_seed(0)
    net = _Net()
    w0 = net.lin.weight.detach().clone()
    ema = WeightEMA(net, decay=0.75)
    assert torch.equal(ema.model.lin.weight, w0) and not ema.model.lin.weight.requires_grad
    with torch.no_grad():
        net.lin.weight.add_(1.0)
        net.initialized.fill_(True)
        net.count.fill_(7)
    ema.update(net)
    torch.testing.assert_close(ema.model.lin.weight, 0.75 * w0 + 0.25 * (w0 + 1.0))
    assert bool(ema.model.initialized) and int(ema.model.count) == 7 and ema.updates == 1
    ema.update(net)  # a second step moves a quarter of the remaining distance again
    torch.testing.assert_close(ema.model.lin.weight, w0 + 1.0 - 0.75**2)
    assert not torch.equal(ema.model.lin.weight, net.lin.weight)  # the average lags the weights


def test_reset_load_and_bad_decay() -> None:
    net = _Net()
    ema = WeightEMA(net, 0.9)
    with torch.no_grad():
        net.lin.bias.fill_(3.0)
    ema.reset(net)
    assert torch.equal(ema.model.lin.bias, net.lin.bias) and ema.updates == 0
    other = WeightEMA(_Net(), 0.9)
    other.load(ema.state_dict(), {"decay": 0.9, "updates": 12})
    assert torch.equal(other.model.lin.bias, net.lin.bias) and other.updates == 12
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="decay"):
            WeightEMA(net, bad)
