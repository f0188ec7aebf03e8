"""Headless Chromium driven over the DevTools protocol: open a page, wait for text to render, take a screenshot.

Debian's ``chromium`` (``make install-test`` installs it) and ``websocket-client``; no WebDriver needed. Pages
are single-page apps that render after their API calls, so :meth:`Browser.wait_for_text` polls the rendered
text in real time, with a bound.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from soundflow.pipeline.ops.servers import free_port, stop


def chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


class Browser:
    def __init__(self, ws_url: str) -> None:
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._id = 0

    def call(self, method: str, **params: object) -> dict:
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:  # events arrive in between; the answer carries our id
            msg = json.loads(self._ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def text(self) -> str:
        res = self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''")
        return str(res.get("result", {}).get("value", ""))

    def wait_for_text(self, needles: list[str], timeout: float = 60.0) -> str:
        """The page's rendered text once every needle is in it; an error listing the missing ones otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            missing = [n for n in needles if n not in text]
            if not missing:
                return text
            if time.monotonic() > deadline:
                shown = text[:3000]
                raise AssertionError(f"not rendered within {timeout:.0f} s: {missing}\n--- page text ---\n{shown}")
            time.sleep(0.5)

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self._ws.close()


def _page_socket(port: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"Chromium's DevTools endpoint on port {port} did not answer within {timeout:.0f} s")


@contextmanager
def headless(profile: Path, width: int = 1400, height: int = 1000) -> Iterator[Browser]:
    """A headless Chromium with its own profile folder; closed on exit."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("Chromium is not installed (Debian: apt-get install chromium)")
    port = free_port()
    argv = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--remote-debugging-port={port}", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            "--no-first-run", "about:blank"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    browser = None
    try:
        browser = Browser(_page_socket(port, 60))
        browser.call("Page.enable")
        yield browser
    finally:
        if browser is not None:
            browser.close()
        stop(proc, grace=10)
