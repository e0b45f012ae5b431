"""benchmarks/quality.py: the model record that ``uptflow convert --meta benchmark=@FILE`` stores."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality  # noqa: E402


def test_model_record_takes_one_method_plain_and_gt_mean() -> None:
    label = quality._label("runs/x/best.pt", "off")
    assert label == "uptflow:best --highlights off" and quality._label("a/m.safetensors", "auto") == "uptflow:m"
    results = {
        ("kodak24", label): ({"psnr": 22.14321, "ssim": 0.80451}, {"psnr": 25.57581, "ssim": 0.81571}, 0.5, 24),
        ("kodak24", "uptflow:best"): ({"psnr": 1.0, "ssim": 0.1}, {"psnr": 2.0, "ssim": 0.2}, 0.5, 24),
        ("sice_val", label): ({"psnr": 20.35941, "ssim": 0.7673}, {"psnr": 22.95791, "ssim": 0.7862}, 0.4, 58),
    }
    rec = quality.model_record(results, ["kodak24", "sice_val"], label, "off")
    assert rec["highlights"] == "off" and "8 bit" in rec["protocol"]
    assert rec["kodak24"] == {"psnr": 22.1432, "ssim": 0.8045, "gt_mean_psnr": 25.5758, "gt_mean_ssim": 0.8157,
                              "pairs": 24}
    assert rec["sice_val"]["psnr"] == 20.3594 and set(rec) == {"highlights", "protocol", "kodak24", "sice_val"}
