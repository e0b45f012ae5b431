"""Data: low-light synthesis, verified SICE exposure-stack pairs, paired-dataset layouts.

Heavy pieces are imported lazily (``uptflow.data.X`` modules) so importing the package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "synthesize": "uptflow.data.synthesis",
    "synthesize_pair": "uptflow.data.synthesis",
    "SynthParams": "uptflow.data.synthesis",
    "SicePair": "uptflow.data.sice",
    "load_pairs": "uptflow.data.sice",
    "PairRecord": "uptflow.data.layouts",
    "discover_pairs": "uptflow.data.layouts",
    "verify_pairs": "uptflow.data.layouts",
    "read_pair_image": "uptflow.data.layouts",
    "paired_augment": "uptflow.data.augment",
    "PairedDataset": "uptflow.data.paired",
    "MixedDataset": "uptflow.data.paired",
    "set_dataset_epoch": "uptflow.data.paired",
    "SyntheticPairDataset": "uptflow.data.synthetic_pairs",
    "DataConfig": "uptflow.data.config",
    "build_dataset": "uptflow.data.config",
    "build_val_pairs": "uptflow.data.config",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'uptflow.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
