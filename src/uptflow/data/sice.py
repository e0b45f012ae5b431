"""Verified low/normal pairs from the real SICE Part 1 exposure stacks.

SICE Part 1 ships tripod exposure stacks as numbered frames (``1.jpg`` ... ``2002.jpg``,
512x512). Consecutive numbers are *mostly* one scene, but the numbering is not clean: some
stacks are interleaved with frames of another scene (e.g. 1001, 1013, 1024, ... are one scene),
some scenes appear twice under different numbers (1096-1100 and 1203-1215 are the same
hallway), and near-black frames carry almost no structure. So the grouping is rebuilt here from
the pixels instead of trusting the numbering:

1. :func:`same_scene_score` — exposure-invariant structural agreement of two frames: luminance at
   128 px, rank-normalised (invariant to any monotone tone curve, i.e. exposure + camera
   response), light Gaussian blur, signed Sobel gradients, Pearson correlation over pixels that
   are neither crushed nor clipped in *either* frame. Same scene ~0.8-1.0, different scenes
   ~0 (max 0.551 over 1.94M pairs of different scenes, see ``--report``).
2. Scenes = connected components of the graph "score >= :data:`THRESHOLD`" over *all* frame
   pairs (one matrix product), which merges interleaved and duplicated stacks.
3. Per scene: the reference is the frame with mean in [80, 170]/255 closest to 0.45 (ties within
   5/255 broken by gradient energy); low frames are those with mean < 50/255 that pass the check
   *directly* against the reference and whose best integer shift (+-2 px at 128 px) is zero.
4. Split by scene: any scene touching a frame inside a ``benchmark_scenes.csv`` range is never
   train/val; the official benchmark pairs are listed with split ``"benchmark"``. The other
   scenes go to ``"val"`` when a salted SHA-256 of their id falls in the lowest 15 %, else
   ``"train"`` — deterministic and independent of which other scenes exist.

Regenerate the committed CSV with
``python -m uptflow.data.sice --root ../shared/data/sice_part1 --out src/uptflow/data/sice_pairs.csv``.
"""

from __future__ import annotations

import argparse
import csv as _csv
import hashlib
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

CHECK_SIZE = 128
"""Long side (px) at which frames are compared; 512 -> 128 also averages JPEG/sensor noise."""
THRESHOLD = 0.65
"""Same-scene decision threshold on :func:`same_scene_score` (gap 0.55 .. 0.78, see module doc)."""
VALID_LO, VALID_HI = 2.0 / 255.0, 0.98
"""Luminance outside (VALID_LO, VALID_HI) is crushed/clipped and carries no structure."""
MIN_OVERLAP = 0.05
"""Fewer jointly valid pixels than this fraction -> score 0 (cannot verify)."""
DARK_MAX = 50.0 / 255.0
REF_RANGE = (80.0 / 255.0, 170.0 / 255.0)
REF_TARGET = 0.45
REF_TIE = 5.0 / 255.0
MAX_SHIFT = 2
VAL_FRACTION = 0.15
SPLIT_SALT = "uptflow-sice-split-v1"
SPLITS = ("train", "val", "benchmark")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_CSV_FIELDS = ("scene", "low", "ref", "split", "score", "low_mean", "ref_mean")


@dataclass(frozen=True)
class SicePair:
    """One verified low/normal pair of SICE Part 1 frames.

    ``low``/``ref`` are file names inside the SICE folder; ``score`` is
    :func:`same_scene_score` of the two frames; ``low_mean``/``ref_mean`` are mean RGB
    intensities in [0, 1] (measured at 128 px).
    """

    scene: str
    low: str
    ref: str
    split: str
    score: float
    low_mean: float
    ref_mean: float

    def paths(self, root: str | Path | None = None) -> tuple[Path, Path]:
        """(low path, reference path) under ``root`` (default: :func:`default_root`)."""
        base = Path(root) if root is not None else default_root()
        return base / self.low, base / self.ref


@dataclass(frozen=True)
class _Frame:
    """Pre-computed check features of one frame (all at <= CHECK_SIZE px)."""

    number: int
    mean: float  # mean RGB in [0, 1]
    grad: np.ndarray  # (2, h, w) float32 signed Sobel of the blurred rank image
    valid: np.ndarray  # (h, w) bool, not crushed / clipped
    energy: float  # mean squared Sobel magnitude of plain luminance (sharpness)


def repo_root() -> Path:
    """Root of the source checkout (``src/uptflow/data/sice.py`` -> three levels up)."""
    return Path(__file__).resolve().parents[3]


def default_root() -> Path:
    """``<repo>/../shared/data/sice_part1`` — where the read-only frames live."""
    return repo_root().parent / "shared" / "data" / "sice_part1"


def default_csv() -> Path:
    """The committed pair list shipped with the package."""
    return Path(__file__).with_name("sice_pairs.csv")


# --------------------------------------------------------------------------- features
def _as_float_rgb(img: np.ndarray, name: str) -> np.ndarray:
    """(H, W, 3) or (H, W) uint8 / float in [0, 1] -> float32 array of the same layout."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(img).__name__}")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"{name}: expected shape (H, W, 3) or (H, W), got {img.shape}")
    if min(img.shape[:2]) < 8:
        raise ValueError(f"{name}: image too small for a scene check: {img.shape}")
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    return np.clip(img.astype(np.float32), 0.0, 1.0)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _LUMA if rgb.ndim == 3 else rgb


def _shrink(y: np.ndarray, size: int = CHECK_SIZE) -> np.ndarray:
    """Area-downsample a (H, W) float image so that its long side is ``size``."""
    h, w = y.shape
    s = size / max(h, w)
    if s >= 1.0:
        return y.astype(np.float32)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    return np.asarray(Image.fromarray(y.astype(np.float32), mode="F").resize((nw, nh), Image.BOX))


def _rank(y: np.ndarray) -> np.ndarray:
    """Rank-normalise to [0, 1) with tied values sharing their mean rank (flat stays flat)."""
    flat = y.ravel()
    uniq, inv, counts = np.unique(flat, return_inverse=True, return_counts=True)
    mid = np.cumsum(counts) - (counts + 1) / 2.0  # mean 0-based rank of each unique value
    return (mid[inv] / flat.size).reshape(y.shape).astype(np.float32)


def _blur(x: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    r = int(np.ceil(3 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-(t**2) / (2 * sigma**2))
    k /= k.sum()
    p = np.pad(x, ((r, r), (0, 0)), mode="reflect")
    x = sum(k[i] * p[i : i + x.shape[0]] for i in range(2 * r + 1))
    p = np.pad(x, ((0, 0), (r, r)), mode="reflect")
    return sum(k[i] * p[:, i : i + x.shape[1]] for i in range(2 * r + 1)).astype(np.float32)


def _sobel(x: np.ndarray) -> np.ndarray:
    """(H, W) -> (2, H, W) signed Sobel (d/dx, d/dy)."""
    p = np.pad(x, 1, mode="reflect")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return np.stack([gx, gy]).astype(np.float32)


def _frame_features(y_small: np.ndarray, mean: float, number: int = -1) -> _Frame:
    """Features of a luminance image already at check size (values in [0, 1])."""
    valid = (y_small > VALID_LO) & (y_small < VALID_HI)
    grad = _sobel(_blur(_rank(y_small)))
    energy = float((_sobel(y_small) ** 2).sum(axis=0).mean())
    return _Frame(number=number, mean=mean, grad=grad, valid=valid, energy=energy)


def _pair_score(a: _Frame, b: _Frame, shift: tuple[int, int] | None = None) -> float:
    """Masked Pearson correlation of the signed gradients of two frames.

    With ``shift=(dy, dx)`` frame b is rolled by it and a MAX_SHIFT border is cropped from both,
    so that all shifts of one search are scored on the same pixels.
    """
    if a.grad.shape != b.grad.shape:
        raise ValueError(f"frames {a.number} and {b.number} differ in size: {a.grad.shape} vs {b.grad.shape}")
    ga, gb, va, vb = a.grad, b.grad, a.valid, b.valid
    if shift is not None:
        dy, dx = shift
        r = MAX_SHIFT
        crop = (slice(r, -r), slice(r, -r))
        gb = np.roll(gb, (dy, dx), axis=(1, 2))[(slice(None),) + crop]
        vb = np.roll(vb, (dy, dx), axis=(0, 1))[crop]
        ga, va = ga[(slice(None),) + crop], va[crop]
    m = va & vb
    if m.mean() < MIN_OVERLAP:
        return 0.0
    u = ga[:, m].astype(np.float64).ravel()
    v = gb[:, m].astype(np.float64).ravel()
    u -= u.mean()
    v -= v.mean()
    den = np.sqrt((u * u).sum() * (v * v).sum())
    return float((u * v).sum() / den) if den > 0 else 0.0


def same_scene_score(a: np.ndarray, b: np.ndarray) -> float:
    """Exposure-invariant same-scene score of two aligned images.

    Args:
        a, b: (H, W, 3) or (H, W) images, uint8 or float in [0, 1], same H and W (any exposure).
    Returns:
        Correlation in [-1, 1] of signed Sobel gradients of the rank-normalised, blurred
        luminance at 128 px, over pixels valid in both; 0 when fewer than 5 % are jointly valid.
        Same scene (aligned, any exposure) scores >= :data:`THRESHOLD`.
    """
    fa, fb = _as_float_rgb(a, "a"), _as_float_rgb(b, "b")
    if fa.shape[:2] != fb.shape[:2]:
        raise ValueError(f"same_scene_score: images differ in size: {fa.shape[:2]} vs {fb.shape[:2]}")
    ya, yb = _shrink(_luma(fa)), _shrink(_luma(fb))
    return _pair_score(_frame_features(ya, float(fa.mean())), _frame_features(yb, float(fb.mean())))


def best_shift(a: _Frame, b: _Frame, radius: int = MAX_SHIFT) -> tuple[int, int]:
    """Integer shift (dy, dx) of ``b`` within +-radius (<= MAX_SHIFT, check-size px) maximising the score."""
    radius = min(radius, MAX_SHIFT)
    best, arg = -2.0, (0, 0)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            s = _pair_score(a, b, (dy, dx))
            if s > best + 1e-9:
                best, arg = s, (dy, dx)
    return arg


def score_matrix(frames: Sequence[_Frame]) -> np.ndarray:
    """(N, N) float32 matrix of :func:`_pair_score` for all pairs, via 4 matrix products."""
    g = np.stack([f.grad.reshape(-1) for f in frames]).astype(np.float32)
    m = np.stack([np.concatenate([f.valid.ravel()] * 2) for f in frames]).astype(np.float32)
    u = g * m
    n = m @ m.T  # jointly valid entries
    su = u @ m.T  # su[a, b] = sum over joint mask of u_a
    suu = (u * u) @ m.T
    suv = u @ u.T
    nn = np.maximum(n, 1.0)
    cov = suv - su * su.T / nn
    var = np.maximum(suu - su * su / nn, 0.0)
    out = cov / np.sqrt(np.maximum(var * var.T, 1e-20))
    out[n < MIN_OVERLAP * m.shape[1]] = 0.0
    np.fill_diagonal(out, 1.0)
    return out.astype(np.float32)


# --------------------------------------------------------------------------- folder access
def frame_numbers(root: Path) -> list[int]:
    """Sorted frame numbers ``N`` of the ``N.jpg`` files in ``root``."""
    if not root.is_dir():
        raise ValueError(f"SICE folder not found: {root}")
    nums = sorted(int(p.stem) for p in root.glob("*.jpg") if p.stem.isdigit())
    if not nums:
        raise ValueError(f"no numbered .jpg frames in {root}")
    return nums


def load_frame(path: Path) -> _Frame:
    """Decode a frame at <= CHECK_SIZE px (JPEG DCT scaling, then area resize) into features."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (CHECK_SIZE, CHECK_SIZE))
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except OSError as e:
        raise ValueError(f"cannot read SICE frame {path}: {e}") from e
    if max(rgb.shape[:2]) > CHECK_SIZE:
        rgb = np.stack([_shrink(rgb[..., c]) for c in range(3)], axis=-1)
    return _frame_features(_luma(rgb), float(rgb.mean()), int(path.stem))


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
    """Rebuild the verified pair list from the SICE frames (~15 s for all 2001 frames on 2 cores).

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
        w.writerow(_CSV_FIELDS)
        for p in pairs:
            w.writerow(astuple(p))


def load_pairs(split: str | None = None, csv: str | Path | None = None) -> list[SicePair]:
    """Read the committed pair list (or ``csv``), optionally keeping one split.

    Args:
        split: ``"train"``, ``"val"``, ``"benchmark"`` or None for all rows.
        csv: CSV to read (default :func:`default_csv`, shipped with the package).
    Returns:
        :class:`SicePair` rows in file order. Benchmark rows are for evaluation only.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown SICE split {split!r}; expected one of {SPLITS}")
    path = Path(csv) if csv is not None else default_csv()
    if not path.is_file():
        raise ValueError(f"SICE pair list not found: {path}")
    with path.open(newline="") as fh:
        reader = _csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != _CSV_FIELDS:
            raise ValueError(f"{path}: expected columns {','.join(_CSV_FIELDS)}, got {reader.fieldnames}")
        out = []
        for line, r in enumerate(reader, start=2):
            try:
                p = SicePair(r["scene"], r["low"], r["ref"], r["split"], float(r["score"]),
                             float(r["low_mean"]), float(r["ref_mean"]))
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}:{line}: malformed row: {e}") from e
            if p.split not in SPLITS:
                raise ValueError(f"{path}:{line}: unknown split {p.split!r}")
            out.append(p)
    return [p for p in out if split is None or p.split == split]


def _histogram_text(values: np.ndarray, edges: Sequence[float]) -> str:
    counts, _ = np.histogram(values, bins=np.asarray(edges))
    return "  ".join(f"[{a:+.2f},{b:+.2f}):{c}" for a, b, c in zip(edges[:-1], edges[1:], counts))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: rebuild the pair list and write it as CSV (``--report`` prints the diagnostics)."""
    ap = argparse.ArgumentParser(prog="python -m uptflow.data.sice", description=__doc__.splitlines()[0])
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
