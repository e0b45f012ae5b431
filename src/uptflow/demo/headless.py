"""Headless Chromium for driving the demo page: the browser test and the README screenshot.

Both start Debian's ``chromium`` through ``chromedriver`` with the same switches (headless, no
network of its own: no sync, component updates or background requests, so any request the page
makes is the page's) and poll the page the same way; they share this module so the two cannot
drift apart.  Selenium is imported only when a browser is started.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver",)
#: Headless, and nothing that talks to the network on the browser's own behalf.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def find_executable(candidates: tuple[str, ...], name: str) -> str | None:
    """The first executable of ``candidates``, else ``name`` on PATH, else None."""
    for p in candidates:
        if Path(p).is_file() and os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def start_chromium(profile_dir: str | os.PathLike[str], window: tuple[int, int] = (1280, 900),
                   downloads: str | os.PathLike[str] | None = None, log_network: bool = False) -> Any:
    """A Selenium Chrome driver on headless Chromium with an empty profile in ``profile_dir``.

    ``downloads``: where the page's downloads land (no prompt); ``log_network``: keep the
    performance log (every request the page makes).  Raises ``FileNotFoundError`` naming what is
    missing when Chromium or chromedriver is not installed.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = find_executable(CHROMIUM_CANDIDATES, "chromium")
    driver = find_executable(DRIVER_CANDIDATES, "chromedriver")
    if chromium is None or driver is None:
        raise FileNotFoundError("Chromium / chromedriver not found (apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in FLAGS + (f"--window-size={window[0]},{window[1]}", f"--user-data-dir={profile_dir}"):
        opts.add_argument(flag)
    if downloads is not None:
        opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                               "download.prompt_for_download": False})
    if log_network:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def wait_for(predicate: Callable[[], Any], what: str, timeout: float) -> Any:
    """Poll ``predicate()`` every 0.2 s until it returns something truthy (returned); raise
    ``TimeoutError`` naming ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
