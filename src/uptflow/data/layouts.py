"""Find low/normal training pairs in the folder layouts of the public low-light datasets.

Every layout is turned into the same sorted list of :class:`PairRecord` (``low`` file, ``normal``
file, unique ``name``), so datasets, the trainer and the evaluator never care where data came from.

Supported layouts (``layout=`` of :func:`discover_pairs`; ``"auto"`` detects them from ``root``):

``lol``      LOL v1: ``root/our485/{low,high}/NAME.png`` (split ``train``) and
             ``root/eval15/{low,high}/NAME.png`` (``val``/``test``); matched by file name.
``lolv2``    LOL-v2 Real_captured or Synthetic: ``root/{Train,Test}/{Low,Normal}/``.  Real files are
             ``low00001.png`` <-> ``normal00001.png`` (matched with the ``low``/``normal`` prefix
             removed); Synthetic files carry the same name on both sides.
``folders``  any two folders matched by file stem, extensions may differ (``a.jpg`` <-> ``a.png``);
             e.g. MIT-Adobe FiveK as ``input/`` + ``expertC/``.  No splits: the caller picks folders.
``sice``     verified SICE Part 1 pairs from :func:`uptflow.data.sice.load_pairs`, frames under
             ``<repo>/../shared/data/sice_part1`` by default.  Split ``benchmark`` frames are only
             ever returned for ``split="benchmark"``.
``smid``     SMID as distributed with SNR-Aware (``.npy`` frames), see :func:`_smid_pairs`.
``sdsd``     SDSD indoor/outdoor as distributed with SNR-Aware (``.npy``), see :func:`_sdsd_pairs`.

Errors are raised *before* training starts: a low file without a normal one (or vice versa) is a
``ValueError`` naming the first few files and the counts, unless ``skip_bad=True`` (then each is
skipped with a ``logging`` warning); an empty result is always a ``ValueError``.
:func:`verify_pairs` additionally opens every file header and checks that sizes agree.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from uptflow.io.formats import IMAGE_EXTENSIONS

from uptflow.io.read import read_rgb

__all__ = [
    "LAYOUTS",
    "PairRecord",
    "discover_pairs",
    "detect_layout",
    "verify_pairs",
    "read_pair_image",
    "image_size",
    "default_sice_root",
]

log = logging.getLogger(__name__)

#: Concrete layouts understood by :func:`discover_pairs` (plus ``"auto"``).
LAYOUTS: tuple[str, ...] = ("lol", "lolv2", "folders", "sice", "smid", "sdsd")
SPLITS: tuple[str, ...] = ("train", "val", "test", "benchmark")
NPY_SUFFIX = ".npy"
_SHOW = 5  # how many offending files an error message names

#: Test scenes of SDSD as hard-coded in the SDSD / SNR-Aware data loaders (``testing_dir``).
#: A ``test_list.txt`` in the data root (one scene id a line) overrides them.
SDSD_TEST_SCENES: dict[str, tuple[str, ...]] = {
    "indoor": ("pair13", "pair15", "pair21", "pair23", "pair31", "pair33", "pair50", "pair52",
               "pair58", "pair60", "pair68", "pair70"),
    "outdoor": ("pair1", "pair5", "pair14", "pair36", "pair46", "pair48", "pair49", "pair60",
                "pair62", "pair63", "pair66", "pair75", "pair76"),
}
TEST_LIST_NAME = "test_list.txt"

# Sub-folder names recognised by ``folders`` auto-detection (lower case).
_LOW_NAMES = ("low", "input", "dark", "lq")
_NORMAL_NAMES = ("high", "normal", "gt", "target", "expertc", "expert_c", "reference", "long")


@dataclass(frozen=True)
class PairRecord:
    """One training/evaluation pair.

    Attributes:
        low: the low-light file (image or ``.npy``).
        normal: the normal-light ground truth (several records may share it, e.g. SMID/SICE).
        name: unique, file-system safe identifier (no ``/``), e.g. ``"1"``, ``"pair13_0005"``.
    """

    low: Path
    normal: Path
    name: str


# --------------------------------------------------------------------------- paths
def repo_root() -> Path:
    """Root of the source checkout (``src/uptflow/data/layouts.py`` -> three levels up)."""
    return Path(__file__).resolve().parents[3]


def default_sice_root() -> Path:
    """``<repo>/../shared/data/sice_part1``, where the read-only SICE frames live."""
    return repo_root().parent / "shared" / "data" / "sice_part1"


def _is_data_file(p: Path) -> bool:
    s = p.suffix.lower()
    return (s in IMAGE_EXTENSIONS or s == NPY_SUFFIX) and not p.name.startswith(".") and p.is_file()


def _files(folder: Path) -> list[Path]:
    """Sorted image / ``.npy`` files directly inside ``folder`` (hidden files skipped)."""
    return sorted(p for p in folder.iterdir() if _is_data_file(p))


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _child(folder: Path, *names: str) -> Path | None:
    """The sub-folder of ``folder`` whose name equals one of ``names`` (case-insensitive)."""
    if not folder.is_dir():
        return None
    wanted = [n.lower() for n in names]
    found = {p.name.lower(): p for p in _subdirs(folder)}
    for n in wanted:
        if n in found:
            return found[n]
    return None


def _require_dir(p: Path, what: str) -> Path:
    if not p.is_dir():
        raise ValueError(f"{what} not found: {p}")
    return p


def _natural_key(s: str) -> list[object]:
    """Sort ``"frame2"`` before ``"frame10"``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


# --------------------------------------------------------------------------- matching
def _index(files: Iterable[Path], key: Callable[[Path], str], side: str, folder: Path,
           skip_bad: bool) -> dict[str, Path]:
    """Map ``key(file) -> file``; two files with one key (``a.png`` + ``a.jpg``) are ambiguous."""
    out: dict[str, Path] = {}
    for f in files:
        k = key(f)
        if k in out:
            msg = f"ambiguous {side} files in {folder}: {out[k].name} and {f.name} match the same name {k!r}"
            if not skip_bad:
                raise ValueError(msg)
            log.warning("skipping %s (%s)", f, msg)
            continue
        out[k] = f
    return out


def _match(low: dict[str, Path], normal: dict[str, Path], where: str, skip_bad: bool,
           name: Callable[[str], str] = lambda k: k) -> list[PairRecord]:
    """Pair equal keys; report/skip keys present on only one side."""
    lonely_low = sorted((k for k in low if k not in normal), key=_natural_key)
    lonely_normal = sorted((k for k in normal if k not in low), key=_natural_key)
    if lonely_low or lonely_normal:
        if not skip_bad:
            parts = []
            if lonely_low:
                shown = ", ".join(low[k].name for k in lonely_low[:_SHOW])
                parts.append(f"{len(lonely_low)} low file(s) without a normal ({shown}"
                             f"{', ...' if len(lonely_low) > _SHOW else ''})")
            if lonely_normal:
                shown = ", ".join(normal[k].name for k in lonely_normal[:_SHOW])
                parts.append(f"{len(lonely_normal)} normal file(s) without a low ({shown}"
                             f"{', ...' if len(lonely_normal) > _SHOW else ''})")
            raise ValueError(f"unmatched files in {where}: " + "; ".join(parts)
                             + " (pass skip_bad=True to skip them)")
        for k in lonely_low:
            log.warning("skipping %s: no matching normal-light file", low[k])
        for k in lonely_normal:
            log.warning("skipping %s: no matching low-light file", normal[k])
    keys = sorted((k for k in low if k in normal), key=_natural_key)
    return [PairRecord(low[k], normal[k], name(k)) for k in keys]


def _match_folders(low_dir: Path, normal_dir: Path, skip_bad: bool, *, strip_prefix: bool = False,
                   name: Callable[[str], str] = lambda k: k) -> list[PairRecord]:
    """Match the files of two folders by stem (optionally with ``low``/``normal`` prefixes removed).

    With ``strip_prefix`` both the plain-stem and the prefix-stripped matching are tried and the
    one pairing more files wins, so LOL-v2 Real (``low00001``/``normal00001``) and Synthetic
    (identical names) both work.
    """
    _require_dir(low_dir, "low-light folder")
    _require_dir(normal_dir, "normal-light folder")
    lows, normals = _files(low_dir), _files(normal_dir)
    where = f"{low_dir} / {normal_dir}"

    def stem(p: Path) -> str:
        return p.stem

    if not strip_prefix:
        return _match(_index(lows, stem, "low", low_dir, skip_bad),
                      _index(normals, stem, "normal", normal_dir, skip_bad), where, skip_bad, name)

    def strip(prefix: str) -> Callable[[Path], str]:
        def key(p: Path) -> str:
            s = p.stem
            return s[len(prefix):] if s.lower().startswith(prefix) and len(s) > len(prefix) else s
        return key

    candidates = [(stem, stem), (strip("low"), strip("normal"))]
    best: tuple[Callable[[Path], str], Callable[[Path], str]] = candidates[0]
    best_n = -1
    for kl, kn in candidates:
        try:
            n = len(set(_index(lows, kl, "low", low_dir, False)) & set(_index(normals, kn, "normal", normal_dir, False)))
        except ValueError:
            n = -1
        if n > best_n:
            best, best_n = (kl, kn), n
    kl, kn = best
    return _match(_index(lows, kl, "low", low_dir, skip_bad),
                  _index(normals, kn, "normal", normal_dir, skip_bad), where, skip_bad, name)


# --------------------------------------------------------------------------- layouts
def _split_dirs(root: Path, split: str, label: str, splits: tuple[str, str],
                children: tuple[str, str]) -> tuple[Path, Path]:
    """The (low, normal) folders of a ``root/<train|test split>/<low|normal>`` dataset layout."""
    sub = splits[0] if split == "train" else splits[1]
    base = _child(root, sub)
    if base is None:
        raise ValueError(f"{label} split {split!r} expects the folder {root / sub}")
    low, normal = _child(base, children[0]), _child(base, children[1])
    if low is None or normal is None:
        raise ValueError(f"{label} folder {base} must contain '{children[0]}' and '{children[1]}' sub-folders")
    return low, normal


def _lol_pairs(root: Path, split: str, skip_bad: bool) -> list[PairRecord]:
    low, high = _split_dirs(root, split, "LOL", ("our485", "eval15"), ("low", "high"))
    return _match_folders(low, high, skip_bad)


def _lolv2_pairs(root: Path, split: str, skip_bad: bool) -> list[PairRecord]:
    low, normal = _split_dirs(root, split, "LOL-v2", ("Train", "Test"), ("Low", "Normal"))
    # name = the low file's stem, so outputs are named like the inputs
    recs = _match_folders(low, normal, skip_bad, strip_prefix=True)
    return [PairRecord(r.low, r.normal, r.low.stem) for r in recs]


def _folder_candidates(root: Path) -> tuple[Path, Path]:
    """Pick the (low, normal) sub-folders of ``root`` by their names (see module docstring)."""
    subs = {p.name.lower(): p for p in _subdirs(root)}
    lows = [subs[n] for n in _LOW_NAMES if n in subs]
    normals = [subs[n] for n in _NORMAL_NAMES if n in subs]
    if len(lows) != 1 or len(normals) != 1:
        raise ValueError(
            f"cannot tell the low and normal folders apart in {root}: found low candidates "
            f"{[p.name for p in lows]} and normal candidates {[p.name for p in normals]}; "
            "give low_dir and normal_dir explicitly")
    return lows[0], normals[0]


def _test_list(root: Path) -> set[str] | None:
    """Scene ids from ``root/test_list.txt`` (or the parent's), or None when there is none."""
    for folder in (root, root.parent):
        f = folder / TEST_LIST_NAME
        if f.is_file():
            ids = {ln.strip() for ln in f.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
            if not ids:
                raise ValueError(f"{f} lists no scene ids")
            return ids
    return None


def _split_scenes(scenes: list[str], test: set[str] | None, split: str, what: str,
                  root: Path) -> list[str]:
    """Keep the scene ids belonging to ``split`` (train = not in test list; val/test = in it)."""
    if test is None:
        if split == "train":
            log.warning("%s at %s: no test scene list (%s) found; training on ALL scenes, "
                        "so no %s scene is held out", what, root, TEST_LIST_NAME, what)
            return scenes
        raise ValueError(f"{what} at {root}: cannot build split {split!r} without a test scene list; "
                         f"put {TEST_LIST_NAME} (one scene id a line) into {root}")
    if split == "train":
        return [s for s in scenes if s not in test]
    return [s for s in scenes if s in test]


def _smid_pairs(root: Path, split: str, skip_bad: bool) -> list[PairRecord]:
    """SMID in the SNR-Aware ``.npy`` distribution.

    Assumed layout (we cannot see the real data; this follows the SNR-Aware loaders):

    - ``root/SMID_LQ_np/<scene>/<frame>.npy``: low-light frames of a scene.
    - ground truth, one long exposure per scene, in either form
      ``root/SMID_Long_np/<scene>/<any>.npy`` (a single file; every low frame of the scene maps to
      it, as SNR-Aware replicates ``img_paths_GT[0]``) or ``root/SMID_Long_np/<scene>.npy``.  A GT
      folder holding several files is matched to the low frames by stem instead.
    - split: scene ids listed in ``root/test_list.txt`` (SNR-Aware reads the same file) are
      ``val``/``test``, all others ``train``; without that file ``train`` takes every scene (with
      a warning) and ``val``/``test`` is an error.

    Record names are ``<scene>_<frame>``.
    """
    lq = _child(root, "SMID_LQ_np")
    gt = _child(root, "SMID_Long_np")
    if lq is None or gt is None:
        raise ValueError(f"SMID layout expects {root / 'SMID_LQ_np'} and {root / 'SMID_Long_np'}")
    scenes = [p.name for p in _subdirs(lq)]
    scenes = _split_scenes(sorted(scenes, key=_natural_key), _test_list(root), split, "SMID", root)
    out: list[PairRecord] = []
    missing: list[str] = []
    for scene in scenes:
        lows = [p for p in _files(lq / scene) if p.suffix.lower() == NPY_SUFFIX]
        if not lows:
            log.warning("SMID scene %s has no .npy frames; skipped", lq / scene)
            continue
        gt_dir, gt_file = gt / scene, gt / f"{scene}{NPY_SUFFIX}"
        gts = [p for p in _files(gt_dir) if p.suffix.lower() == NPY_SUFFIX] if gt_dir.is_dir() else []
        if len(gts) > 1:
            out.extend(_match_folders(lq / scene, gt_dir, skip_bad, name=lambda k, s=scene: f"{s}_{k}"))
            continue
        target = gts[0] if gts else (gt_file if gt_file.is_file() else None)
        if target is None:
            missing.append(scene)
            continue
        out.extend(PairRecord(p, target, f"{scene}_{p.stem}")
                   for p in sorted(lows, key=lambda p: _natural_key(p.stem)))
    if missing:
        msg = (f"unmatched files in {root}: {len(missing)} SMID scene(s) without ground truth in "
               f"{gt} ({', '.join(missing[:_SHOW])}{', ...' if len(missing) > _SHOW else ''})")
        if not skip_bad:
            raise ValueError(msg + " (pass skip_bad=True to skip them)")
        for s in missing:
            log.warning("skipping SMID scene %s: no ground truth in %s", s, gt)
    return out


def _sdsd_base(root: Path) -> Path:
    """The folder holding ``input/`` and ``GT/``: ``root`` itself or its single ``*_np`` child."""
    if _child(root, "input") is not None and _child(root, "GT") is not None:
        return root
    subsets = [p for p in (_child(root, "indoor_np"), _child(root, "outdoor_np")) if p is not None]
    if len(subsets) > 1:
        raise ValueError(f"{root} holds both indoor_np and outdoor_np; SDSD indoor and outdoor are "
                         "separate benchmarks: point root at one of them")
    if not subsets:
        raise ValueError(f"SDSD layout expects {root}/{{indoor_np|outdoor_np}}/{{input,GT}} "
                         f"or {root}/{{input,GT}}")
    return subsets[0]


def _sdsd_pairs(root: Path, split: str, skip_bad: bool) -> list[PairRecord]:
    """SDSD (indoor or outdoor) in the SNR-Aware ``.npy`` distribution.

    Assumed layout: ``<subset>/input/<pair_id>/<frame>.npy`` (low) and
    ``<subset>/GT/<pair_id>/<frame>.npy`` (ground truth), frames matched by stem, where
    ``<subset>`` is ``root`` itself or ``root/indoor_np`` / ``root/outdoor_np``.  The test scenes
    are :data:`SDSD_TEST_SCENES` (chosen by ``indoor``/``outdoor`` in the folder name), or the ids
    in a ``test_list.txt`` next to ``input/``, which takes precedence.  Record names are
    ``<pair_id>_<frame>``.
    """
    base = _sdsd_base(root)
    inp, gt = _child(base, "input"), _child(base, "GT")
    assert inp is not None and gt is not None  # guaranteed by _sdsd_base
    test = _test_list(base)
    if test is None:
        label = str(base).lower()
        kind = [k for k in SDSD_TEST_SCENES if k in base.name.lower()] or \
               [k for k in SDSD_TEST_SCENES if k in label]
        if len(kind) == 1:
            test = set(SDSD_TEST_SCENES[kind[0]])
    low_scenes = {p.name for p in _subdirs(inp)}
    gt_scenes = {p.name for p in _subdirs(gt)}
    lonely = sorted(low_scenes ^ gt_scenes, key=_natural_key)
    if lonely:
        msg = (f"unmatched files in {base}: {len(lonely)} SDSD scene folder(s) present in only one of "
               f"input/ and GT/ ({', '.join(lonely[:_SHOW])}{', ...' if len(lonely) > _SHOW else ''})")
        if not skip_bad:
            raise ValueError(msg + " (pass skip_bad=True to skip them)")
        for s in lonely:
            log.warning("skipping SDSD scene %s: present in only one of input/ and GT/", s)
    scenes = sorted(low_scenes & gt_scenes, key=_natural_key)
    scenes = _split_scenes(scenes, test, split, "SDSD", base)
    out: list[PairRecord] = []
    for scene in scenes:
        out.extend(_match_folders(inp / scene, gt / scene, skip_bad,
                                  name=lambda k, s=scene: f"{s}_{k}"))
    return out


def _sice_pairs(root: Path | None, split: str, skip_bad: bool) -> list[PairRecord]:
    """Wrap :func:`uptflow.data.sice.load_pairs`; ``val``/``test`` both mean SICE's ``val`` split.

    The verified pair list ships with the package; ``root`` only says where the frames are, so
    listed frames missing from ``root`` are unmatched files (error, or skipped with ``skip_bad``).
    """
    from uptflow.data import sice

    base = root if root is not None else default_sice_root()
    _require_dir(base, "SICE folder")
    want = {"train": "train", "val": "val", "test": "val", "benchmark": "benchmark"}[split]
    pairs = [p for p in sice.load_pairs(want) if p.split == want]  # belt and braces
    out, missing = [], []
    for p in pairs:
        low, ref = p.paths(base)
        lost = [f for f in (low, ref) if not f.is_file()]
        if lost:
            missing.extend(f.name for f in lost)
            if skip_bad:
                log.warning("skipping SICE pair %s_%s: %s not found in %s", p.scene, Path(p.low).stem,
                            ", ".join(f.name for f in lost), base)
            continue
        out.append(PairRecord(low, ref, f"{p.scene}_{Path(p.low).stem}"))
    if missing and not skip_bad:
        shown = sorted(set(missing), key=_natural_key)
        raise ValueError(f"unmatched files in {base}: {len(shown)} listed SICE frame(s) not found "
                         f"({', '.join(shown[:_SHOW])}{', ...' if len(shown) > _SHOW else ''}) "
                         "(pass skip_bad=True to skip them)")
    return out


# --------------------------------------------------------------------------- detection
def detect_layout(root: str | Path) -> str:
    """Name the layout ``root`` holds (one of :data:`LAYOUTS`) or raise ``ValueError``."""
    r = Path(root)
    if not r.is_dir():
        raise ValueError(f"data folder not found: {r}")
    if _child(r, "our485") is not None or _child(r, "eval15") is not None:
        return "lol"
    for split in ("Train", "Test"):
        b = _child(r, split)
        if b is not None and _child(b, "Low") is not None and _child(b, "Normal") is not None:
            return "lolv2"
    if _child(r, "SMID_LQ_np") is not None:
        return "smid"
    if _child(r, "indoor_np") is not None or _child(r, "outdoor_np") is not None:
        return "sdsd"
    inp, gt = _child(r, "input"), _child(r, "GT")
    if inp is not None and gt is not None and _subdirs(inp) and not _files(inp):
        return "sdsd"  # input/<pair>/... with sub-folders, not flat files
    if (r / "benchmark_scenes.csv").is_file() or (r / "scene_groups_heuristic.csv").is_file():
        return "sice"
    try:
        _folder_candidates(r)
        return "folders"
    except ValueError:
        pass
    raise ValueError(
        f"cannot detect the data layout of {r}; looked for: our485/ or eval15/ (lol), "
        "{Train,Test}/{Low,Normal}/ (lolv2), SMID_LQ_np/ (smid), indoor_np/, outdoor_np/ or "
        "input/<scene>/ + GT/<scene>/ (sdsd), benchmark_scenes.csv (sice), or one low folder "
        f"({'/'.join(_LOW_NAMES)}) and one normal folder ({'/'.join(_NORMAL_NAMES)}) (folders); "
        "set layout= and low_dir=/normal_dir= explicitly")


def discover_pairs(
    root: str | Path | None = None,
    *,
    low_dir: str | Path | None = None,
    normal_dir: str | Path | None = None,
    layout: str = "auto",
    split: str = "train",
    skip_bad: bool = False,
) -> list[PairRecord]:
    """List the low/normal pairs of a dataset, sorted and deterministic.

    Args:
        root: dataset folder (relative paths are relative to the current directory).  Optional
            for ``sice`` (defaults to :func:`default_sice_root`) and for ``folders`` when both
            ``low_dir`` and ``normal_dir`` are given.
        low_dir, normal_dir: the two folders of the ``folders`` layout; relative to ``root``
            when ``root`` is given, else to the current directory.  Without them ``folders``
            picks the sub-folders of ``root`` by name (``low``/``input`` + ``high``/``gt``/...).
        layout: one of :data:`LAYOUTS` or ``"auto"`` (see :func:`detect_layout`).
        split: ``"train"``, ``"val"``, ``"test"`` (``val`` and ``test`` are the same held-out
            set, e.g. LOL eval15) or ``"benchmark"`` (SICE only).  Ignored by ``folders``.
        skip_bad: skip unmatched/ambiguous files with a logged warning instead of raising.

    Returns:
        Non-empty list of :class:`PairRecord`, sorted by name order of the layout.

    Raises:
        ValueError: unknown layout/split, missing folders, unmatched files, or no pairs.
    """
    if layout != "auto" and layout not in LAYOUTS:
        raise ValueError(f"unknown data layout {layout!r}; choose auto or one of: {', '.join(LAYOUTS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    root_p = Path(root) if root is not None else None

    if layout == "auto":
        if root_p is None:
            if low_dir is None or normal_dir is None:
                raise ValueError("no data given: set root, or both low_dir and normal_dir")
            layout = "folders"
        elif low_dir is not None or normal_dir is not None:
            layout = "folders"
        else:
            layout = detect_layout(root_p)
    if split == "benchmark" and layout != "sice":
        raise ValueError(f"split 'benchmark' exists only for the sice layout, not {layout!r}")

    if layout == "sice":
        recs = _sice_pairs(root_p, split, skip_bad)
        where = str(root_p if root_p is not None else default_sice_root())
    elif layout == "folders":
        if low_dir is not None or normal_dir is not None:
            if low_dir is None or normal_dir is None:
                raise ValueError("the folders layout needs both low_dir and normal_dir")
            ld, nd = Path(low_dir), Path(normal_dir)
            if root_p is not None:
                ld, nd = root_p / ld, root_p / nd
        else:
            if root_p is None:
                raise ValueError("the folders layout needs root or low_dir and normal_dir")
            _require_dir(root_p, "data folder")
            ld, nd = _folder_candidates(root_p)
        recs = _match_folders(ld, nd, skip_bad)
        where = f"{ld} / {nd}"
    else:
        if root_p is None:
            raise ValueError(f"the {layout} layout needs root")
        _require_dir(root_p, "data folder")
        fn = {"lol": _lol_pairs, "lolv2": _lolv2_pairs, "smid": _smid_pairs, "sdsd": _sdsd_pairs}[layout]
        recs = fn(root_p, split, skip_bad)
        where = str(root_p)
    if not recs:
        raise ValueError(f"no {split} pairs found in {where} (layout {layout})")
    names = [r.name for r in recs]
    if len(set(names)) != len(names):  # cannot happen for a sane layout; keep names usable as keys
        raise ValueError(f"duplicate pair names in {where} (layout {layout})")
    return recs


# --------------------------------------------------------------------------- reading
def read_pair_image(path: str | Path) -> np.ndarray:
    """Read a pair file as ``(H, W, 3)`` float32 in ``[0, 1]``.

    ``.npy`` arrays must be ``(H, W, 3)``: uint8 is divided by 255, uint16 by 65535, float arrays
    are taken to be in ``[0, 1]`` already (values up to 1.01 are clipped; larger ones are an
    error, they would mean an array stored in 0..255).  Other files go through
    :func:`uptflow.io.read.read_rgb`.

    Raises:
        ValueError: unreadable file, wrong shape/dtype, non-finite or out-of-range values.
    """
    p = Path(path)
    if p.suffix.lower() != NPY_SUFFIX:
        return read_rgb(p)
    try:
        a = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{p}: no such file") from None
    except Exception as e:  # noqa: BLE001 - any loader failure is a one-line file error
        raise ValueError(f"{p}: cannot read .npy array ({type(e).__name__}: {e})") from None
    _check_npy(p, a.shape, a.dtype)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255.0)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535.0)
    f = a.astype(np.float32)
    if not np.isfinite(f).all():
        raise ValueError(f"{p}: array contains NaN or infinite values")
    lo, hi = float(f.min()), float(f.max())
    if lo < -0.01 or hi > 1.01:
        raise ValueError(f"{p}: float array values span [{lo:.3g}, {hi:.3g}]; expected [0, 1]")
    return np.ascontiguousarray(np.clip(f, 0.0, 1.0))


def _check_npy(p: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if len(shape) != 3 or shape[2] != 3 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"{p}: expected an (H, W, 3) array, got shape {tuple(shape)}")
    if not (dtype in (np.uint8, np.uint16) or np.issubdtype(dtype, np.floating)):
        raise ValueError(f"{p}: expected uint8, uint16 or float data, got dtype {dtype}")


def image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` of a pair file from its header, as :func:`read_pair_image` would return it.

    Images: PIL header plus ``verify()`` (EXIF orientations 5-8 swap H and W, like the reader);
    ``.npy``: memory-mapped load of the header.  Raises ``ValueError`` naming the file.
    """
    p = Path(path)
    if p.suffix.lower() == NPY_SUFFIX:
        try:
            a = np.load(p, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise ValueError(f"{p}: no such file") from None
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{p}: cannot read .npy array ({type(e).__name__}: {e})") from None
        _check_npy(p, a.shape, a.dtype)
        return int(a.shape[0]), int(a.shape[1])
    from PIL import Image

    try:
        with Image.open(p) as im:
            im.verify()  # must come directly after open; the header is read again below
        with Image.open(p) as im:
            w, h = im.size
            try:
                orient = im.getexif().get(0x0112, 1)
            except Exception:  # noqa: BLE001 - a broken EXIF block is not our business here
                orient = 1
    except FileNotFoundError:
        raise ValueError(f"{p}: no such file") from None
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{p}: not a readable image ({type(e).__name__}: {e})") from None
    return (w, h) if orient in (5, 6, 7, 8) else (h, w)


def verify_pairs(records: Sequence[PairRecord], skip_bad: bool = False) -> list[PairRecord]:
    """Open every file header once and check that low and normal sizes agree.

    Cheap (no pixel decoding), so it runs before training instead of failing hours in.

    Returns:
        The records that passed (all of them unless ``skip_bad``).
    Raises:
        ValueError: the first unreadable file or size mismatch (unless ``skip_bad``, which logs a
            warning per skipped record), or no record left.
    """
    sizes: dict[Path, tuple[int, int] | str] = {}

    def size(p: Path) -> tuple[int, int] | str:
        if p not in sizes:
            try:
                sizes[p] = image_size(p)
            except ValueError as e:
                sizes[p] = str(e)
        return sizes[p]

    kept: list[PairRecord] = []
    for r in records:
        a, b = size(r.low), size(r.normal)
        problem = a if isinstance(a, str) else b if isinstance(b, str) else None
        if problem is None and a != b:
            problem = (f"{r.low} ({a[0]}x{a[1]}) and {r.normal} ({b[0]}x{b[1]}) differ in size")
        if problem is None:
            kept.append(r)
        elif skip_bad:
            log.warning("skipping pair %s: %s", r.name, problem)
        else:
            raise ValueError(problem)
    if not kept:
        raise ValueError("no valid pairs left after verification")
    return kept
