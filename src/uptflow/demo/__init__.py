"""``uptflow demo``: a local Gradio page (and ``/enhance`` API) for trying the model on your photos.

Modules, one idea each:

- :mod:`~uptflow.demo.engine`: file in -> full-resolution PNGs out, exactly as ``uptflow enhance``
  (no Gradio needed; the pixel limit and the one-line user messages live here);
- :mod:`~uptflow.demo.results`: one private temporary folder per request, pruned and removed;
- :mod:`~uptflow.demo.samples`: the bundled sample photos;
- :mod:`~uptflow.demo.gradio_env`: import Gradio with analytics off, offline launch options;
- :mod:`~uptflow.demo.app`: the page and the ``/enhance`` endpoint (``gradio.Blocks``);
- :mod:`~uptflow.demo.server`: start / stop the server.

Gradio is an optional dependency (``pip install "uptflow[demo]"``); nothing here imports it at
module level, so ``uptflow --help`` works without it.
"""
