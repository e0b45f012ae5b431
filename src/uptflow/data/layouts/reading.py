"""Reading pair files (images or ``.npy``) and checking pairs before training starts."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from uptflow.io.pixels import to_unit_float
from uptflow.io.read import read_rgb

from .common import NPY_SUFFIX, PairRecord, log


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
    if a.dtype in (np.uint8, np.uint16):
        return to_unit_float(a)
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

    from uptflow.io.read import header_size

    try:
        with Image.open(p) as im:
            im.verify()  # must come directly after open; the header is read again below
        w, h = header_size(p, oriented=True)
    except FileNotFoundError:
        raise ValueError(f"{p}: no such file") from None
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{p}: not a readable image ({type(e).__name__}: {e})") from None
    return h, w


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
