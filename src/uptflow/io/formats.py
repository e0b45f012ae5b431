"""Image file formats known to :mod:`uptflow.io` and what kind of file a path names.

:func:`file_problem` is the one place that tells a regular file from a FIFO, a socket, a device,
a folder, a broken symbolic link or a symbolic link loop.  Why it matters: opening a FIFO for
reading blocks until someone writes to it (the whole run would hang), and "no such file" for a
symlink loop sends the user looking in the wrong place.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["IMAGE_EXTENSIONS", "PIL_FORMAT", "NO_ALPHA_FORMATS", "is_image_name", "file_problem"]

#: Lower-case file suffixes treated as images (matching is case-insensitive).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
)

#: suffix -> Pillow format name used when writing.
PIL_FORMAT: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
#: formats that cannot store an alpha channel (Pillow writes 24-bit BMP).
NO_ALPHA_FORMATS = frozenset({"JPEG", "BMP"})


def is_image_name(p: Path) -> bool:
    """An image suffix and not hidden (``.x.png``: macOS resource forks, our own temporaries)."""
    return p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


def file_problem(p: str | os.PathLike[str], *, folder_ok: bool = False) -> str | None:
    """Why ``p`` cannot be read as an image file, or ``None`` for a readable-looking regular file.

    Returns a short phrase meant to follow the name (``"X: is a named pipe (FIFO), not an image
    file"``).  With ``folder_ok`` a folder is not a problem (the caller lists it).
    """
    try:
        st = os.stat(p)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a symbolic link loop, not an image file"
        if err.errno == errno.ENOENT:
            return "is a broken symbolic link (its target does not exist)" if os.path.islink(p) else "no such file"
        if err.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        return f"cannot access file ({err.strerror or err})"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return None if folder_ok else "is a folder, not an image file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not an image file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not an image file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not an image file"
    return "is not a regular file"
