"""The self-contained HTML report: ledger, claims, data, calibration, methods, limitations, reproducibility.

:func:`build_report` turns the run's JSON and TSV outputs into one HTML string that needs no network to view
(CSS and figures are inlined, figures as SVG or base64 PNG), prints cleanly and stays readable without colour
(every verdict has a symbol and a word). All text that comes from data goes through Jinja2 autoescaping; the
only markup built in Python is the figures (sanitised SVG from our own files or from matplotlib) and the small
inline bars (the ledger's effect bars on one scale, in multiples of each claim's SESOI, and the calibration's
false-positive rates), which contain numbers and escaped text only.
"""

from __future__ import annotations

import base64
import csv
import html as _html
import math
import numbers
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, SupportsInt, cast

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..errors import InputError
from .qc import calibration_view, coverage_view, depth_view

__all__ = [
    "VERDICTS",
    "build_report",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "fmt_p_eq",
    "fmt_plain",
    "write_report",
]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

#: Figures larger than this are not embedded (the report must stay small enough to e-mail).
MAX_FIGURE_BYTES = 3_000_000
#: Rows of a result table shown inline.
MAX_TABLE_ROWS = 15
#: Below this p-value the report prints "< 0.001".
P_FLOOR = 0.001

DEFAULT_CLAIMS_SOURCE = "results/claims.json"

#: Suffix of a figure's data twin (as written by :func:`gutskin.report.figures.save_figure`).
FIGURE_DATA_SUFFIX = ".data.tsv"


@dataclass(frozen=True)
class VerdictStyle:
    """How a verdict is shown: symbol, short label, one-line meaning."""

    symbol: str
    label: str
    meaning: str


#: The verdicts of the rubric (CLAIMS.md §3.7, :data:`gutskin.stats.verdict.VERDICTS`, same order) with
#: their symbol and wording.
VERDICTS: dict[str, VerdictStyle] = {
    "supported": VerdictStyle(
        "✔",
        "Supported",
        "the primary test is significant after Holm correction, in the claimed direction, and the "
        "effect reaches the smallest effect size of interest",
    ),
    "not_supported": VerdictStyle(
        "≈",
        "Not supported",
        "evidence of no meaningful effect: not significant and the 90 % CI lies within ±SESOI (equivalence "
        "test)",
    ),
    "contradicted": VerdictStyle(
        "✖",
        "Contradicted",
        "a significant effect in the opposite direction, or no concordance where the claim expects it",
    ),
    "inconclusive": VerdictStyle(
        "?",
        "Inconclusive",
        "the data cannot tell: too little power, CI spanning both 0 and the SESOI, or analyses that disagree",
    ),
    "data_unavailable": VerdictStyle(
        "∅",
        "Data unavailable",
        "testable in principle, but no configured dataset could be obtained or none has the needed field",
    ),
    "not_testable": VerdictStyle(
        "—",
        "Not testable",
        "no microbiome table can test this claim; any rating shown is external evidence, not a result",
    ),
}

_NUMERIC_KEYS = ("estimate", "ci_low", "ci_high", "effect_size", "power")
_PROB_KEYS = ("p_value", "p_adjusted", "tost_p", "power")
_ROLE_ORDER = {"primary": 0, "secondary": 1, "control": 2, "sensitivity": 3}


# --------------------------------------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _minus(s: str) -> str:
    return s.replace("-", "−")


def fmt_num(x: Any, sig: int = 3) -> str:
    """Format a number for reading: 3 significant digits, thousands separators, a real minus sign.

    Integers (Python ``int``) are printed in full with separators; floats with ``sig`` significant
    digits; very small or very large floats in ×10ⁿ notation; ``None``/NaN as "–".

    Examples
    --------
    >>> fmt_num(0.012345)
    '0.0123'
    >>> fmt_num(1234.5)
    '1,230'
    >>> fmt_num(-0.2)
    '−0.200'
    """
    if x is None or isinstance(x, bool):
        return "–"
    if isinstance(x, numbers.Integral):
        return _minus(f"{int(x):,}")
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    av = abs(v)
    if v.is_integer() and 1e3 <= av < 1e15:  # a whole number such as a count stored as float
        return _minus(f"{int(v):,}")
    if 1e-4 <= av < 1e6:
        mag = math.floor(math.log10(av))
        digits = sig - 1 - mag
        r = round(v, digits)
        if r != 0 and math.floor(math.log10(abs(r))) > mag:  # 9.996 -> 10.0: one digit fewer
            digits -= 1
            r = round(v, digits)
        s = f"{r:,.{digits}f}" if digits > 0 else f"{r:,.0f}"
        return "0" if s.lstrip("-").strip("0.,") == "" else _minus(s)
    mant, exp = f"{v:.{sig - 1}e}".split("e")
    return _minus(f"{mant} × 10{str(int(exp)).translate(_SUPERSCRIPT)}")


def fmt_p(p: Any) -> str:
    """Format a p-value: "< 0.001" below 0.001, else 3 significant digits; "–" when missing."""
    if p is None:
        return "–"
    try:
        v = float(p)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(v):
        return "–"
    if v < P_FLOOR:
        return "< 0.001"
    return fmt_num(v)


def fmt_p_eq(p: Any) -> str:
    """A p-value with its relation sign: "= 0.0432", "< 0.001" or "= –"."""
    s = fmt_p(p)
    return s if s.startswith("<") else f"= {s}"


def fmt_plain(x: Any) -> str:
    """A configured value as written (``0.05``, ``0.2``, ``9999``), without rounding to 3 digits."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return _minus(f"{x:,}")
    if isinstance(x, float):
        return _minus(f"{x:g}") if math.isfinite(x) else fmt_num(x)
    return str(x)


def fmt_ci(lo: Any, hi: Any) -> str:
    """Format a confidence interval as "[lo, hi]"; "–" when either end is missing."""
    if lo is None or hi is None:
        return "–"
    return f"[{fmt_num(lo)}, {fmt_num(hi)}]"


def fmt_bytes(n: Any) -> str:
    """File size in B/kB/MB (decimal units)."""
    if n is None:
        return "–"
    try:
        v = float(n)
    except (TypeError, ValueError):
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if v >= size:
            return f"{fmt_num(v / size)} {unit}"
    return f"{int(v)} B"


# --------------------------------------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------------------------------------


class _Checker:
    """Type checks on one claim object; every problem names the file, the claim and the key."""

    def __init__(self, source: str, cid: str) -> None:
        self.source = source
        self.cid = cid

    def fail(self, key: str, problem: str, hint: str) -> InputError:
        return InputError(self.source, problem, where=f"claim {self.cid!r}, key {key!r}", hint=hint)

    def number(self, obj: Mapping[str, Any], key: str, *, prob: bool = False) -> float | None:
        v = obj.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise self.fail(key, f"{v!r} is not a number", "write a number or null")
        f = float(v)
        if math.isnan(f):
            return None
        if prob and not 0.0 <= f <= 1.0:
            raise self.fail(key, f"{v!r} is not a probability in [0, 1]", "check the runner output")
        return f

    def count(self, obj: Mapping[str, Any], key: str) -> int | None:
        v = obj.get(key)
        if v is None:
            return None
        if (
            isinstance(v, bool)
            or not isinstance(v, numbers.Real)
            or not math.isfinite(float(v))
            # typeshed's numbers.Real.__trunc__ returns a protocol rather than int, so int()
            # rejects a Real; every concrete Real (int, float, numpy scalars) has __int__
            or float(v) != int(cast(SupportsInt, v))
            or v < 0
        ):
            raise self.fail(key, f"{v!r} is not a count", "write a non-negative integer or null")
        return int(cast(SupportsInt, v))

    def pair(self, obj: Mapping[str, Any], key: str) -> tuple[float | None, float | None]:
        v = obj.get(key)
        if v is None:
            return (None, None)
        if not isinstance(v, list | tuple) or len(v) != 2:
            raise self.fail(key, f"{v!r} is not a [low, high] pair", "write [low, high] or null")
        return (self.number({"lo": v[0]}, "lo"), self.number({"hi": v[1]}, "hi"))

    def text(self, obj: Mapping[str, Any], key: str) -> str:
        v = obj.get(key)
        if v is None:
            return ""
        if isinstance(v, str | int | float):
            return str(v)
        raise self.fail(key, f"expected text, got {type(v).__name__}", "write a string or null")

    def texts(self, obj: Mapping[str, Any], key: str) -> list[str]:
        v = obj.get(key)
        if v is None:
            return []
        if isinstance(v, str):
            return [v]
        if not isinstance(v, list | tuple):
            raise self.fail(key, f"expected a list, got {type(v).__name__}", "write a list or null")
        return [str(x) for x in v if x is not None]

    def records(self, obj: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        v = obj.get(key)
        if v is None:
            return []
        if not isinstance(v, list | tuple) or not all(isinstance(x, Mapping) for x in v):
            raise self.fail(key, "expected a list of objects", "write a list of objects or null")
        return list(v)


# --------------------------------------------------------------------------------------------------------
# Inline forest bar (ledger)
# --------------------------------------------------------------------------------------------------------

_RATIO_WORDS = re.compile(r"odds ratio|risk ratio|hazard ratio|\bratio\b|^or\b", re.IGNORECASE)
_LOG_WORDS = re.compile(r"\blog\b|_log\b|\blog[- ]", re.IGNORECASE)

#: Width of the inline effect bars and of their shared axis (CSS px).
BAR_WIDTH = 200.0
BAR_PAD = 8.0
#: The common axis of the ledger spans at least ±2 and at most ±5 SESOIs.
BAR_MIN_HALF = 2.0
BAR_MAX_HALF = 5.0


def _is_ratio(label: str, sesoi_scale: str) -> bool:
    """An effect reported as a ratio (null 1), not on a log or difference scale."""
    text = f"{label or ''} {(sesoi_scale or '').replace('_', ' ')}"
    return bool(_RATIO_WORDS.search(text)) and not _LOG_WORDS.search(
        f"{label or ''} {sesoi_scale or ''}"
    )


def _in_sesoi_units(x: float | None, sesoi: float, ratio: bool) -> float | None:
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


def _mini_forest(
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


def _bar_axis(half: float) -> Markup:
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


# --------------------------------------------------------------------------------------------------------
# Figures and tables
# --------------------------------------------------------------------------------------------------------

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


def _sanitise_svg(svg: str) -> str:
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


def _inline_svg(raw: str, alt: str, uid: str) -> str:
    svg = _sanitise_svg(raw)
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


def _resolve(root: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else root / p


def _display(root: Path, p: Path) -> str:
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return str(p)


def _figure_data(fig: Mapping[str, Any], path: Path, root: Path) -> str | None:
    """The data file of a figure: its ``data`` key, else ``<stem>.data.tsv`` or ``<stem>.tsv`` beside it."""
    given = fig.get("data")
    if given:
        return _display(root, _resolve(root, str(given)))
    for cand in (path.with_name(path.stem + FIGURE_DATA_SUFFIX), path.with_suffix(".tsv")):
        if cand.is_file():
            return _display(root, cand)
    return None


def _figure_view(fig: Mapping[str, Any], root: Path, uid: str) -> dict[str, Any]:
    rel = str(fig.get("path") or "")
    caption = str(fig.get("caption") or "")
    alt = str(fig.get("alt") or caption or "Figure")
    view: dict[str, Any] = {
        "caption": caption,
        "alt": alt,
        "svg": None,
        "img": None,
        "width": None,
        "note": None,
        "path": rel,
        "data": None,
    }
    if not rel:
        view["note"] = "Figure entry has no path."
        return view
    path = _resolve(root, rel)
    shown = _display(root, path)
    view["path"] = shown
    view["data"] = _figure_data(fig, path, root)
    suffix = path.suffix.lower()
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(suffix)
    if suffix != ".svg" and mime is None:
        view["note"] = f"Figure {shown}: format {suffix or '(none)'} cannot be embedded."
        return view
    try:
        size = path.stat().st_size
    except OSError:
        view["note"] = f"Figure file not found: {shown}."
        return view
    if size > MAX_FIGURE_BYTES:
        view["note"] = (
            f"Figure {shown} is {fmt_bytes(size)}, more than the {fmt_bytes(MAX_FIGURE_BYTES)} "
            "that is embedded; open the file directly."
        )
        return view
    try:
        if suffix == ".svg":
            view["svg"] = Markup(_inline_svg(path.read_text(encoding="utf-8"), alt, uid))
        else:
            raw = path.read_bytes()
            view["img"] = f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"
            view["width"] = _png_css_width(raw) if mime == "image/png" else None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        view["note"] = f"Figure {shown} could not be read ({type(exc).__name__})."
    return view


def _table_view(tab: Mapping[str, Any], root: Path) -> dict[str, Any]:
    rel = str(tab.get("path") or "")
    view: dict[str, Any] = {
        "caption": str(tab.get("caption") or ""),
        "path": rel,
        "header": [],
        "rows": [],
        "n_rows": 0,
        "note": None,
    }
    if not rel:
        view["note"] = "Table entry has no path."
        return view
    path = _resolve(root, rel)
    view["path"] = _display(root, path)
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="," if path.suffix.lower() == ".csv" else "\t")
            header = next(reader, [])
            rows: list[list[str]] = []
            n = 0
            for row in reader:
                n += 1
                if len(rows) < MAX_TABLE_ROWS:
                    cols = [*header, *[""] * max(0, len(row) - len(header))]
                    rows.append([_cell(c, col) for c, col in zip(row, cols, strict=False)])
    except OSError:
        view["note"] = f"Table file not found: {view['path']}."
        return view
    except (UnicodeDecodeError, csv.Error) as exc:
        view["note"] = f"Table {view['path']} could not be read ({type(exc).__name__})."
        return view
    view.update(header=header, rows=rows, n_rows=n)
    return view


#: Columns holding identifiers: shown exactly as written (``000011224.1210932`` is not a number).
_ID_COLUMN = re.compile(
    r"(^|[_\s#])(id|ids|sample|samples|subject|barcode|run|visit)$", re.IGNORECASE
)
_DECIMAL = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def _cell(text: str, column: str = "") -> str:
    """A table cell for reading: decimals to 3 significant digits; identifiers and whole numbers as written."""
    s = text.strip()
    if not s or _ID_COLUMN.search(column.strip()) or not _DECIMAL.fullmatch(s):
        return text
    if re.fullmatch(r"[-+]?\d+", s):
        return s
    if re.match(r"[-+]?0\d", s):  # a leading zero: an identifier, not a quantity
        return text
    v = float(s)
    if v.is_integer() and "e" not in s.lower():
        return s  # "26.0" stays as written
    return fmt_num(v)


# --------------------------------------------------------------------------------------------------------
# View models
# --------------------------------------------------------------------------------------------------------


def _doi_url(text: str) -> str | None:
    m = re.search(r"\b(10\.\d{4,9}/[^\s\"<>]+[^\s\"<>.,;)])", text)
    return f"https://doi.org/{m.group(1)}" if m else None


def _is_testable(claim: Mapping[str, Any], verdict: str) -> bool:
    t = str(claim.get("testable") or "").lower()
    if t in {"yes", "meta_only", "proxy", "partly", "true"}:
        return True
    if t in {"no", "false"}:
        return False
    return verdict != "not_testable"


def _claim_view(
    claim: Mapping[str, Any], index: int, source: str, root: Path, alpha: float
) -> dict[str, Any]:
    cid = claim.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise InputError(
            source,
            "claim without an id",
            where=f"claim #{index + 1}",
            hint="every claim needs an id",
        )
    ck = _Checker(source, cid)
    verdict = claim.get("verdict")
    if verdict not in VERDICTS:
        raise ck.fail(
            "verdict",
            f"unknown verdict {verdict!r}",
            f"use one of: {', '.join(VERDICTS)}",
        )
    style = VERDICTS[str(verdict)]
    nums = {k: ck.number(claim, k, prob=k in _PROB_KEYS) for k in (*_NUMERIC_KEYS, *_PROB_KEYS)}
    es_lo, es_hi = ck.pair(claim, "effect_size_ci")
    es90_lo, es90_hi = ck.pair(claim, "effect_size_ci90")
    n = ck.count(claim, "n")
    n_groups_raw = claim.get("n_groups") or {}
    if not isinstance(n_groups_raw, Mapping):
        raise ck.fail("n_groups", "expected an object {group: n}", "write {group: n} or null")
    n_groups = {str(g): ck.count(n_groups_raw, g) for g in n_groups_raw}
    sesoi_raw = claim.get("sesoi")
    sesoi_value: float | None = None
    sesoi_scale = ""
    if sesoi_raw is not None:
        if not isinstance(sesoi_raw, Mapping):
            raise ck.fail("sesoi", "expected {value, scale}", "write {value: 0.2, scale: hedges_g}")
        sesoi_value = ck.number(sesoi_raw, "value")
        sesoi_scale = ck.text(sesoi_raw, "scale")

    tests: list[dict[str, Any]] = []
    for j, t in enumerate(ck.records(claim, "tests")):
        tk = _Checker(source, f"{cid}/tests[{j}]")
        lo, hi = tk.pair(t, "effect_size_ci")
        tests.append(
            {
                "name": tk.text(t, "name"),
                "role": tk.text(t, "role"),
                "estimate": tk.number(t, "estimate"),
                "ci_low": tk.number(t, "ci_low"),
                "ci_high": tk.number(t, "ci_high"),
                "effect_size": tk.number(t, "effect_size"),
                "effect_size_ci": (lo, hi),
                "p_value": tk.number(t, "p_value", prob=True),
                "p_adjusted": tk.number(t, "p_adjusted", prob=True),
                "n": tk.count(t, "n"),
                "note": tk.text(t, "note"),
            }
        )
    tests.sort(key=lambda t: _ROLE_ORDER.get(t["role"], 9))

    figures = [
        _figure_view(f, root, f"{_slug(cid)}-f{k}-")
        for k, f in enumerate(ck.records(claim, "figures"))
    ]
    tables = [_table_view(t, root) for t in ck.records(claim, "tables")]
    ext = claim.get("external_evidence")
    external = None
    if ext:
        if not isinstance(ext, Mapping):
            raise ck.fail("external_evidence", "expected an object", "{rating, summary, citations}")
        external = {
            "rating": ck.text(ext, "rating"),
            "summary": ck.text(ext, "summary"),
            "citations": [
                {"text": c, "url": _doi_url(c)}
                for c in _Checker(source, cid).texts(ext, "citations")
            ],
        }
    flow_raw = ck.records(claim, "sample_flow")
    flow_cols: list[str] = []
    for row in flow_raw:
        for k in row:
            if str(k) not in flow_cols:
                flow_cols.append(str(k))
    sample_flow = [[_flow_cell(row.get(k, row.get(str(k)))) for k in flow_cols] for row in flow_raw]
    flow_heads = [_FLOW_HEADS.get(k, k.replace("_", " ")) for k in flow_cols]

    power = nums["power"]
    reason = ck.text(claim, "reason")
    robustness = ck.text(claim, "robustness")
    sens_list = _sensitivity_list(ck, claim)
    return {
        "id": cid,
        "anchor": cid,
        "title": ck.text(claim, "title"),
        "quote": ck.text(claim, "quote"),
        "location": ck.text(claim, "location"),
        "hypothesis": ck.text(claim, "hypothesis"),
        "claim_type": ck.text(claim, "claim_type"),
        "design": ck.text(claim, "design"),
        "testable_text": ck.text(claim, "testable"),
        "testable": _is_testable(claim, str(verdict)),
        "verdict": verdict,
        "symbol": style.symbol,
        "label": style.label,
        "meaning": style.meaning,
        "verdict_label": ck.text(claim, "verdict_label"),
        "headline": _headline(style.label, ck.text(claim, "verdict_label")),
        "refine": _refinement(style.label, ck.text(claim, "verdict_label")),
        "reason": reason,
        "short_reason": short_reason(reason, str(verdict)),
        "data_problem": ck.text(claim, "data_problem"),
        **nums,
        "estimate_label": ck.text(claim, "estimate_label"),
        "effect_size_label": ck.text(claim, "effect_size_label"),
        "es_ci": (es_lo, es_hi),
        "es_ci90": (es90_lo, es90_hi),
        "sesoi_value": sesoi_value,
        "sesoi_scale": sesoi_scale,
        "n": n,
        "n_groups": n_groups,
        "datasets": ck.texts(claim, "datasets"),
        "method": ck.text(claim, "method"),
        "covariates": ck.texts(claim, "covariates"),
        "tests": tests,
        "tests_have_es": any(t["effect_size"] is not None for t in tests),
        "figures": figures,
        "tables": tables,
        "caveats": ck.texts(claim, "caveats"),
        "notes": ck.texts(claim, "notes"),
        "sensitivity": ck.text(claim, "sensitivity"),
        "robustness": robustness,
        "robust_word": _ROBUST_WORDS.get(robustness, robustness),
        "robust_sentence": robust_sentence(robustness, sens_list),
        "sensitivity_list": sens_list,
        "external": external,
        "sample_flow": sample_flow,
        "flow_cols": flow_heads,
        "holm_family": ck.texts(claim, "holm_family"),
        "primary": bool(claim.get("primary")),
        "expected_direction": ck.text(claim, "expected_direction"),
        "underpowered": power is not None and power < 0.8,
        "equivalent": nums["tost_p"] is not None and nums["tost_p"] < alpha,
        "mini": None,
        "mini_text": "",
        "units": None,
        "power_text": [],
    }


#: Display names of the SESOI scales of claims.schema.yaml.
SCALE_NAMES = {
    "hedges_g": "Hedges g",
    "correlation": "correlation",
    "odds_ratio_log": "log odds ratio",
    "r2": "R²",
}


def scale_name(scale: str) -> str:
    """A SESOI scale for reading (``hedges_g`` -> ``Hedges g``)."""
    return SCALE_NAMES.get(scale, scale.replace("_", " "))


_FLOW_HEADS = {
    "step": "Step",
    "n": "n",
    "dropped": "Dropped",
    "dropped_by_group": "Dropped, by group",
}
_ROBUST_WORDS = {"agrees": "sensitivity agrees", "disagrees": "sensitivity disagrees"}
_AGREE_WORDS = {True: "agrees", False: "disagrees", None: "not judged"}


def _sensitivity_list(ck: _Checker, claim: Mapping[str, Any]) -> list[dict[str, str]]:
    """The claim's sensitivity analyses (``sensitivity_analyses``) for the claim's section."""
    out = []
    for o in ck.records(claim, "sensitivity_analyses"):
        agrees = o.get("agrees")
        if agrees not in _AGREE_WORDS:
            raise ck.fail(
                "sensitivity_analyses", f"agrees is {agrees!r}", "write true, false or null"
            )
        note, outcome = ck.text(o, "note"), _AGREE_WORDS[agrees]
        # a disagreeing analysis's note already ends "— disagrees with …"
        text = note if f"— {outcome}" in note else f"{note} — {outcome}".lstrip(" —")
        out.append({"name": ck.text(o, "name"), "text": text, "outcome": outcome})
    return out


def robust_sentence(robustness: str, analyses: list[dict[str, str]]) -> str:
    """The robustness of a claim in a sentence, from its sensitivity analyses (or the ledger's word).

    Examples
    --------
    >>> robust_sentence("2/3 agree", [{"name": "Huber", "outcome": "agrees"},
    ...     {"name": "richness", "outcome": "agrees"}, {"name": "minimal covariates",
    ...     "outcome": "disagrees"}])
    '2 of 3 pre-specified sensitivity analyses reach the same conclusion as the primary analysis; minimal covariates does not.'
    >>> robust_sentence("agrees", [])
    'The pre-specified sensitivity analyses agree with the primary analysis.'
    """
    judged = [a for a in analyses if a["outcome"] != "not judged"]
    if not judged:
        if robustness == "agrees":
            return "The pre-specified sensitivity analyses agree with the primary analysis."
        if robustness == "disagrees":
            return "The pre-specified sensitivity analyses do not agree with the primary analysis."
        return f"Robustness: {robustness}." if robustness else ""
    bad = [a["name"] for a in judged if a["outcome"] == "disagrees"]
    n = len(judged)
    if not bad:
        if n == 1:
            return (
                "The pre-specified sensitivity analysis reaches the same conclusion as the primary "
                "analysis (same significance and direction)."
            )
        return (
            f"All {n} pre-specified sensitivity analyses reach the same conclusion as the primary "
            "analysis (same significance and direction)."
        )
    verb = "does not" if len(bad) == 1 else "do not"
    return (
        f"{n - len(bad)} of {n} pre-specified sensitivity analyses reach the same conclusion as the "
        f"primary analysis; {', '.join(bad)} {verb}."
    )


_SENTENCE_END = re.compile(
    r"(?<!\be\.g)(?<!\bi\.e)(?<!\bal)(?<!\bvs)(?<!\bcf)(?<!\b[A-Z])\.\s+(?=[A-Z(“\"])"
)


def short_reason(reason: str, verdict: str) -> str:
    """The first clause of a verdict's reason, for the ledger (the full reason is in the claim's section).

    The rubric's reasons read "<why>: estimate … (95% CI …), p = …" (or "<why>; estimate …"); the ledger
    keeps "<why>". Reasons of
    untestable claims keep their first sentence.

    Examples
    --------
    >>> short_reason("equivalence shown: 90% CI -0.18 to 0.07 lies within ±SESOI; estimate -0.06 (…)", "x")
    'Equivalence shown: 90% CI -0.18 to 0.07 lies within ±SESOI.'
    >>> short_reason("the CI spans both 0 and the SESOI: estimate 0.07 (95% CI …)", "inconclusive")
    'The CI spans both 0 and the SESOI.'
    >>> short_reason("Tables hold no cell counts. It would need qPCR.", "not_testable")
    'Tables hold no cell counts.'
    """
    r = " ".join(str(reason or "").split())
    if not r:
        return ""
    if verdict != "not_testable":
        cuts = [i for i in (r.find(": estimate "), r.find("; estimate ")) if i > 0]
        if cuts:
            r = r[: min(cuts)]
    m = _SENTENCE_END.search(r)
    first = r[: m.start() + 1] if m else r
    first = first.rstrip(" .;:,") + "."
    return first[0].upper() + first[1:]


def _power_sentences(
    v: Mapping[str, Any], alpha: float, target: float | None, tost_level: int
) -> list[str]:
    """Power and equivalence of one claim, in plain words: one paragraph each."""
    out: list[str] = []
    eq: list[str] = []
    s = v["sesoi_value"]
    scale = scale_name(str(v["sesoi_scale"] or ""))
    ses = (
        f"±{fmt_plain(s)}" + (f" on the {scale} scale" if scale else "")
        if s is not None
        else "the smallest effect of interest"
    )
    target_txt = fmt_plain(target if target is not None else 0.8)
    if v["power"] is not None:
        out.append(
            f"Power: if the true effect were exactly as large as the smallest effect of interest ({ses}), "
            f"this analysis, with its sample size, would detect it at α = {fmt_plain(alpha)} with "
            f"probability {fmt_num(v['power'])}."
        )
        if v["underpowered"]:
            if v["equivalent"]:
                out.append(
                    f"That is below the {target_txt} target, but the equivalence test below still "
                    "answers the question."
                )
            else:
                out.append(
                    f"That is below the {target_txt} target, so a non-significant result here cannot "
                    "be read as “no effect”."
                )
        else:
            out.append(f"That meets the {target_txt} target.")
    else:
        out.append("No power calculation is available for this claim.")
    if v["tost_p"] is not None:
        eq.append(
            "Equivalence (TOST, two one-sided tests) asks the reverse question: is the effect "
            f"demonstrably smaller than the smallest effect of interest ({ses}) in both directions? It "
            f"holds when the {tost_level} % confidence interval lies entirely inside that band."
        )
        lo, hi = v["es_ci90"]
        ci = f" ({tost_level} % CI {fmt_ci(lo, hi)})" if lo is not None and hi is not None else ""
        if v["equivalent"]:
            eq.append(
                f"Here p {fmt_p_eq(v['tost_p'])}{ci}: the effect is shown to be smaller than the SESOI — "
                "evidence that there is no effect worth caring about, not merely an absence of evidence."
            )
        else:
            eq.append(
                f"Here p {fmt_p_eq(v['tost_p'])}{ci}: equivalence is not shown, so the data cannot rule out "
                "an effect as large as the SESOI."
            )
    return [" ".join(par) for par in (out, eq) if par]


def _refinement(label: str, verdict_label: str) -> str:
    """What the ledger's label adds to the rubric label ("equivalence shown", "association consistent …")."""
    vl = verdict_label.strip()
    if not vl or vl.lower() == label.lower():
        return ""
    if vl.lower().startswith(label.lower()):
        vl = vl[len(label) :].strip(" :;,-–—")
        if vl.startswith("(") and vl.endswith(")"):
            vl = vl[1:-1]
    return vl[:1].lower() + vl[1:] if vl[1:2].islower() or len(vl) == 1 else vl


def _headline(label: str, verdict_label: str) -> str:
    """The verdict in words: the rubric label, refined by the ledger's label without repeating it."""
    vl = verdict_label.strip()
    if not vl or vl.lower() == label.lower():
        return label
    if vl.lower().startswith(label.lower()):
        return vl
    return f"{label}: {vl}"


def _png_css_width(data: bytes) -> int | None:
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


def _flow_cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool | int | float):
        return _fmt_scalar(v)
    if isinstance(v, Mapping):
        return "; ".join(f"{k}: {_flow_cell(x)}" for k, x in v.items()) or "none"
    if isinstance(v, list | tuple):
        return ", ".join(_flow_cell(x) for x in v)
    return str(v)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text) or "x"


def _add_mini_forests(views: list[dict[str, Any]]) -> Markup | None:
    """Put every claim with an effect size and a SESOI on one axis: the effect in multiples of its SESOI.

    Dividing by the SESOI makes different measures (Hedges g, Mantel r, log odds ratios) comparable on one
    question — how large is the effect relative to the smallest effect that would matter? — and gives every
    row the same ±1 band. Returns the shared axis (None when no claim can be drawn).
    """
    drawable = []
    for v in views:
        v["ratio"] = _is_ratio(v["effect_size_label"], v["sesoi_scale"])
        s = v["sesoi_value"]
        if v["effect_size"] is None or s is None or s <= 0:
            continue
        units = [_in_sesoi_units(x, s, v["ratio"]) for x in (v["effect_size"], *v["es_ci"])]
        if units[0] is None:
            continue
        v["units"] = units
        drawable.append(v)
    for v in views:
        lo, hi = v["es_ci"]
        v["mini_text"] = (
            f"{fmt_num(v['effect_size'])} {fmt_ci(lo, hi)}" if v["effect_size"] is not None else ""
        )
    if not drawable:
        return None
    extent = max(abs(u) for v in drawable for u in v["units"] if u is not None)
    half = float(min(BAR_MAX_HALF, max(BAR_MIN_HALF, math.ceil(extent * 1.05))))
    for v in drawable:
        est, lo, hi = v["units"]
        label = v["effect_size_label"] or "effect size"
        desc = f"{label} {fmt_num(v['effect_size'])}"
        if v["es_ci"][0] is not None and v["es_ci"][1] is not None:
            desc += f", 95 % CI {fmt_num(v['es_ci'][0])} to {fmt_num(v['es_ci'][1])}"
        desc += f"; SESOI ±{fmt_plain(v['sesoi_value'])}: the estimate is {fmt_num(est)} SESOIs"
        if lo is not None and hi is not None:
            desc += f" (CI {fmt_num(lo)} to {fmt_num(hi)})"
        v["mini"] = _mini_forest(est, lo, hi, half, desc)
    return _bar_axis(half)


_IMPORT_LABELS = {
    "n_samples_table": "Samples in the table file",
    "n_samples_mapping": "Samples in the mapping file",
    "n_samples": "Samples imported (in table and mapping)",
    "n_features_table": "Features in the table file",
    "n_features_removed_empty": "Features removed (no reads left)",
    "n_features": "Features (taxa) imported",
}
#: Descriptive keys of import/diversity summaries that are not sample counts.
_SUMMARY_SKIP = {"dataset", "available", "reason", "title", "description", "data_type", "values"}
_DIVERSITY_LABELS = {
    "depth": "Rarefaction depth (reads)",
    "n_retained": "Samples at or above depth (used)",
    "n_dropped": "Samples below depth (dropped)",
    "rarefied": "Rarefied",
    "iterations": "Rarefaction iterations (alpha)",
    "beta_iterations": "Rarefaction iterations (beta)",
}


def _scalar_rows(
    obj: Mapping[str, Any] | None, labels: Mapping[str, str], skip: set[str]
) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if not obj:
        return rows
    for key, label in labels.items():
        if key in obj and not isinstance(obj[key], Mapping | list):
            rows.append((label, _fmt_scalar(obj[key])))
    for key, val in obj.items():
        if key in labels or key in skip or isinstance(val, Mapping | list) or val is None:
            continue
        if "version" in str(key):  # software versions belong in Reproducibility
            continue
        rows.append((str(key).replace("_", " "), _fmt_scalar(val)))
    return rows


def _fmt_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return fmt_num(v)
    return str(v)


def _dataset_views(
    names: Sequence[str],
    datasets: Mapping[str, Any],
    imports: Mapping[str, Any],
    fetches: Mapping[str, Any],
    diversity: Mapping[str, Any],
    depths: Mapping[str, Any] | None = None,
    used_by: Mapping[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    out = []
    for name in names:
        block = datasets.get(name) or {}
        fetch = fetches.get(name) or {}
        imp = imports.get(name) or {}
        div = diversity.get(name) or {}
        if not fetch and not imp:
            available: bool | None = None
            reason = "no fetch manifest or import summary for this dataset in this run"
        elif fetch.get("available") is False or imp.get("available") is False:
            available = False
            reason = str(
                fetch.get("reason") or imp.get("reason") or "no reason recorded (see the logs)"
            )
        else:
            available = True
            reason = ""
        declared = block.get("files") or {}
        fetched = fetch.get("files") or {}
        files = []
        for role in list(dict.fromkeys([*declared, *fetched])):
            d = declared.get(role) or {}
            f = fetched.get(role) or {}
            want, got = d.get("sha256"), f.get("sha256")
            files.append(
                {
                    "role": str(role),
                    "url": str(f.get("url") or d.get("url") or ""),
                    "sha256": str(got or want or ""),
                    "mismatch": bool(want and got and str(want).lower() != str(got).lower()),
                    "verified": bool(got),
                    "source": str(f.get("source") or ""),
                    "source_detail": str(f.get("source_detail") or ""),
                    "retrieved_at": str(f.get("retrieved_at") or ""),
                    "size": fmt_bytes(f.get("size")) if f.get("size") is not None else "–",
                }
            )
        steps, facts = _sample_steps(imp, div)
        notes = [str(x) for x in [*(imp.get("notes") or []), *(div.get("notes") or [])] if x]
        phylo = div.get("phylogeny") or {}
        if phylo.get("tree") and phylo.get("backend"):
            notes.append(
                "Phylogenetic metrics (Faith PD, UniFrac, as configured) computed on the dataset's "
                f"tree pruned to the {fmt_num(phylo.get('n_tips'))} features present; backend: "
                f"{phylo['backend']}."
            )
        depth_df = (depths or {}).get(name)
        qc = None
        if depth_df is not None:
            qc = depth_view(
                name,
                depth_df,
                div.get("depth") if isinstance(div.get("depth"), int | float) else None,
                rarefied=div.get("rarefied") is not False,
            )
            if qc["svg"]:
                try:
                    qc["svg"] = Markup(_inline_svg(qc["svg"], qc["alt"], f"depth-{_slug(name)}-"))
                except ValueError:  # pragma: no cover - our own matplotlib output
                    qc["svg"] = None
        doi = str(block.get("doi") or "")
        out.append(
            {
                "name": name,
                "anchor": f"data-{_slug(name)}",
                "title": str(block.get("title") or name),
                "description": str(block.get("description") or ""),
                "citation": str(block.get("citation") or ""),
                "doi": doi,
                "doi_url": _doi_url(doi) if doi else None,
                "licence": str(block.get("licence") or block.get("license") or ""),
                "available": available,
                "reason": reason,
                "files": files,
                "steps": steps,
                "facts": facts,
                "notes": notes,
                "qc": qc,
                "used_by": [c for c, dss in (used_by or {}).items() if name in dss],
            }
        )
    return out


#: Diversity summary keys shown elsewhere (methods, reproducibility) or not meant for readers.
_DIVERSITY_HIDDEN = {
    "seed",
    "n_samples_in",
    "metrics",
    "pcoa",
    "files",
    "notes",
    "seconds",
    "values",
    "dataset",
}


def _sample_steps(
    imp: Mapping[str, Any], div: Mapping[str, Any]
) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """Samples of one dataset from the files to the diversity tables, as (step, n, kind) rows."""
    steps: list[dict[str, str]] = []

    def add(label: str, value: Any, kind: str = "count") -> None:
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return
        steps.append({"label": label, "n": _fmt_scalar(value), "kind": kind})

    dropped_raw = imp.get("dropped")
    dropped: Mapping[str, Any] = dropped_raw if isinstance(dropped_raw, Mapping) else {}
    add("Samples in the mapping (metadata) file", imp.get("n_samples_mapping"))
    add("Samples in the table file", imp.get("n_samples_table"))
    add("In the mapping but not in the table", dropped.get("not_in_table"), "drop")
    add("In the table but not in the mapping", dropped.get("not_in_mapping"), "drop")
    for key, val in dropped.items():
        if key not in {"not_in_table", "not_in_mapping"}:
            add(str(key).replace("_", " ").capitalize(), val, "drop")
    add("Imported (in both)", imp.get("n_samples"), "total")
    depth = div.get("depth")
    if div.get("rarefied") is False:
        steps.append({"label": "Not rarefied (relative or signal values)", "n": "", "kind": "note"})
    elif isinstance(depth, int | float) and not isinstance(depth, bool):
        add(
            f"Below the rarefaction depth ({_fmt_scalar(depth)} reads)",
            div.get("n_dropped"),
            "drop",
        )
    add("Used for diversity", div.get("n_retained"), "total")
    facts = _scalar_rows(
        imp,
        {k: v for k, v in _IMPORT_LABELS.items() if not k.startswith("n_samples")},
        _SUMMARY_SKIP | {"rarefaction_depth", "n_samples", "n_samples_mapping", "n_samples_table"},
    )
    facts += _scalar_rows(  # keys a future diversity step adds; the known ones are in Methods
        {k: v for k, v in div.items() if k not in _DIVERSITY_HIDDEN and k not in _DIVERSITY_LABELS},
        {},
        _SUMMARY_SKIP,
    )
    return steps, facts


def _methods_view(
    config: Mapping[str, Any],
    claims: list[dict[str, Any]],
    datasets: Mapping[str, Any],
    diversity: Mapping[str, Any],
    names: Sequence[str],
) -> dict[str, Any]:
    rare = config.get("rarefaction") or {}
    depth_rows = []
    for name in names:
        block = datasets.get(name) or {}
        configured = block.get("rarefaction_depth", rare.get("depth"))
        used = (diversity.get(name) or {}).get("depth")
        depth_rows.append(
            {
                "name": name,
                "configured": _fmt_scalar(configured) if configured is not None else "–",
                "used": _fmt_scalar(used) if used is not None else "–",
            }
        )
    family: list[str] = []
    for c in claims:
        for cid in c["holm_family"]:
            if cid not in family:
                family.append(cid)
    if not family:
        family = [c["id"] for c in claims if c["primary"] and c["verdict"] != "not_testable"]
    sesoi = [
        {"id": c["id"], "value": c["sesoi_value"], "scale": c["sesoi_scale"]}
        for c in claims
        if c["sesoi_value"] is not None
    ]
    analyses = [
        {
            "id": c["id"],
            "title": c["title"],
            "method": c["method"],
            "covariates": c["covariates"],
            "datasets": c["datasets"],
            "primary": c["id"] in family,
            "direction": c["expected_direction"],
        }
        for c in claims
        if c["testable"] and (c["method"] or c["datasets"])
    ]
    return {
        "analyses": analyses,
        "depth": rare.get("depth"),
        "iterations": rare.get("iterations"),
        "beta_iterations": rare.get("beta_iterations"),
        "seed": config.get("seed"),
        "alpha_metrics": list(config.get("alpha_metrics") or []),
        "beta_metrics": list(config.get("beta_metrics") or []),
        "pcoa_dimensions": config.get("pcoa_dimensions"),
        "permutations": config.get("permutations"),
        "bootstrap": config.get("bootstrap"),
        "alpha": config.get("alpha"),
        "power_target": config.get("power_target"),
        "depth_rows": depth_rows,
        "family": family,
        "sesoi": sesoi,
    }


def _changelog(
    claims: list[dict[str, Any]], previous: list[dict[str, Any]], source: str
) -> dict[str, Any]:
    old: dict[str, str] = {}
    for i, c in enumerate(previous):
        if not isinstance(c, Mapping) or not isinstance(c.get("id"), str):
            raise InputError(
                source,
                "previous claim without an id",
                where=f"claim #{i + 1}",
                hint="check the file",
            )
        old[c["id"]] = str(c.get("verdict"))
    new = {c["id"]: c["verdict"] for c in claims}

    def lab(v: str) -> dict[str, str]:
        st = VERDICTS.get(v)
        return {"symbol": st.symbol, "label": st.label} if st else {"symbol": "", "label": v}

    changed = [
        {"id": cid, "old": lab(old[cid]), "new": lab(v)}
        for cid, v in new.items()
        if cid in old and old[cid] != v
    ]
    return {
        "changed": changed,
        "added": [cid for cid in new if cid not in old],
        "removed": [cid for cid in old if cid not in new],
        "n_same": sum(1 for cid, v in new.items() if old.get(cid) == v),
    }


def _limitations(
    claims: list[dict[str, Any]],
    data_views: list[dict[str, Any]],
    coverage: Mapping[str, Any] | None,
    calibration: dict[str, Any] | None,
) -> list[str]:
    """Limitations that follow from this run's data and results (the general ones are in the template)."""
    out: list[str] = []
    for d in data_views:
        if d["available"] is False:
            users = ", ".join(d["used_by"]) or "no claim"
            out.append(
                f"Dataset {d['name']} was unavailable in this run ({d['reason']}); {users} could not use it."
            )
        qc = d.get("qc")
        if qc and qc["equal"] and qc["n"]:
            out.append(
                f"{d['name']}: the published table was already rarefied to {fmt_num(qc['max'])} reads per "
                "sample by its authors, so samples with fewer reads were removed before this pipeline saw "
                "them and their number is unknown."
            )
    for c in claims:
        if not c["testable"]:
            continue
        if c["data_problem"]:
            out.append(f"{c['id']}: {short_reason(c['data_problem'], 'inconclusive')}")
        elif c["underpowered"] and not c["equivalent"]:
            out.append(
                f"{c['id']}: power to detect the smallest effect of interest is {fmt_num(c['power'])}; a "
                "non-significant result there is weak evidence either way."
            )
        elif c["power"] is None and c["tost_p"] is None and c["verdict"] == "inconclusive":
            out.append(
                f"{c['id']}: neither power nor an equivalence test is available for the headline test."
            )
    if coverage:
        cov_ds = coverage.get("datasets") if isinstance(coverage.get("datasets"), Mapping) else {}
        for c in claims:
            for ds in c["datasets"]:
                info = cov_ds.get(ds) if isinstance(cov_ds, Mapping) else None
                variables = info.get("variables") if isinstance(info, Mapping) else None
                if not isinstance(variables, Mapping):
                    continue
                for var in c["covariates"]:
                    entry = variables.get(var)
                    frac = entry.get("fraction") if isinstance(entry, Mapping) else None
                    if isinstance(frac, int | float) and not isinstance(frac, bool) and frac < 0.8:
                        out.append(
                            f"{c['id']} adjusts for {var}, which is recorded for only "
                            f"{100 * frac:.0f} % of {ds} samples; samples without it are left out of the "
                            "model, which can bias the comparison if missingness differs between groups."
                        )
    if calibration:
        for row in calibration["rows"]:
            if row["fpr_ok"] is False and row["fpr_ci"][0] is not None:
                lo, hi = row["fpr_ci"]
                assert lo is not None and hi is not None
                out.append(
                    f"Calibration of {row['claim']} ({row['test']}): the false-positive rate on simulated "
                    f"null data was {fmt_num(row['fpr'])} (95 % CI {fmt_num(lo)} to {fmt_num(hi)}), not the "
                    f"nominal α = {fmt_plain(calibration['alpha'])}; read its p-value with that in mind."
                )
    return out


def _files_view(
    claims: list[dict[str, Any]],
    data_views: list[dict[str, Any]],
    claims_source: str,
    coverage_source: str | None,
    calibration_source: str | None,
) -> dict[str, Any]:
    """Every machine-readable file behind the report, and the data file of every figure."""
    figures = []
    for c in claims:
        for f in c["figures"]:
            figures.append(
                {
                    "claim": c["id"],
                    "caption": f["caption"] or f["alt"],
                    "path": f["path"],
                    "data": f["data"],
                }
            )
        for t in c["tables"]:
            figures.append(
                {
                    "claim": c["id"],
                    "caption": t["caption"] or "Table",
                    "path": "",
                    "data": t["path"],
                }
            )
    for d in data_views:
        qc = d.get("qc")
        if qc:
            figures.append(
                {
                    "claim": d["name"],
                    "caption": "Sequencing depth (Data section)",
                    "path": "",
                    "data": qc["path"] or None,
                }
            )
    ledger = [claims_source]
    if claims_source.endswith(".json"):
        ledger.append(claims_source[: -len(".json")] + ".tsv")
    return {
        "ledger": ledger,
        "figures": figures,
        "coverage": coverage_source,
        "calibration": calibration_source,
        "missing": sum(1 for f in figures if not f["data"]),
    }


def _repro_view(provenance: Mapping[str, Any]) -> dict[str, Any]:
    versions = provenance.get("versions") or {}
    seeds = provenance.get("seeds") or {}
    dirty = provenance.get("git_dirty")
    return {
        "config_hash": str(provenance.get("config_hash") or "unknown"),
        "config_files": [
            {"path": str(f.get("path", "")), "sha256": str(f.get("sha256", ""))}
            for f in provenance.get("config_files") or []
            if isinstance(f, Mapping)
        ],
        "git_commit": str(provenance.get("git_commit") or "unknown"),
        "git_dirty": (
            "unknown"
            if dirty is None
            else ("yes — uncommitted changes to code or configuration" if dirty else "no")
        ),
        "versions": [(str(k), str(v)) for k, v in versions.items()],
        "seeds": [
            (str(k), _fmt_scalar(v) if not isinstance(v, int) else str(v)) for k, v in seeds.items()
        ],
        "lockfile_sha256": str(provenance.get("lockfile_sha256") or "unknown"),
        "platform": str(provenance.get("platform") or "unknown"),
        "timestamp": str(provenance.get("timestamp") or "unknown"),
        "extra": [
            (str(k), str(v))
            for k, v in provenance.items()
            if k
            not in {
                "config_hash",
                "config_files",
                "git_commit",
                "git_dirty",
                "versions",
                "seeds",
                "lockfile_sha256",
                "platform",
                "timestamp",
            }
            and not isinstance(v, Mapping | list)
        ],
    }


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = fmt_num
    env.filters["p"] = fmt_p
    env.filters["p_eq"] = fmt_p_eq
    env.filters["plain"] = fmt_plain
    env.filters["scalar"] = _fmt_scalar
    env.filters["scale"] = scale_name
    env.filters["capfirst"] = lambda t: str(t)[:1].upper() + str(t)[1:]
    env.globals["fmt_ci"] = fmt_ci
    return env


def build_report(
    claims: list[dict[str, Any]],
    datasets: dict[str, dict[str, Any]],
    imports: dict[str, dict[str, Any]],
    fetches: dict[str, dict[str, Any]],
    diversity: dict[str, dict[str, Any]],
    config: dict[str, Any],
    provenance: dict[str, Any],
    figure_root: Path,
    previous_claims: list[dict[str, Any]] | None = None,
    *,
    claims_source: str | Path = DEFAULT_CLAIMS_SOURCE,
    depths: Mapping[str, Any] | None = None,
    coverage: Mapping[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
    coverage_source: str = "results/coverage.json",
    calibration_source: str = "results/calibration.json",
) -> str:
    """Render the report as one self-contained HTML document.

    Parameters
    ----------
    claims
        The objects of ``results/claims.json`` (one per claim; fields of untestable claims may be missing).
    datasets
        ``config/datasets.yaml`` blocks by dataset name.
    imports
        ``results/import/{ds}/import.json`` by dataset name.
    fetches
        ``results/fetch/{ds}.json`` manifests by dataset name.
    diversity
        Diversity summaries by dataset name (``depth``, ``n_retained``, ``n_dropped``, ``rarefied``, …).
    config
        The workflow configuration actually used (``config.yaml`` with defaults filled in).
    provenance
        From :func:`gutskin.report.provenance.collect_provenance`.
    figure_root
        Directory against which the relative ``path`` of each figure and table is resolved (absolute paths
        are used as they are). A missing figure is shown as a visible note.
    previous_claims
        ``claims.json`` of an earlier run; when given, a verdict changelog section is added.
    claims_source
        Name of the claims file, used in error messages.
    depths
        Per dataset, the sequencing depth table from :func:`gutskin.report.qc.load_depth`; drawn as a
        histogram with the rarefaction depth in the Data section. Datasets without one say so.
    coverage
        ``results/coverage.json`` (covariate coverage map); ``None``: shown as not computed.
    calibration
        ``results/calibration.json`` (false-positive rate and power on simulated data); ``None``: shown as
        not computed.
    coverage_source, calibration_source
        Names of those files, for error messages and the list of files.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    InputError
        A claim without id, with a duplicate id, an unknown verdict, or a mistyped number (naming the claim
        and key); a mistyped key of the coverage or calibration file.
    """
    source = str(claims_source)
    if not isinstance(claims, list):
        raise InputError(source, "expected a list of claim objects", hint="check the ledger output")
    figure_root = Path(figure_root)
    alpha = float(config.get("alpha") or 0.05)
    tost_level = round(100 * (1 - 2 * alpha))
    views = []
    seen: set[str] = set()
    for i, c in enumerate(claims):
        if not isinstance(c, Mapping):
            raise InputError(source, "claim is not an object", where=f"claim #{i + 1}")
        v = _claim_view(c, i, source, figure_root, alpha)
        if v["id"] in seen:
            raise InputError(
                source,
                f"claim id {v['id']!r} occurs twice",
                where=f"claim #{i + 1}",
                hint="claim ids must be unique",
            )
        seen.add(v["id"])
        views.append(v)
    target = config.get("power_target")
    target_f = float(target) if isinstance(target, int | float) else None
    for v in views:
        if target_f is not None:
            v["underpowered"] = v["power"] is not None and v["power"] < target_f
        v["power_text"] = _power_sentences(v, alpha, target_f, tost_level)
    axis = _add_mini_forests(views)

    used = list(fetches) + list(imports) + list(diversity)
    for v in views:
        used += v["datasets"]
    names = list(dict.fromkeys(n for n in [*datasets, *used] if n in set(used)))
    if not names:
        names = list(datasets)
    used_by = {v["id"]: v["datasets"] for v in views if v["testable"]}
    data_views = _dataset_views(
        names, datasets, imports, fetches, diversity, depths=depths, used_by=used_by
    )
    anchors = {d["name"]: d["anchor"] for d in data_views}
    by_name = {d["name"]: d for d in data_views}
    for v in views:
        v["dataset_links"] = [(n, anchors.get(n)) for n in v["datasets"]]
        v["data_blocks"] = [
            {
                "name": n,
                "anchor": anchors.get(n),
                "title": by_name[n]["title"] if n in by_name else n,
                "description": by_name[n]["description"] if n in by_name else "",
                "available": by_name[n]["available"] if n in by_name else None,
            }
            for n in v["datasets"]
        ]

    coverage_v = coverage_view(coverage, coverage_source) if coverage is not None else None
    calibration_v = (
        calibration_view(calibration, calibration_source) if calibration is not None else None
    )
    if calibration_v is not None:
        for row in calibration_v["rows"]:
            row["bar"] = Markup(row["bar"]) if row["bar"] else None  # numbers + escaped text only
    tested = [v for v in views if v["testable"]]
    untested = [v for v in views if not v["testable"]]
    counts = {k: sum(1 for v in views if v["verdict"] == k) for k in VERDICTS}
    report_cfg = config.get("report") or {}
    changelog = (
        _changelog(views, list(previous_claims), "previous claims.json")
        if previous_claims is not None
        else None
    )
    repro = _repro_view(provenance)
    repro["data_files"] = [
        {"dataset": d["name"], **f} for d in data_views for f in d["files"] if f["sha256"]
    ]
    css = (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")
    env = _environment()
    return env.get_template("report.html").render(
        title=str(report_cfg.get("title") or "gutskin report"),
        claims=views,
        tested=tested,
        untested=untested,
        axis=axis,
        counts=counts,
        verdicts=VERDICTS,
        datasets=data_views,
        coverage=coverage_v,
        calibration=calibration_v,
        methods=_methods_view(config, views, datasets, diversity, names),
        limitations=_limitations(
            views, data_views, coverage if coverage is not None else None, calibration_v
        ),
        files=_files_view(
            views,
            data_views,
            source,
            coverage_source if coverage is not None else None,
            calibration_source if calibration is not None else None,
        ),
        repro=repro,
        changelog=changelog,
        css=Markup(css),
        alpha=alpha,
        tost_level=tost_level,
        power_target=config.get("power_target"),
        gutskin_version=str((provenance.get("versions") or {}).get("gutskin", "")),
    )


def write_report(html: str, path: Path) -> None:
    """Write the report atomically (temporary file in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(html)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
