"""Set a context variable for the duration of a ``with`` block, then restore it.

Every per-context setting of the package -- the strip size, the pooled statistics, the 1x1
backend, the encoder precision, skipping decode's log-dets -- is a ``ContextVar``, so one
thread's (or asyncio task's) choice never leaks into another's enhancement.  This is the one
place that sets and restores them.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, TypeVar

T = TypeVar("T")


@contextmanager
def scoped(var: ContextVar[T], value: T) -> Iterator[T]:
    """``var`` holds ``value`` inside the block (this context only); yields ``value``."""
    token = var.set(value)
    try:
        yield value
    finally:
        var.reset(token)
