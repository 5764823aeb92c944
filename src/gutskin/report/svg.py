"""The only markup built in Python: the ledger's inline effect bars and the embedding of figure SVGs.

:func:`mini_forest` and :func:`bar_axis` draw the ledger's effect bars on one scale (multiples of each claim's
SESOI) from numbers and escaped text; :func:`inline_svg` sanitises a figure's SVG (no script, no external
reference), gives it a ``<title>`` and prefixes its ids so several figures can share one page.
"""

from __future__ import annotations

import html as _html
import math
import re

from markupsafe import Markup

__all__ = [
    "BAR_MAX_HALF",
    "BAR_MIN_HALF",
    "BAR_WIDTH",
    "bar_axis",
    "in_sesoi_units",
    "inline_svg",
    "is_ratio",
    "mini_forest",
    "png_css_width",
    "sanitise_svg",
]


_RATIO_WORDS = re.compile(r"odds ratio|risk ratio|hazard ratio|\bratio\b|^or\b", re.IGNORECASE)

_LOG_WORDS = re.compile(r"\blog\b|_log\b|\blog[- ]", re.IGNORECASE)

#: Width of the inline effect bars and of their shared axis (CSS px).
BAR_WIDTH = 200.0

BAR_PAD = 8.0

#: The common axis of the ledger spans at least ±2 and at most ±5 SESOIs.
BAR_MIN_HALF = 2.0

BAR_MAX_HALF = 5.0


def is_ratio(label: str, sesoi_scale: str) -> bool:
    """An effect reported as a ratio (null 1), not on a log or difference scale."""
    text = f"{label or ''} {(sesoi_scale or '').replace('_', ' ')}"
    return bool(_RATIO_WORDS.search(text)) and not _LOG_WORDS.search(
        f"{label or ''} {sesoi_scale or ''}"
    )


def in_sesoi_units(x: float | None, sesoi: float, ratio: bool) -> float | None:
    """An effect in multiples of the SESOI (ratios on the log scale), or None."""
    if x is None:
        return None
    if ratio:
        s = sesoi if sesoi > 1 else 1 / sesoi
        if x <= 0 or s == 1:
            return None
        return math.log(x) / math.log(s)
    return x / sesoi


def _bar_x(u: float, half: float) -> float:
    u = max(-half, min(half, u))
    return BAR_PAD + (u + half) / (2 * half) * (BAR_WIDTH - 2 * BAR_PAD)


def mini_forest(
    est: float | None,
    lo: float | None,
    hi: float | None,
    half: float,
    label: str,
) -> Markup | None:
    """A small SVG on the common scale (multiples of the SESOI): ±1 band, null line, CI bar, point.

    Values beyond ±``half`` are clipped and marked with an arrow head. Numbers only, plus escaped text.
    """
    if est is None:
        return None
    w, h = BAR_WIDTH, 22.0
    parts = [
        f'<svg class="mini" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}" role="img" '
        f'aria-label="{_html.escape(label, quote=True)}" focusable="false">',
        f"<title>{_html.escape(label)}</title>",
    ]
    a, b = _bar_x(-1.0, half), _bar_x(1.0, half)
    parts.append(
        f'<rect class="band" x="{a:.1f}" y="2" width="{b - a:.1f}" height="{h - 4:g}"></rect>'
    )
    z = _bar_x(0.0, half)
    parts.append(f'<line class="null" x1="{z:.1f}" y1="1" x2="{z:.1f}" y2="{h - 1:g}"></line>')
    y = h / 2
    if lo is not None and hi is not None:
        x1, x2 = _bar_x(lo, half), _bar_x(hi, half)
        parts.append(f'<line class="ci" x1="{x1:.1f}" y1="{y:g}" x2="{x2:.1f}" y2="{y:g}"></line>')
        for v, x in ((lo, x1), (hi, x2)):
            if abs(v) > half:  # clipped: arrow head pointing outwards
                d = 5.0 if v > 0 else -5.0
                parts.append(
                    f'<path class="arrow" d="M{x:.1f} {y - 4:g} L{x + d:.1f} {y:g} L{x:.1f} {y + 4:g} Z">'
                    "</path>"
                )
    x = _bar_x(est, half)
    parts.append(f'<rect class="pt" x="{x - 3.5:.1f}" y="{y - 3.5:g}" width="7" height="7"></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_axis(half: float) -> Markup:
    """The shared axis of the ledger's effect bars: ticks at whole multiples of the SESOI."""
    w, h = BAR_WIDTH, 26.0
    step = 1 if half <= 3 else 2
    ticks = [t for t in range(-int(half), int(half) + 1) if t % step == 0]
    parts = [
        f'<svg class="mini axis" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}" role="img" '
        'aria-label="Axis of the effect bars: effect in multiples of the claim\'s SESOI" '
        'focusable="false">',
        "<title>Axis of the effect bars: effect in multiples of the claim's SESOI</title>",
        f'<rect class="band" x="{_bar_x(-1, half):.1f}" y="{h - 8:g}" '
        f'width="{_bar_x(1, half) - _bar_x(-1, half):.1f}" height="6"></rect>',
        f'<line class="axis" x1="{BAR_PAD:g}" y1="{h - 8:g}" x2="{w - BAR_PAD:g}" y2="{h - 8:g}"></line>',
    ]
    for t in ticks:
        x = _bar_x(float(t), half)
        label = "0" if t == 0 else f"{t:+d}".replace("-", "−")
        parts.append(
            f'<line class="tick" x1="{x:.1f}" y1="{h - 11:g}" x2="{x:.1f}" y2="{h - 8:g}"></line>'
        )
        parts.append(f'<text x="{x:.1f}" y="{h - 13:g}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


_PROLOG = re.compile(r"<\?xml.*?\?>", re.DOTALL)

_DOCTYPE = re.compile(r"<!DOCTYPE[^>\[]*(\[.*?\])?\s*>", re.DOTALL | re.IGNORECASE)

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

_ACTIVE = r"(?:script|foreignObject|iframe|object|embed|a)"

_DANGEROUS_PAIRED = re.compile(
    rf"<({_ACTIVE})\b[^>]*?(?<!/)>.*?</\1\s*>", re.DOTALL | re.IGNORECASE
)

_DANGEROUS_SELF = re.compile(rf"<{_ACTIVE}\b[^>]*/>", re.IGNORECASE)

_DANGEROUS_LEFT = re.compile(rf"<{_ACTIVE}\b|<[^>]*\son[a-z]+\s*=", re.IGNORECASE)

_EXTERNAL_URL = re.compile(r"url\(\s*['\"]?(?!#|data:image/)|@import", re.IGNORECASE)

_HREF_ATTR = re.compile(r"(\s+(?:xlink:)?href\s*=\s*)(\"([^\"]*)\"|'([^']*)')", re.IGNORECASE)

_ID_ATTR = re.compile(r"(?<=\s)id=\"([^\"]+)\"")

_SVG_OPEN = re.compile(r"<svg\b[^>]*>", re.IGNORECASE)


def sanitise_svg(svg: str) -> str:
    svg = _PROLOG.sub("", svg)
    svg = _DOCTYPE.sub("", svg)
    svg = _COMMENT.sub("", svg)
    svg = _DANGEROUS_PAIRED.sub("", svg)
    svg = _DANGEROUS_SELF.sub("", svg)
    if _DANGEROUS_LEFT.search(svg) or _EXTERNAL_URL.search(svg):
        raise ValueError("active or external content in SVG")

    def keep_local(m: re.Match[str]) -> str:
        target = m.group(3) if m.group(3) is not None else m.group(4)
        if target.startswith("#") or target.startswith("data:image/"):
            return m.group(0)
        return ""

    return _HREF_ATTR.sub(keep_local, svg).strip()


def _prefix_ids(svg: str, prefix: str) -> str:
    ids = set(_ID_ATTR.findall(svg))
    if not ids:
        return svg
    svg = _ID_ATTR.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(
        r'((?:xlink:)?href=")#([^"]+)"',
        lambda m: f'{m.group(1)}#{prefix}{m.group(2)}"' if m.group(2) in ids else m.group(0),
        svg,
    )
    svg = re.sub(
        r"url\(#([^)]+)\)",
        lambda m: f"url(#{prefix}{m.group(1)})" if m.group(1) in ids else m.group(0),
        svg,
    )
    return re.sub(
        r'aria-labelledby="([^"]*)"',
        lambda m: (
            'aria-labelledby="'
            + " ".join(prefix + t if t in ids else t for t in m.group(1).split())
            + '"'
        ),
        svg,
    )


def inline_svg(raw: str, alt: str, uid: str) -> str:
    svg = sanitise_svg(raw)
    m = _SVG_OPEN.search(svg)
    if m is None:
        raise ValueError("no <svg> element")
    svg = svg[m.start() :]
    open_tag = _SVG_OPEN.match(svg)
    assert open_tag is not None
    if not re.match(r"\s*<title\b", svg[open_tag.end() :], re.IGNORECASE):
        title = f"<title>{_html.escape(alt)}</title>"
        svg = svg[: open_tag.end()] + title + svg[open_tag.end() :]
    svg = _prefix_ids(svg, uid)
    open_tag = _SVG_OPEN.match(svg)
    assert open_tag is not None
    tag = open_tag.group(0)
    extra = ' class="figure-svg"'
    if "role=" not in tag:
        extra += ' role="img"'
    if "aria-label" not in tag:
        extra += f' aria-label="{_html.escape(alt, quote=True)}"'
    return tag[:-1] + extra + ">" + svg[open_tag.end() :]


def png_css_width(data: bytes) -> int | None:
    """Display width in CSS px of a PNG (pixels × 96 / dpi from its pHYs chunk), or None."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width = int.from_bytes(data[16:20], "big")
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"pHYs" and length == 9:
            ppu = int.from_bytes(data[pos + 8 : pos + 12], "big")
            unit = data[pos + 16]
            if unit == 1 and ppu > 0:  # pixels per metre
                dpi = ppu * 0.0254
                return max(1, round(width * 96 / dpi))
            return None
        if kind in {b"IDAT", b"IEND"}:
            break
        pos += 12 + length
    return None
