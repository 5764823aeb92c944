"""Runner ``alpha_condition``: alpha diversity of one body site by skin condition, covariate-adjusted.

Design (CLAIMS.md C8, analysis A): one sample per subject from the chosen body site, retained at the
rarefaction depth; ``metric ~ condition + covariates`` by OLS with HC3 standard errors. The headline (primary)
test is "any of the listed conditions vs the reference level"; each condition vs the reference is a secondary
test, Holm-corrected within the claim. The effect is reported in natural units (e.g. nats of Shannon) and as a
standardised difference (Hedges g = J·β/σ̂, with σ̂ the residual SD). A robust regression (Huber) is the
pre-registered sensitivity analysis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats import effects, equivalence, multiple, power, regression
from ..stats._util import StatsInputError
from .bundle import DatasetBundle
from .common import ClaimResult, significant_same

ANALYSIS = "alpha_condition"

_CATEGORICAL = {"sex", "antibiotics", "country", "body_subsite", "run_center"}


def _pick_one_per_subject(df: pd.DataFrame, how: str, seed: int) -> pd.DataFrame:
    df = df.sort_values(["subject_id", "sample_id"])
    if how == "random":
        rng = np.random.default_rng(seed)
        keys = rng.random(len(df))
        df = df.assign(_k=keys).sort_values(["subject_id", "_k"]).drop(columns="_k")
    return df.drop_duplicates("subject_id", keep="first")


def _term(var: str, data: pd.DataFrame) -> str:
    if var in _CATEGORICAL or not pd.api.types.is_numeric_dtype(data[var]):
        ref = data[var].value_counts().idxmax()
        return f"C({var}, Treatment({ref!r}))"
    return var


def _g_scale(beta: float, resid_sd: float, n1: int, n2: int) -> float:
    """Factor turning a β (natural units) into Hedges g, so CIs scale the same way."""
    g, _ = effects.hedges_g_from_beta(beta if beta != 0 else 1.0, resid_sd, n1, n2)
    return g / (beta if beta != 0 else 1.0)


def run(
    claim: dict[str, Any],
    bundles: dict[str, DatasetBundle],
    config: dict[str, Any],
    out_dir: Path,
) -> ClaimResult:
    """Run the analysis for ``claim``; figures and tables go to ``out_dir``.

    A model that cannot be fitted on these data (e.g. a singular design) gives a result with a
    ``data_problem`` instead of failing the workflow.
    """
    try:
        return _run(claim, bundles, config, out_dir)
    except StatsInputError as exc:
        return ClaimResult(id=claim["id"], data_problem=f"the model could not be fitted: {exc}")


def _run(
    claim: dict[str, Any],
    bundles: dict[str, DatasetBundle],
    config: dict[str, Any],
    out_dir: Path,
) -> ClaimResult:
    from ..report import figures  # matplotlib is only imported when a figure is drawn

    p = claim.get("params", {})
    cid = claim["id"]
    res = ClaimResult(id=cid)
    metric = p.get("metric", "shannon")
    site = p.get("body_site", "gut")
    exposure = p.get("exposure", "condition")
    ref = p.get("reference", "none")
    levels = list(p.get("levels", []))
    covariates = list(p.get("covariates", []))
    min_group = int(p.get("min_group_size", 10))
    alpha_level = float(config.get("alpha", 0.05))
    sesoi = float(claim["sesoi"]["value"])
    res.covariates = covariates
    metric_word = {
        "shannon": "Shannon (nats)",
        "observed": "observed features",
        "simpson": "Gini–Simpson",
    }
    mlabel = metric_word.get(metric, metric)
    res.estimate_label = f"Adjusted difference in gut {mlabel}, any listed condition vs {ref}"
    res.effect_size_label = "Hedges g (adjusted)"

    ds = claim["datasets"][0]
    bundle = bundles.get(ds)
    if bundle is None or not bundle.available:
        reason = bundle.reason if bundle is not None else "not configured"
        res.data_problem = f"dataset {ds} unavailable: {reason}"
        return res

    flow: list[dict[str, Any]] = []
    s = bundle.samples
    flow.append({"step": "samples in table and metadata", "n": len(s)})
    s = s[s["body_site"] == site]
    flow.append({"step": f"body site {site}", "n": len(s)})
    col = f"{metric}_mean"
    if col not in bundle.alpha.columns:
        res.data_problem = f"alpha metric {metric} not computed for {ds}"
        return res
    retained = s.index.intersection(bundle.alpha.index)
    depth = bundle.diversity_info.get("depth")
    dropped_depth = s.loc[~s.index.isin(retained)]
    s = s.loc[retained]
    flow.append(
        {
            "step": f"retained at rarefaction depth {depth}",
            "n": len(s),
            "dropped_by_group": dropped_depth[exposure].fillna("missing").value_counts().to_dict(),
        }
    )
    s = _pick_one_per_subject(s, p.get("one_sample_per_subject", "first"), int(config["seed"]))
    flow.append({"step": "one sample per subject", "n": len(s)})
    s = s[s[exposure].isin([ref, *levels])]
    flow.append({"step": f"{exposure} known and in {[ref, *levels]}", "n": len(s)})
    data = s[["sample_id", "subject_id", exposure, *covariates]].copy()
    data[metric] = bundle.alpha.loc[data.index, col].astype(float)
    complete = data.dropna(subset=[metric, exposure, *covariates])
    flow.append({"step": "complete covariates " + ", ".join(covariates), "n": len(complete)})
    res.sample_flow = flow
    counts = complete[exposure].value_counts()
    small = [lv for lv in levels if counts.get(lv, 0) < min_group]
    res.n_groups = {str(k): int(v) for k, v in counts.items()}
    res.n = len(complete)
    if counts.get(ref, 0) < min_group or len(small) == len(levels):
        res.data_problem = (
            f"too few samples: {ref} n = {counts.get(ref, 0)}, "
            + ", ".join(f"{lv} n = {counts.get(lv, 0)}" for lv in levels)
            + f" (minimum {min_group} per group)"
        )
        return res

    for c in covariates:
        if c in _CATEGORICAL or not pd.api.types.is_numeric_dtype(complete[c]):
            complete[c] = complete[c].astype(str)
    usable = [lv for lv in levels if lv not in small]
    model_data = complete[complete[exposure].isin([ref, *usable])].copy()
    model_data["any_condition"] = (model_data[exposure] != ref).astype(float)
    cov_terms = [_term(c, model_data) for c in covariates]
    rhs = " + ".join(cov_terms)
    f_any = f"{metric} ~ any_condition" + (f" + {rhs}" if rhs else "")
    prim = regression.ols_hc3(model_data, f_any, "any_condition")
    n_case = int(model_data["any_condition"].sum())
    n_ctrl = int(len(model_data) - n_case)
    scale = _g_scale(prim.estimate, prim.resid_sd, n_case, n_ctrl)
    tost = equivalence.tost(prim.estimate, prim.se, prim.df_resid, sesoi / scale)
    pw = power.regression_term_power(sesoi, n_case, n_ctrl, alpha=alpha_level)
    res.headline = {
        "estimate": prim.estimate,
        "ci_low": prim.ci95[0],
        "ci_high": prim.ci95[1],
        "p_value": prim.p_value,
        "effect_size": prim.estimate * scale,
        "effect_size_ci": [prim.ci95[0] * scale, prim.ci95[1] * scale],
        "effect_size_ci90": [prim.ci90[0] * scale, prim.ci90[1] * scale],
        "tost_p": tost.p_value,
        "power": pw,
        "n": prim.n,
        "resid_sd": prim.resid_sd,
    }
    res.tests.append(
        {
            "name": f"any of {', '.join(usable)} vs {ref} (OLS, HC3)",
            "role": "primary",
            "estimate": prim.estimate,
            "ci_low": prim.ci95[0],
            "ci_high": prim.ci95[1],
            "effect_size": prim.estimate * scale,
            "p_value": prim.p_value,
            "n": prim.n,
            "note": f"{n_case} cases, {n_ctrl} controls; residual SD {prim.resid_sd:.3g}",
        }
    )

    # Sensitivity: robust regression on the same model.
    rob = regression.rlm_huber(model_data, f_any, "any_condition")
    agrees = significant_same(prim.p_value, prim.estimate, rob.p_value, rob.estimate, alpha_level)
    res.sensitivity_agrees = agrees
    res.sensitivity_note = (
        f"Huber robust regression: {rob.estimate:+.3g} (95% CI {rob.ci95[0]:.3g} to {rob.ci95[1]:.3g}), "
        f"p = {rob.p_value:.3g}" + ("" if agrees is not False else " — disagrees with OLS")
    )
    res.tests.append(
        {
            "name": "any condition vs reference (Huber robust regression)",
            "role": "sensitivity",
            "estimate": rob.estimate,
            "ci_low": rob.ci95[0],
            "ci_high": rob.ci95[1],
            "p_value": rob.p_value,
            "n": rob.n,
        }
    )

    # Secondary: each condition vs the reference, Holm within the claim.
    f_cat = f"{metric} ~ C({exposure}, Treatment({ref!r}))" + (f" + {rhs}" if rhs else "")
    sec = []
    for lv in usable:
        term = f"C({exposure}, Treatment({ref!r}))[T.{lv}]"
        r = regression.ols_hc3(model_data, f_cat, term)
        n_lv = int(counts.get(lv, 0))
        sc = _g_scale(r.estimate, r.resid_sd, n_lv, n_ctrl)
        sec.append((lv, r, sc, n_lv))
    adj = multiple.holm([r.p_value for _, r, _, _ in sec])
    for (lv, r, sc, n_lv), pa in zip(sec, adj, strict=True):
        res.tests.append(
            {
                "name": f"{lv} vs {ref} (OLS, HC3)",
                "role": "secondary",
                "estimate": r.estimate,
                "ci_low": r.ci95[0],
                "ci_high": r.ci95[1],
                "effect_size": r.estimate * sc,
                "effect_size_ci": [r.ci95[0] * sc, r.ci95[1] * sc],
                "p_value": r.p_value,
                "p_adjusted": pa,
                "n": n_lv,
                "power": power.regression_term_power(sesoi, n_lv, n_ctrl, alpha=alpha_level),
                "note": "Holm-adjusted within this claim",
            }
        )
    for lv in small:
        res.notes.append(
            f"{lv}: only {int(counts.get(lv, 0))} samples (< {min_group}); left out of the models."
        )

    res.method = (
        f"One {site} sample per subject (dataset {ds}), rarefied to {depth} reads "
        f"({bundle.diversity_info.get('iterations', '?')} rarefactions averaged); {mlabel} ~ "
        f"{exposure} + {' + '.join(covariates) or 'no covariates'}; OLS with HC3 standard errors "
        f"(statsmodels). Headline: any listed condition vs {ref}; secondary: each condition vs {ref}, "
        f"Holm-adjusted. Sensitivity: Huber robust regression. Equivalence: two one-sided tests against "
        f"±{sesoi} SD (Hedges g). Power: two-sample t approximation at g = {sesoi}."
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    table_path = out_dir / "analysis_data.tsv"
    model_data.drop(columns="any_condition").to_csv(table_path, sep="\t", index=False)
    res.tables.append(
        {
            "path": str(table_path),
            "caption": "Samples, covariates and diversity used in the models.",
        }
    )
    fig = figures.alpha_by_group(
        model_data,
        value=metric,
        group=exposure,
        order=[ref, *usable],
        ylabel=f"Gut {mlabel}",
        title=f"{cid}: gut {mlabel} by self-reported skin condition",
    )
    fig_path = out_dir / f"{metric}_by_{exposure}.svg"
    alt = f"Box and point plot of gut {mlabel} for {', '.join([ref, *usable])}; n = " + ", ".join(
        f"{k} {v}" for k, v in res.n_groups.items()
    )
    figures.save_figure(fig, fig_path, alt=alt)
    res.figures.append(
        {
            "path": str(fig_path),
            "caption": f"Gut {mlabel} per subject (one sample each), unadjusted; boxes show quartiles.",
            "alt": alt,
        }
    )
    forest_rows = [
        {
            "label": t["name"].split(" (")[0],
            "estimate": t.get("effect_size"),
            "ci_low": (t.get("effect_size_ci") or [None, None])[0],
            "ci_high": (t.get("effect_size_ci") or [None, None])[1],
        }
        for t in res.tests
        if t["role"] == "secondary"
    ]
    forest_rows.insert(
        0,
        {
            "label": "any condition (headline)",
            "estimate": res.headline["effect_size"],
            "ci_low": res.headline["effect_size_ci"][0],
            "ci_high": res.headline["effect_size_ci"][1],
        },
    )
    fig = figures.forest(
        forest_rows, xlabel="Hedges g (adjusted; 95% CI)", sesoi=sesoi, title=f"{cid}: effects"
    )
    fpath = out_dir / "forest.svg"
    alt = (
        "Forest plot of adjusted standardised differences with 95% confidence intervals: "
        + "; ".join(
            f"{r['label']} {r['estimate']:+.2f}" for r in forest_rows if r["estimate"] is not None
        )
    )
    figures.save_figure(fig, fpath, alt=alt)
    res.figures.append(
        {
            "path": str(fpath),
            "caption": f"Adjusted Hedges g with 95% CI; the shaded band is ±SESOI ({sesoi}).",
            "alt": alt,
        }
    )
    return res
