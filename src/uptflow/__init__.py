"""uptflow — UPT-Flow low-light image enhancement.

Public API (names are stable; other code and external checks use them):

- :class:`UPTFlow`, :data:`presets`, :func:`load_model`
- :func:`enhance` (images, arrays, tensors or paths in, the same type out)
- :func:`enhance_video` (video file -> video file), :func:`enhance_frames` (generator over frames)

Heavy sub-modules are imported lazily so that ``uptflow --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "UPTFlow": ("uptflow.model", "UPTFlow"),
    "UPTFlowConfig": ("uptflow.config", "UPTFlowConfig"),
    "presets": ("uptflow.config", "presets"),
    "load_model": ("uptflow.checkpoints", "load_model"),
    "checkpoints": ("uptflow.checkpoints", None),
    "enhance": ("uptflow.api", "enhance"),
    "enhance_video": ("uptflow.video.api", "enhance_video"),
    "enhance_frames": ("uptflow.video.stream", "enhance_frames"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'uptflow' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value
