"""Runner ``alpha_exposure``: gut alpha diversity across the levels of an ordinal exposure, covariate-adjusted.

Design (CLAIMS.md C25 plant types, C32 sleep duration; §2 R1): one sample per subject from the chosen body
site, retained at the rarefaction depth; ``metric ~ C(exposure) + covariates`` by OLS with HC3 standard
errors. The headline (primary) test is the contrast of the top level against the bottom (reference) level —
">30 vs <5 plant types", "8 h or more vs under 6 h of sleep" — reported in natural units and as Hedges g
(J·β/σ̂, σ̂ the residual SD). Secondary: every level against the reference (Holm within the claim) and a
linear-trend contrast (the ordinal score 0, 1, …, k−1 in place of the categories). Sensitivity (pre-specified;
any disagreement makes the verdict inconclusive): Huber robust regression of the headline model; the headline
model adjusted for age and sex only (same subjects); the headline model on another alpha metric (observed
features, or Shannon when the metric is observed features); the headline model on the metric at a second
rarefaction depth (``rarefaction.sensitivity_depth``, half the depth by default) when the diversity step
computed it (``<metric>_depth2_mean``; not for unrarefied tables).
Secondary metrics (e.g. Faith PD) repeat the headline contrast; the alternative metric is listed once, as a
sensitivity analysis.

Published reference (``params.published``): coefficients of the American Gut alpha-diversity regression
(R1: Faith PD at 1,250 reads, a larger covariate set) are put next to ours on the standardised scale only
(Hedges g), because metric, depth and covariates differ; the comparison goes to the notes and a table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..stats import effects, equivalence, power, regression
from ..stats._util import StatsInputError
from . import sensitivity
from .bundle import DatasetBundle
from .common import (
    METRIC_WORDS,
    MINIMAL_COVARIATES,
    Bundles,
    Claim,
    ClaimResult,
    Config,
    alternative_metric,
    guarded,
    metric_name,
)
from .entries import (
    add_holm_levels,
    add_huber_sensitivity,
    add_variant,
    effect_fields,
    estimate_test,
    headline_entry,
)
from .inputs import (
    add_second_depth,
    covariate_term,
    first_dataset,
    norm_series,
    pick_one_per_subject,
    prepare_covariates,
)
from .outputs import add_figure, add_forest, add_table, forest_alt, forest_row
from .register import power_alternative

ANALYSIS = "alpha_exposure"


def g_scale(resid_sd: float, n1: int, n2: int) -> float:
    """Factor J/σ̂ turning a β (natural units) into Hedges g, so CIs scale the same way."""
    g, _ = effects.hedges_g_from_beta(1.0, resid_sd, n1, n2)
    return float(g)


def _levels(p: dict[str, Any], bundle: DatasetBundle, exposure: str) -> list[str] | None:
    levels = p.get("levels")
    if not levels:
        levels = (bundle.import_info.get("columns") or {}).get(exposure, {}).get("levels")
    if not levels:
        levels = (
            ((bundle.import_info.get("harmonisation") or {}).get("columns") or {})
            .get(exposure, {})
            .get("levels")
        )
    return [str(v) for v in levels] if levels else None


@guarded()
def run(claim: Claim, bundles: Bundles, config: Config, out_dir: Path) -> ClaimResult:
    """Run the analysis for ``claim``; figures and tables go to ``out_dir``.

    Parameters (``claim["params"]``)
    --------------------------------
    exposure
        Ordinal column of the sample table (e.g. ``types_of_plants``).
    levels
        Its levels, lowest first (default: the ordinal levels recorded by the import step).
    merge
        Optional ``{new level: [old levels]}`` merges applied first (e.g. sleep under 5 h and 5–6 h).
    reference, top
        Bottom and top level of the headline contrast (default: first and last level after merging).
    metric, secondary_metrics, body_site, covariates, one_sample_per_subject, min_group_size
        As for ``alpha_condition``.
    published
        Optional list of published coefficients to compare on the Hedges g scale: ``label``, ``term``
        (``"top"`` for the headline contrast or ``"<covariate>:<level>"``), ``beta``, ``ci``, ``g``, ``units``.

    A model that cannot be fitted on these data gives a result with a ``data_problem`` instead of
    failing the workflow.
    """
    p = claim.get("params", {})
    cid = claim["id"]
    res = ClaimResult(id=cid)
    metric = p.get("metric", "shannon")
    secondary_metrics = [m for m in p.get("secondary_metrics", []) if m != metric]
    site = p.get("body_site", "gut")
    exposure = p["exposure"]
    covariates = list(p.get("covariates", []))
    min_group = int(p.get("min_group_size", 10))
    alpha_level = float(config.get("alpha", 0.05))
    sesoi = float(claim["sesoi"]["value"])
    mlabel = METRIC_WORDS.get(metric, metric)
    res.covariates = covariates
    res.effect_size_label = "Hedges g (adjusted)"

    ds, bundle = first_dataset(res, claim, bundles, columns=[exposure, *covariates], metric=metric)
    if bundle is None:
        return res
    levels = _levels(p, bundle, exposure)
    if not levels:
        res.data_problem = (
            f"exposure {exposure!r} of {ds} has no declared ordinal levels; give params.levels or declare "
            "the column as type: ordinal with levels in config/datasets.yaml"
        )
        return res
    merge = {str(k): [str(v) for v in vs] for k, vs in (p.get("merge") or {}).items()}
    recode = {old: new for new, olds in merge.items() for old in olds}
    merged_levels: list[str] = []
    for lv in levels:
        new = recode.get(lv, lv)
        if new not in merged_levels:
            merged_levels.append(new)
    ref = str(p.get("reference", merged_levels[0]))
    top = str(p.get("top", merged_levels[-1]))
    for name, lv in (("reference", ref), ("top", top)):
        if lv not in merged_levels:
            res.data_problem = f"params.{name} {lv!r} is not a level of {exposure} (levels after merging: {merged_levels})"
            return res
    res.estimate_label = f"Adjusted difference in {site} {mlabel}, {exposure} {top} vs {ref}"

    # ---- sample flow
    flow: list[dict[str, Any]] = []
    s = bundle.samples
    flow.append({"step": "samples in table and metadata", "n": len(s)})
    s = s[s["body_site"] == site]
    flow.append({"step": f"body site {site}", "n": len(s)})
    retained = s.index.intersection(bundle.alpha.index)
    depth = bundle.diversity_info.get("depth")
    exp_raw = norm_series(s[exposure]).map(lambda v: recode.get(v, v) if v is not None else None)
    dropped = exp_raw[~s.index.isin(retained)].fillna("missing")
    s = s.loc[retained]
    flow.append(
        {
            "step": f"retained at rarefaction depth {depth}",
            "n": len(s),
            "dropped_by_group": dropped.value_counts().to_dict(),
        }
    )
    s = pick_one_per_subject(
        s, p.get("one_sample_per_subject", "first"), int(config.get("seed", 0))
    )
    flow.append({"step": "one sample per subject", "n": len(s)})
    data = s[["sample_id", "subject_id", *covariates]].copy()
    data["exposure_level"] = norm_series(s[exposure]).map(
        lambda v: recode.get(v, v) if v is not None else None
    )
    # the linear trend scores the declared levels before merging when params.trend_levels is
    # "declared" (a merged reference level for the headline contrast need not coarsen the trend)
    trend_declared = p.get("trend_levels", "merged") == "declared"
    data["exposure_declared"] = norm_series(s[exposure])
    unknown = sorted({v for v in data["exposure_level"].dropna() if v not in merged_levels})
    if unknown:
        res.data_problem = (
            f"{exposure} has values {unknown} that are not among its levels {merged_levels}"
        )
        return res
    data = data[data["exposure_level"].notna()]
    flow.append({"step": f"{exposure} known", "n": len(data)})
    metrics_all = [metric, *[m for m in secondary_metrics if f"{m}_mean" in bundle.alpha.columns]]
    alt = alternative_metric(metric)
    alt_ok = f"{alt}_mean" in bundle.alpha.columns
    for m in [*metrics_all, *([alt] if alt_ok and alt not in metrics_all else [])]:
        data[m] = bundle.alpha.loc[data.index, f"{m}_mean"].astype(float)
    depth2_label = add_second_depth(data, bundle, metric)
    complete = data.dropna(subset=[metric, *covariates])
    flow.append({"step": "complete covariates " + ", ".join(covariates), "n": len(complete)})
    res.sample_flow = flow

    counts = complete["exposure_level"].value_counts()
    res.n_groups = {lv: int(counts.get(lv, 0)) for lv in merged_levels}
    res.n = len(complete)
    small = [lv for lv in merged_levels if counts.get(lv, 0) < min_group]
    if ref in small or top in small:
        res.data_problem = (
            "too few samples for the headline contrast: "
            + ", ".join(f"{lv} n = {int(counts.get(lv, 0))}" for lv in merged_levels)
            + f" (minimum {min_group} in {ref!r} and {top!r})"
        )
        return res
    usable = [lv for lv in merged_levels if lv not in small]
    model_data = prepare_covariates(complete[complete["exposure_level"].isin(usable)], covariates)
    if trend_declared:
        score = {lv: i for i, lv in enumerate(levels)}
        model_data["exposure_score"] = model_data["exposure_declared"].map(score).astype(float)
    else:
        score = {lv: i for i, lv in enumerate(merged_levels)}
        model_data["exposure_score"] = model_data["exposure_level"].map(score).astype(float)
    cov_terms = [covariate_term(c, model_data) for c in covariates]
    rhs = " + ".join(cov_terms)
    cat = f"C(exposure_level, Treatment({ref!r}))"
    f_cat = f"{metric} ~ {cat}" + (f" + {rhs}" if rhs else "")
    top_term = f"{cat}[T.{top}]"

    prim = regression.ols_hc3(model_data, f_cat, top_term)
    n_top = int(prim.n_term or counts.get(top, 0))
    n_ref = int(prim.n_reference or counts.get(ref, 0))
    scale = g_scale(prim.resid_sd, n_top, n_ref)
    tost = equivalence.tost(prim.estimate, prim.se, prim.df_resid, sesoi / scale)
    pw = power.regression_term_power(
        sesoi, n_top, n_ref, alpha=alpha_level, alternative=power_alternative(claim)
    )
    res.headline = headline_entry(
        prim, scale=scale, tost_p=tost.p_value, power=pw, n=prim.n, resid_sd=prim.resid_sd
    )
    res.se, res.scale = prim.se * scale, "hedges_g"  # for pooling over cohorts
    res.tests.append(
        estimate_test(
            f"{exposure}: {top} vs {ref} (OLS, HC3)",
            "primary",
            prim,
            effect_fields(prim, scale=scale),
            n=prim.n,
            power=pw,
            note=f"{n_top} vs {n_ref} subjects; residual SD {prim.resid_sd:.3g}; R² {prim.r2:.3g}",
        )
    )

    # ---- sensitivity: Huber robust regression of the headline model, and the model variants
    if sensitivity.applies(ANALYSIS, sensitivity.HUBER):
        rob = regression.rlm_huber(model_data, f_cat, top_term)
        add_huber_sensitivity(res, rob, f"{top} vs {ref} (Huber robust regression)", scale=scale)
    alt_fit = _other_sensitivity(
        res,
        model_data,
        covariates,
        metric,
        alt if alt_ok else None,
        cat,
        top_term,
        (n_top, n_ref),
        f"{top} vs {ref}",
        depth2_label,
    )

    # ---- secondary: linear trend over the ordinal score
    f_trend = f"{metric} ~ exposure_score" + (f" + {rhs}" if rhs else "")
    trend = regression.ols_hc3(model_data, f_trend, "exposure_score")
    res.tests.append(
        estimate_test(
            f"{exposure}: linear trend per level (OLS, HC3)",
            "secondary",
            trend,
            effect_fields(trend, sd=trend.resid_sd),
            n=trend.n,
            note=(
                f"scores 0–{len(score) - 1} for {', '.join(score)}; effect size per level "
                f"in residual SDs; across the whole range {trend.estimate * (len(score) - 1):+.3g} "
                f"{mlabel}"
            ),
        )
    )

    # ---- secondary: every level vs the reference (Holm within the claim)
    per_level = []
    for lv in usable:
        if lv == ref:
            continue
        term = f"{cat}[T.{lv}]"
        r = prim if lv == top else regression.ols_hc3(model_data, f_cat, term)
        n_lv = int(r.n_term or counts.get(lv, 0))
        sc = g_scale(r.resid_sd, n_lv, n_ref)
        per_level.append((lv, r, sc, n_lv))
    add_holm_levels(
        res,
        per_level,
        ref,
        lambda lv, _n: {"level": lv, "note": "Holm-adjusted across the levels within this claim"},
    )
    for lv in small:
        res.notes.append(
            f"{exposure} {lv}: only {int(counts.get(lv, 0))} subjects (< {min_group}); left out of the models."
        )

    # ---- secondary metrics: the headline contrast on other alpha metrics
    metric_results: dict[str, tuple[Any, float]] = {metric: (prim, scale)}
    for m in metrics_all[1:]:
        if m == alt and alt_fit is not None:
            metric_results[m] = alt_fit  # listed once, as a sensitivity analysis
            continue
        f_m = f"{m} ~ {cat}" + (f" + {rhs}" if rhs else "")
        r = regression.ols_hc3(model_data, f_m, top_term)
        sc = g_scale(r.resid_sd, int(r.n_term or n_top), int(r.n_reference or n_ref))
        metric_results[m] = (r, sc)
        res.tests.append(
            estimate_test(
                f"{top} vs {ref} on {METRIC_WORDS.get(m, m)} (OLS, HC3)",
                "secondary",
                r,
                effect_fields(r, scale=sc),
                n=r.n,
                note="same model, another alpha metric",
            )
        )

    # ---- published reference (R1) on the standardised scale
    comparison_rows = _published_comparison(
        p.get("published") or [], metric_results, model_data, cat, top_term, rhs, covariates, res
    )

    # ---- method text, table and figures
    other_metrics = [m for m in metrics_all[1:] if not (m == alt and alt_fit is not None)]
    res.method = (
        f"One {site} sample per subject (dataset {ds}), rarefied to {depth} reads "
        f"({bundle.diversity_info.get('iterations', '?')} rarefactions averaged); {mlabel} ~ {exposure} "
        f"(levels {', '.join(merged_levels)}; reference {ref}) + {' + '.join(covariates) or 'no covariates'}; "
        f"OLS with HC3 standard errors (statsmodels). Headline: {top} vs {ref}; secondary: each level vs "
        f"{ref} (Holm-adjusted) and a linear trend over the level scores"
        + (f"; the same contrast on {', '.join(other_metrics)}" if other_metrics else "")
        + f". {_sensitivity_text(covariates, metric, alt if alt_fit else None, depth2_label)} "
        "Equivalence: two "
        f"one-sided tests against ±{sesoi} SD (Hedges g). Power: two-sample t approximation at "
        f"g = {sesoi}."
    )
    if merge:
        res.notes.append(
            "Levels merged before the analysis (pre-registered): "
            + "; ".join(f"{new} = {' + '.join(olds)}" for new, olds in merge.items())
            + "."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    add_table(
        res,
        model_data.rename(columns={"exposure_level": exposure}),
        out_dir / "analysis_data.tsv",
        "Subjects, covariates and diversity used in the models.",
    )
    if comparison_rows:
        add_table(
            res,
            pd.DataFrame(comparison_rows),
            out_dir / "published_comparison.tsv",
            "Our coefficients next to the published American Gut regression (R1), on the "
            "Hedges g scale; metric, depth and covariates differ (see notes).",
        )
    _figures(res, model_data, metric, mlabel, exposure, usable, ref, top, sesoi, cid, out_dir)
    return res


def _other_sensitivity(
    res: ClaimResult,
    model_data: pd.DataFrame,
    covariates: list[str],
    metric: str,
    alt: str | None,
    cat: str,
    top_term: str,
    n_top_ref: tuple[int, int],
    contrast: str,
    depth2_label: str | None = None,
) -> tuple[regression.RegressionResult, float] | None:
    """The model variants of the declared sensitivity analyses that fit ``alpha_exposure`` (minimal
    covariates, the alternative metric, the second rarefaction depth) of the headline contrast.

    All use the headline model's subjects; ``depth2_label`` labels the second-depth model (None: not
    computed); returns the alternative metric's fit and its g scale (None if not run).
    """
    n_top, n_ref = n_top_ref
    ctx = sensitivity.ModelContext(
        metric=metric, covariates=tuple(covariates), alt_metric=alt, depth2_label=depth2_label
    )

    def refit(v: sensitivity.Variant) -> regression.RegressionResult:
        terms = " + ".join(covariate_term(c, model_data) for c in v.covariates)
        return regression.ols_hc3(
            model_data, f"{v.outcome} ~ {cat}" + (f" + {terms}" if terms else ""), top_term
        )

    def failed(v: sensitivity.Variant, exc: StatsInputError) -> None:
        res.notes.append(f"Sensitivity analysis ({v.name}) not computed: {exc}.")

    alt_fit = None
    for v, r in sensitivity.fit_variants(ANALYSIS, ctx, refit, failed):
        sc = g_scale(r.resid_sd, int(r.n_term or n_top), int(r.n_reference or n_ref))
        units = (
            METRIC_WORDS.get(alt or "", "")
            if v.key == "metric"
            else METRIC_WORDS.get(metric, metric)
        )
        # the test is named by what it is on ("on observed features"); the note by what differs
        on = {"metric": f"on {METRIC_WORDS.get(alt or '', alt)}", "depth2": f"on {depth2_label}"}
        add_variant(
            res,
            v,
            r,
            sensitivity_note=(
                (f"{v.name}: {depth2_label}" if v.key == "depth2" else v.label)
                + f": {r.estimate:+.3g} {units} (95% CI {r.ci95[0]:.3g} to {r.ci95[1]:.3g}), "
                f"g = {r.estimate * sc:+.2f}, p = {r.p_value:.3g}"
            ),
            test_name=f"{contrast} {on[v.key]} (OLS, HC3)"
            if v.key in on
            else f"{contrast} ({v.label}) (OLS, HC3)",
            scale=sc,
            n=r.n,
        )
        if v.key == "metric":
            alt_fit = (r, sc)
    return alt_fit


def _sensitivity_text(
    covariates: list[str], metric: str, alt: str | None, depth2_label: str | None = None
) -> str:
    """The sensitivity analyses, for the method text."""
    minimal = [c for c in covariates if c in MINIMAL_COVARIATES]
    parts = ["Huber robust regression of the headline model"]
    if minimal != covariates:
        parts.append(f"the same model adjusted for {' and '.join(minimal) or 'no covariates'} only")
    if alt is not None:
        parts.append(f"the same model on {metric_name(alt)} instead of {metric_name(metric)}")
    if depth2_label is not None:
        parts.append(f"the same model on {depth2_label}, averaged over as many rarefactions")
    text = (
        "Sensitivity analyses (pre-specified, same subjects; any disagreement in significance or "
        "direction makes the verdict inconclusive): " + "; ".join(parts) + "."
    )
    if depth2_label is None:
        text += " No second rarefaction depth (not computed for this dataset)."
    return text


def _published_comparison(
    published: list[dict[str, Any]],
    metric_results: dict[str, tuple[Any, float]],
    model_data: pd.DataFrame,
    cat: str,
    top_term: str,
    rhs: str,
    covariates: list[str],
    res: ClaimResult,
) -> list[dict[str, Any]]:
    """Compare our coefficients with published ones on the Hedges g scale (rows of a table)."""
    rows: list[dict[str, Any]] = []
    for pub in published:
        term_spec = str(pub.get("term", "top"))
        for m, (r_top, sc_top) in metric_results.items():
            if term_spec == "top":
                r, sc = r_top, sc_top
            else:
                cov, _, level = term_spec.partition(":")
                if cov not in covariates:
                    res.notes.append(
                        f"Published comparison {pub.get('label', term_spec)!r} skipped: {cov!r} is not a "
                        "covariate of this model."
                    )
                    break
                term_name = f"{covariate_term(cov, model_data)}[T.{level}]"
                f_m = f"{m} ~ {cat}" + (f" + {rhs}" if rhs else "")
                try:
                    r = regression.ols_hc3(model_data, f_m, term_name)
                except StatsInputError as exc:
                    res.notes.append(
                        f"Published comparison {pub.get('label', term_spec)!r} skipped: {exc}"
                    )
                    break
                sc = g_scale(r.resid_sd, int(r.n_term or 2), int(r.n_reference or 2))
            g = r.estimate * sc
            g_ci = (r.ci95[0] * sc, r.ci95[1] * sc)
            pub_g = pub.get("g")
            overlap = None if pub_g is None else bool(g_ci[0] <= float(pub_g) <= g_ci[1])
            rows.append(
                {
                    "comparison": pub.get("label", term_spec),
                    "metric": m,
                    "beta": r.estimate,
                    "beta_ci_low": r.ci95[0],
                    "beta_ci_high": r.ci95[1],
                    "g": g,
                    "g_ci_low": g_ci[0],
                    "g_ci_high": g_ci[1],
                    "p_value": r.p_value,
                    "n": r.n,
                    "published_beta": pub.get("beta"),
                    "published_ci": pub.get("ci"),
                    "published_units": pub.get("units"),
                    "published_g": pub_g,
                    "published_g_in_our_ci": overlap,
                }
            )
            if m == next(iter(metric_results)):
                res.tests.append(
                    estimate_test(
                        f"R1 reproduction: {pub.get('label', term_spec)} ({METRIC_WORDS.get(m, m)})",
                        "secondary",
                        r,
                        {"effect_size": g, "effect_size_ci": list(g_ci)},
                        n=r.n,
                        note=(
                            f"published: β = {pub.get('beta')} {pub.get('units', '')} "
                            f"(95% CI {', '.join(str(x) for x in pub.get('ci', []))}), g ≈ {pub_g}"
                        ),
                    )
                )
    for row in rows:
        if row["published_g"] is None:
            continue
        verdict = "within our 95% CI" if row["published_g_in_our_ci"] else "outside our 95% CI"
        res.notes.append(
            f"R1 reproduction — {row['comparison']}: our {METRIC_WORDS.get(row['metric'], row['metric'])} "
            f"β = {row['beta']:+.3g} (95% CI {row['beta_ci_low']:.3g} to {row['beta_ci_high']:.3g}), "
            f"g = {row['g']:+.2f} ({row['g_ci_low']:+.2f} to {row['g_ci_high']:+.2f}); published "
            f"β = {row['published_beta']} {row['published_units'] or ''}, g ≈ {row['published_g']:+.2f} — "
            f"the published g is {verdict}. Units differ (Faith PD vs {row['metric']}), so only g is compared; "
            "R1 used 1,250-read deblur data and more covariates (country, race, IBD, IBS, bowel movements, "
            "bloom fraction, chickenpox)."
        )
    return rows


def _figures(
    res: ClaimResult,
    model_data: pd.DataFrame,
    metric: str,
    mlabel: str,
    exposure: str,
    usable: list[str],
    ref: str,
    top: str,
    sesoi: float,
    cid: str,
    out_dir: Path,
) -> None:
    from ..plotting import figures  # matplotlib is only imported when a figure is drawn

    fig = figures.alpha_by_group(
        model_data,
        value=metric,
        group="exposure_level",
        order=usable,
        ylabel=mlabel,
        title=f"{cid}: {mlabel} by {exposure}",
    )
    alt = (
        f"Box and point plot of {mlabel} for {exposure} levels {', '.join(usable)}; n = "
        + ", ".join(f"{k} {v}" for k, v in res.n_groups.items())
    )
    add_figure(
        res,
        fig,
        out_dir / f"{metric}_by_{exposure}.svg",
        f"{mlabel} per subject (one sample each) by {exposure}, unadjusted; boxes show quartiles.",
        alt,
    )
    rows = [
        forest_row(f"{t['level']} vs {ref}" + (" (headline)" if t["level"] == top else ""), t)
        for t in res.tests
        if t.get("level") is not None
    ]
    add_forest(
        res,
        rows,
        out_dir / "forest.svg",
        xlabel="Hedges g vs " + ref + " (adjusted; 95% CI)",
        sesoi=sesoi,
        title=f"{cid}: effects",
        caption=f"Adjusted Hedges g of each level vs {ref}, with 95% CI; the shaded band is "
        f"±SESOI ({sesoi}).",
        alt=forest_alt("Forest plot of adjusted standardised differences with 95% CIs: ", rows),
    )
