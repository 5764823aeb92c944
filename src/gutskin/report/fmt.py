"""Number and text formatting of the report: one place for how a number, p-value, interval or cell reads.

Every function takes what the run wrote (``int``, ``float``, ``None``, NaN, strings) and returns text; none
raises on a missing value (it reads "–").
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

__all__ = [
    "P_FLOOR",
    "SCALE_NAMES",
    "doi_url",
    "fmt_bytes",
    "fmt_cell",
    "fmt_ci",
    "fmt_int",
    "fmt_num",
    "fmt_p",
    "fmt_p_eq",
    "fmt_pct",
    "fmt_plain",
    "fmt_scalar",
    "scale_name",
    "slug",
]


#: Below this p-value the report prints "< 0.001".
P_FLOOR = 0.001

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


def _number(x: Any) -> float | None:
    """``x`` as a float, or ``None`` when it is missing, not a number or NaN."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_p(p: Any) -> str:
    """Format a p-value: "< 0.001" below 0.001, else 3 significant digits; "–" when missing."""
    v = _number(p)
    if v is None:
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
    v = _number(n)
    if v is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if v >= size:
            return f"{fmt_num(v / size)} {unit}"
    return f"{int(v)} B"


def fmt_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return fmt_num(v)
    return str(v)


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


#: Columns holding identifiers: shown exactly as written (``000011224.1210932`` is not a number).
_ID_COLUMN = re.compile(
    r"(^|[_\s#])(id|ids|sample|samples|subject|barcode|run|visit)$", re.IGNORECASE
)

_DECIMAL = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def fmt_cell(text: str, column: str = "") -> str:
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


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text) or "x"


def doi_url(text: str) -> str | None:
    m = re.search(r"\b(10\.\d{4,9}/[^\s\"<>]+[^\s\"<>.,;)])", text)
    return f"https://doi.org/{m.group(1)}" if m else None


def fmt_int(n: Any) -> str:
    """A whole number with thousands separators and a real minus sign."""
    return f"{int(n):,}".replace("-", "−")


def fmt_pct(f: float) -> str:
    """A share in [0, 1] as a whole percentage; "< 1 %" and "> 99 %" near the ends."""
    if f <= 0:
        return "0 %"
    if f >= 1:
        return "100 %"
    v = 100 * f
    if v < 1:
        return "< 1 %"
    if v > 99:
        return "> 99 %"
    return f"{v:.0f} %"
