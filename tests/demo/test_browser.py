"""The demo page in a real browser: headless Chromium driven by Selenium.

Opens the page, uploads a bundled sample, clicks *Enhance*, waits, downloads the full-resolution
result through the page's link and compares its pixels with ``uptflow enhance`` of the same file;
then a non-image gives a message in the page and a second enhancement still works.  The browser
must not request anything from another machine (fonts, CDN scripts, analytics).

Needs Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``; ``.ci/run`` installs them) and ``selenium``.  Where they are missing
the test is skipped with the reason, except under CI (``CI=true``), where it fails instead: CI
must run it.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

import numpy as np
import pytest

# Gradio's own queue code trips pandas deprecation warnings; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")

from uptflow.demo.headless import start_chromium, wait_for

WAIT_S = 120


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser test cannot run under CI: {reason} (.ci/run installs chromium and chromium-driver)")
    pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        import selenium  # noqa: F401
    except ImportError:
        _missing("selenium is not installed (pip install selenium, or the 'test' extra)")
    try:
        import gradio  # noqa: F401
    except ImportError:
        _missing("gradio is not installed (the 'demo' extra)")
    downloads = tmp_path_factory.mktemp("downloads")
    try:
        drv = start_chromium(tmp_path_factory.mktemp("chromium-profile"), downloads=downloads, log_network=True)
    except FileNotFoundError as err:
        _missing(str(err))
    drv.downloads = downloads
    try:
        yield drv
    finally:
        drv.quit()


def _wait_for(predicate, what: str, timeout: float = WAIT_S):
    try:
        return wait_for(predicate, what, timeout)
    except TimeoutError as err:
        raise AssertionError(str(err)) from None


def _requested_hosts(drv) -> set[str]:
    """Hosts of every http(s)/ws(s) request the page made (from Chromium's performance log)."""
    hosts = set()
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            url = msg["params"].get("request", {}).get("url") or msg["params"].get("url", "")
            if url.startswith(("http:", "https:", "ws:", "wss:")):
                hosts.add(urlsplit(url).hostname)
    return hosts


@pytest.mark.slow
def test_enhance_in_the_browser_equals_the_cli(browser, demo_server, sample_files, cli_png, decode,
                                               bad_files) -> None:
    from selenium.webdriver.common.by import By

    sample = sample_files[1]
    browser.get(demo_server.url)
    upload = _wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"), "the upload")
    upload[0].send_keys(str(sample))
    # the preview (the slider with the upload on both sides) appears, then enhance
    _wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#slider img"), "the input preview")
    browser.find_element(By.ID, "enhance").click()
    link = _wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#result a[href]"), "the result link")[0]
    assert f"{sample.stem}_uptflow" in browser.find_element(By.ID, "result").text
    info = browser.find_element(By.ID, "run-info").text
    assert " s on cpu" in info and "600x400 px" in info, info

    link.click()  # a real download through the page
    target = browser.downloads / f"{sample.stem}_uptflow.png"
    _wait_for(lambda: target.is_file() and not list(browser.downloads.glob("*.crdownload")), "the download")
    assert np.array_equal(decode(target), cli_png(sample)), "the downloaded result differs from the CLI's"

    # bad input: a message in the page; the server keeps serving
    browser.find_element(By.CSS_SELECTOR, "#upload button[aria-label='Clear']").click()
    upload = _wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"), "the upload")[0]
    upload.send_keys(str(bad_files["text"]))
    toasts = "//*[contains(@class, 'toast-body') and contains(., 'not an image')]"
    warned = _wait_for(lambda: browser.find_elements(By.XPATH, toasts), "the warning on upload")
    browser.find_element(By.ID, "enhance").click()
    _wait_for(lambda: len(browser.find_elements(By.XPATH, toasts)) > len(warned), "the error on Enhance")
    assert f"{bad_files['text'].name}: not an image" in browser.find_element(By.TAG_NAME, "body").text

    hosts = _requested_hosts(browser)
    assert hosts and hosts <= {"127.0.0.1"}, f"the page requested other hosts: {sorted(hosts)}"
