"""Runner ``comorbidity_logistic``: do people with a GI condition more often report a skin condition?

Design (CLAIMS.md C3, meta-only: no feature table is used). One row per participant (a fecal sample's
metadata when there is one, else the participant's first sample). Outcome: any of the listed skin
conditions vs none (0/1). Exposures: the GI conditions listed in ``params.exposures`` (each exposed level vs
its reference; the first exposure is the pre-registered headline). Model:
``skin ~ exposure + covariates`` by logistic regression with HC3 sandwich standard errors (z inference).
Optionally the number of other reported diagnoses is a covariate, because people who report one diagnosis
tend to report more, which inflates comorbidity odds ratios.

Sparse cells: when a cell of the exposure × outcome 2 × 2 table has fewer than ``sparse_cell_min``
participants, Firth's penalised-likelihood logistic regression replaces maximum likelihood for that test
(its estimate stays finite under separation) and the test is flagged "sparse cells". Every test also reports
the unadjusted exact (conditional maximum-likelihood) odds ratio.

Headline on the log-odds-ratio scale; the SESOI is a log odds ratio (e.g. log 1.5 = 0.405). Secondary tests:
every exposure (Holm across the GI exposures within the claim), each skin condition separately, and extra
outcomes such as acne medication use as an acne proxy. Sensitivity: the headline by the other estimator
(Firth when the headline is maximum likelihood, and vice versa).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats import equivalence, logistic, multiple
from ..stats._util import StatsInputError
from . import sensitivity
from .common import Bundles, Claim, ClaimResult, Config, guarded
from .entries import add_sensitivity, effect_fields, estimate_test, headline_entry
from .inputs import (
    covariate_term,
    first_dataset,
    missing_columns_problem,
    norm_series,
    pick_one_per_subject,
    prepare_covariates,
)
from .outputs import add_forest, add_table, forest_alt, forest_row
from .register import power_alternative

ANALYSIS = "comorbidity_logistic"

_N_OTHER = "n_other_conditions"


def _fit(
    data: pd.DataFrame,
    outcome: str,
    exposure: str,
    rhs: str,
    sparse_min: int,
    cov_type: str,
) -> dict[str, Any]:
    """One exposure → outcome test: ML (or Firth when sparse), the other estimator, exact OR."""
    formula = f"{outcome} ~ {exposure}" + (f" + {rhs}" if rhs else "")
    table = logistic.two_by_two(data[outcome], data[exposure])
    min_cell = min(min(table[0]), min(table[1]))
    sparse = min_cell < sparse_min
    ml: logistic.LogisticResult | None = None
    ml_error: str | None = None
    try:
        ml = logistic.logit_robust(data, formula, exposure, cov_type=cov_type)
    except StatsInputError as exc:
        ml_error = str(exc)
        sparse = True
    firth = logistic.logit_firth(data, formula, exposure)
    main = firth if sparse else ml
    other = ml if sparse else firth
    assert main is not None
    try:
        exact: logistic.ExactOddsRatio | None = logistic.exact_odds_ratio(table)
    except StatsInputError:
        exact = None
    return {
        "main": main,
        "other": other,
        "sparse": sparse,
        "min_cell": min_cell,
        "table": table,
        "exact": exact,
        "ml_error": ml_error,
    }


def _row(
    name: str, role: str, fit: dict[str, Any], note: str = "", short: str = ""
) -> dict[str, Any]:
    r: logistic.LogisticResult = fit["main"]
    (a, b), (c, d) = fit["table"]
    parts = [
        f"OR {r.odds_ratio:.2f} (95% CI {r.or_ci95[0]:.2f}–{r.or_ci95[1]:.2f})",
        f"exposed {a}/{a + b} cases vs unexposed {c}/{c + d}",
    ]
    if fit["sparse"]:
        parts.append(f"sparse cells (smallest 2×2 cell {fit['min_cell']}): Firth")
    if fit["exact"] is not None:
        e = fit["exact"]
        parts.append(
            f"unadjusted exact OR {e.odds_ratio:.2f} ({e.ci95[0]:.2f}–{e.ci95[1]:.2f}), Fisher p = {e.p_value:.3g}"
        )
    if note:
        parts.append(note)
    return estimate_test(
        name,
        role,
        r,
        {**effect_fields(r), "odds_ratio": r.odds_ratio, "odds_ratio_ci": list(r.or_ci95)},
        n=r.n,
        n_events=r.n_events,
        n_exposed=r.n_term,
        n_exposed_events=r.n_term_events,
        method=r.method,
        sparse_cells=fit["sparse"],
        note="; ".join(parts),
        label=short or name,
    )


def _fit_or_note(res: ClaimResult, what: str, *args: Any) -> dict[str, Any] | None:
    """:func:`_fit` with ``args``, or None and a note that ``what`` could not be fitted."""
    try:
        return _fit(*args)
    except StatsInputError as exc:
        res.notes.append(f"{what}: could not be fitted ({exc}).")
        return None


@guarded()
def run(claim: Claim, bundles: Bundles, config: Config, out_dir: Path) -> ClaimResult:
    """Run the analysis for ``claim``; figures and tables go to ``out_dir``.

    Parameters (``claim["params"]``)
    --------------------------------
    outcome, outcome_reference, outcome_levels
        Outcome column (default ``condition``), its control value (``none``) and the case values.
    exposures
        List of ``{column, reference, levels (optional: exposed values; default every other value),
        label}``; the first is the headline.
    covariates
        Covariate columns; ``n_other_conditions`` is derived from ``other_conditions``.
    other_conditions
        ``{column: value meaning "does not have it"}``; the count of the others is ``n_other_conditions``.
    extra_outcomes
        List of ``{column, case, control, label}``: further outcomes tested against the headline exposure.
    published
        Optional ``{label, outcome_level, odds_ratio, ci}``: a published odds ratio to compare with the
        estimate for that skin condition.
    sparse_cell_min
        Smallest 2 × 2 cell for maximum likelihood (default 5); below it Firth is used.
    cov_type
        ``HC3`` (default) or ``HC0``.
    prefer_body_site, one_sample_per_subject
        Which sample's metadata represents a participant (default: a ``gut`` sample, the first one).

    A model that cannot be fitted gives a result with a ``data_problem`` instead of failing the workflow.
    """
    p = claim.get("params", {})
    cid = claim["id"]
    res = ClaimResult(id=cid)
    outcome_col = p.get("outcome", "condition")
    out_ref = str(p.get("outcome_reference", "none"))
    out_levels = [str(v) for v in p.get("outcome_levels", [])]
    exposures = list(p.get("exposures") or [])
    covariates = list(p.get("covariates", []))
    measured = [c for c in covariates if c != _N_OTHER]  # read from the sample table
    other_conditions = {str(k): str(v) for k, v in (p.get("other_conditions") or {}).items()}
    extra_outcomes = list(p.get("extra_outcomes") or [])
    sparse_min = int(p.get("sparse_cell_min", 5))
    cov_type = str(p.get("cov_type", "HC3"))
    prefer_site = p.get("prefer_body_site", "gut")
    alpha_level = float(config.get("alpha", 0.05))
    sesoi = float(claim["sesoi"]["value"])
    if not exposures or not out_levels:
        res.data_problem = (
            "params.exposures and params.outcome_levels must name at least one value each"
        )
        return res
    head = exposures[0]
    head_label = head.get("label", head["column"])
    res.covariates = covariates
    res.estimate_label = f"Adjusted log odds ratio of reporting {', '.join(out_levels)} (vs {out_ref}) with {head_label}"
    res.effect_size_label = "log odds ratio (adjusted)"

    ds, bundle = first_dataset(res, claim, bundles)
    if bundle is None:
        return res
    needed = [outcome_col, *{e["column"] for e in exposures}, *list(other_conditions)]
    needed += measured
    needed += [str(e["column"]) for e in extra_outcomes]
    missing = sorted({c for c in needed if c not in bundle.samples.columns})
    problem = missing_columns_problem(bundle, ds, missing)
    if problem:
        res.data_problem = problem
        return res
    if _N_OTHER in covariates and not other_conditions:
        res.data_problem = f"covariate {_N_OTHER} needs params.other_conditions"
        return res

    # ---- one row per participant
    flow: list[dict[str, Any]] = []
    s = bundle.samples
    flow.append({"step": "samples in the sample table", "n": len(s)})
    s = s[s["subject_id"].notna()]
    prefer = (s["body_site"] == prefer_site) if prefer_site else None
    s = pick_one_per_subject(
        s, p.get("one_sample_per_subject", "first"), int(config.get("seed", 0)), prefer
    )
    flow.append(
        {
            "step": "one row per participant"
            + (f" ({prefer_site} sample preferred)" if prefer_site else ""),
            "n": len(s),
        }
    )
    data = s[["sample_id", "subject_id"]].copy()
    outc = norm_series(s[outcome_col])
    data["skin_any"] = np.where(outc.isin(out_levels), 1.0, np.where(outc == out_ref, 0.0, np.nan))
    data["skin_level"] = outc.where(outc.isin([out_ref, *out_levels]))
    for c in measured:
        data[c] = s[c]
    if other_conditions:
        has = pd.DataFrame(
            {
                c: np.where(
                    norm_series(s[c]).isna(), np.nan, (norm_series(s[c]) != none).astype(float)
                )
                for c, none in other_conditions.items()
            },
            index=s.index,
        )
        data[_N_OTHER] = has.sum(axis=1, min_count=len(other_conditions)).where(
            has.notna().all(axis=1)
        )
    exp_cols: list[tuple[str, dict[str, Any]]] = []
    for i, e in enumerate(exposures):
        col = f"gi_{i}"
        raw = norm_series(s[e["column"]])
        ref = str(e.get("reference", "none"))
        levels = [str(v) for v in e.get("levels", [])]
        exposed = raw.isin(levels) if levels else (raw.notna() & (raw != ref))
        data[col] = np.where(exposed, 1.0, np.where(raw == ref, 0.0, np.nan))
        exp_cols.append((col, e))
    head_col = exp_cols[0][0]
    complete = data.dropna(subset=["skin_any", head_col, *covariates])
    flow.append(
        {
            "step": f"skin condition known ({out_ref} or {', '.join(out_levels)}), {head_label} known, "
            f"complete covariates {', '.join(covariates) or '(none)'}",
            "n": len(complete),
        }
    )
    res.sample_flow = flow
    res.n = len(complete)
    n_case = int(complete["skin_any"].sum())
    n_exp = int(complete[head_col].sum())
    res.n_groups = {
        f"skin condition ({'/'.join(out_levels)})": n_case,
        f"no skin condition ({out_ref})": int(len(complete) - n_case),
        f"{head_label}": n_exp,
        f"no {head_label}": int(len(complete) - n_exp),
    }
    if n_case < 1 or n_exp < 1 or n_case == len(complete) or n_exp == len(complete):
        res.data_problem = (
            f"no contrast: {n_case} of {len(complete)} participants report a listed skin condition and "
            f"{n_exp} report {head_label}"
        )
        return res

    model_all = prepare_covariates(complete, measured)
    cov_terms = [covariate_term(c, model_all) for c in covariates]
    rhs = " + ".join(cov_terms)

    # ---- headline and the GI-exposure family
    fam: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for col, e in exp_cols:
        sub = data.dropna(subset=["skin_any", col, *covariates])
        sub = prepare_covariates(sub, measured)
        if sub[col].sum() < 1:
            res.notes.append(
                f"{e.get('label', col)}: nobody exposed among complete cases; not tested."
            )
            continue
        if col == head_col:
            fam.append((col, e, _fit(sub, "skin_any", col, rhs, sparse_min, cov_type)))
            continue
        # a secondary exposure that cannot be fitted is reported
        f = _fit_or_note(res, e.get("label", col), sub, "skin_any", col, rhs, sparse_min, cov_type)
        if f is not None:
            fam.append((col, e, f))
    holm = multiple.holm([f["main"].p_value for _, _, f in fam])
    head_fit = fam[0][2]
    h: logistic.LogisticResult = head_fit["main"]
    tost = equivalence.tost(h.estimate, h.se, None, sesoi)
    pw = logistic.wald_power(sesoi, h.se, alpha=alpha_level, alternative=power_alternative(claim))
    res.headline = headline_entry(
        h,
        tost_p=tost.p_value,
        power=pw,
        n=h.n,
        odds_ratio=h.odds_ratio,
        odds_ratio_ci=list(h.or_ci95),
    )
    res.se, res.scale = h.se, "log_odds_ratio"  # for pooling over cohorts
    k = len(fam)
    for i, ((_, e, f), pa) in enumerate(zip(fam, holm, strict=True)):
        row = _row(
            f"{'/'.join(out_levels)} ~ {e.get('label', e['column'])}",
            "primary" if i == 0 else "secondary",
            f,
            note=f"Holm-adjusted across the {k} GI exposure(s) within this claim" if k > 1 else "",
            short=str(e.get("label", e["column"]))[:40],
        )
        if i == 0:
            row["power"] = pw
        if k > 1:
            row["p_adjusted"] = pa
        res.tests.append(row)

    # ---- sensitivity: the other estimator
    declared = sensitivity.applies(ANALYSIS, sensitivity.OTHER_LOGISTIC_ESTIMATOR)
    other: logistic.LogisticResult | None = head_fit["other"]
    if declared and other is not None:
        add_sensitivity(
            res,
            sensitivity.OTHER_LOGISTIC_ESTIMATOR,
            other,
            sensitivity_note=(
                f"{other.method}: log OR {other.estimate:+.3g} (OR {other.odds_ratio:.2f}, 95% CI "
                f"{other.or_ci95[0]:.2f}–{other.or_ci95[1]:.2f}), p = {other.p_value:.3g}"
            ),
            name="maximum likelihood" if head_fit["sparse"] else "Firth",
            test_name=f"{'/'.join(out_levels)} ~ {head_label} ({'ML, sandwich SEs' if head_fit['sparse'] else 'Firth'})",
            effect=effect_fields(other),
            n=other.n,
            note=other.method,
        )
    elif declared:
        res.sensitivity_note = f"maximum likelihood could not be fitted ({head_fit['ml_error']}); only Firth is reported"
    if head_fit["sparse"]:
        res.notes.append(
            f"Sparse cells: the smallest cell of the {head_label} × skin-condition table has "
            f"{head_fit['min_cell']} participants (< {sparse_min}), so the headline uses Firth's penalised "
            "likelihood; treat it with caution."
        )

    def secondary(
        what: str, sub: pd.DataFrame, outcome: str, short: str
    ) -> logistic.LogisticResult | None:
        """Fit ``outcome ~ headline exposure`` on ``sub`` as a secondary test (a note if it fails)."""
        f = _fit_or_note(res, what, sub, outcome, head_col, rhs, sparse_min, cov_type)
        if f is None:
            return None
        res.tests.append(_row(what, "secondary", f, short=short))
        return f["main"]

    # ---- each skin condition separately (headline exposure)
    per_cond: dict[str, logistic.LogisticResult] = {}
    for lv in out_levels:
        sub = data[data["skin_level"].isin([out_ref, lv])].dropna(subset=[head_col, *covariates])
        sub = prepare_covariates(sub, measured)
        sub = sub.assign(skin_this=(sub["skin_level"] == lv).astype(float))
        if sub["skin_this"].sum() < 1 or sub[head_col].sum() < 1:
            res.notes.append(f"{lv} ~ {head_label}: no cases or nobody exposed; not tested.")
            continue
        fit = secondary(f"{lv} ~ {head_label}", sub, "skin_this", f"{lv} only")
        if fit is not None:
            per_cond[lv] = fit

    # ---- extra outcomes (e.g. acne medication as an acne proxy)
    for eo in extra_outcomes:
        ycol = norm_series(s[eo["column"]])
        sub = data.assign(
            extra=np.where(
                ycol == str(eo.get("case", "yes")),
                1.0,
                np.where(ycol == str(eo.get("control", "no")), 0.0, np.nan),
            )
        ).dropna(subset=["extra", head_col, *covariates])
        sub = prepare_covariates(sub, measured)
        label = eo.get("label", eo["column"])
        if sub["extra"].sum() < 1 or sub[head_col].sum() < 1 or sub["extra"].sum() == len(sub):
            res.notes.append(f"{label} ~ {head_label}: no contrast; not tested.")
            continue
        secondary(f"{label} ~ {head_label}", sub, "extra", str(label)[:40])

    # ---- published reference
    pub = p.get("published")
    if pub and pub.get("outcome_level") in per_cond:
        r = per_cond[pub["outcome_level"]]
        ref_or = float(pub["odds_ratio"])
        inside = r.or_ci95[0] <= ref_or <= r.or_ci95[1]
        res.notes.append(
            f"Reference — {pub.get('label', '')}: published OR {ref_or:g}"
            + (f" (95% CI {pub['ci'][0]:g}–{pub['ci'][1]:g})" if pub.get("ci") else "")
            + f"; here {pub['outcome_level']} ~ {head_label}: OR {r.odds_ratio:.2f} (95% CI "
            f"{r.or_ci95[0]:.2f}–{r.or_ci95[1]:.2f}, n = {r.n}, {r.n_term_events} exposed cases) — the "
            f"published OR is {'within' if inside else 'outside'} our CI."
        )

    res.method = (
        f"Participants of {ds}, one row each (metadata of a {prefer_site} sample when available); "
        f"outcome: any of {', '.join(out_levels)} vs {out_ref}; exposure: {head_label} vs not; logistic "
        f"regression on {' + '.join(covariates) or 'no covariates'} with {cov_type} sandwich standard errors "
        f"(Wald z). Firth's penalised likelihood replaces maximum likelihood when a 2×2 cell has fewer than "
        f"{sparse_min} participants. Headline on the log odds ratio scale; SESOI ±{sesoi:g} (OR "
        f"{math.exp(sesoi):.2f}); equivalence by two one-sided z tests; power of the Wald test at the SESOI "
        "with the fitted model's SE. Secondary: the other GI exposures (Holm within the claim), each skin "
        "condition, extra outcomes. Sensitivity: the headline by the other estimator (Firth vs maximum "
        "likelihood)."
    )
    if _N_OTHER in covariates:
        res.notes.append(
            f"{_N_OTHER} counts the other self-reported diagnoses ({', '.join(other_conditions)}); it adjusts "
            "for participants who report many conditions."
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    cols = [
        "sample_id",
        "subject_id",
        "skin_level",
        "skin_any",
        *[c for c, _ in exp_cols],
        *covariates,
    ]
    add_table(
        res,
        complete[cols].rename(
            columns={
                c: str(e["column"]) + (f"_{i}" if i else "") + "_exposed"
                for i, (c, e) in enumerate(exp_cols)
            }
        ),
        out_dir / "analysis_data.tsv",
        "Participants, outcome, exposures and covariates used in the models.",
    )
    _forest(res, sesoi, cid, out_dir)
    return res


def _forest(res: ClaimResult, sesoi: float, cid: str, out_dir: Path) -> None:

    rows = [
        forest_row(t.get("label") or t["name"], t)
        for t in res.tests
        if t["role"] in ("primary", "secondary")
    ]
    add_forest(
        res,
        rows,
        out_dir / "forest.svg",
        xlabel="log odds ratio (adjusted; 95% CI)",
        sesoi=sesoi,
        title=f"{cid}: comorbidity",
        caption=f"Adjusted log odds ratios (0 = no association) with 95% CIs; the shaded band is "
        f"±SESOI (log OR {sesoi:g}, OR {math.exp(sesoi):.2f}).",
        alt=forest_alt("Forest plot of adjusted log odds ratios with 95% CIs: ", rows),
    )
