"""The sample photos offered by the demo.

Choice: the three LOL eval15 photos of the repository's ``samples/`` folder are shipped as package
data in ``uptflow/demo/samples/`` (byte-identical copies; git stores identical files once, and
``tests/demo/test_samples.py`` checks they have not drifted), because ``samples/`` lies outside the
package and would be missing from an installed wheel.  If the package data is missing (a trimmed
install), the repository's ``samples/`` folder beside ``src/`` is used; if neither exists the demo
simply offers no samples (upload still works).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PACKAGE_SAMPLES", "sample_paths"]

#: The samples shipped inside the package.
PACKAGE_SAMPLES = Path(__file__).resolve().parent / "samples"

_SUFFIXES = {".png", ".jpg", ".jpeg"}


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())


def sample_paths() -> list[Path]:
    """Sample images, sorted by name: the package's copies, else the source tree's ``samples/``."""
    found = _images(PACKAGE_SAMPLES)
    if found:
        return found
    # src/uptflow/demo/samples.py -> parents[3] is the repository root in a source checkout
    return _images(Path(__file__).resolve().parents[3] / "samples")
