"""The pre-specified matched case–control analysis of the alpha-diversity claims (issue 11 item 2).

CLAIMS.md §3.3 and the rubric (§3.7) ask for covariate-adjusted *and* matched comparisons, a
disagreement making the verdict inconclusive. For every ``alpha_condition`` claim (any listed condition
vs the reference) and every ``alpha_exposure`` claim (``top`` vs ``reference``) whose headline is one
dataset's test, :func:`add_matched` reads the subjects the runner analysed (its ``analysis_data.tsv``),
matches each case to ``ratio`` controls — exact on sex, nearest on age and BMI within calipers
(:func:`gutskin.stats.matching.match_nearest`, MatchIt's algorithm), settings from the workflow
configuration's ``matching`` block — and estimates the weighted difference in the claim's metric with
SEs clustered by matched set, as Hedges g (J × difference / the pooled within-group SD of the metric
among the matched subjects). The result is the claim's ``matched`` entry (with the balance table: SMD
before and after) and one more sensitivity analysis (kind ``matched``), which the ledger judges at the
level of the verdict like the others: a disagreement makes a decisive verdict inconclusive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats import effects
from ..stats._util import StatsInputError
from ..stats.matching import balance, match_nearest, matched_difference, pooled_sd
from . import sensitivity
from .common import ClaimResult
from .entries import record_sensitivity

__all__ = ["DEFAULTS", "add_matched"]

#: Defaults of the configuration's ``matching`` block (mirrored in config.schema.yaml).
DEFAULTS: dict[str, Any] = {
    "exact": ["sex"],
    "nearest": ["age", "bmi"],
    "calipers": {"age": 5.0, "bmi": 2.5},
    "ratio": 3,
}

#: Its name in the ledger's robustness (the analyses it applies to are declared with it).
NAME = sensitivity.MATCHED.name


def _groups(claim: dict[str, Any], data: pd.DataFrame) -> tuple[pd.Series, str] | None:
    """Case indicator (None = not in the comparison) and the comparison's words."""
    p = claim.get("params") or {}
    if claim.get("analysis") == "alpha_condition":
        ccol, cref = str(p.get("exposure", "condition")), str(p.get("reference", "none"))
        if ccol not in data.columns:
            return None
        cv = data[ccol].astype(str)
        return (cv != cref).astype(float), f"any listed condition vs {cref}"
    col = str(p.get("exposure"))
    ref, top = p.get("reference"), p.get("top")
    if col not in data.columns or ref is None or top is None:
        return None
    v = data[col].astype(str)
    case = pd.Series(np.nan, index=data.index)
    case[v == str(top)] = 1.0
    case[v == str(ref)] = 0.0
    return case, f"{top} vs {ref}"


def add_matched(
    claim: dict[str, Any], config: dict[str, Any], res: ClaimResult, out_dir: Path
) -> None:
    """Add the matched analysis to ``res`` (``matched`` and a sensitivity analysis), or a note saying why
    it was not computed. Does nothing for other analyses, a data problem, or a pooled headline."""
    analysis = str(claim.get("analysis"))
    if (
        not sensitivity.applies(analysis, sensitivity.MATCHED)
        or res.data_problem
        or not res.headline
    ):
        return
    settings = {**DEFAULTS, **(config.get("matching") or {})}
    path = Path(out_dir) / "analysis_data.tsv"
    metric = (claim.get("params") or {}).get("metric", "shannon")
    if not path.exists():
        return
    data = pd.read_csv(path, sep="\t")
    grouped = _groups(claim, data)
    needed = [*settings["exact"], *settings["nearest"], metric]
    lacking = [c for c in needed if c not in data.columns]
    if grouped is None or lacking:
        res.notes.append(
            "Matched case–control analysis not computed: the analysed data lack "
            + (", ".join(lacking) if lacking else "the comparison's groups")
            + "."
        )
        return
    case, words = grouped
    d = data.assign(_case=case).dropna(subset=["_case", *needed])
    try:
        m = match_nearest(
            d,
            "_case",
            exact=list(settings["exact"]),
            nearest=list(settings["nearest"]),
            calipers={k: float(v) for k, v in settings["calipers"].items()},
            ratio=int(settings["ratio"]),
        )
        if m.n_cases < 2 or m.n_controls < 2:
            raise StatsInputError(
                f"only {m.n_cases} case(s) found controls within the calipers", where="matching"
            )
        diff = matched_difference(d, "_case", metric, m)
    except StatsInputError as exc:
        res.notes.append(f"Matched case–control analysis not computed: {exc}.")
        return
    md = d.loc[m.weights.index]
    sd = pooled_sd(md[metric].to_numpy(float), md["_case"].to_numpy())
    j = effects.hedges_j(m.n_cases + m.n_controls - 2)
    scale = j / sd
    est = float(diff["estimate"]) * scale
    ci = [float(v) * scale for v in diff["ci95"]]
    ci90 = [float(v) * scale for v in diff["ci90"]]
    cal = ", ".join(f"{k} ±{v:g}" for k, v in settings["calipers"].items())
    note = (
        f"{m.n_cases} cases matched to {m.n_controls} controls ({words}; exact on "
        f"{', '.join(settings['exact']) or 'nothing'}, nearest on {', '.join(settings['nearest'])} "
        f"within calipers {cal}, up to {settings['ratio']} controls per case, without replacement; "
        f"{m.n_cases_unmatched} cases without a control within the calipers); weighted difference "
        f"{float(diff['estimate']):+.3g} ({metric}), g = {est:+.2f} (95% CI {ci[0]:.2f} to "
        f"{ci[1]:.2f}), p = {float(diff['p_value']):.3g}, SEs clustered by matched set"
    )
    bal = balance(d, "_case", list(settings["nearest"]) + list(settings["exact"]), m)
    res.matched = {
        "verdict": None,  # the ledger sets it (judge_sensitivity)
        "estimate": est,
        "ci": ci,
        "ci90": ci90,
        "p_value": float(diff["p_value"]),
        "n_cases": m.n_cases,
        "n_controls": m.n_controls,
        "n_cases_unmatched": m.n_cases_unmatched,
        "balance": bal,
        "note": note,
    }
    record_sensitivity(
        res,
        sensitivity.MATCHED,
        note,
        name=NAME,
        numbers={"estimate": est, "ci": ci, "ci90": ci90, "p_value": float(diff["p_value"])},
    )
