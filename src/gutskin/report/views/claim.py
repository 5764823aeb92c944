"""The claim view: one section per claim — verdict, result, tests, figures, power, robustness, caveats."""

from __future__ import annotations

import base64
import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..fmt import (
    doi_url,
    fmt_bytes,
    fmt_cell,
    fmt_ci,
    fmt_num,
    fmt_p_eq,
    fmt_plain,
    fmt_scalar,
    scale_name,
    slug,
)
from ..model import ClaimModel
from ..svg import (
    BAR_MAX_HALF,
    BAR_MIN_HALF,
    bar_axis,
    in_sesoi_units,
    inline_svg,
    is_ratio,
    mini_forest,
    png_css_width,
)
from ..verdict_style import styles
from .ledger import short_reason

__all__ = [
    "FIGURE_DATA_SUFFIX",
    "MAX_FIGURE_BYTES",
    "MAX_TABLE_ROWS",
    "claim_view",
    "robust_sentence",
]


#: Figures larger than this are not embedded (the report must stay small enough to e-mail).
MAX_FIGURE_BYTES = 3_000_000

#: Rows of a result table shown inline.
MAX_TABLE_ROWS = 15

#: Suffix of a figure's data twin (as written by :func:`gutskin.plotting.figures.save_figure`).
FIGURE_DATA_SUFFIX = ".data.tsv"


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


def figure_view(fig: Mapping[str, Any], root: Path, uid: str) -> dict[str, Any]:
    rel = str(fig.get("path") or "")
    caption = str(fig.get("caption") or "")
    alt = str(fig.get("alt") or caption or "Figure")
    view: dict[str, Any] = {
        "id": f"{uid}fig",
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
            view["svg"] = Markup(inline_svg(path.read_text(encoding="utf-8"), alt, uid))
        else:
            raw = path.read_bytes()
            view["img"] = f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"
            view["width"] = png_css_width(raw) if mime == "image/png" else None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        view["note"] = f"Figure {shown} could not be read ({type(exc).__name__})."
    return view


def table_view(tab: Mapping[str, Any], root: Path) -> dict[str, Any]:
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
                    rows.append([fmt_cell(c, col) for c, col in zip(row, cols, strict=False)])
    except OSError:
        view["note"] = f"Table file not found: {view['path']}."
        return view
    except (UnicodeDecodeError, csv.Error) as exc:
        view["note"] = f"Table {view['path']} could not be read ({type(exc).__name__})."
        return view
    view.update(header=header, rows=rows, n_rows=n)
    return view


_FLOW_HEADS = {
    "step": "Step",
    "n": "n",
    "dropped": "Dropped",
    "dropped_by_group": "Dropped, by group",
}

_ROBUST_WORDS = {"agrees": "sensitivity agrees", "disagrees": "sensitivity disagrees"}
#: A ledger's "Why" cell: at most this many characters (the full reason is in the claim's section).
WHY_CHARS = 90


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
    judged = [a for a in analyses if a["outcome"] not in {"not judged", "uninformative"}]
    blind = [a["name"] for a in analyses if a["outcome"] == "uninformative"]
    tail = (
        f" {', '.join(blind)} {'is' if len(blind) == 1 else 'are'} uninformative (could not disagree) "
        "and not counted."
        if blind
        else ""
    )
    if not judged:
        if robustness == "agrees":
            return "The pre-specified sensitivity analyses agree with the primary analysis."
        if robustness == "disagrees":
            return "The pre-specified sensitivity analyses do not agree with the primary analysis."
        return (f"Robustness: {robustness}." if robustness else "") + tail
    bad = [a["name"] for a in judged if a["outcome"] == "disagrees"]
    n = len(judged)
    if not bad:
        if n == 1:
            return (
                "The pre-specified sensitivity analysis reaches the same conclusion as the primary "
                "analysis (same significance and direction)." + tail
            )
        return (
            f"All {n} pre-specified sensitivity analyses reach the same conclusion as the primary "
            "analysis (same significance and direction)." + tail
        )
    verb = "does not" if len(bad) == 1 else "do not"
    return (
        f"{n - len(bad)} of {n} pre-specified sensitivity analyses reach the same conclusion as the "
        f"primary analysis; {', '.join(bad)} {verb}." + tail
    )


def _significant(v: Mapping[str, Any], alpha: float) -> bool:
    """Significant as the rubric reads it: (Holm-adjusted, else raw) p < α and the 95 % CI excludes 0 — or a
    verdict that needs significance."""
    if v["verdict"] in {"supported", "contradicted"}:
        return True
    p = v["p_adjusted"] if v["p_adjusted"] is not None else v["p_value"]
    lo, hi = v["es_ci"] if v["es_ci"][0] is not None else (v["ci_low"], v["ci_high"])
    spans_zero = lo is not None and hi is not None and lo <= 0 <= hi
    return p is not None and p < alpha and not spans_zero


def power_sentences(
    v: Mapping[str, Any],
    alpha: float,
    target: float | None,
    tost_level: int,
    calibrated: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Power and equivalence of one claim, in plain words: one paragraph each.

    ``calibrated`` are the claim's rows of the calibration (power at planted effects on simulated data with
    the design of this analysis); they stand in when the claim has no analytic power. The warning that a
    non-significant result cannot mean "no effect" is given only for a non-significant result.
    """
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
        source = str(v.get("power_source") or "")
        if source.startswith("simulated"):
            how = f" ({source}"
            if v.get("power_analytic") is not None:
                how += f"; the analytic formula gives {fmt_num(v['power_analytic'])}"
            how += ")"
        elif source == "analytic":
            how = " (analytic; this analysis was not simulated)"
        else:
            how = ""
        out.append(
            f"Power: if the true effect were exactly as large as the smallest effect of interest ({ses}), "
            f"this analysis, with its sample size, would detect it at α = {fmt_plain(alpha)} with "
            f"probability {fmt_num(v['power'])}{how}."
        )
        if v["underpowered"]:
            if v["equivalent"]:
                out.append(
                    f"That is below the {target_txt} target, but the equivalence test below still "
                    "answers the question."
                )
            elif _significant(v, alpha):
                out.append(f"That is below the {target_txt} target.")
            else:
                out.append(
                    f"That is below the {target_txt} target, so a non-significant result here cannot "
                    "be read as “no effect”."
                )
        else:
            out.append(f"That meets the {target_txt} target.")
    else:
        sims = [
            f"{p['effect']}: {fmt_num(p['power'])}"
            for row in calibrated or []
            for p in row.get("planted") or []
            if p.get("power") is not None
        ]
        if sims:
            out.append(
                "Power from the calibration (simulated data with the design of this analysis, see "
                f"Calibration): {'; '.join(sims)}. No analytic power formula exists for this test."
            )
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


def refinement(label: str, verdict_label: str) -> str:
    """The claim's own verdict label when it says more than the rubric's label (shown under the badge).

    Examples
    --------
    >>> refinement("Not supported (equivalence shown)", "Not supported")
    ''
    >>> refinement("Supported", "Association consistent with the claim")
    'Association consistent with the claim'
    """
    vl = verdict_label.strip()
    return "" if not vl or vl.lower() in label.lower() else vl


def headline(label: str, verdict_label: str) -> str:
    """The verdict in words: the claim's own label when it has one, else the rubric's."""
    return verdict_label.strip() or label


def flow_cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool | int | float):
        return fmt_scalar(v)
    if isinstance(v, Mapping):
        return "; ".join(f"{k}: {flow_cell(x)}" for k, x in v.items()) or "none"
    if isinstance(v, list | tuple):
        return ", ".join(flow_cell(x) for x in v)
    return str(v)


def _sensitivity_list(analyses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The claim's sensitivity analyses for the claim's section: what each shows and its own verdict."""
    st = styles()
    out = []
    for o in analyses:
        note, outcome = o["note"], o["outcome"]
        # a disagreeing analysis's note already ends "— disagrees with …"
        text = note if f"— {outcome}" in note else f"{note} — {outcome}".lstrip(" —")
        if not note and o["name"]:
            text = f"{o['name']} — {outcome}"
        lo, hi = o.get("ci") or (None, None)
        est = o.get("estimate")
        numbers = ""
        if est is not None:
            numbers = fmt_num(est) + (f" {fmt_ci(lo, hi)}" if lo is not None else "")
            if o.get("p_value") is not None:
                numbers += f", p {fmt_p_eq(o['p_value'])}"
        v = o.get("verdict")
        out.append(
            {
                "name": o["name"],
                "text": text,
                "outcome": outcome,
                "numbers": numbers,
                "verdict": v,
                "verdict_label": st[v].label if v in st else "",
                "verdict_symbol": st[v].symbol if v in st else "",
            }
        )
    return out


def one_line(text: str, limit: int = WHY_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with "…" when cut.

    Examples
    --------
    >>> one_line("Network error: [Errno -2] Name or service not known for https://x", 30)
    'Network error: [Errno -2]…'
    """
    t = " ".join(text.split())
    if len(t) <= limit:
        return t
    cut = t[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.(") + "…"


def _in_units(x: float | None, sesoi: float | None, ratio: bool) -> float | None:
    return in_sesoi_units(x, sesoi, ratio) if sesoi else x


def cohort_rows(m: ClaimModel) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Per-cohort rows (estimate, CI, weight, a bar on the claim's SESOI scale) and the pooling summary."""
    if not m["cohorts"]:
        return [], None
    sesoi = m["sesoi_value"] if (m["sesoi_value"] or 0) > 0 else None
    ratio = is_ratio(m["effect_size_label"], m["sesoi_scale"])
    unit = "SESOI" if sesoi else "effect"
    pts: list[float] = []
    rows = []
    for c in m["cohorts"]:
        lo, hi = c["ci"]
        u = [_in_units(x, sesoi, ratio) for x in (c["estimate"], lo, hi)]
        pts += [x for x in u if x is not None]
        rows.append({**c, "ci_text": fmt_ci(lo, hi), "units": u, "bar": None})
    pooled_u = [_in_units(x, sesoi, ratio) for x in (m["effect_size"], *m["es_ci"])]
    pts += [x for x in pooled_u if x is not None]
    half = float(min(BAR_MAX_HALF, max(BAR_MIN_HALF, math.ceil(max(map(abs, pts or [1])) * 1.05))))
    for r in rows:
        est, lo, hi = r["units"]
        if est is not None and r["status"] == "analysed":
            r["bar"] = mini_forest(
                est, lo, hi, half, f"{r['dataset']}: {fmt_num(r['estimate'])} {r['ci_text']}"
            )
    pool = m["pooling"]
    summary: dict[str, Any] = {
        "k": m["k"]
        if m["k"] is not None
        else sum(1 for c in m["cohorts"] if c["status"] == "analysed"),
        "bar": (
            mini_forest(pooled_u[0], pooled_u[1], pooled_u[2], half, "pooled estimate")
            if pooled_u[0] is not None
            else None
        ),
        "axis": bar_axis(half) if sesoi else None,
        "unit": unit,
        "text": "",
    }
    if pool is not None:
        ci_word = "Hartung–Knapp–Sidik–Jonkman" if pool["ci_method"] == "hksj" else "normal"
        parts = [
            f"Random-effects meta-analysis ({pool['method'] or 'REML'}; {ci_word} confidence interval)",
            f"τ² = {fmt_num(pool['tau2'])}",
            f"I² = {fmt_num(pool['i2'])} %",  # in percent, as gutskin.stats.meta reports it
        ]
        if pool["q"] is not None:
            parts.append(f"Q = {fmt_num(pool['q'])} (p {fmt_p_eq(pool['q_p'])})")
        lo, hi = pool["prediction_interval"]
        parts.append(
            f"95 % prediction interval {fmt_ci(lo, hi)}"
            if lo is not None
            else "no prediction interval (fewer than 3 cohorts)"
        )
        summary["text"] = "; ".join(parts) + "."
    else:
        summary["text"] = "One cohort: the claim's result is that cohort's."
    return rows, summary


def claim_view(
    m: ClaimModel, root: Path, alpha: float, calibrated: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The display fields of one claim's section and ledger row, from its model."""
    cid = m["id"]
    verdict = str(m["verdict"])
    st = styles()
    style = st[verdict]
    figures = [
        figure_view(f, root, f"{slug(cid)}-f{k}-") for k, f in enumerate(m["figure_records"])
    ]
    tables = [table_view(t, root) for t in m["table_records"]]
    external = None
    if m["external"] is not None:
        external = {
            **m["external"],
            "citations": [{"text": c, "url": doi_url(c)} for c in m["external"]["citations"]],
        }
    flow_raw = m["sample_flow"]
    flow_cols: list[str] = []
    for row in flow_raw:
        for k in row:
            if str(k) not in flow_cols:
                flow_cols.append(str(k))
    sample_flow = [[flow_cell(row.get(k, row.get(str(k)))) for k in flow_cols] for row in flow_raw]
    flow_heads = [_FLOW_HEADS.get(k, k.replace("_", " ")) for k in flow_cols]
    power = m["power"]
    robustness = m["robustness"]
    sens_list = _sensitivity_list(m["sensitivity_analyses"])
    cohorts, pooled = cohort_rows(m)
    matched = m["matched"]
    if matched is not None:
        mv = matched["verdict"]
        matched = {
            **matched,
            "label": st[mv].label if mv in st else "",
            "symbol": st[mv].symbol if mv in st else "",
            "ci_text": fmt_ci(*matched["ci"]),
        }
    short = short_reason(m["reason"], verdict)
    return {
        **{k: v for k, v in m.items() if k not in {"figure_records", "table_records"}},
        "anchor": cid,
        "symbol": style.symbol,
        "label": style.label,
        "meaning": style.meaning,
        "headline": headline(style.label, m["verdict_label"]),
        "refine": refinement(style.label, m["verdict_label"]),
        "short_reason": short,
        "why": one_line(short),
        "tests_have_es": any(t["effect_size"] is not None for t in m["tests"]),
        "figures": figures,
        "tables": tables,
        "robust_word": _ROBUST_WORDS.get(robustness, robustness),
        "robust_sentence": robust_sentence(robustness, sens_list),
        "sensitivity_list": sens_list,
        "external": external,
        "sample_flow": sample_flow,
        "flow_cols": flow_heads,
        "cohort_rows": cohorts,
        "pooled": pooled,
        "matched": matched,
        "calibrated": calibrated or [],
        "underpowered": power is not None and power < 0.8,
        "equivalent": m["tost_p"] is not None and m["tost_p"] < alpha,
        "significant": _significant(m, alpha),
        "mini": None,
        "mini_text": "",
        "units": None,
        "power_text": [],
    }
