"""scoped(): a context variable set inside the block only, restored after errors, per thread."""

from __future__ import annotations

import threading
from contextvars import ContextVar

import pytest

from uptflow.scoped import scoped

VAR: ContextVar[int] = ContextVar("uptflow_test_scoped", default=0)


def test_set_inside_restored_after_and_after_an_error():
    with scoped(VAR, 3) as value:
        assert value == 3 and VAR.get() == 3
        with scoped(VAR, 4):
            assert VAR.get() == 4
        assert VAR.get() == 3
    assert VAR.get() == 0
    with pytest.raises(RuntimeError):
        with scoped(VAR, 5):
            raise RuntimeError("boom")
    assert VAR.get() == 0


def test_another_thread_does_not_see_the_value():
    seen = []
    with scoped(VAR, 7):
        t = threading.Thread(target=lambda: seen.append(VAR.get()))
        t.start()
        t.join()
    assert seen == [0]
