#!/usr/bin/env python
"""Build the verified SICE Part 1 pair list (``src/uptflow/data/sice_pairs.csv``) from the frames.

A one-off tool, not part of the runtime package (which only reads the committed CSV through
:func:`uptflow.data.sice.load_pairs`).

SICE Part 1 ships tripod exposure stacks as numbered frames (``1.jpg`` ... ``2002.jpg``,
512x512). Consecutive numbers are *mostly* one scene, but the numbering is not clean: some
stacks are interleaved with frames of another scene (e.g. 1001, 1013, 1024, ... are one scene),
some scenes appear twice under different numbers (1096-1100 and 1203-1215 are the same
hallway), and near-black frames carry almost no structure. So the grouping is rebuilt here from
the pixels instead of trusting the numbering:

1. ``sice_scene_check.same_scene_score`` (beside this script) — exposure-invariant structural
   agreement of two frames (rank-normalised luminance gradients, correlated over pixels valid in
   both).  ``--report`` prints the score distributions of consecutive and of far-apart frames;
   the measured gap is recorded in docs/DEVELOPMENT.md.
2. Scenes = connected components of the graph "score >= :data:`THRESHOLD`" over *all* frame
   pairs (one matrix product), which merges interleaved and duplicated stacks.
3. Per scene: the reference is the frame with mean in [80, 170]/255 closest to 0.45 (ties within
   5/255 broken by gradient energy); low frames are those with mean < 50/255 that pass the check
   *directly* against the reference and whose best integer shift (+-2 px at 128 px) is zero.
4. Split by scene: any scene touching a frame inside a ``benchmark_scenes.csv`` range is never
   train/val; the official benchmark pairs are listed with split ``"benchmark"``. The other
   scenes go to ``"val"`` when a salted SHA-256 of their id falls in the lowest 15 %, else
   ``"train"`` — deterministic and independent of which other scenes exist.

Regenerate the committed CSV from a checkout with
``python tools/build_sice_pairs.py --out src/uptflow/data/sice_pairs.csv --report`` (frames from
``--root``, else ``$UPTFLOW_SHARED/data/sice_part1``, else ``../shared/data/sice_part1``).
"""

from __future__ import annotations

import argparse
import csv as _csv
import hashlib
import sys
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from uptflow.data.sice import CSV_FIELDS, SPLITS, SicePair, default_csv
from uptflow.shared_data import shared_root

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scene check lives beside this script
from sice_scene_check import THRESHOLD, _Frame, best_shift, load_frame, score_matrix  # noqa: E402

DARK_MAX = 50.0 / 255.0
REF_RANGE = (80.0 / 255.0, 170.0 / 255.0)
REF_TARGET = 0.45
REF_TIE = 5.0 / 255.0
VAL_FRACTION = 0.15
SPLIT_SALT = "uptflow-sice-split-v1"


def default_root() -> Path:
    """The SICE frames: ``$UPTFLOW_SHARED/data/sice_part1``, else ``../shared/data/sice_part1`` (from a checkout)."""
    return shared_root(default=Path("..") / "shared") / "data" / "sice_part1"


# --------------------------------------------------------------------------- folder access
def frame_numbers(root: Path) -> list[int]:
    """Sorted frame numbers ``N`` of the ``N.jpg`` files in ``root``."""
    if not root.is_dir():
        raise ValueError(f"SICE folder not found: {root}")
    nums = sorted(int(p.stem) for p in root.glob("*.jpg") if p.stem.isdigit())
    if not nums:
        raise ValueError(f"no numbered .jpg frames in {root}")
    return nums


def read_benchmark(root: Path) -> list[tuple[int, int, int, int]]:
    """Rows (scene_first, scene_last, low_frame, reference_frame) of ``benchmark_scenes.csv``."""
    path = root / "benchmark_scenes.csv"
    if not path.is_file():
        raise ValueError(f"benchmark list not found: {path}")
    with path.open(newline="") as fh:
        rows = list(_csv.DictReader(fh))
    try:
        return [
            (int(r["scene_first"]), int(r["scene_last"]), int(r["low_frame"]), int(r["reference_frame"]))
            for r in rows
        ]
    except (KeyError, ValueError) as e:
        raise ValueError(f"malformed benchmark list {path}: {e}") from e


# --------------------------------------------------------------------------- pairing
def _components(adj: np.ndarray) -> list[list[int]]:
    """Connected components (sorted index lists, sorted by first index) of a boolean graph."""
    n = adj.shape[0]
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in zip(*np.nonzero(np.triu(adj, 1))):
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    comps: dict[int, list[int]] = {}
    for i in range(n):
        comps.setdefault(find(i), []).append(i)
    return sorted(comps.values(), key=lambda c: c[0])


def split_of(scene: str) -> str:
    """Deterministic train/val assignment of a non-benchmark scene id (salted SHA-256)."""
    h = int.from_bytes(hashlib.sha256(f"{SPLIT_SALT}:{scene}".encode()).digest()[:8], "big")
    return "val" if h / 2**64 < VAL_FRACTION else "train"


def pick_reference(frames: Sequence[_Frame]) -> _Frame | None:
    """Well-exposed reference: mean in REF_RANGE closest to REF_TARGET (5/255 bins), then sharpest."""
    cand = [f for f in frames if REF_RANGE[0] <= f.mean <= REF_RANGE[1]]
    if not cand:
        return None
    return min(cand, key=lambda f: (int(abs(f.mean - REF_TARGET) / REF_TIE), -f.energy, f.number))


@dataclass
class BuildReport:
    """Counts and score samples collected while building (for ``--report`` / the lead's note)."""

    scenes: int = 0
    benchmark_tainted: int = 0
    kept: int = 0
    dropped_no_ref: int = 0
    dropped_no_dark: int = 0
    dark_rejected_score: int = 0
    dark_rejected_shift: int = 0
    consecutive: np.ndarray | None = None
    far: np.ndarray | None = None
    far_linked_components: int = 0


def build_pairs(
    root: str | Path | None = None,
    frames: Iterable[int] | None = None,
    report: BuildReport | None = None,
) -> list[SicePair]:
    """Rebuild the verified pair list from the SICE frames (all 2001 frames: seconds, one matrix product).

    Args:
        root: SICE Part 1 folder (default :func:`default_root`).
        frames: restrict to these frame numbers (for quick partial regeneration).
        report: optional :class:`BuildReport` filled with counts and score distributions.
    Returns:
        Pairs sorted by (split order, scene, low frame number).
    """
    root = Path(root) if root is not None else default_root()
    nums = frame_numbers(root)
    if frames is not None:
        wanted = set(int(f) for f in frames)
        nums = [n for n in nums if n in wanted]
        if not nums:
            raise ValueError(f"none of the requested frames exist in {root}")
    feats = [load_frame(root / f"{n}.jpg") for n in nums]
    by_num = {f.number: f for f in feats}
    scores = score_matrix(feats)
    index = {n: i for i, n in enumerate(nums)}
    bench = read_benchmark(root)
    in_bench = np.zeros(len(nums), dtype=bool)
    for first, last, _, _ in bench:
        for n in range(first, last + 1):
            if n in index:
                in_bench[index[n]] = True

    rep = report if report is not None else BuildReport()
    comps = _components(scores >= THRESHOLD)
    rep.scenes = len(comps)
    pairs: list[SicePair] = []
    for comp in comps:
        if in_bench[comp].any():
            rep.benchmark_tainted += 1
            continue
        members = [feats[i] for i in comp]
        scene = f"sice-{members[0].number:04d}"
        ref = pick_reference(members)
        if ref is None:
            rep.dropped_no_ref += 1
            continue
        rows = []
        for f in members:
            if f.mean >= DARK_MAX or f is ref:
                continue
            s = float(scores[index[f.number], index[ref.number]])
            if s < THRESHOLD:
                rep.dark_rejected_score += 1
                continue
            if best_shift(ref, f) != (0, 0):
                rep.dark_rejected_shift += 1
                continue
            rows.append(SicePair(scene, f"{f.number}.jpg", f"{ref.number}.jpg", split_of(scene),
                                 round(s, 4), round(f.mean, 4), round(ref.mean, 4)))
        if rows:
            rep.kept += 1
            pairs.extend(rows)
        else:
            rep.dropped_no_dark += 1

    for first, last, low, ref_n in bench:
        if low not in by_num or ref_n not in by_num:
            continue  # partial regeneration without this benchmark scene
        lo, rf = by_num[low], by_num[ref_n]
        pairs.append(SicePair(f"bench-{first:04d}", f"{low}.jpg", f"{ref_n}.jpg", "benchmark",
                              round(float(scores[index[low], index[ref_n]]), 4),
                              round(lo.mean, 4), round(rf.mean, 4)))

    if report is not None:
        comp_of = np.empty(len(nums), dtype=np.int64)
        for k, comp in enumerate(comps):
            comp_of[comp] = k
        rep.consecutive = np.array([scores[i, i + 1] for i in range(len(nums) - 1)])
        far = np.triu(np.abs(np.subtract.outer(nums, nums)) > 30, 1)
        rep.far = scores[far]  # nearly all different scenes; the few high ones are duplicated stacks
        rep.far_linked_components = int(len({(comp_of[i], comp_of[j]) for i, j in zip(*np.nonzero(far & (scores >= THRESHOLD)))}))
    order = {s: k for k, s in enumerate(SPLITS)}
    return sorted(pairs, key=lambda p: (order[p.split], p.scene, int(Path(p.low).stem)))


# --------------------------------------------------------------------------- CSV
def write_csv(pairs: Iterable[SicePair], path: str | Path) -> None:
    """Write pairs with header ``scene,low,ref,split,score,low_mean,ref_mean``."""
    with Path(path).open("w", newline="") as fh:
        w = _csv.writer(fh, lineterminator="\n")
        w.writerow(CSV_FIELDS)
        for p in pairs:
            w.writerow(astuple(p))


def _histogram_text(values: np.ndarray, edges: Sequence[float]) -> str:
    counts, _ = np.histogram(values, bins=np.asarray(edges))
    return "  ".join(f"[{a:+.2f},{b:+.2f}):{c}" for a, b, c in zip(edges[:-1], edges[1:], counts))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: rebuild the pair list and write it as CSV (``--report`` prints the diagnostics)."""
    ap = argparse.ArgumentParser(prog="python tools/build_sice_pairs.py", description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=default_root(), help="SICE Part 1 folder")
    ap.add_argument("--out", type=Path, default=default_csv(), help="CSV to write")
    ap.add_argument("--report", action="store_true", help="print score distributions and counts")
    args = ap.parse_args(argv)
    rep = BuildReport()
    pairs = build_pairs(args.root, report=rep)
    write_csv(pairs, args.out)
    counts = {s: sum(p.split == s for p in pairs) for s in SPLITS}
    scenes = {s: len({p.scene for p in pairs if p.split == s}) for s in SPLITS}
    print(f"wrote {len(pairs)} pairs to {args.out}: " +
          ", ".join(f"{s} {counts[s]} pairs / {scenes[s]} scenes" for s in SPLITS))
    if args.report:
        print(f"scenes (components at score >= {THRESHOLD}): {rep.scenes}; benchmark-touching: "
              f"{rep.benchmark_tainted}; kept: {rep.kept}; dropped (no reference in 80-170): "
              f"{rep.dropped_no_ref}; dropped (no verified dark frame): {rep.dropped_no_dark}")
        print(f"dark frames rejected: score < {THRESHOLD}: {rep.dark_rejected_score}, "
              f"shift != 0: {rep.dark_rejected_shift}")
        edges = [-0.3, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 1.01]
        for name, v in (("consecutive frames", rep.consecutive), ("frames > 30 numbers apart", rep.far)):
            assert v is not None
            print(f"{name} (n={v.size}):\n  " + _histogram_text(v, edges))
        assert rep.far is not None
        far_hi = rep.far[rep.far >= THRESHOLD]
        print(f"far pairs >= {THRESHOLD}: {far_hi.size} (min {far_hi.min() if far_hi.size else float('nan'):.3f}; "
              f"duplicated/interleaved stacks, all within {rep.far_linked_components} scene(s)); "
              f"largest far score below it: {rep.far[rep.far < THRESHOLD].max():.3f}")
        b = np.array([p.score for p in pairs if p.split == "benchmark"])
        print(f"official benchmark low/ref pairs: n={b.size} min {b.min():.3f} median {np.median(b):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
