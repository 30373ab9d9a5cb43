"""Drive the distribution's headless Chromium from Python over the DevTools protocol.

Used by tests/test_browser.py, and from the command line to look at pages:

    python tools/chromium.py shot _build/html/book/vae.html /tmp/vae.png [width]

The browser gets no network: every http(s) or websocket request is failed and recorded
(``Page.blocked``); file:// requests are recorded too, so a test can check that a page
loads nothing from outside the book's folder. Only ``websocket-client`` is needed in Python.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no name resolves: no network
         "--remote-debugging-port=0", "--remote-allow-origins=*"]
MISSING = "headless Chromium not found: install the distribution's packages (apt-get install chromium chromium-driver)"


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    """One headless Chromium process; ``page()`` opens a tab with the network blocked."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 30.0):
        import websocket  # websocket-client

        exe = find_chromium()
        if exe is None:
            raise FileNotFoundError(MISSING)
        self.profile = tempfile.mkdtemp(prefix="vqlab-chromium-")
        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError(f"{exe} did not open its DevTools port within {timeout:.0f} s")
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=timeout, suppress_origin=True)
        self.timeout, self.next_id, self.events = timeout, 0, []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout=None) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self.receive(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def receive(self, deadline: float) -> dict:
        """The next message; events are kept in ``self.events`` (and handled by open pages)."""
        self.ws.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            msg = json.loads(self.ws.recv())
        except Exception as e:  # websocket timeout
            raise TimeoutError("no answer from Chromium in time") from e
        if "method" in msg:
            self.events.append(msg)
            page = Page.open_pages.get(msg.get("sessionId"))
            if page:
                page.on_event(msg)
        return msg

    def page(self) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return Page(self, target, session)

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    """A tab: ``requests`` (every URL asked for), ``blocked`` (those failed: not file://),
    ``errors`` (uncaught exceptions, console errors, failed loads)."""

    open_pages: dict = {}

    def __init__(self, browser: Browser, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session
        self.requests, self.blocked, self.errors, self.loaded = [], [], [], False
        Page.open_pages[session] = self
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Fetch.enable", {"patterns": [{"urlPattern": "http*"}, {"urlPattern": "ws*"}]})

    def send(self, method, params=None, timeout=None):
        return self.browser.send(method, params, self.session, timeout)

    def on_event(self, msg):
        m, p = msg["method"], msg.get("params", {})
        if m == "Network.requestWillBeSent":
            self.requests.append(p["request"]["url"])
        elif m == "Fetch.requestPaused":
            self.blocked.append(p["request"]["url"])
            self.browser.ws.send(json.dumps({"id": 0, "sessionId": self.session, "method": "Fetch.failRequest",
                                             "params": {"requestId": p["requestId"], "errorReason": "BlockedByClient"}}))
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.errors.append(f"uncaught: {d.get('exception', {}).get('description') or d.get('text')} "
                               f"({d.get('url', '')}:{d.get('lineNumber')})")
        elif m == "Runtime.consoleAPICalled" and p["type"] == "error":
            self.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.errors.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}")
        elif m == "Page.loadEventFired":
            self.loaded = True

    def goto(self, url: str, timeout: float = 60.0):
        self.loaded = False
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while not self.loaded:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading in {timeout:.0f} s")
            self.browser.receive(deadline)

    def eval(self, expression: str, timeout: float = 60.0):
        """The value of a JavaScript expression (awaited if it is a promise), as JSON data."""
        r = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True},
                      timeout=timeout)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression[:80]}...: {r['exceptionDetails'].get('exception', {}).get('description')}")
        return r["result"].get("value")

    def screenshot(self, path, width: int = 1280) -> Path:
        height = int(self.eval("document.documentElement.scrollHeight"))
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self):
        Page.open_pages.pop(self.session, None)
        self.browser.send("Target.closeTarget", {"targetId": self.target})


def main(argv):
    if len(argv) < 3 or argv[0] != "shot":
        sys.exit(__doc__)
    with Browser() as b:
        page = b.page()
        page.goto(Path(argv[1]).resolve().as_uri())
        page.eval("window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 1) : 0")
        print(page.screenshot(argv[2], int(argv[3]) if len(argv) > 3 else 1280))
        for e in page.errors:
            print("error:", e)
        for u in page.blocked:
            print("blocked:", u)


if __name__ == "__main__":
    main(sys.argv[1:])
