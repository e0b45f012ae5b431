"""Formatting of user-facing messages (kept free of heavy imports: torch is not loaded here).

Two rules for everything the CLI prints:

* a message is **one line**: libraries put newlines in their messages, and so can file names;
* a message **always prints**, whatever the locale: file names on POSIX are bytes, and names that
  are not valid UTF-8 reach Python as lone surrogates (``'\\udcff'``) that no codec can encode
  ("surrogates not allowed").  :func:`show_path` escapes such bytes and control characters, and
  :func:`say` writes with ``backslashreplace`` so a character the terminal's encoding lacks
  becomes ``\\u00e9`` rather than a crash.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from typing import IO

__all__ = ["one_line", "show_path", "quoted_path", "say", "printable", "escape_text", "is_out_of_memory"]


def _needs_escape(ch: str) -> bool:
    if "\ud800" <= ch <= "\udfff":  # lone surrogate: an undecodable byte of a file name
        return True
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")  # control, format, line/para separators


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape of byte 0x80..0xff
        return f"\\x{code - 0xDC00:02x}"
    simple = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in simple:
        return simple[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_text(text: str, keep: str = "") -> str:
    """``text`` with control characters and lone surrogates written as backslash escapes
    (the characters in ``keep``, e.g. ``"\n"`` for a multi-line table, stay as they are)."""
    if not any(_needs_escape(ch) and ch not in keep for ch in text):
        return text
    return "".join(_escape_char(ch) if _needs_escape(ch) and ch not in keep else ch for ch in text)


def show_path(path: str | bytes | os.PathLike) -> str:
    """A file name as it should appear in a message: unchanged when it is plain text, otherwise
    quoted and escaped (``'a\\nb.png'``, ``'caf\\xe9.png'`` for the Latin-1 byte ``0xe9``).

    Why: a name holding a newline would split a one-line message, and undecodable bytes would
    crash the printer.  The quoting marks that backslashes in the result are escapes.
    """
    raw = os.fspath(path)
    text = os.fsdecode(raw) if isinstance(raw, bytes) else raw
    if not any(_needs_escape(ch) for ch in text):
        return text
    body = text.replace("\\", "\\\\").replace("'", "\\'")
    return "'" + escape_text(body) + "'"


def quoted_path(path: str | bytes | os.PathLike) -> str:
    """:func:`show_path` always in quotes (``'x'``), for names inside a sentence."""
    shown = show_path(path)
    return shown if shown.startswith("'") else f"'{shown}'"


def one_line(text: object, limit: int = 200) -> str:
    """``text`` on a single line (libraries put newlines in their messages), cut to ``limit`` chars.

    Runs of whitespace become one space; other control characters and lone surrogates are
    escaped (see :func:`escape_text`), so the result is printable.  An empty text (e.g. an
    exception without a message) becomes its type name.
    """
    flat = escape_text(" ".join(str(text).split())) or type(text).__name__
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def printable(text: str, stream: IO[str] | None = None) -> str:
    """``text`` made safe to write to ``stream`` (default stderr): control characters other than
    newlines and tabs are escaped, and characters the stream's encoding lacks become backslash
    escapes (``\u00e9`` on an ASCII terminal) instead of raising ``UnicodeEncodeError``."""
    stream = sys.stderr if stream is None else stream
    encoding = getattr(stream, "encoding", None) or "utf-8"
    text = escape_text(text, "\n\t")
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # an unknown codec name on an odd stream
        return text.encode("ascii", "backslashreplace").decode("ascii")


def say(text: str, file: IO[str] | None = None) -> None:
    """Print ``text`` (plus a newline) to ``file`` (default stderr) without ever raising on
    encoding (see :func:`printable`; ``text`` may be a multi-line table)."""
    stream = sys.stderr if file is None else file
    print(printable(text, stream), file=stream)


def is_out_of_memory(err: BaseException) -> bool:
    """Whether a failure is (most likely) a lack of memory: ``MemoryError``, torch's CPU/CUDA
    allocator errors ("out of memory", "can't allocate memory"), or oneDNN's "could not create a
    primitive", which is what it says when it cannot allocate a kernel's workspace (seen under
    ``ulimit -v``).  The CLI, the video path and the demo then suggest tiling / smaller images."""
    if isinstance(err, MemoryError):
        return True
    text = str(err).lower()
    return "memory" in text or "could not create a primitive" in text
