"""Tile windows and blending: moved to :mod:`uptflow.inference.tiles`; this name stays for existing imports.

``import uptflow.tiling`` gives the very module object ``uptflow.inference.tiles`` (not a copy),
so attributes set on one (tests monkeypatch them) are seen by both.
"""

import sys

from uptflow.inference import tiles as _module

sys.modules[__name__] = _module
