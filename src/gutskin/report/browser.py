"""Open a report in the system's headless Chromium through Playwright: DOM, console, layout facts, screenshot.

Playwright (``pip install playwright``, pinned in ``requirements.lock``) drives the Chromium the system already
has (``/usr/bin/chromium`` on Debian, or ``$GUTSKIN_CHROMIUM``); ``playwright install`` is never needed. Used by
the browser tests (``tests/integration/test_browser.py``) and to take the README screenshot::

    python -m gutskin.report.browser results/report.html --screenshot docs/report-screenshot.png

Playwright is imported only when a page is opened, so the package does not need it at run time.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GutskinError, InputError

__all__ = [
    "CHROMIUM_ARGS",
    "LAYOUT_FACTS",
    "BrowserError",
    "ConsoleMessage",
    "PageResult",
    "browser_missing",
    "chromium",
    "find_chromium",
    "open_page",
]

#: Flags for a quiet, offline, sandbox-free headless run (the sandbox needs a non-root user).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-first-run",
)

#: What the page reports about itself: size, images, top-level SVGs, elements past the right edge or whose
#: text spills past it (outside any scroll container), and the rendered font size of every text in a report figure. Matplotlib writes
#: text as glyph paths inside ``<g transform="… scale(s)">`` with an em of 100 units, so a text's size in CSS
#: px is 100 × the scale of that group's screen transform.
LAYOUT_FACTS = """(() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const vw = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') return true;
    }
    return false;
  };
  const offscreen = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const scrolls = getComputedStyle(el).overflowX !== 'visible';  // a scroll box: its content may be wider
    const spill = scrolls || el.tagName.toLowerCase() === 'svg' ? 0 : Math.max(0, el.scrollWidth - el.clientWidth);
    if (r.right + spill > vw + 1 && !clipped(el)) offscreen.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''));
  }
  const figText = [];
  for (const svg of document.querySelectorAll('svg.figure-svg')) {
    const r = svg.getBoundingClientRect();
    if (r.width === 0) continue;
    for (const g of svg.querySelectorAll('g[id*="text_"] > g[transform*="scale"], g[id*="legend"] g[transform*="scale"]')) {
      if (!g.querySelector('use')) continue;
      const m = g.getScreenCTM();
      if (!m) continue;
      figText.push({figure: svg.getAttribute('aria-label') || '', px: 100 * Math.hypot(m.a, m.b)});
    }
  }
  const captions = [...document.querySelectorAll('figcaption, figcaption *')]
    .filter((e) => e.getBoundingClientRect().width > 0)
    .map((e) => parseFloat(getComputedStyle(e).fontSize));
  return {
    height: Math.ceil(document.documentElement.scrollHeight),
    width: Math.ceil(document.documentElement.scrollWidth),
    viewport: vw,
    offscreen: offscreen,
    figure_text: figText,
    caption_min_px: captions.length ? Math.min(...captions) : null,
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
    """Path of a Chromium/Chrome executable (``$GUTSKIN_CHROMIUM`` first), or None."""
    env = os.environ.get("GUTSKIN_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """Why a browser check cannot run here (no Playwright, no Chromium), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements.txt; no `playwright install` needed)"
    if find_chromium() is None:
        return (
            "no Chromium executable (Debian: apt-get install chromium; or set GUTSKIN_CHROMIUM to a "
            "Chromium/Chrome executable)"
        )
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright ``Browser`` on the system Chromium, closed on exit."""
    why = browser_missing()
    if why is not None:
        raise BrowserError(why)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=exe, args=list(CHROMIUM_ARGS), headless=True, timeout=60_000
            )
            try:
                yield browser
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise BrowserError(f"Chromium ({exe}): {exc}") from None


def _level(kind: str) -> str:
    return {"error": "error", "warning": "warning", "assert": "error"}.get(kind, "info")


def open_page(
    html: Path | str,
    *,
    width: int = 1400,
    height: int = 1000,
    screenshot: int | str | None = None,
    media: str = "screen",
    open_details: bool = False,
    browser: Any = None,
) -> PageResult:
    """Load ``html`` (a file) at ``width`` × ``height`` CSS px and report what the browser rendered.

    Parameters
    ----------
    screenshot
        Height in px of a screenshot from the top of the page, ``"full"`` for the whole page, or None.
    media
        ``"screen"`` or ``"print"`` (print-media emulation).
    open_details
        Open every ``<details>`` before measuring (everything one click away, shown at once).
    browser
        A browser from :func:`chromium` to reuse; a new one is started when None.

    Returns
    -------
    PageResult
        The DOM, console messages (a page whose CSP blocks something logs an error) and
        :data:`LAYOUT_FACTS`.

    Raises
    ------
    InputError
        ``html`` does not exist.
    BrowserError
        No Playwright or Chromium, or the browser failed.
    """
    path = Path(html).resolve()
    if not path.is_file():
        raise InputError(path, "file not found", hint="build the report first")
    if browser is None:
        with chromium() as b:
            return open_page(
                path,
                width=width,
                height=height,
                screenshot=screenshot,
                media=media,
                open_details=open_details,
                browser=b,
            )
    page = browser.new_page(viewport={"width": width, "height": height})
    console: list[ConsoleMessage] = []
    page.on(
        "console",
        lambda m: console.append(
            ConsoleMessage(_level(m.type), m.text, str(m.location.get("url", "")))
        ),
    )
    page.on("pageerror", lambda e: console.append(ConsoleMessage("error", str(e), "pageerror")))
    try:
        page.emulate_media(media=media)
        page.goto(path.as_uri(), wait_until="load")
        if open_details:
            page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        facts = page.evaluate(LAYOUT_FACTS)
        shot = None
        if screenshot is not None:
            if screenshot == "full":
                shot = page.screenshot(full_page=True)
            else:
                page.set_viewport_size({"width": width, "height": int(screenshot)})
                shot = page.screenshot()
        dom = page.content()
    finally:
        page.close()
    return PageResult(dom=dom, console=console, facts=facts, screenshot=shot)


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
    """Command line: open a report, print console errors and layout figures, optionally a screenshot."""
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
        res = open_page(args.html, width=args.width, screenshot=height if args.screenshot else None)
    except (GutskinError, ValueError) as exc:
        print(f"gutskin: {exc}", file=sys.stderr)
        return 2
    for m in res.console:
        print(f"{m.level}: {m.text}", file=sys.stderr)
    f = res.facts
    print(
        f"{args.html}: {f['height']:,} px tall at {args.width} px wide; page width {f['width']} px; "
        f"{len(f['offscreen'])} elements past the right edge"
    )
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
