"""SMID and SDSD (indoor / outdoor) as distributed with SNR-Aware: ``.npy`` frames grouped by scene.

Both split by scene: ids in a ``test_list.txt`` (:data:`TEST_LIST_NAME`; SNR-Aware reads the same
file) are ``val``/``test``, all other scenes ``train``.  SDSD falls back to the scene lists
hard-coded in the SDSD / SNR-Aware loaders (:data:`SDSD_TEST_SCENES`).  We cannot see the real
data; the layouts follow the SNR-Aware loaders.
"""

from __future__ import annotations

from pathlib import Path

from uptflow.io.listing import natural_key

from .common import NPY_SUFFIX, PairRecord, child, files, log, match_folders, report_unmatched, shown, subdirs

#: Test scenes of SDSD as hard-coded in the SDSD / SNR-Aware data loaders (``testing_dir``).
#: A ``test_list.txt`` in the data root (one scene id a line) overrides them.
SDSD_TEST_SCENES: dict[str, tuple[str, ...]] = {
    "indoor": ("pair13", "pair15", "pair21", "pair23", "pair31", "pair33", "pair50", "pair52",
               "pair58", "pair60", "pair68", "pair70"),
    "outdoor": ("pair1", "pair5", "pair14", "pair36", "pair46", "pair48", "pair49", "pair60",
                "pair62", "pair63", "pair66", "pair75", "pair76"),
}
TEST_LIST_NAME = "test_list.txt"


def read_test_list(root: Path) -> set[str] | None:
    """Scene ids from ``root/test_list.txt`` (or the parent's), or None when there is none."""
    for folder in (root, root.parent):
        f = folder / TEST_LIST_NAME
        if f.is_file():
            ids = {ln.strip() for ln in f.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
            if not ids:
                raise ValueError(f"{f} lists no scene ids")
            return ids
    return None


def split_scenes(scenes: list[str], test: set[str] | None, split: str, what: str, root: Path) -> list[str]:
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


def _npy_files(folder: Path) -> list[Path]:
    return [p for p in files(folder) if p.suffix.lower() == NPY_SUFFIX]


def smid_pairs(root: Path, split: str, skip_bad: bool) -> list[PairRecord]:
    """SMID in the SNR-Aware ``.npy`` distribution.

    - ``root/SMID_LQ_np/<scene>/<frame>.npy``: low-light frames of a scene.
    - ground truth, one long exposure per scene, in either form
      ``root/SMID_Long_np/<scene>/<any>.npy`` (a single file; every low frame of the scene maps to
      it, as SNR-Aware replicates ``img_paths_GT[0]``) or ``root/SMID_Long_np/<scene>.npy``.  A GT
      folder holding several files is matched to the low frames by stem instead.
    - split: see the module docstring; without ``test_list.txt`` ``train`` takes every scene (with
      a warning) and ``val``/``test`` is an error.

    Record names are ``<scene>_<frame>``.
    """
    lq = child(root, "SMID_LQ_np")
    gt = child(root, "SMID_Long_np")
    if lq is None or gt is None:
        raise ValueError(f"SMID layout expects {root / 'SMID_LQ_np'} and {root / 'SMID_Long_np'}")
    scenes = [p.name for p in subdirs(lq)]
    scenes = split_scenes(sorted(scenes, key=natural_key), read_test_list(root), split, "SMID", root)
    out: list[PairRecord] = []
    missing: list[str] = []
    for scene in scenes:
        lows = _npy_files(lq / scene)
        if not lows:
            log.warning("SMID scene %s has no .npy frames; skipped", lq / scene)
            continue
        gt_dir, gt_file = gt / scene, gt / f"{scene}{NPY_SUFFIX}"
        gts = _npy_files(gt_dir) if gt_dir.is_dir() else []
        if len(gts) > 1:
            out.extend(match_folders(lq / scene, gt_dir, skip_bad, name=lambda k, s=scene: f"{s}_{k}"))
            continue
        target = gts[0] if gts else (gt_file if gt_file.is_file() else None)
        if target is None:
            missing.append(scene)
            continue
        out.extend(PairRecord(p, target, f"{scene}_{p.stem}")
                   for p in sorted(lows, key=lambda p: natural_key(p.stem)))
    if missing:
        report_unmatched(f"unmatched files in {root}: {len(missing)} SMID scene(s) without ground truth in "
                         f"{gt} ({shown(missing)})", missing, skip_bad,
                         "skipping SMID scene %s: no ground truth in %s", gt)
    return out


def sdsd_base(root: Path) -> Path:
    """The folder holding ``input/`` and ``GT/``: ``root`` itself or its single ``*_np`` child."""
    if child(root, "input") is not None and child(root, "GT") is not None:
        return root
    subsets = [p for p in (child(root, "indoor_np"), child(root, "outdoor_np")) if p is not None]
    if len(subsets) > 1:
        raise ValueError(f"{root} holds both indoor_np and outdoor_np; SDSD indoor and outdoor are "
                         "separate benchmarks: point root at one of them")
    if not subsets:
        raise ValueError(f"SDSD layout expects {root}/{{indoor_np|outdoor_np}}/{{input,GT}} "
                         f"or {root}/{{input,GT}}")
    return subsets[0]


def sdsd_pairs(root: Path, split: str, skip_bad: bool) -> list[PairRecord]:
    """SDSD (indoor or outdoor) in the SNR-Aware ``.npy`` distribution.

    Layout: ``<subset>/input/<pair_id>/<frame>.npy`` (low) and ``<subset>/GT/<pair_id>/<frame>.npy``
    (ground truth), frames matched by stem, where ``<subset>`` is ``root`` itself or
    ``root/indoor_np`` / ``root/outdoor_np``.  The test scenes are :data:`SDSD_TEST_SCENES` (chosen
    by ``indoor``/``outdoor`` in the folder name), or the ids in a ``test_list.txt`` next to
    ``input/``, which takes precedence.  Record names are ``<pair_id>_<frame>``.
    """
    base = sdsd_base(root)
    inp, gt = child(base, "input"), child(base, "GT")
    assert inp is not None and gt is not None  # guaranteed by sdsd_base
    test = read_test_list(base)
    if test is None:
        label = str(base).lower()
        kind = [k for k in SDSD_TEST_SCENES if k in base.name.lower()] or \
               [k for k in SDSD_TEST_SCENES if k in label]
        if len(kind) == 1:
            test = set(SDSD_TEST_SCENES[kind[0]])
    low_scenes = {p.name for p in subdirs(inp)}
    gt_scenes = {p.name for p in subdirs(gt)}
    lonely = sorted(low_scenes ^ gt_scenes, key=natural_key)
    if lonely:
        report_unmatched(f"unmatched files in {base}: {len(lonely)} SDSD scene folder(s) present in only one "
                         f"of input/ and GT/ ({shown(lonely)})", lonely, skip_bad,
                         "skipping SDSD scene %s: present in only one of input/ and GT/")
    scenes = sorted(low_scenes & gt_scenes, key=natural_key)
    scenes = split_scenes(scenes, test, split, "SDSD", base)
    out: list[PairRecord] = []
    for scene in scenes:
        out.extend(match_folders(inp / scene, gt / scene, skip_bad, name=lambda k, s=scene: f"{s}_{k}"))
    return out


def looks_like_smid(root: Path) -> bool:
    return child(root, "SMID_LQ_np") is not None


def looks_like_sdsd(root: Path) -> bool:
    """``indoor_np/`` / ``outdoor_np/``, or ``input/<scene>/`` sub-folders (not flat files) + ``GT/``."""
    if child(root, "indoor_np") is not None or child(root, "outdoor_np") is not None:
        return True
    inp, gt = child(root, "input"), child(root, "GT")
    return inp is not None and gt is not None and bool(subdirs(inp)) and not files(inp)
