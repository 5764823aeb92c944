"""Data-quality parts of the report: sequencing depth, covariate coverage and test calibration.

These functions turn the run's QC files into small view models (plain dicts of strings and numbers) that the
report template renders; nothing here writes HTML except :func:`fpr_bar`, which builds a tiny SVG from numbers.

- :func:`load_depth` reads ``results/diversity/{ds}/depth.tsv`` (``sample_id``, ``reads``, ``retained``) and,
  when given, joins the ``body_site`` of ``results/import/{ds}/samples.tsv``.
- :func:`depth_view` summarises it: counts used and dropped (per body site) and a histogram of reads per sample
  with the rarefaction depth marked.
- :func:`coverage_view` renders ``results/coverage.json`` as a variables × datasets grid.
- :func:`calibration_view` renders ``results/calibration.json``: false-positive rate and power of each primary
  test on simulated data.
"""

from __future__ import annotations

import csv
import html as _html
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import pandas as pd

from ..errors import InputError
from .fmt import fmt_int, fmt_pct

__all__ = [
    "calibration_view",
    "coverage_view",
    "depth_view",
    "fpr_bar",
    "load_depth",
    "read_json",
]

_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


def read_json(path: Path | str) -> Any:
    """Read a JSON file of the run; a missing or malformed file is an :class:`InputError` naming it.

    Raises
    ------
    InputError
        If the file does not exist or is not valid JSON (with line and column).
    """
    p = Path(path)
    try:
        with p.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise InputError(p, "file not found", hint="run the step that writes it first") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            p,
            f"not valid JSON ({exc.msg})",
            where=f"line {exc.lineno}, column {exc.colno}",
            hint="regenerate the file (delete it and re-run the workflow)",
        ) from None
    except UnicodeDecodeError:
        raise InputError(p, "not UTF-8 text", hint="regenerate the file") from None


# --------------------------------------------------------------------------------------------------------
# Sequencing depth
# --------------------------------------------------------------------------------------------------------


def _count(x: Any) -> int | float:
    """Read counts are whole numbers; a median of two may not be."""
    f = float(x)
    return int(f) if f.is_integer() else f


def load_depth(depth_tsv: Path | str, samples_tsv: Path | str | None = None) -> pd.DataFrame:
    """Read a ``depth.tsv`` (one row per sample: ``sample_id``, ``reads``, ``retained``).

    Parameters
    ----------
    depth_tsv
        ``results/diversity/{ds}/depth.tsv``.
    samples_tsv
        ``results/import/{ds}/samples.tsv``; when given, its ``body_site`` is joined on ``sample_id`` (samples
        not in it get an empty body site).

    Returns
    -------
    pandas.DataFrame
        ``sample_id`` (str), ``reads`` (float), ``retained`` (bool) and ``body_site`` (str, ``""`` when
        unknown). ``attrs["path"]`` holds ``depth_tsv``.

    Raises
    ------
    InputError
        A missing file or column, a read count that is not a non-negative number, or a ``retained`` value that
        is not true/false (naming file, column and line).
    """
    path = Path(depth_tsv)
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(
            path, "file not found", hint="run the diversity step for this dataset first"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(path, f"cannot be read as a TSV ({exc})") from None
    for col in ("sample_id", "reads", "retained"):
        if col not in df.columns:
            raise InputError(
                path,
                f"column {col!r} is missing",
                where=f"header (columns: {', '.join(df.columns)})",
                hint="depth.tsv needs sample_id, reads and retained",
            )
    reads = pd.to_numeric(df["reads"], errors="coerce")
    bad = reads.isna() | (reads < 0)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(
            path,
            f"reads = {df['reads'].iloc[i]!r} is not a non-negative number",
            where=f"column 'reads', line {i + 2}",
            hint="regenerate depth.tsv",
        )
    flags = df["retained"].str.strip().str.lower()
    unknown = ~flags.isin(_TRUE | _FALSE)
    if unknown.any():
        i = int(unknown.to_numpy().nonzero()[0][0])
        raise InputError(
            path,
            f"retained = {df['retained'].iloc[i]!r} is not true or false",
            where=f"column 'retained', line {i + 2}",
            hint="write True or False",
        )
    out = pd.DataFrame(
        {
            "sample_id": df["sample_id"].astype(str),
            "reads": reads.astype(float),
            "retained": flags.isin(_TRUE).to_numpy(),
        }
    )
    out["body_site"] = ""
    if samples_tsv is not None:
        spath = Path(samples_tsv)
        try:
            samples = pd.read_csv(
                spath,
                sep="\t",
                dtype=str,
                keep_default_na=False,
                quoting=csv.QUOTE_NONE,  # the samples.tsv dialect of gutskin.importer
                usecols=["sample_id", "body_site"],
            )
        except FileNotFoundError:
            raise InputError(spath, "file not found", hint="run the import step first") from None
        except ValueError as exc:
            raise InputError(
                spath,
                f"cannot read columns sample_id and body_site ({exc})",
                where="header",
                hint="samples.tsv must follow workflow/schemas/samples.schema.yaml",
            ) from None
        site = samples.drop_duplicates("sample_id").set_index("sample_id")["body_site"]
        out["body_site"] = out["sample_id"].map(site).fillna("").astype(str).to_numpy()
    out.attrs["path"] = str(path)
    return out


def depth_view(
    name: str, depth: pd.DataFrame, rarefaction_depth: float | None, *, rarefied: bool = True
) -> dict[str, Any]:
    """Counts and histogram of one dataset's sequencing depth.

    Parameters
    ----------
    name
        Dataset name (for titles).
    depth
        From :func:`load_depth`.
    rarefaction_depth
        The depth used (``None`` when the table was not rarefied).
    rarefied
        Whether the dataset was rarefied (relative or signal tables are not).

    Returns
    -------
    dict
        ``n``, ``n_used``, ``n_dropped``, ``min``, ``median``, ``max`` (reads), ``equal`` (every sample has the
        same depth), ``by_site`` (rows ``site``, ``n``, ``dropped``, ``used``, ``median``), ``svg`` (histogram
        as SVG text, or None without samples), ``alt``, ``caption`` and ``path`` (the data file).
    """
    from ..plotting import figures  # matplotlib only when a report is built

    reads = depth["reads"].to_numpy(dtype=float)
    kept = depth["retained"].to_numpy(dtype=bool)
    n = int(reads.size)
    view: dict[str, Any] = {
        "n": n,
        "n_used": int(kept.sum()),
        "n_dropped": int((~kept).sum()),
        "min": _count(reads.min()) if n else None,
        "median": _count(pd.Series(reads).median()) if n else None,
        "max": _count(reads.max()) if n else None,
        "equal": bool(n and reads.min() == reads.max()),
        "depth": rarefaction_depth,
        "rarefied": rarefied,
        "path": str(depth.attrs.get("path", "")),
        "by_site": [],
        "svg": None,
        "alt": "",
        "caption": "",
    }
    has_sites = "body_site" in depth.columns and bool((depth["body_site"] != "").any())
    sites = depth["body_site"].replace("", "(missing)") if has_sites else None
    if sites is not None and n:
        frame = pd.DataFrame({"site": sites.to_numpy(), "reads": reads, "kept": kept})
        for site, g in frame.groupby("site", sort=True):
            view["by_site"].append(
                {
                    "site": str(site),
                    "n": len(g),
                    "dropped": int((~g["kept"]).sum()),
                    "used": int(g["kept"].sum()),
                    "median": _count(g["reads"].median()),
                }
            )
    if not n:
        return view
    line = rarefaction_depth if rarefied else None
    alt = (
        f"Histogram of reads per sample in {name}: {n:,} samples, median {view['median']:,.0f} reads "
        f"(range {view['min']:,.0f} to {view['max']:,.0f})"
    )
    if line is not None:
        alt += (
            f"; rarefaction depth {line:,.0f} marked; {view['n_used']:,} used, "
            f"{view['n_dropped']:,} dropped below it"
        )
    fig = figures.depth_histogram(
        reads, line, f"{name}: sequencing depth", retained=kept, xlabel="Reads per sample"
    )
    view["svg"] = figures.svg_text(fig, alt=alt)
    view["alt"] = alt
    cap = "Reads per sample before rarefaction"
    if line is not None:
        cap += (
            f"; dashed line: the rarefaction depth ({line:,.0f} reads). Hatched bars: samples below it, "
            "dropped from diversity analyses"
        )
    if view["equal"]:
        cap += (
            f". Every sample has exactly {view['max']:,.0f} reads: the published table was already "
            "rarefied (subsampled) by its authors, so the original sequencing depth is not known"
        )
    view["caption"] = cap + "."
    return view


# --------------------------------------------------------------------------------------------------------
# Covariate coverage
# --------------------------------------------------------------------------------------------------------


def _cov_class(f: float | None) -> str:
    """Shading step of a coverage cell (the cell text carries the number; shading only helps scanning)."""
    if f is None:
        return "covna"
    if f <= 0:
        return "cov0"
    if f < 0.25:
        return "cov1"
    if f < 0.5:
        return "cov2"
    if f < 0.75:
        return "cov3"
    return "cov4"


def _number(source: str, where: str, v: Any, *, prob: bool = False, count: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise InputError(source, f"{v!r} is not a number", where=where, hint="regenerate the file")
    f = float(v)
    if prob and not 0.0 <= f <= 1.0:
        raise InputError(source, f"{v!r} is not a fraction in [0, 1]", where=where)
    if count and (f < 0 or f != int(f)):
        raise InputError(source, f"{v!r} is not a count", where=where)
    return f


def _mapping(source: str, where: str, v: Any) -> Mapping[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise InputError(source, f"expected an object, got {type(v).__name__}", where=where)
    return v


class _CoverageHead(TypedDict):
    """One dataset column of :func:`coverage_view` (``info`` is dropped from the output)."""

    name: str
    available: bool
    n_samples: float | None
    claims: list[str]
    info: Mapping[str, Any]


def coverage_view(
    coverage: Mapping[str, Any], source: str = "results/coverage.json"
) -> dict[str, Any]:
    """The covariate coverage map: which variables each dataset has, for how many samples.

    Parameters
    ----------
    coverage
        ``{"variables": [..], "datasets": {name: {"available", "n_samples", "body_sites": {site: n},
        "paired_gut_skin_subjects", "variables": {var: {"n_non_missing", "fraction"}}, "claims": [..]}}}``.
    source
        File name for error messages.

    Returns
    -------
    dict
        ``datasets`` (column heads: ``name``, ``available``, ``n_samples``, ``claims``), ``facts`` (rows of
        dataset-level facts) and ``rows`` (one per variable: ``variable`` and ``cells`` with ``text``,
        ``n``, ``cls``, ``title``).

    Raises
    ------
    InputError
        When a key has the wrong type (naming the file and key).
    """
    if not isinstance(coverage, Mapping):
        raise InputError(source, "expected a JSON object", hint="regenerate the coverage map")
    variables = coverage.get("variables") or []
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise InputError(source, "'variables' is not a list of names", where="key 'variables'")
    dsets = _mapping(source, "key 'datasets'", coverage.get("datasets"))
    heads: list[_CoverageHead] = []
    for name, info in dsets.items():
        info = _mapping(source, f"datasets.{name}", info)
        n = info.get("n_samples")
        claims = info.get("claims") or []
        if not isinstance(claims, list):
            raise InputError(source, "'claims' is not a list", where=f"datasets.{name}.claims")
        heads.append(
            {
                "name": str(name),
                "available": info.get("available") is not False,
                "n_samples": None
                if n is None
                else _number(source, f"datasets.{name}.n_samples", n, count=True),
                "claims": [str(c) for c in claims],
                "info": info,
            }
        )
    extra_vars: list[str] = []
    for h in heads:
        for var in _mapping(source, f"datasets.{h['name']}.variables", h["info"].get("variables")):
            if var not in variables and var not in extra_vars:
                extra_vars.append(str(var))
    facts = [
        {
            "label": "Samples",
            "cells": ["–" if h["n_samples"] is None else fmt_int(h["n_samples"]) for h in heads],
        }
    ]
    site_cells = []
    for h in heads:
        sites = _mapping(source, f"datasets.{h['name']}.body_sites", h["info"].get("body_sites"))
        counted = {
            str(s): _number(source, f"datasets.{h['name']}.body_sites.{s}", k, count=True)
            for s, k in sites.items()
        }
        parts = [
            f"{s} {fmt_int(k)}" for s, k in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        site_cells.append("; ".join(parts) or "–")
    facts.append({"label": "Body sites (samples)", "cells": site_cells})
    paired = []
    for h in heads:
        v = h["info"].get("paired_gut_skin_subjects")
        paired.append(
            "–"
            if v is None
            else fmt_int(
                _number(source, f"datasets.{h['name']}.paired_gut_skin_subjects", v, count=True)
            )
        )
    facts.append({"label": "Subjects with paired gut and skin samples", "cells": paired})
    facts.append(
        {"label": "Claims using it", "cells": [", ".join(h["claims"]) or "–" for h in heads]}
    )
    rows = []
    for var in [*variables, *extra_vars]:
        cells = []
        for h in heads:
            vinfo = _mapping(source, f"datasets.{h['name']}.variables", h["info"].get("variables"))
            entry = vinfo.get(var)
            if entry is None:
                cells.append(
                    {"text": "–", "n": "", "cls": "covna", "title": f"{var}: not in {h['name']}"}
                )
                continue
            entry = _mapping(source, f"datasets.{h['name']}.variables.{var}", entry)
            where = f"datasets.{h['name']}.variables.{var}"
            nn = entry.get("n_non_missing")
            k = None if nn is None else _number(source, f"{where}.n_non_missing", nn, count=True)
            fr = entry.get("fraction")
            f = None if fr is None else _number(source, f"{where}.fraction", fr, prob=True)
            if f is None and k is not None and h["n_samples"]:
                f = k / h["n_samples"]
            cells.append(
                {
                    "text": "–" if f is None else fmt_pct(f),
                    "n": "" if k is None else fmt_int(k),
                    "cls": _cov_class(f),
                    "title": f"{var} in {h['name']}: "
                    + ("unknown" if k is None else f"{fmt_int(k)} samples with a value"),
                }
            )
        rows.append({"variable": var.replace("_", " "), "cells": cells})
    return {
        "datasets": [{k: v for k, v in h.items() if k != "info"} for h in heads],
        "facts": facts,
        "rows": rows,
    }


# --------------------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------------------


def fpr_bar(
    fpr: float, lo: float | None, hi: float | None, alpha: float, label: str, top: float = 0.15
) -> str:
    """A 150×20 px SVG: the false-positive rate with its CI on [0, ``top``], the nominal α as a line."""
    w, h, pad = 150.0, 20.0, 5.0

    def x(v: float) -> float:
        return pad + max(0.0, min(top, v)) / top * (w - 2 * pad)

    parts = [
        f'<svg class="mini" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}" role="img" '
        f'aria-label="{_html.escape(label, quote=True)}" focusable="false">',
        f"<title>{_html.escape(label)}</title>",
        f'<line class="axis" x1="{pad:g}" y1="{h - 2:g}" x2="{w - pad:g}" y2="{h - 2:g}"></line>',
        f'<line class="null" x1="{x(alpha):.1f}" y1="1" x2="{x(alpha):.1f}" y2="{h - 1:g}"></line>',
    ]
    if lo is not None and hi is not None:
        parts.append(
            f'<line class="ci" x1="{x(lo):.1f}" y1="{h / 2:g}" x2="{x(hi):.1f}" y2="{h / 2:g}"></line>'
        )
    parts.append(f'<circle class="pt" cx="{x(fpr):.1f}" cy="{h / 2:g}" r="3.5"></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _ci_pair(source: str, where: str, v: Any) -> tuple[float | None, float | None]:
    if v is None:
        return (None, None)
    if not isinstance(v, Sequence) or isinstance(v, str) or len(v) != 2:
        raise InputError(source, f"{v!r} is not a [low, high] pair", where=where)
    return (
        _number(source, where, v[0], prob=True),
        _number(source, where, v[1], prob=True),
    )


def calibration_view(
    calibration: Mapping[str, Any], source: str = "results/calibration.json"
) -> dict[str, Any]:
    """False-positive rate and power of each primary test on simulated data, as table rows.

    Parameters
    ----------
    calibration
        ``{"alpha", "tests": [{"claim", "test", "replicates", "null_rejections", "fpr", "fpr_ci", "planted":
        [{"effect", "power", "power_ci"}], "design", "seconds"}]}``.
    source
        File name for error messages.

    Returns
    -------
    dict
        ``alpha`` and ``rows`` (``claim``, ``test``, ``design``, ``replicates``, ``rejections``, ``fpr``,
        ``fpr_ci``, ``fpr_ok`` (the CI contains α), ``fpr_word``, ``bar`` (SVG text), ``planted`` (``effect``,
        ``power``, ``power_ci``, and ``analytic``: the formula's power, when the file gives
        ``analytic_power``), ``seconds``).

    Raises
    ------
    InputError
        When a key has the wrong type or a rate is outside [0, 1].
    """
    if not isinstance(calibration, Mapping):
        raise InputError(source, "expected a JSON object", hint="regenerate the calibration")
    alpha = _number(source, "key 'alpha'", calibration.get("alpha", 0.05), prob=True)
    tests = calibration.get("tests") or []
    if not isinstance(tests, list):
        raise InputError(source, "'tests' is not a list", where="key 'tests'")
    rows = []
    for i, t in enumerate(tests):
        where = f"tests[{i}]"
        t = _mapping(source, where, t)
        reps = t.get("replicates")
        rej = t.get("null_rejections")
        fpr_raw = t.get("fpr")
        fpr = None if fpr_raw is None else _number(source, f"{where}.fpr", fpr_raw, prob=True)
        lo, hi = _ci_pair(source, f"{where}.fpr_ci", t.get("fpr_ci"))
        ok = None if lo is None or hi is None else lo <= alpha <= hi
        if ok is None:
            word = "–"
        elif ok:
            word = "consistent with α"
        elif lo is not None and lo > alpha:
            word = "too many false positives"
        else:
            word = "conservative (fewer false positives than α)"
        planted = []
        for j, p in enumerate(t.get("planted") or []):
            pw = f"{where}.planted[{j}]"
            p = _mapping(source, pw, p)
            power = p.get("power")
            analytic = p.get("analytic_power")
            planted.append(
                {
                    "effect": str(p.get("effect", "")),
                    "power": None
                    if power is None
                    else _number(source, f"{pw}.power", power, prob=True),
                    "power_ci": _ci_pair(source, f"{pw}.power_ci", p.get("power_ci")),
                    "analytic": None
                    if analytic is None
                    else _number(source, f"{pw}.analytic_power", analytic, prob=True),
                }
            )
        label = f"false-positive rate {fpr if fpr is not None else 'unknown'}"
        if lo is not None and hi is not None:
            label += f", 95 % CI {lo:.3f} to {hi:.3f}"
        label += f"; line: alpha = {alpha:g}"
        rows.append(
            {
                "claim": str(t.get("claim", "")),
                "test": str(t.get("test", "")),
                "design": str(t.get("design", "")),
                "replicates": None
                if reps is None
                else _number(source, f"{where}.replicates", reps, count=True),
                "rejections": None
                if rej is None
                else _number(source, f"{where}.null_rejections", rej, count=True),
                "fpr": fpr,
                "fpr_ci": (lo, hi),
                "fpr_ok": ok,
                "fpr_word": word,
                "bar": None
                if fpr is None
                else fpr_bar(fpr, lo, hi, alpha, label, top=max(0.15, 2 * alpha, (hi or 0) * 1.1)),
                "planted": planted,
                "seconds": t.get("seconds"),
            }
        )
    return {"alpha": alpha, "rows": rows}
