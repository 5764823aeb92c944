"""Runner ``longitudinal_mixed``: alpha diversity over repeated samples per subject, by a linear mixed model.

Two designs, both with a random intercept per subject (REML; :func:`gutskin.stats.mixed.mixed_random_intercept`,
checked against R's lme4 and nlme):

``group_by_time``
    Before/after trials and diet swaps: ``metric ~ treated * after + covariates``, where ``treated`` marks the
    intervention group (vs the reference group) and ``after`` the follow-up samples (vs baseline). The
    headline is the interaction — the difference between the groups in their change from baseline. The
    pre-registered sensitivity analysis compares per-subject changes (follow-up mean − baseline mean) between
    the groups by OLS with HC3 SEs.
``group``
    Case–control with repeated visits (e.g. atopic-dermatitis vs healthy skin): ``metric ~ case + covariates``;
    the headline is the group difference. Sensitivity: OLS (HC3) on one mean per subject.

Further pre-specified sensitivity analyses, both designs: the same mixed model adjusted for age and sex only
(none where those are not covariates; not run when the model has no other covariates) and the same mixed model
on another alpha metric (observed features, or Shannon when the metric is observed features), on the same
samples, and at the second rarefaction depth where the diversity step computed it. Any disagreement
makes the verdict inconclusive.

Effect sizes are standardised by the SD of one observation around the fixed part,
``sqrt(σ²_subject + σ²_residual)``, so they are on the same footing as a cross-sectional Hedges g; the SESOI
(``sesoi.value``) is on that scale. Equivalence (TOST) and power use the t distribution with nlme's
containment degrees of freedom, so a between-subject contrast is judged by the number of subjects, not of
samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats import equivalence, mixed, regression
from ..stats._util import StatsInputError
from . import sensitivity
from .common import (
    METRIC_WORDS,
    Bundles,
    Claim,
    ClaimResult,
    Config,
    alternative_metric,
    guarded,
)
from .entries import add_sensitivity, add_variant, effect_fields, estimate_test, headline_entry
from .inputs import (
    add_second_depth,
    covariate_term,
    first_dataset,
    norm_series,
    prepare_covariates,
    values_caveat,
)
from .outputs import add_figure, add_table
from .register import power_alternative

ANALYSIS = "longitudinal_mixed"

_DESIGNS = ("group_by_time", "group")


def _values(v: Any) -> list[str]:
    if v is None:
        return []
    vals = v if isinstance(v, list | tuple) else [v]
    out = [norm_series(pd.Series([x], dtype=object)).iloc[0] for x in vals]
    return [x for x in out if x is not None]


@guarded()
def run(claim: Claim, bundles: Bundles, config: Config, out_dir: Path) -> ClaimResult:
    """Run the analysis for ``claim``; figures and tables go to ``out_dir``.

    Parameters (``claim["params"]``)
    --------------------------------
    design
        ``group_by_time`` or ``group``.
    metric, body_site, subsites
        Alpha metric (default ``shannon``); optional filters on ``body_site`` and ``body_subsite``.
    group
        ``{column, reference, levels, labels (optional)}``: the grouping column, the reference (control)
        value(s) and the value(s) of the compared group (several values are pooled).
    time
        ``group_by_time`` only: ``{column, baseline: [values], followup: [values]}``; samples at other
        values are left out.
    covariates
        Fixed-effect covariates (subject- or sample-level), e.g. ``[body_subsite]``.
    min_subjects
        Subjects needed in each group (default 5).

    A model that cannot be fitted gives a result with a ``data_problem`` instead of failing the workflow.
    """
    p = claim.get("params", {})
    cid = claim["id"]
    res = ClaimResult(id=cid)
    design = p.get("design", "group_by_time")
    if design not in _DESIGNS:
        res.data_problem = f"params.design must be one of {_DESIGNS}, got {design!r}"
        return res
    metric = p.get("metric", "shannon")
    mlabel = METRIC_WORDS.get(metric, metric)
    site = p.get("body_site")
    subsites = _values(p.get("subsites"))
    g = p.get("group") or {}
    g_col = g.get("column")
    g_ref = _values(g.get("reference"))
    g_lv = _values(g.get("levels"))
    labels = g.get("labels") or {}
    t = p.get("time") or {}
    t_col = t.get("column")
    base = _values(t.get("baseline"))
    follow = _values(t.get("followup"))
    covariates = list(p.get("covariates", []))
    min_subj = int(p.get("min_subjects", 5))
    alpha_level = float(config.get("alpha", 0.05))
    sesoi = float(claim["sesoi"]["value"])
    if not g_col or not g_ref or not g_lv:
        res.data_problem = "params.group needs column, reference and levels"
        return res
    if design == "group_by_time" and (not t_col or not base or not follow):
        res.data_problem = (
            "params.time needs column, baseline and followup for design group_by_time"
        )
        return res
    ref_label = labels.get("reference") or "/".join(g_ref)
    grp_label = labels.get("group") or "/".join(g_lv)
    res.covariates = covariates
    res.effect_size_label = "standardised difference (β / total SD)"
    if design == "group_by_time":
        res.estimate_label = f"Difference in change of {mlabel} from baseline, {grp_label} minus {ref_label} (mixed model)"
    else:
        res.estimate_label = (
            f"Adjusted difference in {mlabel}, {grp_label} vs {ref_label} (mixed model)"
        )

    needed = [g_col, *covariates] + ([t_col] if design == "group_by_time" else [])
    ds, bundle = first_dataset(res, claim, bundles, columns=needed, metric=metric)
    if bundle is None:
        return res
    caveat = values_caveat(bundle)
    if caveat:
        res.notes.append(caveat)

    # ---- sample flow
    flow: list[dict[str, Any]] = []
    s = bundle.samples[bundle.samples["subject_id"].notna()]
    flow.append({"step": "samples with a subject id", "n": len(s)})
    if site:
        s = s[s["body_site"] == site]
        flow.append({"step": f"body site {site}", "n": len(s)})
    if subsites:
        s = s[norm_series(s["body_subsite"]).isin(subsites)]
        flow.append({"step": f"body subsites {', '.join(subsites)}", "n": len(s)})
    grp = norm_series(s[g_col])
    s = s[grp.isin(g_ref + g_lv)]
    flow.append({"step": f"{g_col} in {g_ref + g_lv}", "n": len(s)})
    if design == "group_by_time":
        tv = norm_series(s[t_col])
        s = s[tv.isin(base + follow)]
        flow.append({"step": f"{t_col} baseline {base} or follow-up {follow}", "n": len(s)})
    retained = s.index.intersection(bundle.alpha.index)
    depth = bundle.diversity_info.get("depth")
    rarefied = bundle.diversity_info.get("rarefied", True)
    s = s.loc[retained]
    flow.append(
        {
            "step": f"retained at rarefaction depth {depth}"
            if rarefied
            else "with alpha diversity (not rarefied)",
            "n": len(s),
        }
    )
    data = s[["sample_id", "subject_id", *covariates]].copy()
    data["subject_id"] = data["subject_id"].astype(str)
    data["case"] = norm_series(s[g_col]).isin(g_lv).astype(float)
    data["group_label"] = np.where(data["case"] == 1.0, grp_label, ref_label)
    if design == "group_by_time":
        data["after"] = norm_series(s[t_col]).isin(follow).astype(float)
        data["period"] = np.where(data["after"] == 1.0, "follow-up", "baseline")
    data[metric] = bundle.alpha.loc[data.index, f"{metric}_mean"].astype(float)
    alt = alternative_metric(metric)
    alt_ok = f"{alt}_mean" in bundle.alpha.columns and alt not in data.columns
    if alt_ok:
        data[alt] = bundle.alpha.loc[data.index, f"{alt}_mean"].astype(float)
    # the same metric at the second rarefaction depth, where the diversity step computed it
    depth2_label = add_second_depth(data, bundle, metric)
    complete = data.dropna(subset=[metric, *covariates])
    flow.append(
        {"step": "complete covariates " + (", ".join(covariates) or "(none)"), "n": len(complete)}
    )
    res.sample_flow = flow

    # a subject must stay in one group
    per_subj = complete.groupby("subject_id")["case"].nunique()
    switching = per_subj[per_subj > 1].index.tolist()
    if switching:
        res.data_problem = (
            f"{len(switching)} subject(s) change {g_col} between samples (e.g. {switching[:3]}); the "
            "group must be constant within a subject"
        )
        return res
    if design == "group_by_time":
        both = complete.groupby("subject_id")["after"].nunique()
        keep_subj = both[both == 2].index
        dropped = int(complete["subject_id"].nunique() - len(keep_subj))
        complete = complete[complete["subject_id"].isin(keep_subj)]
        flow.append(
            {
                "step": "subjects with both baseline and follow-up samples",
                "n": len(complete),
                "dropped_subjects": dropped,
            }
        )
    subj_case = complete.groupby("subject_id")["case"].first()
    n_subj_case = int(subj_case.sum())
    n_subj_ref = int(len(subj_case) - n_subj_case)
    res.n_groups = {f"{grp_label} (subjects)": n_subj_case, f"{ref_label} (subjects)": n_subj_ref}
    res.n = len(complete)
    if n_subj_case < min_subj or n_subj_ref < min_subj:
        res.data_problem = f"too few subjects: {grp_label} {n_subj_case}, {ref_label} {n_subj_ref} (minimum {min_subj} per group)"
        return res

    model_data = prepare_covariates(complete, covariates)
    cov_terms = [covariate_term(c, model_data) for c in covariates]
    rhs = " + ".join(cov_terms)
    if design == "group_by_time":
        formula = f"{metric} ~ case * after" + (f" + {rhs}" if rhs else "")
        term = "case:after"
    else:
        formula = f"{metric} ~ case" + (f" + {rhs}" if rhs else "")
        term = "case"
    fit = mixed.mixed_random_intercept(model_data, formula, "subject_id", term)
    sd = fit.total_sd
    tost = equivalence.tost(fit.estimate, fit.se, fit.df, sesoi * sd, alpha=alpha_level)
    pw = mixed.mixed_power(
        sesoi * sd, fit.se, fit.df, alpha=alpha_level, alternative=power_alternative(claim)
    )
    res.headline = headline_entry(
        fit,
        sd=sd,
        tost_p=tost.p_value,
        power=pw,
        n=fit.n_obs,
        n_subjects=fit.n_subjects,
        df=fit.df,
        total_sd=sd,
        icc=fit.icc,
    )
    res.se, res.scale = fit.se / sd, "standardised_difference"  # for pooling over cohorts
    res.tests.append(
        estimate_test(
            (
                f"{grp_label} vs {ref_label}: change from baseline (group × time, mixed model)"
                if design == "group_by_time"
                else f"{grp_label} vs {ref_label} (mixed model, random subject intercept)"
            ),
            "primary",
            fit,
            effect_fields(fit, sd=sd),
            n=fit.n_obs,
            power=pw,
            note=(
                f"{fit.n_obs} samples from {fit.n_subjects} subjects; t test with {fit.df:g} df (nlme "
                f"containment); subject variance {fit.subject_var:.3g}, residual {fit.resid_var:.3g}, "
                f"ICC {fit.icc:.2f}"
                + ("; the subject variance is at its boundary (0)" if fit.boundary else "")
            ),
        )
    )
    if fit.boundary:
        res.notes.append(
            "The random-intercept variance was estimated at 0 (singular fit): the mixed model reduces to "
            "ordinary least squares with the same fixed effects."
        )

    # ---- secondary: change within each group (group_by_time)
    if design == "group_by_time":
        for flag, label in ((0.0, ref_label), (1.0, grp_label)):
            sub = model_data[model_data["case"] == flag]
            f_w = f"{metric} ~ after" + (f" + {rhs}" if rhs else "")
            try:
                w = mixed.mixed_random_intercept(sub, f_w, "subject_id", "after")
            except StatsInputError as exc:
                res.notes.append(f"Change within {label}: not estimable ({exc}).")
                continue
            res.tests.append(
                estimate_test(
                    f"change from baseline within {label} (mixed model)",
                    "secondary",
                    w,
                    effect_fields(w, sd=sd),
                    n=w.n_obs,
                    note=f"{w.n_subjects} subjects; standardised by the total SD of the headline model",
                )
            )

    # ---- sensitivity: subject-level analysis
    sens = (
        _subject_level(model_data, metric, design)
        if sensitivity.applies(ANALYSIS, sensitivity.SUBJECT_LEVEL)
        else None
    )
    if sens is not None:
        what = (
            "per-subject change (follow-up − baseline mean) by group"
            if design == "group_by_time"
            else "one mean per subject by group"
        )
        add_sensitivity(
            res,
            sensitivity.SUBJECT_LEVEL,
            sens,
            sensitivity_note=(
                f"OLS with HC3 SEs on {what}: {sens.estimate:+.3g} (95% CI {sens.ci95[0]:.3g} to "
                f"{sens.ci95[1]:.3g}), p = {sens.p_value:.3g}, {sens.n} subjects"
            ),
            sd=sd,
            test_name=f"{grp_label} vs {ref_label}: subject-level OLS ({what})",
            n=sens.n,
            note="covariates are not included in this check",
        )

    other_sens = _other_sensitivity(
        res,
        model_data,
        term,
        metric,
        alt if alt_ok else None,
        covariates,
        f"{grp_label} vs {ref_label}",
        depth2_label,
    )

    where = f"{site} samples" if site else "samples"
    if subsites:
        where += f" from {', '.join(subsites)}"
    div = (
        f"rarefied to {depth} reads ({bundle.diversity_info.get('iterations', '?')} rarefactions averaged)"
        if rarefied
        else "not rarefied"
    )
    res.method = (
        f"All {where} of {ds} ({div}); {mlabel} ~ "
        + (
            f"{grp_label} × (follow-up vs baseline)"
            if design == "group_by_time"
            else f"{grp_label} vs {ref_label}"
        )
        + (f" + {' + '.join(covariates)}" if covariates else "")
        + " with a random intercept per subject, fitted by REML (statsmodels MixedLM; standard errors and "
        "nlme's containment degrees of freedom as in R). Effect standardised by the total SD "
        f"(√(σ²_subject + σ²_residual)); SESOI ±{sesoi:g} on that scale; equivalence by two one-sided t tests; "
        "power of the t test at the SESOI from the fitted SE. Sensitivity: "
        + (
            "OLS (HC3) of per-subject change on group"
            if design == "group_by_time"
            else "OLS (HC3) of per-subject means on group"
        )
        + "".join(f"; {t}" for t in other_sens)
        + " (pre-specified; any disagreement in significance or direction makes the verdict "
        "inconclusive)."
        + ("" if depth2_label else " No second rarefaction depth (not computed for this dataset).")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    add_table(
        res,
        model_data,
        out_dir / "analysis_data.tsv",
        "Samples, subjects, groups and diversity used in the mixed model.",
    )
    _figure(res, model_data, metric, mlabel, design, grp_label, ref_label, cid, out_dir)
    return res


#: The test note of each model variant (the mixed model keeps samples, not one per subject).
_VARIANT_NOTES = {
    "minimal": "same samples, fewer covariates",
    "metric": "same samples and model, another alpha metric; standardised by its own total SD",
    "depth2": "same samples and model, alpha at a second rarefaction depth",
}


def _other_sensitivity(
    res: ClaimResult,
    model_data: pd.DataFrame,
    term: str,
    metric: str,
    alt: str | None,
    covariates: list[str],
    contrast: str,
    depth2_label: str | None = None,
) -> list[str]:
    """The model variants of the declared sensitivity analyses that fit ``longitudinal_mixed`` (minimal
    covariates, the alternative metric, the second depth) as mixed models; returns their method-text
    phrases. ``depth2_label`` labels the second-depth model (None: not computed)."""
    fixed = "case * after" if term == "case:after" else "case"
    ctx = sensitivity.ModelContext(
        metric=metric, covariates=tuple(covariates), alt_metric=alt, depth2_label=depth2_label
    )

    def refit(v: sensitivity.Variant) -> mixed.MixedResult:
        rhs = " + ".join(covariate_term(c, model_data) for c in v.covariates)
        formula = f"{v.outcome} ~ {fixed}" + (f" + {rhs}" if rhs else "")
        return mixed.mixed_random_intercept(model_data, formula, "subject_id", term)

    def failed(v: sensitivity.Variant, exc: StatsInputError) -> None:
        res.notes.append(f"Sensitivity analysis ({v.label}) not computed: {exc}.")

    phrases: list[str] = []
    for v, r in sensitivity.fit_variants(ANALYSIS, ctx, refit, failed):
        add_variant(
            res,
            v,
            r,
            sensitivity_note=(
                f"{v.label}: {r.estimate:+.3g} (95% CI {r.ci95[0]:.3g} to {r.ci95[1]:.3g}), "
                f"standardised {r.estimate / r.total_sd:+.2f}, p = {r.p_value:.3g}"
            ),
            test_name=f"{contrast} (mixed model, {v.label})",
            sd=r.total_sd,
            n=r.n_obs,
            note=_VARIANT_NOTES[v.key],
        )
        phrases.append(
            f"the same mixed model adjusted for {' and '.join(v.covariates) or 'no covariates'} only"
            if v.key == "minimal"
            else f"the same mixed model on {v.label}"
            if v.key == "depth2"
            else f"the same mixed model on {METRIC_WORDS.get(alt or '', alt)}"
        )
    return phrases


def _subject_level(model_data: pd.DataFrame, metric: str, design: str) -> Any:
    """OLS (HC3) on one number per subject: change (group_by_time) or mean (group)."""
    if design == "group_by_time":
        m = model_data.groupby(["subject_id", "after"])[metric].mean().unstack("after")
        per = pd.DataFrame({"y": m[1.0] - m[0.0]})
    else:
        per = pd.DataFrame({"y": model_data.groupby("subject_id")[metric].mean()})
    per["case"] = model_data.groupby("subject_id")["case"].first()
    per = per.dropna()
    try:
        return regression.ols_hc3(per, "y ~ case", "case")
    except StatsInputError:
        return None


def _figure(
    res: ClaimResult,
    model_data: pd.DataFrame,
    metric: str,
    mlabel: str,
    design: str,
    grp_label: str,
    ref_label: str,
    cid: str,
    out_dir: Path,
) -> None:
    from ..plotting import figures  # matplotlib is only imported when a figure is drawn

    df = model_data.copy()
    if design == "group_by_time":
        df["panel"] = df["group_label"] + " · " + df["period"]
        order = [f"{g} · {t}" for g in (ref_label, grp_label) for t in ("baseline", "follow-up")]
    else:
        df["panel"] = df["group_label"]
        order = [ref_label, grp_label]
    counts = df["panel"].value_counts()
    order = [o for o in order if counts.get(o, 0) > 0]
    fig = figures.alpha_by_group(
        df,
        value=metric,
        group="panel",
        order=order,
        ylabel=mlabel,
        title=f"{cid}: {mlabel} by group",
    )
    alt = (
        f"Box and point plot of {mlabel} by "
        + ("group and period" if design == "group_by_time" else "group")
        + "; samples: "
        + ", ".join(f"{o} {int(counts.get(o, 0))}" for o in order)
    )
    add_figure(
        res,
        fig,
        out_dir / f"{metric}_by_group.svg",
        f"{mlabel} of every sample (repeated samples of a subject included), unadjusted; "
        "boxes show quartiles.",
        alt,
    )


def requires(claim: dict[str, Any]) -> Any:
    """Whether a dataset (an entry of :func:`gutskin.claims.selection.declared_entry`) can serve the
    claim: the body site, the group column with the reference and a compared level, the subjects and, for
    ``group_by_time``, the time column."""
    p = claim.get("params") or {}
    g = p.get("group") or {}
    t = p.get("time") or {}

    def has(entry: dict[str, Any], col: str, values: list[str] | None = None) -> bool:
        var = (entry.get("variables") or {}).get(col)
        if var is None:
            return False
        known = var.get("values")
        return not values or known is None or bool(set(values) & set(known))

    def ok(entry: dict[str, Any]) -> str | None:
        site = p.get("body_site")
        if site and not has(entry, "body_site", [str(site)]):
            return f"no {site} samples declared (body_site)"
        if not has(entry, "subject_id"):
            return "no subject_id column (repeated samples need subjects)"
        col = g.get("column")
        if col and not has(entry, str(col)):
            return f"no {col!r} column (the group)"
        if col and not has(entry, str(col), _values(g.get("reference"))):
            return f"no {col} = {_values(g.get('reference'))} (the reference group) declared"
        if col and not has(entry, str(col), _values(g.get("levels"))):
            return f"none of the {col} levels {_values(g.get('levels'))} declared"
        if p.get("design", "group_by_time") == "group_by_time" and t.get("column"):
            if not has(entry, str(t["column"])):
                return f"no {t['column']!r} column (the time)"
        return None

    return ok
