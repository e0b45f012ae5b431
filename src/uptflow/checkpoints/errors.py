"""The one error type for every checkpoint problem (kept in its own module so every part of the
package, and ``uptflow.training.checkpointing``, can raise it without import cycles)."""

from __future__ import annotations

__all__ = ["CheckpointError"]


class CheckpointError(ValueError):
    """A file or mapping that is not a usable UPT-Flow checkpoint (one-line message)."""
