"""uptflow.messages: one-line, printable messages whatever the file names and the locale."""

from __future__ import annotations

import io
import os

import pytest

from uptflow.messages import escape_text, is_out_of_memory, one_line, printable, quoted_path, say, show_path

NASTY = ["a\nb.png", "tab\there.png", "cr\r.png", "esc\x1b[31mred.png", os.fsdecode(b"caf\xe9.png"),
         os.fsdecode(b"\xff\xfe.png"), "line\u2028sep.png", "bidi\u202egnp.exe"]


@pytest.mark.parametrize("name", NASTY)
def test_show_path_is_one_printable_line(name):
    shown = show_path(name)
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown
    shown.encode("utf-8")  # no lone surrogates left: encodes in strict mode
    assert shown.startswith("'") and shown.endswith("'")


def test_show_path_leaves_plain_names_alone_and_escapes_bytes():
    assert show_path("photos/sn\u00f8 1.png") == "photos/sn\u00f8 1.png"
    assert show_path("quote'back\\slash.png") == "quote'back\\slash.png"  # printable: as is
    assert show_path(os.fsdecode(b"caf\xe9.png")) == "'caf\\xe9.png'"
    assert show_path(b"a\nb") == "'a\\nb'"
    assert quoted_path("x") == "'x'" and quoted_path("a\nb") == "'a\\nb'"


def test_one_line_flattens_and_escapes():
    assert one_line("first\n  second\tthird") == "first second third"
    assert one_line(os.fsdecode(b"bad \xff byte")) == "bad \\xff byte"
    assert one_line(ValueError()) == "ValueError"
    assert len(one_line("x" * 500, 50)) == 50


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8", "cp1252"])
def test_say_never_raises_on_encoding(encoding):
    buf = io.BytesIO()
    stream = io.TextIOWrapper(buf, encoding=encoding, errors="strict")
    raw = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="strict")
    for name in NASTY + ["snow \u2603", "kanji \u6f22"]:
        say(f"uptflow enhance: skipped {show_path(name)}: reason", stream)
        say(f"raw {name}", raw)  # even an unescaped name cannot crash the printer
    stream.flush()
    text = buf.getvalue().decode(encoding)
    assert text.count("\n") == len(NASTY) + 2  # one line per message, no more
    assert printable("a\u2603", stream) == ("a\u2603" if encoding == "utf-8" else "a\\u2603")


def test_escape_text_keeps_what_it_is_told():
    assert escape_text("a\nb\tc\x00", keep="\n\t") == "a\nb\tc\\x00"


@pytest.mark.parametrize("err, expected", [
    (MemoryError(), True),
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory"), True),
    (RuntimeError("could not create a primitive"), True),  # oneDNN under `ulimit -v`
    (RuntimeError("expected scalar type Float but found Double"), False),
    (ValueError("bad value"), False),
])
def test_is_out_of_memory(err, expected) -> None:
    assert is_out_of_memory(err) is expected
