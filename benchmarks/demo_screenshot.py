"""Screenshot of the demo page after an enhancement -> ``docs/images/demo.png`` (for the README).

Starts the demo in this process with the bundled model (or ``--model``) on a free port, drives
headless Chromium with Selenium: picks a bundled sample, presses *Enhance*, waits for the result,
and saves the visible page.  The PNG is reduced to 256 colours when it would exceed ``--max-kb``.

    python benchmarks/demo_screenshot.py [--model M] [--sample lol_eval15_22] [--out docs/images/demo.png]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path


def _wait_for(predicate, what: str, timeout: float = 300.0):
    from uptflow.demo.headless import wait_for

    try:
        return wait_for(predicate, what, timeout)
    except TimeoutError as err:
        raise SystemExit(str(err)) from None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None)
    p.add_argument("--sample", default="lol_eval15_22", help="name of a bundled sample (no extension)")
    p.add_argument("--out", default="docs/images/demo.png")
    p.add_argument("--size", default="1280x1000", help="browser window WxH")
    p.add_argument("--max-kb", type=int, default=480)
    args = p.parse_args()

    from PIL import Image
    from selenium.webdriver.common.by import By

    from uptflow.demo.app import build_app
    from uptflow.demo.engine import Enhancer
    from uptflow.demo.headless import start_chromium
    from uptflow.demo.samples import sample_paths
    from uptflow.demo.server import free_port, start
    from uptflow.inference.models import load_cached

    samples = sample_paths()
    enhancer = Enhancer(load_cached(args.model, "cpu"),
                        model_name="bundled default (small)" if args.model is None else Path(args.model).name)
    server = start(build_app(enhancer, samples), port=free_port(), allowed_paths=sorted({s.parent for s in samples}))
    profile = tempfile.TemporaryDirectory(prefix="uptflow-chromium-")
    width, height = (int(v) for v in args.size.lower().split("x"))
    drv = start_chromium(profile.name, window=(width, height))
    try:
        drv.get(server.url)
        button = _wait_for(lambda: drv.find_elements(By.XPATH, f"//button[normalize-space(.)='{args.sample}']"),
                           "the sample button")
        button[0].click()
        _wait_for(lambda: drv.find_elements(By.CSS_SELECTOR, "#slider img"), "the preview")
        drv.find_element(By.ID, "enhance").click()
        _wait_for(lambda: drv.find_elements(By.CSS_SELECTOR, "#result a[href]"), "the result")
        time.sleep(1.0)  # let the slider images finish painting
        png = drv.get_screenshot_as_png()
    finally:
        drv.quit()
        server.close()
        enhancer.close()
        profile.cleanup()

    img = Image.open(io.BytesIO(png)).convert("RGB")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    if buf.tell() > args.max_kb * 1024:
        buf = io.BytesIO()
        img.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(buf, "PNG", optimize=True)
    tmp = out.with_suffix(".tmp.png")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(out)
    print(f"wrote {out} ({img.width}x{img.height}, {buf.tell() / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
