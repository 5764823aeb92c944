"""Claim-level benchmark rows (issue 14 item 3): the statistics the claims call, each beside its baseline.

Every input is seeded and built untimed; each row reports agreement with the baseline on the same input:

``ols_hc3``
    :func:`gutskin.stats.regression.ols_hc3` (C8's headline model: Shannon on a case indicator + age, sex, BMI,
    antibiotics) vs statsmodels ``ols(...).fit(cov_type="HC3")``: estimate, SE and p to 1e-9.
``permanova``
    :func:`gutskin.stats.permanova.permanova` with one factor (blockwise, no Gower matrix) vs scikit-bio's
    ``permanova`` on the same Bray–Curtis matrix and factor: pseudo-F to 1e-9; the permutation p-values use
    different random streams, so they must agree within 4 Monte-Carlo SE.
``mantel``
    :func:`gutskin.stats.paired.mantel` (Pearson, two-sided) vs scikit-bio ``mantel``: r to 1e-9, p within 4 SE.
``meta``
    :func:`gutskin.stats.meta.random_effects` (DerSimonian–Laird) vs statsmodels ``combine_effects``
    (``method_re="chi2"``): estimate, SE and τ² to 1e-9.
``mixed``
    :func:`gutskin.stats.mixed.mixed_random_intercept` (profiled REML) vs statsmodels ``MixedLM`` REML: the
    fixed effect to 1e-5 (statsmodels' optimiser tolerance).

``n`` is the number of samples (for ``meta``: studies = n // 20; for ``mixed``: subjects = n // 4, four visits).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

PERMUTATIONS = 999
_FORMULA = "shannon ~ any_condition + age + C(sex) + bmi + C(antibiotics)"


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a), abs(b))


# ------------------------------------------------------------------------------------------------ OLS HC3
def prep_ols(params: dict[str, Any]) -> dict[str, Any]:
    from gutskin.calibration import simulate_alpha_cohort

    n = int(params["n"])
    rng = np.random.default_rng(int(params["seed"]))
    df = simulate_alpha_cohort(n // 5, n - n // 5, 0.2, rng, sd_ratio=1.2)
    df["sex"] = df["sex"].astype(str)
    df["antibiotics"] = df["antibiotics"].astype(str)
    return {"df": df}


def ols_ours(d: dict[str, Any]) -> Any:
    from gutskin.stats.regression import ols_hc3

    r = ols_hc3(d["df"], _FORMULA, "any_condition")
    return np.array([r.estimate, r.se, r.p_value])


def ols_baseline(d: dict[str, Any]) -> Any:
    import statsmodels.formula.api as smf

    fit = smf.ols(_FORMULA, data=d["df"]).fit(cov_type="HC3", use_t=True)
    return np.array(
        [fit.params["any_condition"], fit.bse["any_condition"], fit.pvalues["any_condition"]]
    )


def _vector_compare(tol: float):
    def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
        diff = max(_rel(float(x), float(y)) for x, y in zip(a["v"], b["v"], strict=True))
        return {"max_abs_diff": diff, "agree": bool(diff <= tol)}

    return compare


# ------------------------------------------------------------------------------------------------ PERMANOVA
def prep_permanova(params: dict[str, Any]) -> dict[str, Any]:
    from scipy.spatial.distance import pdist, squareform

    n = int(params["n"])
    rng = np.random.default_rng(int(params["seed"]))
    groups = rng.choice(["a", "b", "c"], n)
    x = rng.gamma(0.5, 1.0, (n, 200)) * (1 + 0.15 * (groups == "b"))[:, None]
    sq = squareform(pdist(x, "braycurtis"))
    return {"sq": sq, "groups": groups, "data": pd.DataFrame({"group": groups})}


def permanova_ours(d: dict[str, Any]) -> Any:
    from gutskin.stats.permanova import permanova

    r = permanova(d["sq"], d["data"], ["group"], "group", permutations=PERMUTATIONS, seed=1)
    return np.array([r.pseudo_f, r.p_value])


def permanova_baseline(d: dict[str, Any]) -> Any:
    from skbio import DistanceMatrix
    from skbio.stats.distance import permanova

    ids = [f"S{i}" for i in range(len(d["groups"]))]
    r = permanova(DistanceMatrix(d["sq"], ids), list(d["groups"]), permutations=PERMUTATIONS)
    return np.array([float(r["test statistic"]), float(r["p-value"])])


def _stat_and_p(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
    stat = _rel(float(a["v"][0]), float(b["v"][0]))
    p = max(float(a["v"][1]), 1.0 / (PERMUTATIONS + 1))
    se = math.sqrt(p * (1 - p) / PERMUTATIONS) if p < 1 else 0.0
    p_ok = abs(float(a["v"][1]) - float(b["v"][1])) <= 4 * se + 1.0 / (PERMUTATIONS + 1)
    return {
        "max_abs_diff": stat,
        "p_diff": abs(float(a["v"][1]) - float(b["v"][1])),
        "agree": bool(stat <= 1e-9 and p_ok),
    }


# ------------------------------------------------------------------------------------------------ Mantel
def prep_mantel(params: dict[str, Any]) -> dict[str, Any]:
    from scipy.spatial.distance import pdist, squareform

    n = int(params["n"])
    rng = np.random.default_rng(int(params["seed"]))
    u = rng.normal(size=(n, 5))
    v = 0.2 * u + rng.normal(size=(n, 5))
    return {"x": squareform(pdist(u)), "y": squareform(pdist(v))}


def mantel_ours(d: dict[str, Any]) -> Any:
    from gutskin.stats.paired import mantel

    r = mantel(
        d["x"],
        d["y"],
        method="pearson",
        permutations=PERMUTATIONS,
        seed=1,
        alternative="two-sided",
        n_boot=0,
    )
    return np.array([r.r, r.p_value])


def mantel_baseline(d: dict[str, Any]) -> Any:
    from skbio.stats.distance import mantel

    r, p, _ = mantel(
        d["x"], d["y"], method="pearson", permutations=PERMUTATIONS, alternative="two-sided"
    )
    return np.array([float(r), float(p)])


# ------------------------------------------------------------------------------------------------ meta
def prep_meta(params: dict[str, Any]) -> dict[str, Any]:
    k = max(3, int(params["n"]) // 20)
    rng = np.random.default_rng(int(params["seed"]))
    var = rng.uniform(0.005, 0.05, k)
    y = 0.2 + rng.normal(0, 0.1, k) + rng.normal(0, np.sqrt(var))
    return {"y": y, "var": var}


def meta_ours(d: dict[str, Any]) -> Any:
    from gutskin.stats.meta import random_effects

    r = random_effects(d["y"], np.sqrt(d["var"]), method="DL")
    return np.array([r.estimate, r.se, r.tau2])


def meta_baseline(d: dict[str, Any]) -> Any:
    from statsmodels.stats.meta_analysis import combine_effects

    r = combine_effects(d["y"], d["var"], method_re="chi2")
    return np.array([float(r.mean_effect_re), float(r.sd_eff_w_re), float(r.tau2)])


# ------------------------------------------------------------------------------------------------ mixed
def prep_mixed(params: dict[str, Any]) -> dict[str, Any]:
    subjects = max(10, int(params["n"]) // 4)
    rng = np.random.default_rng(int(params["seed"]))
    subj = np.repeat(np.arange(subjects), 4)
    visit = np.tile(np.arange(4), subjects)
    group = np.repeat(rng.choice(["placebo", "fibre"], subjects), 4)
    b = rng.normal(0, 0.5, subjects)[subj]
    y = 3 + b + 0.1 * visit * (group == "fibre") + rng.normal(0, 0.4, subj.size)
    df = pd.DataFrame(
        {"y": y, "subject": subj.astype(str), "after": (visit > 0).astype(float), "group": group}
    )
    return {"df": df}


_MIXED = "y ~ C(group, Treatment('placebo')) * after"
_MIXED_TERM = "C(group, Treatment('placebo'))[T.fibre]:after"


def mixed_ours(d: dict[str, Any]) -> Any:
    from gutskin.stats.mixed import mixed_random_intercept

    r = mixed_random_intercept(d["df"], _MIXED, "subject", _MIXED_TERM)
    return np.array([r.estimate])


def mixed_baseline(d: dict[str, Any]) -> Any:
    import statsmodels.formula.api as smf

    fit = smf.mixedlm(_MIXED, d["df"], groups=d["df"]["subject"]).fit(reml=True)
    return np.array([float(fit.fe_params[_MIXED_TERM])])


def cases(case_type: Any) -> list[Any]:
    """The claim-level :class:`bench.cases.Case` objects."""

    def arr(r: Any) -> dict[str, np.ndarray]:
        return {"v": np.asarray(r, dtype=np.float64)}

    return [
        case_type(
            "ols_hc3",
            "C8 model: OLS with HC3 SEs (estimate, SE, p)",
            "statsmodels ols().fit(cov_type='HC3')",
            prep_ols,
            ols_ours,
            ols_baseline,
            arr,
            _vector_compare(1e-9),
        ),
        case_type(
            "permanova",
            f"PERMANOVA, one factor, {PERMUTATIONS} permutations",
            "skbio.stats.distance.permanova",
            prep_permanova,
            permanova_ours,
            permanova_baseline,
            arr,
            _stat_and_p,
            tolerance="pseudo-F 1e-9; p within 4 Monte-Carlo SE",
        ),
        case_type(
            "mantel",
            f"Mantel, Pearson, two-sided, {PERMUTATIONS} permutations",
            "skbio.stats.distance.mantel",
            prep_mantel,
            mantel_ours,
            mantel_baseline,
            arr,
            _stat_and_p,
            tolerance="r 1e-9; p within 4 Monte-Carlo SE",
        ),
        case_type(
            "meta",
            "random-effects meta-analysis, DerSimonian–Laird (k = n / 20)",
            "statsmodels combine_effects(method_re='chi2')",
            prep_meta,
            meta_ours,
            meta_baseline,
            arr,
            _vector_compare(1e-9),
        ),
        case_type(
            "mixed",
            "random-intercept mixed model, REML (n / 4 subjects × 4 visits)",
            "statsmodels MixedLM REML",
            prep_mixed,
            mixed_ours,
            mixed_baseline,
            arr,
            _vector_compare(1e-5),
            tolerance="1e-5 (optimiser tolerance)",
        ),
    ]
