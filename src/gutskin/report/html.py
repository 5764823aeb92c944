"""The self-contained HTML report: claims ledger, one section per claim, data, methods, reproducibility.

:func:`build_report` turns the run's JSON outputs into one HTML string that needs no network to view (CSS
and figures are inlined, figures as SVG or base64 PNG), prints cleanly and stays readable without colour
(every verdict has a symbol and a word). All text that comes from data goes through Jinja2 autoescaping; the
only markup built in Python is the figures (sanitised SVG from our own files) and the small inline forest
bars, which contain numbers and escaped text only.
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
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..errors import InputError

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


@dataclass(frozen=True)
class VerdictStyle:
    """How a verdict is shown: symbol, short label, one-line meaning."""

    symbol: str
    label: str
    meaning: str


#: The five verdicts of the rubric (CLAIMS.md §3.7) with their symbol and wording.
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
            or float(v) != int(v)
            or v < 0
        ):
            raise self.fail(key, f"{v!r} is not a count", "write a non-negative integer or null")
        return int(v)

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


def _is_ratio(label: str, sesoi_scale: str) -> bool:
    return bool(_RATIO_WORDS.search(label or "")) or bool(
        _RATIO_WORDS.search((sesoi_scale or "").replace("_", " "))
    )


def _axis_key(label: str) -> str:
    """Claims whose effect sizes share a label share one axis in the ledger."""
    return re.sub(r"\s*\(.*?\)\s*", " ", label or "").strip().lower()


def _mini_forest(
    est: float | None,
    lo: float | None,
    hi: float | None,
    sesoi: float | None,
    half_range: float,
    ratio: bool,
    label: str,
) -> Markup | None:
    """A 150×22 px SVG: shaded ±SESOI band, null line, CI bar, point. Numbers only, plus escaped title."""
    if est is None:
        return None
    if ratio and (est <= 0 or (lo is not None and lo <= 0) or (hi is not None and hi <= 0)):
        return None
    w, h, pad = 150.0, 22.0, 6.0

    def tr(v: float) -> float:
        v = math.log(v) if ratio else v
        v = max(-half_range, min(half_range, v))
        return pad + (v + half_range) / (2 * half_range) * (w - 2 * pad)

    parts = [
        f'<svg class="mini" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}" role="img" '
        f'aria-label="{_html.escape(label, quote=True)}" focusable="false">',
        f"<title>{_html.escape(label)}</title>",
    ]
    null = 1.0 if ratio else 0.0
    if sesoi is not None and sesoi > 0 and (not ratio or sesoi != 1):
        if ratio:
            s = sesoi if sesoi > 1 else 1 / sesoi
            a, b = tr(1 / s), tr(s)
        else:
            a, b = tr(-sesoi), tr(sesoi)
        parts.append(
            f'<rect class="band" x="{a:.1f}" y="2" width="{b - a:.1f}" height="{h - 4:g}"></rect>'
        )
    z = tr(null)
    parts.append(f'<line class="null" x1="{z:.1f}" y1="1" x2="{z:.1f}" y2="{h - 1:g}"></line>')
    if lo is not None and hi is not None:
        x1, x2 = tr(lo), tr(hi)
        parts.append(
            f'<line class="ci" x1="{x1:.1f}" y1="{h / 2:g}" x2="{x2:.1f}" y2="{h / 2:g}"></line>'
        )
    x = tr(est)
    parts.append(
        f'<rect class="pt" x="{x - 3.5:.1f}" y="{h / 2 - 3.5:g}" width="7" height="7"></rect>'
    )
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
    }
    if not rel:
        view["note"] = "Figure entry has no path."
        return view
    path = _resolve(root, rel)
    shown = _display(root, path)
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
            rows = []
            n = 0
            for row in reader:
                n += 1
                if len(rows) < MAX_TABLE_ROWS:
                    rows.append([_cell(c) for c in row])
    except OSError:
        view["note"] = f"Table file not found: {view['path']}."
        return view
    except (UnicodeDecodeError, csv.Error) as exc:
        view["note"] = f"Table {view['path']} could not be read ({type(exc).__name__})."
        return view
    view.update(header=header, rows=rows, n_rows=n)
    return view


def _cell(text: str) -> str:
    try:
        v = float(text)
    except ValueError:
        return text
    if not text.strip() or text.strip().lower() in {"nan", "inf", "-inf"}:
        return text
    if re.fullmatch(r"-?\d+", text.strip()):
        return text.strip()
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

    tests = []
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

    power = nums["power"]
    return {
        "id": cid,
        "anchor": cid,
        "title": ck.text(claim, "title"),
        "quote": ck.text(claim, "quote"),
        "location": ck.text(claim, "location"),
        "hypothesis": ck.text(claim, "hypothesis"),
        "claim_type": ck.text(claim, "claim_type"),
        "testable_text": ck.text(claim, "testable"),
        "testable": _is_testable(claim, str(verdict)),
        "verdict": verdict,
        "symbol": style.symbol,
        "label": style.label,
        "meaning": style.meaning,
        "verdict_label": ck.text(claim, "verdict_label"),
        "headline": _headline(style.label, ck.text(claim, "verdict_label")),
        "reason": ck.text(claim, "reason"),
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
        "robustness": ck.text(claim, "robustness"),
        "external": external,
        "sample_flow": sample_flow,
        "flow_cols": flow_cols,
        "holm_family": ck.texts(claim, "holm_family"),
        "primary": bool(claim.get("primary")),
        "expected_direction": ck.text(claim, "expected_direction"),
        "underpowered": power is not None and power < 0.8,
        "equivalent": nums["tost_p"] is not None and nums["tost_p"] < alpha,
        "mini": None,
        "mini_text": "",
    }


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
        return "; ".join(f"{k}: {_flow_cell(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(_flow_cell(x) for x in v)
    return str(v)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text) or "x"


def _add_mini_forests(views: list[dict[str, Any]]) -> None:
    """One shared axis per effect-size label, so bars of comparable claims line up."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for v in views:
        if v["effect_size"] is None:
            continue
        v["ratio"] = _is_ratio(v["effect_size_label"], v["sesoi_scale"])
        groups.setdefault(_axis_key(v["effect_size_label"]) + f"|{v['ratio']}", []).append(v)
    for members in groups.values():
        extent = 0.0
        for v in members:
            vals = [v["effect_size"], *v["es_ci"]]
            if v["sesoi_value"] is not None:
                vals.append(v["sesoi_value"])
            for x in vals:
                if x is None:
                    continue
                if v["ratio"]:
                    if x > 0:
                        extent = max(extent, abs(math.log(x)))
                else:
                    extent = max(extent, abs(x))
        half = max(extent * 1.1, 0.05)
        for v in members:
            lo, hi = v["es_ci"]
            label = v["effect_size_label"] or "effect size"
            desc = f"{label} {fmt_num(v['effect_size'])}"
            if lo is not None and hi is not None:
                desc += f", 95 % CI {fmt_num(lo)} to {fmt_num(hi)}"
            if v["sesoi_value"] is not None:
                desc += f"; shaded band: ±SESOI {fmt_num(v['sesoi_value'])}"
            v["mini"] = _mini_forest(
                v["effect_size"], lo, hi, v["sesoi_value"], half, v["ratio"], desc
            )
            v["mini_text"] = f"{fmt_num(v['effect_size'])} {fmt_ci(lo, hi)}"


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
_DROPPED_LABELS = {
    "not_in_table": "Dropped: in mapping but not in table",
    "not_in_mapping": "Dropped: in table but not in mapping",
}
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
        samples = _scalar_rows(imp, _IMPORT_LABELS, _SUMMARY_SKIP | {"rarefaction_depth"})
        dropped = imp.get("dropped") if isinstance(imp.get("dropped"), Mapping) else {}
        samples += _scalar_rows(dropped, _DROPPED_LABELS, set())
        samples += _scalar_rows(div, _DIVERSITY_LABELS, _SUMMARY_SKIP)
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
                "samples": samples,
            }
        )
    return out


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
    return {
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

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    InputError
        A claim without id, with a duplicate id, an unknown verdict, or a mistyped number (naming the claim
        and key).
    """
    source = str(claims_source)
    if not isinstance(claims, list):
        raise InputError(source, "expected a list of claim objects", hint="check the ledger output")
    figure_root = Path(figure_root)
    alpha = float(config.get("alpha") or 0.05)
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
    if isinstance(target, int | float):
        for v in views:
            v["underpowered"] = v["power"] is not None and v["power"] < float(target)
    _add_mini_forests(views)

    used = list(fetches) + list(imports) + list(diversity)
    for v in views:
        used += v["datasets"]
    names = list(dict.fromkeys(n for n in [*datasets, *used] if n in set(used)))
    if not names:
        names = list(datasets)
    data_views = _dataset_views(names, datasets, imports, fetches, diversity)
    anchors = {d["name"]: d["anchor"] for d in data_views}
    for v in views:
        v["dataset_links"] = [(n, anchors.get(n)) for n in v["datasets"]]

    counts = {k: sum(1 for v in views if v["verdict"] == k) for k in VERDICTS}
    report_cfg = config.get("report") or {}
    changelog = (
        _changelog(views, list(previous_claims), "previous claims.json")
        if previous_claims is not None
        else None
    )
    css = (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")
    env = _environment()
    return env.get_template("report.html").render(
        title=str(report_cfg.get("title") or "gutskin report"),
        claims=views,
        counts=counts,
        verdicts=VERDICTS,
        datasets=data_views,
        methods=_methods_view(config, views, datasets, diversity, names),
        repro=_repro_view(provenance),
        changelog=changelog,
        css=Markup(css),
        alpha=alpha,
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
