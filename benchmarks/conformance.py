"""Print the max errors of our network against the authors' conformance fixtures.

    python benchmarks/conformance.py [--shared ../shared]

One row per recorded output, for window 5 and 8: max abs error (tensors) or relative error
(log-dets).  The tests assert the same bounds; this script shows the actual margins.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors.torch import load_file

from uptflow.checkpoints import load_model
from uptflow.model import standard_normal_logp
from uptflow.prior import up_map


def rows_for(path: Path) -> list[tuple[str, str, float]]:
    fx = load_file(str(path))
    model = load_model({k[7:]: v for k, v in fx.items() if k.startswith("weight/")})
    lr, gt = fx["input/lr"], fx["input/gt"]
    rows = []

    def tensor(name: str, value: torch.Tensor) -> None:
        rows.append((name, "max abs", (value - fx[f"output/{name}"]).abs().max().item()))

    with torch.no_grad():
        feats = model.encoder.features(lr, up_map(lr))
        conds = model.encoder.conditions(feats)
        tensor("encoder/cat_f", feats["cat_f"])
        for c, n in zip(conds, ["fea_up2", "fea_up1", "fea_up0"]):
            tensor(f"encoder/{n}", c)
        levels: list[torch.Tensor] = []
        z, logdet = model.flow(gt, conds, levels)
        tensor("encode/z", z)
        tensor("encode/level1_out", levels[0])
        tensor("encode/level2_out", levels[1])
        for name, val in (("encode/logdet", logdet), ("encode/logp_z", standard_normal_logp(z))):
            ref = fx[f"output/{name}"]
            rows.append((name, "relative", ((val - ref) / ref).abs().max().item()))
        for which, zkey in (("z0", "input/z_heat0"), ("z0p8", "input/z_heat0p8")):
            levels = []
            x, _ = model.flow.inverse(fx[zkey], conds, levels)
            tensor(f"reverse_{which}/x", x)
            if which == "z0":
                tensor("reverse_z0/level3_out", levels[0])
                tensor("reverse_z0/level2_out", levels[1])
        x, inv = model.flow.inverse(z, conds)
        tensor("encode_decode/x", x)
        rows.append(("encode+decode logdet", "relative", ((logdet + inv).abs() / logdet.abs()).item()))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    args = parser.parse_args()
    torch.set_num_threads(2)
    tables = {w: rows_for(args.shared / "conformance" / f"fixture_win{w}.safetensors") for w in (5, 8)}
    print("| output | measure | window 5 | window 8 |")
    print("|---|---|---|---|")
    for (name, kind, e5), (_, _, e8) in zip(tables[5], tables[8]):
        print(f"| {name} | {kind} | {e5:.2e} | {e8:.2e} |")


if __name__ == "__main__":
    main()
