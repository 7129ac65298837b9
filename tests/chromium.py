"""Open a page in headless Chromium and watch it through the DevTools protocol (over a pipe, no port):
every network request the page makes, every console message and uncaught exception, the DOM after
scripts ran, and screenshots at a given width. For the HTML report's browser tests; they skip when
Debian's `chromium` is not installed.

    with Browser() as browser:
        page = browser.open(path, width=390)
        page.requests, page.console, page.exceptions, page.dom, page.screenshot_png
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-dev-shm-usage", "--remote-debugging-pipe")


def find_chromium() -> Optional[str]:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _high(fd: int) -> int:
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


@dataclass
class Page:
    url: str
    requests: List[str] = field(default_factory=list)  # every URL the page asked for, itself included
    console: List[str] = field(default_factory=list)  # console messages and log entries, "level: text"
    exceptions: List[str] = field(default_factory=list)
    dom: str = ""
    screenshot_png: bytes = b""
    evaluated: Any = None


class Browser:
    def __init__(self, timeout_s: float = 30.0):
        self.timeout_s = timeout_s
        self._next_id = 0
        self._buffer = b""
        self._events: List[Dict[str, Any]] = []

    def __enter__(self) -> "Browser":
        binary = find_chromium()
        if binary is None:
            raise RuntimeError("chromium is not installed")
        self._profile = tempfile.mkdtemp(prefix="gpubal-chromium-")
        # fds of 10 and up, so that putting them on 3 and 4 in the child never overwrites one with the other
        to_browser_read, self._to_browser = (_high(fd) for fd in os.pipe())
        self._from_browser, from_browser_write = (_high(fd) for fd in os.pipe())
        # Chromium reads commands on fd 3 and writes answers on fd 4
        self._process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=lambda: (os.dup2(to_browser_read, 3), os.dup2(from_browser_write, 4)))
        os.close(to_browser_read)
        os.close(from_browser_write)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._send("Browser.close")
        except Exception:  # noqa: BLE001 - closing a browser that already went away
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    # --- the protocol: JSON messages separated by NUL bytes -------------------------------------------

    def _send(self, method: str, params: Optional[Dict[str, Any]] = None, session: Optional[str] = None) -> Dict[str, Any]:
        self._next_id += 1
        message: Dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._receive()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def _receive(self) -> Dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self._events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method}")
            self._events.append(self._receive())

    # --- one page ------------------------------------------------------------------------------------

    def open(self, path: Path, width: int = 1280, height: int = 900, mobile: bool = False,
             script: str = "", screenshot: bool = True, max_height: int = 4000) -> Page:
        url = Path(path).resolve().as_uri()
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self._send(f"{domain}.enable", session=session)
        self._send("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, session=session)
        self._events.clear()
        self._send("Page.navigate", {"url": url}, session=session)
        self._wait_for("Page.loadEventFired", session)
        page = Page(url)
        if script:
            result = self._send("Runtime.evaluate", {"expression": script, "returnByValue": True}, session=session)
            page.evaluated = result.get("result", {}).get("value")
        page.dom = self._send("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                                   "returnByValue": True}, session=session)["result"]["value"]
        if screenshot:
            metrics = self._send("Page.getLayoutMetrics", session=session)
            content = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = self._send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(content["height"], max_height), "scale": 1}},
                session=session)
            page.screenshot_png = base64.b64decode(shot["data"])
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            method = event.get("method")
            if method == "Network.requestWillBeSent":
                page.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled":
                text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
                page.console.append(f"{params.get('type')}: {text}")
            elif method == "Log.entryAdded":
                entry = params["entry"]
                page.console.append(f"{entry.get('level')}: {entry.get('text')} {entry.get('url', '')}".strip())
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                page.exceptions.append(details.get("exception", {}).get("description", details.get("text", "")))
        self._send("Target.closeTarget", {"targetId": target})
        return page
