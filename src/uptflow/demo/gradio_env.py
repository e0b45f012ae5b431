"""Import Gradio for a private, offline demo, or say in one line how to install it.

Why a module: Gradio reads ``GRADIO_ANALYTICS_ENABLED`` when it is imported and, with analytics
on, starts a thread that asks api.gradio.app for the latest version and posts usage data.  The
demo must need no network and report nothing, so the variable is set *before* the first import,
and :data:`LAUNCH_OPTIONS` turns off everything at launch that could reach outside the machine
or expose the server (share link, server-side rendering via Node, MCP, PWA).  The page's fonts
come from Gradio's own static files (``LocalFont`` in the default theme), so the page loads with
no CDN; ``tests/demo/test_browser.py`` checks that the browser requests nothing but the server.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["DemoUnavailable", "MISSING_GRADIO", "LAUNCH_OPTIONS", "import_gradio"]

#: The one-line message when Gradio is not installed.
MISSING_GRADIO = 'the web demo needs gradio: pip install "uptflow[demo]"'

#: ``Blocks.launch`` keywords that keep the demo local and quiet (host and port come on top).
LAUNCH_OPTIONS: dict[str, object] = {
    "share": False,
    "inbrowser": False,
    "ssr_mode": False,
    "mcp_server": False,
    "pwa": False,
    "enable_monitoring": False,
    "show_error": True,
    "max_file_size": "64mb",
}


class DemoUnavailable(ImportError):
    """Gradio (the ``demo`` extra) is not installed; ``str(err)`` is :data:`MISSING_GRADIO`."""


def import_gradio() -> ModuleType:
    """Return the ``gradio`` module, imported with analytics off.

    Raises:
        DemoUnavailable: Gradio is not installed (message names the ``demo`` extra).
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio
    except ImportError:
        raise DemoUnavailable(MISSING_GRADIO) from None
    return gradio
