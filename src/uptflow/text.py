"""Text helpers: :func:`natural_key` orders names the way people count.

(The lead may move this next to file listing, ``uptflow.io.listing``, when the branches merge.)
"""

from __future__ import annotations

import re

__all__ = ["natural_key"]

_DIGITS = re.compile(r"(\d+)")


def natural_key(s: str) -> list[object]:
    """Sort key putting ``"frame2"`` before ``"frame10"``: digit runs compare as integers.

    Text and number parts alternate (``re.split`` with a capturing group always starts with a
    text part), so two keys never compare an ``int`` with a ``str``.
    """
    return [int(t) if t.isdigit() else t for t in _DIGITS.split(s)]
