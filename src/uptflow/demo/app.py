"""The Gradio page of ``uptflow demo`` and its ``/enhance`` API endpoint.

Layout: on the left the upload (any image file; the bundled samples one click away), the options
(temperature, number of samples, seed, exposure, highlight protection), the *Enhance* button, the full-resolution
PNG(s) to download; on the right a before/after slider (showing the upload on both sides until it
is enhanced), one line with the time taken and the device, and a gallery when several samples
were drawn.

Why the upload is a ``gr.File`` and not a ``gr.Image``: ``gr.Image`` decodes and re-encodes the
upload in the server (8-bit, no EXIF handling of ours), so the result could not equal
``uptflow enhance`` of the same file; the raw file goes through :class:`~uptflow.demo.engine.Enhancer`,
which reads it as the CLI does.  It also lets bad files get our own one-line message.

API: ``/enhance`` takes one image file and returns one PNG file, the CLI's default settings
(temperature 0).  Both it and the page's button share one concurrency group (``model``) of
``concurrency`` simultaneous enhancements; more requests wait in Gradio's queue.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

from uptflow.demo.engine import MAX_SAMPLES, DemoInputError, Enhancer, user_message
from uptflow.demo.gradio_env import import_gradio
from uptflow.inference.highlights import HIGHLIGHT_MODES

__all__ = ["TITLE", "build_app"]

TITLE = "UPT-Flow low-light enhancement"

_INTRO = """\
# {title}
Drop a dark photo (or pick a sample) and press **Enhance**. Everything runs on this machine, on
{device}; nothing is uploaded anywhere else. Model: `{model}`. Images up to {limit:,} pixels;
those too big for memory are tiled automatically, as by `uptflow enhance`.
"""


def build_app(enhancer: Enhancer, samples: list[Path] | None = None, concurrency: int = 2) -> Any:
    """Build (not launch) the demo.

    Args:
        enhancer: does the work (one loaded model, thread-safe).
        samples: image files offered as one-click examples (``None``/empty: none offered).
        concurrency: enhancements that may run at the same time (page and API together).

    Returns:
        A ``gradio.Blocks`` with the page and the ``/enhance`` endpoint, its queue configured.
    """
    gr = import_gradio()
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")

    def fail(err: BaseException) -> Exception:
        if isinstance(err, DemoInputError):
            return gr.Error(str(err), print_exception=False)
        traceback.print_exc(file=sys.stderr)  # a bug or resource problem: keep the details in the log
        return gr.Error(user_message(err), print_exception=False)

    def show_preview(path: str | None):
        """The uploaded image on both sides of the slider until it is enhanced."""
        if not path:
            return None
        try:
            before, notes = enhancer.preview(path)
        except DemoInputError as err:
            gr.Warning(str(err))
            return None
        for note in notes:
            gr.Warning(note)
        return before, before

    def enhance_ui(path: str | None, temperature: float, seed: float | None, samples: float,
                   exposure: float = 0.0, highlights: str = "auto", progress=gr.Progress()):
        def step(done: int, total: int) -> None:
            if total > 1:
                progress((done, total), desc="tiles", unit="steps")

        try:
            seed_i = None if seed is None or seed < 0 else int(seed)
            result = enhancer.enhance_file(path, temperature=float(temperature), samples=int(samples),
                                           seed=seed_i, exposure=float(exposure or 0.0), progress=step,
                                           highlights=highlights)
        except Exception as err:  # noqa: BLE001 - every failure becomes a message in the page
            raise fail(err) from None
        for note in result.notes:
            gr.Warning(note)
        files = [str(f) for f in result.files]
        many = len(result.afters) > 1
        return (
            (result.before, result.afters[0]),
            gr.Gallery(value=[(a, f"sample {i}") for i, a in enumerate(result.afters)] if many else None,
                       visible=many),
            files,
            enhancer.describe(result, float(temperature)),
        )

    def enhance_api(path: str | None) -> str:
        """Enhance one image file (CLI defaults: temperature 0); returns the full-resolution PNG."""
        try:
            return str(enhancer.enhance_file(path).files[0])
        except Exception as err:  # noqa: BLE001
            raise fail(err) from None

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown(_INTRO.format(title=TITLE, device=enhancer.device, model=enhancer.model_name,
                                  limit=enhancer.max_pixels))
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                upload = gr.File(label="Low-light image (PNG, JPEG, TIFF, WebP, BMP)", type="filepath",
                                 elem_id="upload", height=110)
                if samples:
                    gr.Examples([[str(p)] for p in samples], inputs=[upload], label="Samples (LOL eval15)",
                                example_labels=[p.stem for p in samples])
                with gr.Row():
                    temperature = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label="Temperature",
                                            info="0 = deterministic (published setting); > 0 samples")
                    n_samples = gr.Slider(1, MAX_SAMPLES, value=1, step=1, label="Samples",
                                          info="> 1 needs temperature > 0")
                with gr.Row():
                    seed = gr.Number(value=-1, precision=0, minimum=-1, label="Seed",
                                     info="-1 = random; sample i uses seed + i")
                    exposure = gr.Slider(-2.0, 2.0, value=0.0, step=0.1, label="Exposure (EV)",
                                         info="scales the result in linear light by 2^EV")
                highlights = gr.Radio(list(HIGHLIGHT_MODES), value="auto", label="Highlights",
                                      elem_id="highlights",
                                      info="keep lit regions from blowing out: auto for photos that are not dark "
                                           "overall, protect for night scenes with lamps, off = the network as is")
                inputs = [upload, temperature, seed, n_samples, exposure, highlights]
                run = gr.Button("Enhance", variant="primary", elem_id="enhance")
                download = gr.File(label="Full resolution (PNG)", file_count="multiple", interactive=False,
                                   elem_id="result", height=110)
            with gr.Column(scale=3):
                slider = gr.ImageSlider(label="Before / after (drag the handle)", type="numpy", format="png",
                                        elem_id="slider", interactive=False, max_height=560)
                info = gr.Markdown(elem_id="run-info")
                gallery = gr.Gallery(label="All samples", visible=False, columns=4, height=200)

        upload.change(show_preview, inputs=[upload], outputs=[slider], api_visibility="private",
                      show_progress="hidden")
        run.click(enhance_ui, inputs=inputs, outputs=[slider, gallery, download, info], api_name="enhance_ui",
                  api_visibility="undocumented", concurrency_limit=concurrency, concurrency_id="model")

        # The API endpoint: hidden components, so the page does not show them.
        api_in = gr.File(visible=False, type="filepath")
        api_out = gr.File(visible=False)
        api_trigger = gr.Button(visible=False)
        api_trigger.click(enhance_api, inputs=[api_in], outputs=[api_out], api_name="enhance",
                          concurrency_limit=concurrency, concurrency_id="model")
    demo.queue(default_concurrency_limit=concurrency, max_size=64)
    return demo
