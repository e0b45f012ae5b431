"""Image files in and out: everything that touches image *files* lives in this package, so the
rest of uptflow only sees ``float32`` arrays in ``[0, 1]``.

Modules, one concern each:

- :mod:`~uptflow.io.formats`  known extensions; what kind of file a path is (FIFO, link loop, ...)
- :mod:`~uptflow.io.read`     :func:`load_image` / :func:`read_rgb` (8/16-bit, grey, alpha, EXIF)
- :mod:`~uptflow.io.write`    :func:`atomic_write` (the one atomic writer) and :func:`save_image`
- :mod:`~uptflow.io.png16`    the 16-bit PNG codec Pillow lacks
- :mod:`~uptflow.io.listing`  files / folders / glob patterns -> image files (+ what was skipped)
- :mod:`~uptflow.io.outputs`  output folders and output path planning (never overwrite an input)
- :mod:`~uptflow.io.tensors`  ``(H, W, 3)`` arrays <-> ``(1, 3, H, W)`` tensors

The names below are re-exported for convenience; code inside uptflow imports from the modules.
"""

from uptflow.io.formats import IMAGE_EXTENSIONS, file_problem
from uptflow.io.listing import ImageListing, SkippedInput, collect_images, list_images
from uptflow.io.outputs import OutputPlan, plan_outputs, prepare_output_dir
from uptflow.io.read import ImageReadError, LoadedImage, load_image, read_rgb
from uptflow.io.tensors import to_numpy, to_tensor
from uptflow.io.write import ImageWriteError, WriteError, atomic_write, save_image

__all__ = [
    "IMAGE_EXTENSIONS",
    "file_problem",
    "ImageListing",
    "SkippedInput",
    "collect_images",
    "list_images",
    "OutputPlan",
    "plan_outputs",
    "prepare_output_dir",
    "ImageReadError",
    "LoadedImage",
    "load_image",
    "read_rgb",
    "to_numpy",
    "to_tensor",
    "ImageWriteError",
    "WriteError",
    "atomic_write",
    "save_image",
]
