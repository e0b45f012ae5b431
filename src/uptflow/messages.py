"""Formatting of user-facing messages (kept free of heavy imports: torch is not loaded here)."""

from __future__ import annotations


def one_line(text: object, limit: int = 200) -> str:
    """``text`` on a single line (libraries put newlines in their messages), cut to ``limit`` chars.

    An empty text (e.g. an exception without a message) becomes its type name.
    """
    flat = " ".join(str(text).split()) or type(text).__name__
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
