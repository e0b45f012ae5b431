"""Where the demo writes its full-resolution results: one private folder per request.

Why a store of its own: Gradio serves a returned file by copying it into its cache, so our copy
is only needed until the request has finished.  Every request gets a fresh sub-folder (two users
enhancing files of the same name never share an output path), folders older than
``keep_seconds`` are removed when a new one is made (a long-running server does not fill the
disk), and :meth:`ResultStore.close` removes everything when the server stops.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["ResultStore"]


class ResultStore:
    """A temporary root folder holding one sub-folder per request.

    Args:
        root: the folder to use (created if missing; removed by :meth:`close` only if this
            store created it); default: a new ``uptflow-demo-*`` folder in the system temp dir.
        keep_seconds: sub-folders older than this are deleted when a new one is made.
    """

    def __init__(self, root: str | Path | None = None, keep_seconds: float = 900.0) -> None:
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="uptflow-demo-"))
            self._owned = True
        else:
            self.root = Path(root)
            self._owned = not self.root.exists()
            self.root.mkdir(parents=True, exist_ok=True)
        self.keep_seconds = float(keep_seconds)
        self._lock = threading.Lock()

    def new_folder(self) -> Path:
        """A fresh, empty folder for one request's outputs (old folders are pruned first)."""
        with self._lock:
            self._prune(time.time() - self.keep_seconds)
            return Path(tempfile.mkdtemp(prefix="req-", dir=self.root))

    def _prune(self, older_than: float) -> None:
        for child in self.root.glob("req-*"):
            try:
                if child.stat().st_mtime < older_than:
                    shutil.rmtree(child, ignore_errors=True)
            except OSError:  # removed meanwhile
                pass

    def close(self) -> None:
        """Remove the root folder if this store created it (else only the request folders)."""
        with self._lock:
            if self._owned:
                shutil.rmtree(self.root, ignore_errors=True)
            else:
                self._prune(float("inf"))
