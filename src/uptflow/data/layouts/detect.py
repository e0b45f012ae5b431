"""``layout="auto"``: name the dataset layout a folder holds from its sub-folders and marker files.

Checked in this order (first match wins): ``our485/``/``eval15/`` (lol), ``{Train,Test}/{Low,Normal}/``
(lolv2), ``SMID_LQ_np/`` (smid), ``indoor_np/``/``outdoor_np/`` or ``input/<scene>/`` + ``GT/``
(sdsd), ``benchmark_scenes.csv`` (sice), one low + one normal folder by name (folders).
"""

from __future__ import annotations

from pathlib import Path

from .folders import LOW_NAMES, NORMAL_NAMES, folder_candidates
from .lol import looks_like_lol
from .lolv2 import looks_like_lolv2
from .sice import looks_like_sice
from .smid_sdsd import looks_like_sdsd, looks_like_smid


def detect_layout(root: str | Path) -> str:
    """Name the layout ``root`` holds (one of :data:`~uptflow.data.layouts.LAYOUTS`) or raise ``ValueError``."""
    r = Path(root)
    if not r.is_dir():
        raise ValueError(f"data folder not found: {r}")
    for name, looks in (("lol", looks_like_lol), ("lolv2", looks_like_lolv2), ("smid", looks_like_smid),
                        ("sdsd", looks_like_sdsd), ("sice", looks_like_sice)):
        if looks(r):
            return name
    try:
        folder_candidates(r)
        return "folders"
    except ValueError:
        pass
    raise ValueError(
        f"cannot detect the data layout of {r}; looked for: our485/ or eval15/ (lol), "
        "{Train,Test}/{Low,Normal}/ (lolv2), SMID_LQ_np/ (smid), indoor_np/, outdoor_np/ or "
        "input/<scene>/ + GT/<scene>/ (sdsd), benchmark_scenes.csv (sice), or one low folder "
        f"({'/'.join(LOW_NAMES)}) and one normal folder ({'/'.join(NORMAL_NAMES)}) (folders); "
        "set layout= and low_dir=/normal_dir= explicitly")
