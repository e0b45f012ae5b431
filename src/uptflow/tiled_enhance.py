"""Tiles sharing pooled statistics: moved to :mod:`uptflow.inference.shared_stats`; this name stays for existing imports.

``import uptflow.tiled_enhance`` gives the very module object ``uptflow.inference.shared_stats`` (not a copy),
so attributes set on one (tests monkeypatch them) are seen by both.
"""

import sys

from uptflow.inference import shared_stats as _module

sys.modules[__name__] = _module
