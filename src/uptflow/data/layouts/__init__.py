"""Find low/normal training pairs in the folder layouts of the public low-light datasets.

Every layout is turned into the same sorted list of :class:`PairRecord` (``low`` file, ``normal``
file, unique ``name``), so datasets, the trainer and the evaluator never care where data came from.

Supported layouts (``layout=`` of :func:`discover_pairs`; ``"auto"`` detects them from ``root``),
one module each:

``lol``      :mod:`.lol` — LOL v1 ``our485/`` (train) and ``eval15/`` (val/test).
``lolv2``    :mod:`.lolv2` — LOL-v2 Real_captured or Synthetic, ``{Train,Test}/{Low,Normal}/``.
``folders``  :mod:`.folders` — any two folders matched by file stem (e.g. FiveK ``input/`` + ``expertC/``).
``sice``     :mod:`.sice` — the verified SICE Part 1 pairs shipped with the package.
``smid``, ``sdsd``  :mod:`.smid_sdsd` — the SNR-Aware ``.npy`` distributions, split by scene.

:mod:`.detect` names the layout of a folder, :mod:`.discover` is the entry point, :mod:`.common`
holds matching and the record type, :mod:`.reading` reads files and verifies pairs.

Errors are raised *before* training starts: a low file without a normal one (or vice versa) is a
``ValueError`` naming the first few files and the counts, unless ``skip_bad=True`` (then each is
skipped with a ``logging`` warning); an empty result is always a ``ValueError``.
:func:`verify_pairs` additionally opens every file header and checks that sizes agree.
"""

from __future__ import annotations

from .common import LAYOUTS, NPY_SUFFIX, SPLITS, PairRecord
from .detect import detect_layout
from .discover import discover_pairs
from .reading import image_size, read_pair_image, verify_pairs
from .sice import default_sice_root
from .smid_sdsd import SDSD_TEST_SCENES, TEST_LIST_NAME

__all__ = [
    "LAYOUTS",
    "SPLITS",
    "NPY_SUFFIX",
    "SDSD_TEST_SCENES",
    "TEST_LIST_NAME",
    "PairRecord",
    "discover_pairs",
    "detect_layout",
    "verify_pairs",
    "read_pair_image",
    "image_size",
    "default_sice_root",
]
