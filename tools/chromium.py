"""The distribution's headless Chromium, driven by Playwright for Python, with no network.

Used by tests/test_browser.py, and from the command line to look at pages:

    python tools/chromium.py shot _build/html/book/vae.html /tmp/vae.png [width]

Playwright (PyPI ``playwright``, pinned) drives the Chromium that Debian installs
(``/usr/bin/chromium``; ``$CHROMIUM`` overrides); ``playwright install`` and its browser
downloads are never needed. Every request a page makes is recorded (``Page.requests``);
anything but ``file:``, ``data:`` and ``blob:`` is failed and recorded (``Page.blocked``),
so a test can check that a page loads nothing from outside the book's folder. Uncaught
exceptions, console errors and failed loads are collected in ``Page.errors``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]  # no name resolves: no network
MISSING = (
    "headless Chromium not found: install the distribution's packages "
    "(apt-get install chromium chromium-driver)"
)
LOCAL = ("file:", "data:", "blob:", "about:")


def find_chromium() -> str | None:
    for name in (
        os.environ.get("CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Page:
    """One tab: ``goto``, ``eval``, ``screenshot``; ``requests``, ``blocked`` and ``errors``."""

    def __init__(self, page):
        self.page = page
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.error: {m.text}")
                if m.type == "error" and "ERR_BLOCKED_BY_CLIENT" not in m.text
                else None
            ),
        )
        page.on(
            "requestfailed",
            lambda r: (
                None
                if r.url in self.blocked
                else self.errors.append(f"failed load: {r.url} ({r.failure})")
            ),
        )
        page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def goto(self, url: str, timeout: float = 60.0):
        self.page.goto(url, wait_until="load", timeout=timeout * 1000)

    def eval(self, expression: str, timeout: float = 60.0):
        """The value of a JavaScript expression (awaited if it is a promise), as JSON data."""
        self.page.set_default_timeout(timeout * 1000)
        return self.page.evaluate(expression)

    def screenshot(self, path, width: int = 1280) -> Path:
        height = int(self.eval("document.documentElement.scrollHeight"))
        self.page.set_viewport_size({"width": width, "height": min(height, 16000)})
        self.page.screenshot(path=str(path), full_page=True)
        return Path(path)

    def close(self):
        self.page.close()


class Browser:
    """One headless Chromium process; ``page()`` opens a tab with the network blocked."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 30.0):
        from playwright.sync_api import sync_playwright

        exe = find_chromium()
        if exe is None:
            raise FileNotFoundError(MISSING)
        self.size = {"width": width, "height": height}
        self.playwright = sync_playwright().start()
        try:
            self.browser = self.playwright.chromium.launch(
                executable_path=exe, headless=True, args=FLAGS, timeout=timeout * 1000
            )
        except Exception:
            self.playwright.stop()
            raise

    def page(self) -> Page:
        context = self.browser.new_context(viewport=self.size, service_workers="block")
        return Page(context.new_page())

    def close(self):
        try:
            self.browser.close()
        finally:
            self.playwright.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv):
    if len(argv) < 3 or argv[0] != "shot":
        sys.exit(__doc__)
    with Browser() as b:
        page = b.page()
        page.goto(Path(argv[1]).resolve().as_uri())
        page.eval(
            "window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 1) : 0"
        )
        print(page.screenshot(argv[2], int(argv[3]) if len(argv) > 3 else 1280))
        for e in page.errors:
            print("error:", e)
        for u in page.blocked:
            print("blocked:", u)


if __name__ == "__main__":
    main(sys.argv[1:])
