"""Paired-set evaluation: PSNR / SSIM / LPIPS per image and their means, with the protocol recorded.

Two entry points, both returning an :class:`EvalResult`:

- :func:`evaluate_folders`: score images that already exist (``pred_dir``) against ground truth
  (``gt_dir``), matched by file stem (``1.png`` <-> ``1.jpg``).
- :func:`evaluate_model`: enhance the low-light side of a list of pairs (from
  :func:`uptflow.data.layouts.discover_pairs`) with a model, then score against the normal side.

:func:`write_results` writes ``metrics.csv``, ``metrics.json`` and ``PROTOCOL.md`` (the protocol in
words, :meth:`uptflow.metrics.EvalProtocol.describe`) into one folder, so the numbers are never
separated from how they were computed.  Pairs that cannot be scored (unreadable file, size
mismatch) are listed as skipped, never silently dropped; means are over the scored pairs.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from uptflow.io.listing import natural_key
from uptflow.messages import one_line, quoted_path, show_path
from uptflow.metrics import LPIPS, EvalProtocol, LPIPSWeightsMissing, evaluate_pair, summarize

__all__ = [
    "EvalResult",
    "match_by_stem",
    "load_lpips",
    "score_pairs",
    "evaluate_folders",
    "evaluate_model",
    "write_results",
    "format_table",
]

METRICS = ("psnr", "ssim", "lpips")


@dataclass
class EvalResult:
    """Per-image metrics and their means.

    Attributes:
        rows: one dict per scored pair: ``{"name": str, "psnr": dB, "ssim": ..., "lpips": ...}``
            (``lpips`` only when the protocol computes it).
        mean: mean of each metric over ``rows`` (empty if nothing was scored).
        protocol: how the numbers were computed.
        skipped: ``(name, reason)`` for pairs that could not be scored.
        unmatched: file names present on only one side, e.g. ``{"pred": [...], "gt": [...]}``.
        source: what was evaluated (folders, model, data, temperature, ...), for the JSON file.
    """

    rows: list[dict[str, Any]]
    mean: dict[str, float]
    protocol: EvalProtocol
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def metric_names(self) -> list[str]:
        return [m for m in METRICS if m != "lpips" or self.protocol.lpips]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.rows),
            "mean": {k: _json_float(v) for k, v in self.mean.items()},
            "per_image": [{k: (_json_float(v) if isinstance(v, float) else v) for k, v in r.items()}
                          for r in self.rows],
            "skipped": [{"name": n, "reason": r} for n, r in self.skipped],
            "unmatched": self.unmatched,
            "protocol": self.protocol.to_dict(),
            "protocol_text": self.protocol.describe(),
            "source": self.source,
        }


def _json_float(v: float) -> float | str:
    """JSON has no inf/nan: write them as strings ("inf" PSNR = identical images)."""
    return v if math.isfinite(v) else str(v)


# ------------------------------------------------------------------------------------------
# Matching
# ------------------------------------------------------------------------------------------


def _images_by_stem(folder: Path, what: str) -> dict[str, Path]:
    from uptflow.io.formats import IMAGE_EXTENSIONS

    if not folder.exists():
        raise FileNotFoundError(f"{what} folder not found: {show_path(folder)}")
    if not folder.is_dir():
        raise ValueError(f"{what} folder {show_path(folder)} is not a folder")
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in IMAGE_EXTENSIONS or p.name.startswith(".") or not p.is_file():
            continue
        if p.stem in out:
            raise ValueError(f"{what} folder {show_path(folder)} has two images named {quoted_path(p.stem)} "
                             f"({show_path(out[p.stem].name)}, {show_path(p.name)}); stems must be unique")
        out[p.stem] = p
    if not out:
        raise ValueError(f"no images found in {what} folder {show_path(folder)}")
    return out


def match_by_stem(pred_dir: str | Path, gt_dir: str | Path) -> tuple[list[tuple[str, Path, Path]], dict[str, list[str]]]:
    """Pair the images of two folders by file stem (extensions may differ).

    Returns:
        ``([(stem, pred_path, gt_path), ...] sorted by stem, {"pred": [...], "gt": [...]})`` where
        the dict names the files that have no partner.

    Raises:
        FileNotFoundError / ValueError: a missing or empty folder, duplicate stems, no stem in
            common (one line, with examples of each side's names).
    """
    pred = _images_by_stem(Path(pred_dir), "prediction")
    gt = _images_by_stem(Path(gt_dir), "ground-truth")
    common = sorted(set(pred) & set(gt), key=natural_key)
    if not common:
        ex_p = ", ".join(show_path(n) for n in sorted(pred)[:3])
        ex_g = ", ".join(show_path(n) for n in sorted(gt)[:3])
        raise ValueError(f"no file names in common between {show_path(pred_dir)} ({ex_p} ...) and "
                         f"{show_path(gt_dir)} ({ex_g} ...); "
                         "files are matched by name without extension")
    unmatched = {"pred": sorted(pred[s].name for s in set(pred) - set(gt)),
                 "gt": sorted(gt[s].name for s in set(gt) - set(pred))}
    return [(s, pred[s], gt[s]) for s in common], unmatched


# ------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------


def load_lpips(protocol: EvalProtocol, lpips_dir: str | Path | None = None) -> LPIPS | None:
    """The LPIPS network if the protocol needs it (``None`` otherwise).

    Weights are searched by :func:`uptflow.metrics.find_lpips_weights` (or taken from
    ``lpips_dir``) and never downloaded.

    Raises:
        LPIPSWeightsMissing: a one-line message saying where to put them, or to pass ``--no-lpips``.
    """
    if not protocol.lpips:
        return None
    try:
        return LPIPS.from_dir(lpips_dir)
    except LPIPSWeightsMissing as err:
        raise LPIPSWeightsMissing(f"{one_line(err, 400)}; pass --lpips-dir DIR, or --no-lpips to skip LPIPS") from None


def _read(path: Path) -> np.ndarray:
    from uptflow.data.layouts import read_pair_image

    return read_pair_image(path)


def score_pairs(items: Iterable[tuple[str, Callable[[], np.ndarray], Callable[[], np.ndarray]]],
                protocol: EvalProtocol, lpips_net: LPIPS | None = None, total: int | None = None,
                progress: bool = False, on_skip: Callable[[str, str], None] | None = None,
                ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Score ``(name, get_pred, get_gt)`` items; the getters return ``(H, W, 3)`` float in [0, 1].

    Getters are called lazily so that only one pair is in memory at a time.  A getter or metric
    that raises ``ValueError``/``OSError``/``RuntimeError`` skips that pair with a reason.

    Returns:
        ``(rows, skipped)``.
    """
    from tqdm import tqdm

    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    bar = tqdm(items, total=total, unit="img", disable=None if progress else True, file=sys.stderr,
               dynamic_ncols=True)
    for name, get_pred, get_gt in bar:
        try:
            gt = get_gt()
            pred = get_pred()
            if pred.shape != gt.shape:
                raise ValueError(f"prediction is {pred.shape[1]}x{pred.shape[0]} but ground truth is "
                                 f"{gt.shape[1]}x{gt.shape[0]}")
            row = evaluate_pair(pred, gt, protocol, lpips_net=lpips_net)
        except (ValueError, TypeError, OSError, RuntimeError) as err:
            reason = one_line(err)
            skipped.append((name, reason))
            if on_skip is not None:
                on_skip(name, reason)
            continue
        rows.append({"name": name, **row})
    bar.close()
    return rows, skipped


def _mean(rows: Sequence[dict[str, Any]], protocol: EvalProtocol) -> dict[str, float]:
    if not rows:
        return {}
    keys = [m for m in METRICS if m != "lpips" or protocol.lpips]
    return summarize([{k: r[k] for k in keys} for r in rows])


def evaluate_folders(pred_dir: str | Path, gt_dir: str | Path, protocol: EvalProtocol | None = None,
                     lpips_dir: str | Path | None = None, progress: bool = False,
                     on_skip: Callable[[str, str], None] | None = None) -> EvalResult:
    """Score existing predictions in ``pred_dir`` against ``gt_dir`` (matched by file stem)."""
    protocol = EvalProtocol() if protocol is None else protocol
    net = load_lpips(protocol, lpips_dir)
    pairs, unmatched = match_by_stem(pred_dir, gt_dir)
    items = ((name, (lambda p=p: _read(p)), (lambda g=g: _read(g))) for name, p, g in pairs)
    rows, skipped = score_pairs(items, protocol, net, total=len(pairs), progress=progress, on_skip=on_skip)
    source = {"mode": "folders", "pred_dir": str(pred_dir), "gt_dir": str(gt_dir)}
    return EvalResult(rows, _mean(rows, protocol), protocol, skipped, unmatched, source)


def evaluate_model(model: Any, pairs: Sequence[Any], protocol: EvalProtocol | None = None, *,
                   temperature: float = 0.0, seed: int | None = None, tile: int | None = None,
                   overlap: int = 32, save_dir: str | Path | None = None,
                   lpips_dir: str | Path | None = None, lpips_net: LPIPS | None = None,
                   progress: bool = False, on_skip: Callable[[str, str], None] | None = None,
                   source: dict[str, Any] | None = None, highlights: str = "auto") -> EvalResult:
    """Enhance each pair's low image with ``model`` and score it against the normal image.

    Args:
        model: an :class:`uptflow.model.UPTFlow` in eval mode.
        pairs: records with ``.low``, ``.normal`` and ``.name`` (e.g.
            :class:`uptflow.data.layouts.PairRecord`).
        protocol: metrics protocol (default :class:`EvalProtocol`).
        temperature, seed, tile, overlap: as for :func:`uptflow.api.enhance_array`; temperature 0
            (default) is the published deterministic setting.
        highlights: the highlight ceiling (:mod:`uptflow.inference.highlights`): ``auto``
            (default, what ``uptflow enhance`` gives), ``protect``, or ``off`` (the network alone);
            recorded in the result's source.
        save_dir: if given, each prediction is also written there as ``NAME.png`` (8-bit), so it
            can be inspected or re-scored with :func:`evaluate_folders`.
        lpips_dir, lpips_net: where to find the LPIPS weights, or an already loaded network.
        source: extra description stored in the result (model file, data root, ...).
    """
    from uptflow import api
    from uptflow.io.write import save_image

    protocol = EvalProtocol() if protocol is None else protocol
    options = api.check_options(temperature=temperature, tile=tile, overlap=overlap, seed=seed, highlights=highlights)
    net = lpips_net if lpips_net is not None or not protocol.lpips else load_lpips(protocol, lpips_dir)
    out_dir = Path(save_dir) if save_dir is not None else None
    if out_dir is not None:
        _check_save_targets(pairs, out_dir)

    def predict(rec: Any) -> Callable[[], np.ndarray]:
        def get() -> np.ndarray:
            low = _read(Path(rec.low))
            pred = api.enhance_array(model, low, options=options)[0]
            if out_dir is not None:
                save_image(out_dir / f"{rec.name}.png", pred)
            return pred
        return get

    items = ((rec.name, predict(rec), (lambda r=rec: _read(Path(r.normal)))) for rec in pairs)
    start = time.perf_counter()
    rows, skipped = score_pairs(items, protocol, net, total=len(pairs), progress=progress, on_skip=on_skip)
    info = {"mode": "model", "temperature": temperature, "seed": seed, "tile": tile, "overlap": overlap,
            "highlights": highlights, "seconds": round(time.perf_counter() - start, 2)}
    info.update(source or {})
    return EvalResult(rows, _mean(rows, protocol), protocol, skipped, {}, info)


def _check_save_targets(pairs: Sequence[Any], out_dir: Path) -> None:
    """Refuse ``save_dir`` before any work if a saved prediction would overwrite a low or normal
    image of the set, or two pairs would save under one name (both would lose data)."""
    from uptflow.io.outputs import plan_outputs, prepare_output_dir

    prepare_output_dir(out_dir, "--save-pred")
    names = {Path(rec.low): rec.name for rec in pairs}
    plan = plan_outputs(list(names), lambda low: [out_dir / f"{names[low]}.png"],
                        protected=[Path(rec.normal) for rec in pairs], hint="choose another --save-pred folder")
    if plan.refused:
        low, reason = plan.refused[0]
        more = f" (and {len(plan.refused) - 1} more)" if len(plan.refused) > 1 else ""
        raise ValueError(f"--save-pred: {show_path(low)}: {reason}{more}")


# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------


def write_results(result: EvalResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``metrics.csv`` (per image + a final ``MEAN`` row), ``metrics.json`` and ``PROTOCOL.md``.

    Returns ``{"csv": path, "json": path, "protocol": path}``.
    """
    from uptflow.io.outputs import prepare_output_dir
    from uptflow.io.write import atomic_write

    out = prepare_output_dir(Path(out_dir), "--out")
    names = result.metric_names
    paths = {"csv": out / "metrics.csv", "json": out / "metrics.json", "protocol": out / "PROTOCOL.md"}
    rows = [["name", *names]]
    rows += [[r["name"], *(f"{r[k]:.6f}" for k in names)] for r in result.rows]
    if result.mean:
        rows.append(["MEAN", *(f"{result.mean[k]:.6f}" for k in names)])
    lines = ["# Evaluation protocol", "", result.protocol.describe(), "", "Settings: "
             + ", ".join(f"{k}={v}" for k, v in result.protocol.to_dict().items()), "",
             f"Scored pairs: {len(result.rows)}" + (f"; skipped: {len(result.skipped)}" if result.skipped else ""),
             "", "Source: " + ", ".join(f"{k}={v}" for k, v in result.source.items()), ""]
    # names are file stems: undecodable bytes go back out as the same bytes (surrogateescape)
    text = {"encoding": "utf-8", "errors": "surrogateescape"}

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="", **text) as f:
            csv.writer(f).writerows(rows)

    def write_json(tmp: Path) -> None:
        with open(tmp, "w", **text) as f:
            json.dump(result.to_dict(), f, indent=2)  # ensure_ascii: names are escaped
            f.write("\n")

    atomic_write(paths["csv"], write_csv, what="metrics")
    atomic_write(paths["json"], write_json, what="metrics")
    atomic_write(paths["protocol"], lambda tmp: tmp.write_text("\n".join(lines), **text), what="protocol")
    return paths


def format_table(result: EvalResult) -> str:
    """A plain-text table of per-image values and the means (what ``uptflow evaluate`` prints)."""
    names = result.metric_names
    heads = {"psnr": "PSNR dB", "ssim": "SSIM", "lpips": "LPIPS"}
    shown = [show_path(str(r["name"])) for r in result.rows]  # one row per line, printable
    width = max([len("name"), len("MEAN")] + [len(n) for n in shown])
    fmt = {"psnr": "{:>9.3f}", "ssim": "{:>9.4f}", "lpips": "{:>9.4f}"}
    lines = [f"{'name':<{width}}" + "".join(f"{heads[k]:>9}" for k in names)]
    for name, r in zip(shown, result.rows):
        lines.append(f"{name:<{width}}" + "".join(fmt[k].format(r[k]) for k in names))
    if result.mean:
        lines.append("-" * len(lines[0]))
        lines.append(f"{'MEAN':<{width}}" + "".join(fmt[k].format(result.mean[k]) for k in names))
    return "\n".join(lines)
