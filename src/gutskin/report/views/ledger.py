"""The ledger view: every claim on one line, with its effect drawn on one scale."""

from __future__ import annotations

import math
import re
from typing import Any

from markupsafe import Markup

from ..fmt import fmt_ci, fmt_num, fmt_plain
from ..svg import BAR_MAX_HALF, BAR_MIN_HALF, bar_axis, in_sesoi_units, is_ratio, mini_forest

__all__ = ["add_mini_forests", "bottom_line", "short_reason"]


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


def add_mini_forests(views: list[dict[str, Any]]) -> Markup | None:
    """Put every claim with an effect size and a SESOI on one axis: the effect in multiples of its SESOI.

    Dividing by the SESOI makes different measures (Hedges g, Mantel r, log odds ratios) comparable on one
    question — how large is the effect relative to the smallest effect that would matter? — and gives every
    row the same ±1 band. Returns the shared axis (None when no claim can be drawn).
    """
    drawable = []
    for v in views:
        v["ratio"] = is_ratio(v["effect_size_label"], v["sesoi_scale"])
        s = v["sesoi_value"]
        if v["effect_size"] is None or s is None or s <= 0:
            continue
        units = [in_sesoi_units(x, s, v["ratio"]) for x in (v["effect_size"], *v["es_ci"])]
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
        v["mini"] = mini_forest(est, lo, hi, half, desc)
    return bar_axis(half)


def bottom_line(views: list[dict[str, Any]], labels: dict[str, str]) -> str:
    """The answer in one paragraph: how many claims could be tested and what they showed.

    ``labels`` maps each verdict to its display word (:func:`gutskin.report.verdict_style.styles`).
    "Data unavailable" is counted apart from "inconclusive": it says nothing about the claim.
    """
    n = len(views)
    testable = [v for v in views if v["testable"]]
    missing = [v for v in testable if v["verdict"] == "data_unavailable"]
    tested = [v for v in testable if v["verdict"] != "data_unavailable"]
    untestable = n - len(testable)
    noun = "claim" if n == 1 else "claims"
    if tested:
        counts: dict[str, int] = {}
        for v in tested:
            counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
        parts = [
            f"{k} {labels.get(key, key).lower()}"
            for key, k in sorted(counts.items(), key=lambda kv: list(labels).index(kv[0]))
        ]
        out = (
            f"Of {n} {noun}, {len(tested)} could be tested with microbiome data in this run: "
            f"{_join(parts)}."
        )
    else:
        out = f"Of {n} {noun}, none could be tested with microbiome data in this run."
    if missing:
        out += (
            f" {len(missing)} could not be tested because no configured dataset with the needed "
            "fields was available (data unavailable — not a result)"
        )
        out += ";" if untestable else "."
    if untestable:
        out += (
            f" {untestable} {'is' if untestable == 1 else 'are'} not testable with microbiome data "
            "at all."
        )
    return out


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
