"""Runner ``alpha_condition``: alpha diversity of one body site by skin condition, covariate-adjusted.

Design (CLAIMS.md C8, analyses A and B):

* **Per dataset** — one sample per subject from the chosen body site, retained at the rarefaction depth;
  ``metric ~ condition + covariates`` by OLS with HC3 standard errors (cluster-robust by a column such as
  ``family_id`` when the dataset's ``cluster`` parameter names one). The effect of "any of the listed
  conditions vs the reference level" is reported in natural units (e.g. nats of Shannon) and as a
  standardised difference (Hedges g = J·β/σ̂, with σ̂ the residual SD; its SE is the β's SE on the same
  scale).
* **Headline** — the first dataset's "any condition" test; each condition vs the reference is a secondary
  test, Holm-corrected within the claim. Pre-registered sensitivity analyses, those of
  :mod:`gutskin.claims.sensitivity` that fit ``alpha_condition``: a robust regression (Huber) of the same
  model; the same model with minimal covariates (age and sex only, none where those are not covariates) on
  the same subjects; the same model on another alpha metric (observed features, or Shannon when the
  claim's metric is observed features); the same model on the metric at a second rarefaction depth
  (``rarefaction.sensitivity_depth``, half the depth by default), when the diversity step computed it
  (``<metric>_depth2_mean``; not for unrarefied tables). Any disagreement makes the verdict inconclusive.
  A claim over several cohorts is run once per cohort and pooled by :mod:`gutskin.claims.pooling`.
* **Beta-diversity analogue** (secondary) — per dataset, PERMANOVA of any condition vs the reference on the
  ``beta_metric`` distances (Bray–Curtis by default) adjusted for the same covariates (marginal SS,
  Freedman–Lane permutations, within ``strata`` if set), with R², pseudo-F and p; PERMDISP (distances to
  the group spatial medians) on the same groups, flagging "dispersion differs: PERMANOVA ambiguous" when its
  p < α (Anderson & Walsh 2013).
* **Meta-analysis** (secondary) — when the runner itself is given several datasets (the workflow gives it
  one per cohort job), the per-dataset adjusted g are pooled by a random-effects model (REML): pooled g
  with 95 % CI, τ², I², Q and the 95 % prediction interval (k ≥ 3), drawn as a forest plot.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..stats import effects, equivalence, meta, permanova, power, regression
from ..stats._util import StatsInputError
from . import sensitivity
from .bundle import DatasetBundle
from .common import (
    MINIMAL_COVARIATES,
    Bundles,
    Claim,
    ClaimResult,
    Config,
    alternative_metric,
    guarded,
)
from .common import metric_name as _metric_name
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
    dataset_problem,
    first_or_random_per_subject,
    prepare_covariates,
)
from .outputs import add_figure, add_forest, add_table, forest_alt, forest_row
from .register import power_alternative

ANALYSIS = "alpha_condition"

#: Covariates always treated as categorical here (not ``sample_plate``, unlike the other runners).
_CATEGORICAL = frozenset({"sex", "antibiotics", "country", "body_subsite", "run_center"})
#: Parameters that ``per_dataset`` may override for one dataset.
_DATASET_KEYS = (
    "body_site",
    "metric",
    "exposure",
    "reference",
    "levels",
    "covariates",
    "one_sample_per_subject",
    "min_group_size",
    "cluster",
    "strata",
)
_METRIC_WORDS = {
    "shannon": "Shannon (nats)",
    "observed": "observed features",
    "simpson": "Gini–Simpson",
}


def _term(var: str, data: pd.DataFrame) -> str:
    """Patsy term of a covariate; a categorical one has its most frequent level as reference."""
    return covariate_term(var, data, _CATEGORICAL, preferred=None)


def _g_scale(beta: float, resid_sd: float, n1: int, n2: int) -> float:
    """Factor turning a β (natural units) into Hedges g, so CIs scale the same way."""
    g, _ = effects.hedges_g_from_beta(beta if beta != 0 else 1.0, resid_sd, n1, n2)
    return g / (beta if beta != 0 else 1.0)


# ------------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------------
def _param_error(cid: str, key: str, problem: str, hint: str | None = None) -> InputError:
    return InputError(
        "config/claims.yaml",
        problem,
        where=f"claim {cid}, params.{key}",
        hint=hint or "see the runner parameters of alpha_condition in config/README.md",
    )


def _options(claim: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Claim-level options of the runner, validated."""
    p = claim.get("params", {})
    cid = claim["id"]
    for gone in ("headline", "meta_method"):
        if gone in p:
            raise _param_error(
                cid,
                gone,
                "is no longer a parameter: a claim with several datasets is analysed once per cohort "
                "and pooled by random effects (REML τ²; config.yaml meta)",
                hint=f"remove params.{gone} from the claim",
            )
    # no cap in code: the configured permutations, unless the claim sets its own count
    cap = p.get("permanova_permutations", None)
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
        raise _param_error(
            cid, "permanova_permutations", f"must be a non-negative integer, got {cap!r}"
        )
    per = p.get("per_dataset", {}) or {}
    if not isinstance(per, dict):
        raise _param_error(cid, "per_dataset", "must map dataset names to parameter overrides")
    for ds, over in per.items():
        if ds not in claim.get("datasets", []):
            raise _param_error(
                cid, f"per_dataset.{ds}", f"{ds!r} is not one of the claim's datasets"
            )
        bad = sorted(set(over or {}) - set(_DATASET_KEYS))
        if bad:
            raise _param_error(
                cid,
                f"per_dataset.{ds}",
                f"unknown key(s) {bad}",
                hint=f"allowed: {', '.join(_DATASET_KEYS)}",
            )
    return {
        "beta_metric": p.get("beta_metric", "braycurtis"),
        "permutations": int(config.get("permutations", 9999)) if cap is None else cap,
        "per_dataset": per,
    }


def _settings(claim: dict[str, Any], ds: str, per: dict[str, Any]) -> dict[str, Any]:
    """Per-dataset analysis settings: the claim's params, overridden by ``per_dataset[ds]``."""
    p = {**claim.get("params", {}), **(per.get(ds) or {})}
    return {
        "metric": p.get("metric", "shannon"),
        "site": p.get("body_site", "gut"),
        "exposure": p.get("exposure", "condition"),
        "ref": p.get("reference", "none"),
        "levels": list(p.get("levels", [])),
        "covariates": list(p.get("covariates", [])),
        "one_per": p.get("one_sample_per_subject", "first"),
        "min_group": int(p.get("min_group_size", 10)),
        "cluster": p.get("cluster"),
        "strata": p.get("strata"),
    }


# ------------------------------------------------------------------------------------------------
# one dataset
# ------------------------------------------------------------------------------------------------
@dataclass
class _Alt:
    """One sensitivity model of a dataset (same subjects as the primary model)."""

    variant: sensitivity.Variant  # the declared analysis and what it changes
    fit: regression.RegressionResult
    scale: float

    @property
    def key(self) -> str:
        return self.variant.key

    @property
    def label(self) -> str:
        return self.variant.label

    @property
    def g(self) -> float:
        return self.fit.estimate * self.scale

    @property
    def g_se(self) -> float:
        return self.fit.se * self.scale


@dataclass
class _Fit:
    """The primary model of one dataset (or why there is none)."""

    ds: str
    st: dict[str, Any]
    flow: list[dict[str, Any]] = field(default_factory=list)
    n_groups: dict[str, int] = field(default_factory=dict)
    n: int | None = None
    problem: str | None = None
    model_data: pd.DataFrame | None = None
    counts: pd.Series | None = None
    usable: list[str] = field(default_factory=list)
    small: list[str] = field(default_factory=list)
    covariates: list[str] = field(default_factory=list)
    dropped_covariates: list[str] = field(default_factory=list)
    rhs: str = ""
    f_any: str = ""
    prim: regression.RegressionResult | None = None
    scale: float = math.nan
    n_case: int = 0
    n_ctrl: int = 0
    depth: Any = None
    iterations: Any = "?"
    alt_metric: str | None = None
    depth2_label: str | None = None
    minimal: list[str] = field(default_factory=list)
    alts: list[_Alt] = field(default_factory=list)
    alt_notes: list[str] = field(default_factory=list)

    @property
    def g(self) -> float:
        assert self.prim is not None
        return self.prim.estimate * self.scale

    @property
    def g_se(self) -> float:
        assert self.prim is not None
        return self.prim.se * self.scale


def _cluster_robust(
    prim: regression.RegressionResult, data: pd.DataFrame, formula: str, term: str, col: str
) -> regression.RegressionResult:
    """The same OLS coefficient with cluster-robust (CR1) SEs by ``col``, t on G − 1 df."""
    import statsmodels.formula.api as smf

    groups = pd.factorize(data[col].astype(str))[0]
    n_clusters = int(groups.max() + 1)
    if n_clusters < 2:
        raise StatsInputError(
            f"cluster column {col!r} has a single cluster", where=f"column {col!r}"
        )
    fit = smf.ols(formula, data=data).fit(
        cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
    )
    ci95 = fit.conf_int(alpha=0.05).loc[term]
    ci90 = fit.conf_int(alpha=0.10).loc[term]
    return dataclasses.replace(
        prim,
        se=float(fit.bse[term]),
        ci95=(float(ci95.iloc[0]), float(ci95.iloc[1])),
        ci90=(float(ci90.iloc[0]), float(ci90.iloc[1])),
        p_value=float(fit.pvalues[term]),
        t=float(fit.tvalues[term]),
        df_resid=float(n_clusters - 1),
        method=f"OLS (cluster-robust SEs by {col}, {n_clusters} clusters; t on G − 1 df)",
    )


def _fit_dataset(
    ds: str, bundle: DatasetBundle | None, st: dict[str, Any], config: dict[str, Any]
) -> _Fit:
    fit = _Fit(ds=ds, st=st)
    fit.problem = dataset_problem(bundle, ds, not_loaded="unavailable: not configured")
    if fit.problem:
        return fit
    assert bundle is not None
    metric, site, exposure, ref = st["metric"], st["site"], st["exposure"], st["ref"]
    levels, min_group = st["levels"], st["min_group"]
    extra = list(dict.fromkeys(c for c in (st["cluster"], st["strata"]) if c))
    s = bundle.samples
    for c in [exposure, *extra]:
        if c not in s.columns:
            fit.problem = f"column {c!r} is not in the sample table of {ds}"
            return fit
    covariates = []
    for c in st["covariates"]:
        if c not in s.columns or s[c].isna().all():
            fit.dropped_covariates.append(c)
        else:
            covariates.append(c)
    fit.covariates = covariates
    flow = fit.flow
    flow.append({"step": "samples in table and metadata", "n": len(s)})
    s = s[s["body_site"] == site]
    flow.append({"step": f"body site {site}", "n": len(s)})
    col = f"{metric}_mean"
    if col not in bundle.alpha.columns:
        fit.problem = f"alpha metric {metric} not computed for {ds}"
        return fit
    retained = s.index.intersection(bundle.alpha.index)
    fit.depth = bundle.diversity_info.get("depth")
    fit.iterations = bundle.diversity_info.get("iterations", "?")
    dropped_depth = s.loc[~s.index.isin(retained)]
    s = s.loc[retained]
    flow.append(
        {
            "step": f"retained at rarefaction depth {fit.depth}",
            "n": len(s),
            "dropped_by_group": dropped_depth[exposure].fillna("missing").value_counts().to_dict(),
        }
    )
    s = first_or_random_per_subject(s, st["one_per"], int(config["seed"]))
    flow.append({"step": "one sample per subject", "n": len(s)})
    s = s[s[exposure].isin([ref, *levels])]
    flow.append({"step": f"{exposure} known and in {[ref, *levels]}", "n": len(s)})
    keep = ["sample_id", "subject_id", exposure, *covariates]
    keep += [c for c in extra if c not in keep]
    data = s[keep].copy()
    data[metric] = bundle.alpha.loc[data.index, col].astype(float)
    alt = alternative_metric(metric)
    if f"{alt}_mean" in bundle.alpha.columns and alt not in data.columns:
        data[alt] = bundle.alpha.loc[data.index, f"{alt}_mean"].astype(float)
        fit.alt_metric = alt
    fit.depth2_label = add_second_depth(data, bundle, metric)
    complete = data.dropna(subset=[metric, exposure, *covariates, *extra])
    flow.append({"step": "complete covariates " + ", ".join(covariates), "n": len(complete)})
    counts = complete[exposure].value_counts()
    small = [lv for lv in levels if counts.get(lv, 0) < min_group]
    fit.n_groups = {str(k): int(v) for k, v in counts.items()}
    fit.n = len(complete)
    fit.counts = counts
    if counts.get(ref, 0) < min_group or len(small) == len(levels):
        fit.problem = (
            f"too few samples: {ref} n = {counts.get(ref, 0)}, "
            + ", ".join(f"{lv} n = {counts.get(lv, 0)}" for lv in levels)
            + f" (minimum {min_group} per group)"
        )
        return fit

    complete = prepare_covariates(complete, covariates, _CATEGORICAL, numeric_as_float=False)
    usable = [lv for lv in levels if lv not in small]
    model_data = complete[complete[exposure].isin([ref, *usable])].copy()
    model_data["any_condition"] = (model_data[exposure] != ref).astype(float)
    cov_terms = [_term(c, model_data) for c in covariates]
    rhs = " + ".join(cov_terms)
    f_any = f"{metric} ~ any_condition" + (f" + {rhs}" if rhs else "")
    prim = regression.ols_hc3(model_data, f_any, "any_condition")
    if st["cluster"]:
        prim = _cluster_robust(prim, model_data, f_any, "any_condition", st["cluster"])
    fit.n_case = int(model_data["any_condition"].sum())
    fit.n_ctrl = int(len(model_data) - fit.n_case)
    fit.scale = _g_scale(prim.estimate, prim.resid_sd, fit.n_case, fit.n_ctrl)
    fit.prim = prim
    fit.model_data = model_data
    fit.usable = usable
    fit.small = small
    fit.rhs = rhs
    fit.f_any = f_any
    _alternatives(fit)
    return fit


def _alternatives(fit: _Fit) -> None:
    """Fit the model variants of the declared sensitivity analyses that fit ``alpha_condition`` (minimal
    covariates, the alternative metric, the metric at the second rarefaction depth).

    All use the primary model's subjects and standard errors (HC3, or cluster-robust); a model that
    cannot be fitted is left out with a note.
    """
    assert fit.model_data is not None
    md = fit.model_data
    fit.minimal = [c for c in fit.covariates if c in MINIMAL_COVARIATES]
    ctx = sensitivity.ModelContext(
        metric=fit.st["metric"],
        covariates=tuple(fit.covariates),
        alt_metric=fit.alt_metric,
        depth2_label=fit.depth2_label,
    )

    def refit(v: sensitivity.Variant) -> regression.RegressionResult:
        rhs = " + ".join(_term(c, md) for c in v.covariates)
        formula = f"{v.outcome} ~ any_condition" + (f" + {rhs}" if rhs else "")
        r = regression.ols_hc3(md, formula, "any_condition")
        if fit.st["cluster"]:
            r = _cluster_robust(r, md, formula, "any_condition", fit.st["cluster"])
        return r

    def failed(v: sensitivity.Variant, exc: StatsInputError) -> None:
        fit.alt_notes.append(f"{fit.ds}: sensitivity analysis ({v.label}) not computed: {exc}.")

    for v, r in sensitivity.fit_variants(ANALYSIS, ctx, refit, failed):
        scale = _g_scale(r.estimate, r.resid_sd, fit.n_case, fit.n_ctrl)
        fit.alts.append(_Alt(variant=v, fit=r, scale=scale))


def _beta_tests(
    fit: _Fit, bundle: DatasetBundle, opts: dict[str, Any], config: dict[str, Any], idx: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """PERMANOVA (adjusted) and PERMDISP of any condition vs the reference in one dataset."""
    assert fit.model_data is not None
    md = fit.model_data
    ref = fit.st["ref"]
    bm = opts["beta_metric"]
    n_perm = opts["permutations"]
    alpha_level = float(config.get("alpha", 0.05))
    label = f"{bm}, {fit.ds}"
    if bm not in bundle.beta_files:
        return [], [f"{fit.ds}: beta metric {bm} not computed; PERMANOVA and PERMDISP skipped."]
    try:
        dmat = bundle.beta(bm, md["sample_id"].astype(str).to_numpy())
    except InputError as exc:
        return [], [f"{fit.ds}: PERMANOVA and PERMDISP skipped: {exc}"]
    strata_col = fit.st["strata"]
    strata = md[strata_col].astype(str).to_numpy() if strata_col else None
    seed = int(config["seed"])
    terms = ["any_condition", *[_term(c, md) for c in fit.covariates]]
    tests: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        pm = permanova.permanova(
            dmat,
            md,
            terms,
            "any_condition",
            permutations=n_perm,
            seed=np.random.SeedSequence([seed, 8, idx, 0]),
            strata=strata,
        )
    except StatsInputError as exc:
        return [], [f"{fit.ds}: PERMANOVA/PERMDISP not computed: {exc}"]
    groups = np.where(md["any_condition"].to_numpy() > 0, "any condition", ref)
    try:
        pdisp: permanova.PermdispResult | None = permanova.permdisp(
            dmat, groups, n_perm, np.random.SeedSequence([seed, 8, idx, 1]), strata=strata
        )
    except StatsInputError as exc:
        # e.g. above PERMDISP_MAX_SAMPLES (dense eigendecomposition): PERMANOVA is still reported
        pdisp = None
        notes.append(f"{fit.ds}: PERMDISP not computed: {exc}")
    differs = pdisp is not None and pdisp.p_value is not None and pdisp.p_value < alpha_level
    where = f" within {strata_col}" if strata_col else ""
    adj = ", ".join(fit.covariates) or "nothing"
    note = (
        f"pseudo-F = {pm.pseudo_f:.3g} on {pm.df_term} and {pm.df_residual} df; "
        f"R² = {pm.r2:.4f} (partial ω² = {pm.omega2:.4f}; SESOI for R²: 0.005); adjusted for {adj}; "
        f"{pm.permutations} Freedman–Lane permutations{where}; PERMDISP p = "
        + (
            f"{pdisp.p_value:.3g}"
            if pdisp is not None and pdisp.p_value is not None
            else "not computed"
        )
    )
    if differs and pdisp is not None:
        note += " — dispersion differs: PERMANOVA ambiguous"
        notes.append(
            f"{fit.ds}: dispersion differs: PERMANOVA ambiguous (PERMDISP p = {pdisp.p_value:.3g}); a "
            "PERMANOVA difference may reflect a different spread rather than different centres "
            "(Anderson & Walsh 2013)."
        )
    tests.append(
        {
            "name": f"PERMANOVA R², any condition vs {ref}, adjusted ({label})",
            "role": "secondary",
            "estimate": pm.r2,
            "ci_low": None,
            "ci_high": None,
            "p_value": pm.p_value,
            "n": pm.n,
            "statistic": pm.pseudo_f,
            "r2": pm.r2,
            "r2_partial": pm.r2_partial,
            "omega2": pm.omega2,
            "df": [pm.df_term, pm.df_residual],
            "permutations": pm.permutations,
            "dispersion_differs": differs,
            "note": note,
        }
    )
    if pdisp is None:
        return tests, notes
    dist = dict(zip(pdisp.groups, pdisp.mean_distance, strict=True))
    diff = dist.get("any condition", math.nan) - dist.get(ref, math.nan)
    tests.append(
        {
            "name": f"PERMDISP dispersion difference, any condition vs {ref} ({label})",
            "role": "secondary",
            "estimate": diff,
            "ci_low": None,
            "ci_high": None,
            "p_value": pdisp.p_value,
            "n": pdisp.n,
            "statistic": pdisp.f,
            "note": (
                f"difference in mean distance to the group spatial median (any condition minus {ref}); "
                f"F = {pdisp.f:.3g} on {pdisp.df_groups} and {pdisp.df_residual} df; "
                + "; ".join(f"{k}: {v:.3g}" for k, v in dist.items())
            ),
        }
    )
    return tests, notes


# ------------------------------------------------------------------------------------------------
# the runner
# ------------------------------------------------------------------------------------------------
@guarded()
def run(claim: Claim, bundles: Bundles, config: Config, out_dir: Path) -> ClaimResult:
    """Run the analysis for ``claim``; figures and tables go to ``out_dir``.

    A model that cannot be fitted on these data (e.g. a singular design) gives a result with a
    ``data_problem`` instead of failing the workflow. Invalid runner parameters raise
    :class:`~gutskin.errors.InputError` naming the claim and the key.
    """
    return _run(claim, bundles, config, out_dir, _options(claim, config))


def _run(
    claim: Claim, bundles: Bundles, config: Config, out_dir: Path, opts: dict[str, Any]
) -> ClaimResult:
    cid = claim["id"]
    res = ClaimResult(id=cid)
    datasets = list(claim["datasets"])
    multi = len(datasets) > 1
    first = _settings(claim, datasets[0], opts["per_dataset"])
    metric, ref = first["metric"], first["ref"]
    res.covariates = first["covariates"]
    mlabel = _METRIC_WORDS.get(metric, metric)
    res.estimate_label = f"Adjusted difference in gut {mlabel}, any listed condition vs {ref}"
    res.effect_size_label = "Hedges g (adjusted)"

    fits: list[_Fit] = []
    for i, ds in enumerate(datasets):
        st = first if i == 0 else _settings(claim, ds, opts["per_dataset"])
        try:
            fit = _fit_dataset(ds, bundles.get(ds), st, config)
        except StatsInputError as exc:
            if i == 0 and not multi:
                raise
            fit = _Fit(ds=ds, st=st, problem=f"the model could not be fitted: {exc}")
        fits.append(fit)
    f0 = fits[0]
    if multi:
        for f in fits:
            res.sample_flow += [{"dataset": f.ds, **row} for row in f.flow]
    else:
        res.sample_flow = f0.flow
    res.n_groups = f0.n_groups
    res.n = f0.n
    for f in fits:
        if f.dropped_covariates:
            res.notes.append(
                f"{f.ds}: covariate(s) {', '.join(f.dropped_covariates)} missing for every sample; "
                "the model for this dataset is adjusted for the others only."
            )
        if f.problem and (multi or f is not f0):
            res.notes.append(f"{f.ds}: not analysed: {f.problem}.")
        res.notes += f.alt_notes

    if f0.prim is not None:
        _first_dataset(res, f0, claim, config, out_dir, mlabel, multi)
    else:
        res.data_problem = f0.problem
        if not multi:
            return res

    # Other datasets: their own adjusted test, as secondary tests.
    for f in fits[1:]:
        if f.prim is None:
            continue
        _dataset_test(res, f, primary=False)

    # Beta diversity: adjusted PERMANOVA and PERMDISP per dataset.
    for i, f in enumerate(fits):
        if f.prim is None:
            continue
        tests, notes = _beta_tests(f, bundles[f.ds], opts, config, i)
        res.tests += tests
        res.notes += notes

    ok = [f for f in fits if f.prim is not None]
    pooled = None
    if multi:
        if len(ok) >= 2:
            pooled = meta.random_effects(
                [f.g for f in ok], [f.g_se for f in ok], labels=[f.ds for f in ok]
            )
            _meta_outputs(res, pooled, ok, claim, config, out_dir, opts)
        else:
            res.notes.append(
                f"meta-analysis not computed: {len(ok)} of {len(fits)} datasets gave an estimate "
                "(at least 2 are needed)."
            )
    _method_text(res, fits, opts, mlabel, pooled)
    return res


def _dataset_test(res: ClaimResult, f: _Fit, primary: bool) -> None:
    assert f.prim is not None
    prim, scale = f.prim, f.scale
    name = f"any of {', '.join(f.usable)} vs {f.st['ref']} (OLS, HC3)"
    if f.st["cluster"]:
        name = f"any of {', '.join(f.usable)} vs {f.st['ref']} (OLS, cluster-robust by {f.st['cluster']})"
    if not primary:
        name += f" — {f.ds}"
    res.tests.append(
        estimate_test(
            name,
            "primary" if primary else "secondary",
            prim,
            {**effect_fields(prim, scale=scale), "effect_size_se": prim.se * scale},
            n=prim.n,
            dataset=f.ds,
            note=f"{f.n_case} cases, {f.n_ctrl} controls; residual SD {prim.resid_sd:.3g}"
            + (f"; dataset {f.ds}" if not primary else ""),
        )
    )


def _first_dataset(
    res: ClaimResult,
    f0: _Fit,
    claim: dict[str, Any],
    config: dict[str, Any],
    out_dir: Path,
    mlabel: str,
    multi: bool,
) -> None:
    """Headline, sensitivity, per-condition tests, table and figures of the first dataset."""
    from ..plotting import figures  # matplotlib is only imported when a figure is drawn

    assert f0.prim is not None and f0.model_data is not None and f0.counts is not None
    cid = claim["id"]
    st = f0.st
    metric, exposure, ref, site = st["metric"], st["exposure"], st["ref"], st["site"]
    alpha_level = float(config.get("alpha", 0.05))
    sesoi = float(claim["sesoi"]["value"])
    prim, scale, model_data = f0.prim, f0.scale, f0.model_data
    usable, small, counts = f0.usable, f0.small, f0.counts
    n_case, n_ctrl = f0.n_case, f0.n_ctrl
    tost = equivalence.tost(prim.estimate, prim.se, prim.df_resid, sesoi / scale)
    pw = power.regression_term_power(
        sesoi, n_case, n_ctrl, alpha=alpha_level, alternative=power_alternative(claim)
    )
    res.headline = headline_entry(
        prim, scale=scale, tost_p=tost.p_value, power=pw, n=prim.n, resid_sd=prim.resid_sd
    )
    res.se, res.scale = prim.se * scale, "hedges_g"  # for pooling over cohorts
    _dataset_test(res, f0, primary=True)
    if not multi:
        for key in ("dataset", "effect_size_ci", "effect_size_se"):
            res.tests[-1].pop(key)

    # Sensitivity: the declared analyses (robust regression on the same model; minimal covariates,
    # another alpha metric and the second rarefaction depth on the same subjects, same SEs).
    if sensitivity.applies(ANALYSIS, sensitivity.HUBER):
        rob = regression.rlm_huber(model_data, f0.f_any, "any_condition")
        add_huber_sensitivity(
            res, rob, "any condition vs reference (Huber robust regression)", scale=scale
        )
    for alt in f0.alts:
        r, v = alt.fit, alt.variant
        units = _METRIC_WORDS.get(f0.alt_metric or "", "") if alt.key == "metric" else mlabel
        add_variant(
            res,
            v,
            r,
            sensitivity_note=(
                f"{alt.label}: {r.estimate:+.3g} {units} (95% CI {r.ci95[0]:.3g} to {r.ci95[1]:.3g}), "
                f"g = {alt.g:+.2f}, p = {r.p_value:.3g}"
            ),
            test_name=f"any condition vs reference ({alt.label})",
            scale=alt.scale,
            n=r.n,
        )

    # Secondary: each condition vs the reference, Holm within the claim (with one condition this is the
    # headline test itself, and is not repeated).
    rhs = f0.rhs
    f_cat = f"{metric} ~ C({exposure}, Treatment({ref!r}))" + (f" + {rhs}" if rhs else "")
    sec = []
    for lv in usable if len(usable) > 1 else []:
        term = f"C({exposure}, Treatment({ref!r}))[T.{lv}]"
        r = regression.ols_hc3(model_data, f_cat, term)
        n_lv = int(counts.get(lv, 0))
        sc = _g_scale(r.estimate, r.resid_sd, n_lv, n_ctrl)
        sec.append((lv, r, sc, n_lv))
    add_holm_levels(
        res,
        sec,
        ref,
        lambda lv, n_lv: {
            "power": power.regression_term_power(sesoi, n_lv, n_ctrl, alpha=alpha_level),
            "note": "Holm-adjusted within this claim",
        },
    )
    for lv in small:
        res.notes.append(
            f"{lv}: only {int(counts.get(lv, 0))} samples (< {st['min_group']}); left out of the models."
        )

    covariates = f0.covariates
    res.method = (
        f"One {site} sample per subject (dataset {f0.ds}), rarefied to {f0.depth} reads "
        f"({f0.iterations} rarefactions averaged); {mlabel} ~ "
        f"{exposure} + {' + '.join(covariates) or 'no covariates'}; OLS with HC3 standard errors "
        f"(statsmodels). Headline: any listed condition vs {ref}"
        + (f"; secondary: each condition vs {ref}, Holm-adjusted" if len(usable) > 1 else "")
        + f". {_sensitivity_text(f0)} Equivalence: two one-sided tests against "
        f"±{sesoi} SD (Hedges g). Power: two-sample t approximation at g = {sesoi}."
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    add_table(
        res,
        model_data.drop(columns="any_condition"),
        out_dir / "analysis_data.tsv",
        "Samples, covariates and diversity used in the models."
        + (f" Dataset {f0.ds}." if multi else ""),
    )
    fig = figures.alpha_by_group(
        model_data,
        value=metric,
        group=exposure,
        order=[ref, *usable],
        ylabel=f"Gut {mlabel}",
        title=f"{cid}: gut {mlabel} by self-reported skin condition",
    )
    add_figure(
        res,
        fig,
        out_dir / f"{metric}_by_{exposure}.svg",
        f"Gut {mlabel} per subject (one sample each), unadjusted; boxes show quartiles."
        + (f" Dataset {f0.ds}." if multi else ""),
        f"Box and point plot of gut {mlabel} for {', '.join([ref, *usable])}; n = "
        + ", ".join(f"{k} {v}" for k, v in res.n_groups.items()),
    )
    forest_rows = [
        forest_row(t["name"].split(" (")[0], t) for t in res.tests if t["role"] == "secondary"
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
    add_forest(
        res,
        forest_rows,
        out_dir / "forest.svg",
        xlabel="Hedges g (adjusted; 95% CI)",
        sesoi=sesoi,
        title=f"{cid}: effects",
        caption=f"Adjusted Hedges g with 95% CI; the shaded band is ±SESOI ({sesoi}).",
        alt=forest_alt(
            "Forest plot of adjusted standardised differences with 95% confidence intervals: ",
            forest_rows,
        ),
    )


def _sensitivity_text(f0: _Fit) -> str:
    """The sensitivity analyses of the first dataset's headline, for the method text."""
    metric = f0.st["metric"]
    parts = ["Huber robust regression of the same model"]
    if f0.minimal != f0.covariates:
        parts.append(
            f"the same model adjusted for {' and '.join(f0.minimal) or 'no covariates'} only "
            "(same subjects)"
        )
    else:
        parts.append("no minimal-covariate model (the model has no covariates besides age and sex)")
    alt = f0.alt_metric or alternative_metric(metric)
    if f0.alt_metric:
        parts.append(f"the same model on {_metric_name(alt)} instead of {_metric_name(metric)}")
    else:
        parts.append(f"no alternative-metric model ({_metric_name(alt)} was not computed)")
    if f0.depth2_label:
        parts.append(
            f"the same model on {f0.depth2_label}, averaged over as many rarefactions (same subjects)"
        )
    else:
        parts.append("no second rarefaction depth (not computed for this dataset)")
    return (
        "Sensitivity analyses (pre-specified; any disagreement in significance or direction makes the "
        "verdict inconclusive): " + "; ".join(parts) + "."
    )


def _meta_outputs(
    res: ClaimResult,
    pooled: meta.MetaResult,
    ok: list[_Fit],
    claim: dict[str, Any],
    config: dict[str, Any],
    out_dir: Path,
    opts: dict[str, Any],
) -> None:
    """The pooled result as a secondary test, and the forest plot of the datasets."""
    sesoi = float(claim["sesoi"]["value"])
    ref = ok[0].st["ref"]
    pi_txt = (
        f"95% prediction interval {pooled.pi95[0]:.3g} to {pooled.pi95[1]:.3g}"
        if pooled.pi95 is not None
        else str(pooled.pi_note)
    )
    res.tests.append(
        estimate_test(
            f"random-effects meta-analysis, any condition vs {ref} ({pooled.method}, "
            f"{pooled.k} datasets)",
            "secondary",
            pooled,
            effect_fields(pooled),
            n=int(sum(f.prim.n for f in ok if f.prim is not None)),
            tau2=pooled.tau2,
            i2=pooled.i2,
            q=pooled.q,
            q_p=pooled.q_p,
            prediction_interval=list(pooled.pi95) if pooled.pi95 is not None else None,
            weights=dict(zip(pooled.labels, pooled.weights, strict=True)),
            note=(
                f"pooled Hedges g; τ² = {pooled.tau2:.3g}, I² = {pooled.i2:.0f}%, "
                f"Q = {pooled.q:.3g} on {pooled.q_df} df (p = {pooled.q_p:.3g}); {pi_txt}; weights "
                + ", ".join(
                    f"{lab} {w:.0f}%" for lab, w in zip(pooled.labels, pooled.weights, strict=True)
                )
            ),
        )
    )
    if pooled.pi95 is None:
        res.notes.append(f"Meta-analysis: {pooled.pi_note}.")
    rows = [
        {
            "label": f"{f.ds} (n = {f.prim.n if f.prim else '?'})",
            "estimate": f.g,
            "ci_low": f.prim.ci95[0] * f.scale if f.prim else None,
            "ci_high": f.prim.ci95[1] * f.scale if f.prim else None,
        }
        for f in ok
    ]
    rows.append(
        {
            "label": f"pooled ({pooled.method})",
            "estimate": pooled.estimate,
            "ci_low": pooled.ci95[0],
            "ci_high": pooled.ci95[1],
        }
    )
    if pooled.pi95 is not None:
        rows.append(
            {
                "label": "95% prediction interval",
                "estimate": pooled.estimate,
                "ci_low": pooled.pi95[0],
                "ci_high": pooled.pi95[1],
            }
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    alt = (
        "Forest plot of the adjusted Hedges g of each dataset with 95% CIs and the random-effects "
        "pooled estimate: "
        + "; ".join(f"{r['label']} {r['estimate']:+.2f}" for r in rows[: len(ok) + 1])
        + (f"; {pi_txt}" if pooled.pi95 is not None else "")
    )
    add_forest(
        res,
        rows,
        out_dir / "meta_forest.svg",
        xlabel="Hedges g (adjusted; 95% CI)",
        sesoi=sesoi,
        title=f"{claim['id']}: datasets and random-effects pooled estimate",
        caption=(
            f"Adjusted Hedges g per dataset and pooled ({pooled.method} random effects; "
            f"τ² = {pooled.tau2:.3g}, I² = {pooled.i2:.0f}%); the shaded band is ±SESOI ({sesoi})."
            + (" The last row is the 95% prediction interval." if pooled.pi95 else "")
        ),
        alt=alt,
    )


def _method_text(
    res: ClaimResult,
    fits: list[_Fit],
    opts: dict[str, Any],
    mlabel: str,
    pooled: meta.MetaResult | None,
) -> None:
    parts = [res.method] if res.method else []
    analysed = [f for f in fits if f.prim is not None]
    if len(fits) > 1:
        others = [f for f in analysed if f is not fits[0]]
        if others:
            parts.append(
                "The same model was fitted in "
                + ", ".join(
                    f"{f.ds} (covariates: {', '.join(f.covariates) or 'none'}"
                    + (f"; cluster-robust SEs by {f.st['cluster']}" if f.st["cluster"] else "")
                    + ")"
                    for f in others
                )
                + "."
            )
    if analysed:
        parts.append(
            f"Beta diversity: PERMANOVA of any condition vs the reference on {opts['beta_metric']} "
            f"distances, adjusted for the same covariates (marginal sums of squares, Freedman–Lane "
            f"permutation of the reduced model's residuals, {opts['permutations']} permutations; "
            f'vegan adonis2 by = "margin" semantics), with R² and pseudo-F; PERMDISP (distances to '
            f"the group spatial medians, vegan betadisper) on the same groups."
        )
    if pooled is not None:
        parts.append(
            f"Datasets pooled by a random-effects meta-analysis of the adjusted Hedges g "
            f"({pooled.method} τ², normal CI; 95% prediction interval with k − 2 df, Higgins et al. 2009)."
        )
    res.method = " ".join(parts)
