"""Errors the inference pipeline raises (``ValueError`` subclasses: one-line messages)."""

from __future__ import annotations

__all__ = ["NonFiniteOutputError", "NotEnoughMemoryError"]


class NonFiniteOutputError(ValueError):
    """The model produced NaN or infinite values (broken or diverged weights, e.g. all NaN).

    Raised instead of returning the result: clamped and quantised, NaN becomes a black image
    that would be written with exit code 0.  The CLI reports it in one line and fails.
    """

    def __init__(self, where: str = "the enhanced image") -> None:
        super().__init__(f"the model produced NaN or infinite values in {where}: its weights are broken or "
                         "diverged (check the checkpoint, e.g. with uptflow info)")


class NotEnoughMemoryError(ValueError):
    """Even the smallest tiles do not fit: the image-sized buffers alone exceed the memory.

    Raised by the plan before any work (a run would crawl through thousands of tiny tiles and
    then fail anyway).  One line: what is needed, what is available.
    """
