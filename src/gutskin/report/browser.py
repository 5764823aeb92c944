"""Open a report in headless Chromium: rendered DOM, console messages, image checks and screenshots.

Chromium is driven through the Chrome DevTools Protocol over a pipe (``--remote-debugging-pipe``: JSON messages
separated by NUL bytes on file descriptors 3 and 4), so no WebSocket client or other package is needed. Used by
the browser test (``tests/integration/test_browser.py``) and to take the README screenshot::

    python -m gutskin.report.browser results/report.html --screenshot docs/report-screenshot.png

Chromium is found as ``$GUTSKIN_CHROMIUM`` or ``chromium``, ``chromium-browser``, ``google-chrome`` on
``PATH``; :func:`find_chromium` returns ``None`` when there is none.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GutskinError, InputError

__all__ = [
    "CHROMIUM_FLAGS",
    "BrowserError",
    "ConsoleMessage",
    "PageResult",
    "find_chromium",
    "open_page",
]

#: Flags for a quiet, offline, sandbox-free headless run (the sandbox needs a non-root user).
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)

#: What the page reports about itself once loaded (evaluated by DevTools, so the page's CSP does not apply).
_PAGE_FACTS = """(() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  return {
    height: Math.ceil(document.documentElement.scrollHeight),
    width: Math.ceil(document.documentElement.scrollWidth),
    images: [...document.images].map((img) => ({
      src: img.getAttribute('src') || '', alt: img.getAttribute('alt'), complete: img.complete,
      naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, box: box(img)})),
    svgs: [...document.querySelectorAll('svg')].filter((s) => !s.parentElement.closest('svg')).map((s) => ({
      cls: s.getAttribute('class') || '', title: (s.querySelector(':scope > title') || {}).textContent || '',
      box: box(s)})),
  };
})()"""


class BrowserError(GutskinError):
    """Chromium could not be started, crashed, or did not answer in time."""


@dataclass(frozen=True)
class ConsoleMessage:
    """One console or log entry of the page: ``level`` is ``error``, ``warning``, ``info`` or ``debug``."""

    level: str
    text: str
    source: str = ""


@dataclass
class PageResult:
    """What a page looked like after it loaded."""

    dom: str
    console: list[ConsoleMessage] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes | None = None

    @property
    def errors(self) -> list[ConsoleMessage]:
        """Console messages of level ``error`` (uncaught exceptions, blocked or failed loads, CSP)."""
        return [m for m in self.console if m.level == "error"]


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    env = os.environ.get("GUTSKIN_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


_TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.close(int(sys.argv[1])); os.close(int(sys.argv[2])); os.execv(sys.argv[3], sys.argv[3:])"
)


def _high_fd(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class _Pipe:
    """NUL-separated JSON messages to and from Chromium's DevTools pipe."""

    def __init__(self, write_fd: int, read_fd: int, deadline: float) -> None:
        self.write_fd = write_fd
        self.read_fd = read_fd
        self.deadline = deadline
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer in time (DevTools pipe timed out)")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe (it crashed or exited)")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode("utf-8") + b"\0"
        while data:
            try:
                data = data[os.write(self.write_fd, data) :]
            except BrokenPipeError:
                raise BrowserError(
                    "Chromium closed the DevTools pipe (it crashed or exited)"
                ) from None
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"DevTools {method} failed: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read_message()
            if ev.get("method") == method:
                return ev
            self.events.append(ev)


def _console(events: list[dict[str, Any]]) -> list[ConsoleMessage]:
    out: list[ConsoleMessage] = []
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled":
            kind = p.get("type", "log")
            level = {"error": "error", "assert": "error", "warning": "warning"}.get(kind, "info")
            text = " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])
            )
            out.append(ConsoleMessage(level, text, "console-api"))
        elif method == "Runtime.exceptionThrown":
            det = p.get("exceptionDetails", {})
            text = det.get("exception", {}).get("description") or det.get("text", "exception")
            out.append(ConsoleMessage("error", str(text), "exception"))
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            level = {"verbose": "debug"}.get(e.get("level", "info"), e.get("level", "info"))
            text = str(e.get("text", ""))
            if e.get("url"):
                text += f" ({e['url'][:120]})"
            out.append(ConsoleMessage(level, text, str(e.get("source", ""))))
    return out


def open_page(
    html_path: Path | str,
    *,
    width: int = 1400,
    height: int = 900,
    screenshot: int | str | None = None,
    timeout: float = 60.0,
    settle: float = 0.3,
    chromium: str | None = None,
) -> PageResult:
    """Load a local HTML file in headless Chromium and report what it rendered.

    Parameters
    ----------
    html_path
        The file to open (as a ``file://`` URL; the browser has no network).
    width, height
        Viewport size in CSS pixels.
    screenshot
        ``None``: no screenshot; an int: a PNG of the top that many pixels; ``"full"``: the whole page.
    timeout
        Seconds for the whole session.
    settle
        Seconds to wait after the load event for late console messages.
    chromium
        Executable to use (default: :func:`find_chromium`).

    Returns
    -------
    PageResult
        The DOM after loading, every console/log message, facts about images and top-level SVGs (rendered
        size, ``complete``/``naturalWidth`` of each ``<img>``) and the screenshot.

    Raises
    ------
    InputError
        If the file does not exist.
    BrowserError
        If no Chromium is found, it fails to start, or it does not answer within ``timeout``.
    """
    path = Path(html_path).resolve()
    if not path.is_file():
        raise InputError(path, "file not found", hint="build the report first")
    exe = chromium or find_chromium()
    if not exe:
        raise BrowserError(
            "no Chromium found: install the Debian package 'chromium' or set GUTSKIN_CHROMIUM"
        )
    deadline = time.monotonic() + timeout
    # Pipe ends at descriptors >= 10, so that mapping them to 3 and 4 in the child cannot clobber one
    # with the other (a test runner may have closed 3 or 4, and a new pipe would land there).
    to_browser_r, to_browser_w, from_browser_r, from_browser_w = (
        _high_fd(fd) for fd in (*os.pipe(), *os.pipe())
    )
    with (
        tempfile.TemporaryDirectory(prefix="gutskin-chromium-") as profile,
        tempfile.TemporaryFile() as errlog,
    ):
        # A tiny Python trampoline maps our pipe ends to the descriptors 3 and 4 that
        # --remote-debugging-pipe expects, then becomes Chromium (no preexec_fn, no shell fd limits).
        cmd = [
            sys.executable,
            "-c",
            _TRAMPOLINE,
            str(to_browser_r),
            str(from_browser_w),
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            proc = subprocess.Popen(
                cmd,
                pass_fds=(to_browser_r, from_browser_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errlog,
            )
        except OSError as exc:
            for fd in (to_browser_r, to_browser_w, from_browser_r, from_browser_w):
                os.close(fd)
            raise BrowserError(f"cannot start {exe}: {exc}") from None
        os.close(to_browser_r)
        os.close(from_browser_w)
        pipe = _Pipe(to_browser_w, from_browser_r, deadline)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
                pipe.call(domain, session=session)
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            pipe.call("Page.navigate", {"url": path.as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired")
            time.sleep(settle)

            def evaluate(expr: str) -> Any:
                res = pipe.call(
                    "Runtime.evaluate",
                    {"expression": expr, "returnByValue": True, "awaitPromise": True},
                    session=session,
                )
                if "exceptionDetails" in res:
                    raise BrowserError(f"evaluation failed: {res['exceptionDetails'].get('text')}")
                return res.get("result", {}).get("value")

            facts = evaluate(_PAGE_FACTS) or {}
            dom = str(evaluate("document.documentElement.outerHTML") or "")
            shot = None
            if screenshot is not None:
                full = int(facts.get("height") or height)
                h = full if screenshot == "full" else min(int(screenshot), full)
                data = pipe.call(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": True,
                        "clip": {"x": 0, "y": 0, "width": width, "height": h, "scale": 1},
                    },
                    session=session,
                )["data"]
                shot = base64.b64decode(data)
            # drain what arrived meanwhile, then close
            try:
                pipe.call("Browser.close")
            except BrowserError:
                pass
            return PageResult(dom=dom, console=_console(pipe.events), facts=facts, screenshot=shot)
        except BrowserError as exc:
            proc.kill()
            proc.wait(timeout=10)
            errlog.seek(0)
            tail = errlog.read()[-2000:].decode("utf-8", "replace").strip()
            raise BrowserError(
                f"{exc}; Chromium's last words:\n{tail}" if tail else str(exc)
            ) from None
        finally:
            for fd in (to_browser_w, from_browser_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _shrink_png(png: bytes) -> bytes:
    """Losslessly re-encode with a 256-colour palette when Pillow is there (screenshots stay small)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return png
    img = Image.open(io.BytesIO(png)).convert("RGB")
    pal = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    pal.save(out, format="PNG", optimize=True)
    return out.getvalue() if len(out.getvalue()) < len(png) else png


def main(argv: list[str] | None = None) -> int:
    """Command line: open a report, print console errors, optionally save a screenshot."""
    ap = argparse.ArgumentParser(
        prog="python -m gutskin.report.browser",
        description="Open an HTML report in headless Chromium; report console errors; take a screenshot.",
    )
    ap.add_argument("html", type=Path)
    ap.add_argument("--screenshot", type=Path, help="PNG file to write")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", default="1800", help="pixels from the top, or 'full'")
    args = ap.parse_args(argv)
    try:
        height: int | str = "full" if args.height == "full" else int(args.height)
        res = open_page(
            args.html,
            width=args.width,
            screenshot=height if args.screenshot else None,
        )
    except (GutskinError, ValueError) as exc:
        print(f"gutskin: {exc}", file=sys.stderr)
        return 2
    for m in res.console:
        print(f"{m.level}: {m.text}", file=sys.stderr)
    if args.screenshot and res.screenshot:
        data = _shrink_png(res.screenshot)
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.screenshot.with_name(f".{args.screenshot.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, args.screenshot)
        print(f"{args.screenshot}: {len(data):,} bytes")
    return 1 if res.errors else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
