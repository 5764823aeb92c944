"""The ``alpha_condition`` runner (C8) on small hand-built DatasetBundles with planted effects.

Covers the beta-diversity analogue (adjusted PERMANOVA + PERMDISP as secondary tests, the "dispersion
differs" flag), several datasets (per-dataset adjusted g, random-effects pooling, forest plot, prediction
interval only for k >= 3), per-dataset overrides (covariates, cluster-robust SEs by
family) and parameter validation. Reference numbers are computed in the tests from the runner's own
per-dataset outputs with the textbook formulas written out (inverse-variance pooling, CR1 sandwich).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import pdist

from gutskin.claims import alpha_condition
from gutskin.claims.bundle import DatasetBundle
from gutskin.errors import InputError
from tests.support.bundles import ready_bundle, unavailable_bundle

CONFIG = {"seed": 7, "permutations": 199, "alpha": 0.05}


def _claim(datasets: list[str], **params: Any) -> dict[str, Any]:
    base = {
        "body_site": "gut",
        "metric": "shannon",
        "exposure": "condition",
        "reference": "none",
        "levels": ["eczema", "psoriasis"],
        "covariates": ["age", "sex", "bmi", "antibiotics"],
        "min_group_size": 10,
    }
    base.update(params)
    return {
        "id": "C8",
        "datasets": datasets,
        "params": base,
        "sesoi": {"value": 0.2, "scale": "hedges_g"},
        "expected_direction": "negative",
    }


def _bundle(
    tmp: Path,
    name: str,
    *,
    n_ctrl: int = 80,
    n_case: dict[str, int] | None = None,
    g: float = -0.8,
    shift: float = 0.0,
    spread: float = 1.0,
    seed: int = 1,
    families: bool = False,
    antibiotics: bool = True,
    observed: bool = False,
    bmi_shift: float = 0.0,
    bmi_effect: float = 0.0,
    depth2: bool = False,
) -> DatasetBundle:
    """One dataset: Shannon lowered by ``g`` SDs in cases; compositions shifted by ``shift`` in cases.

    Cases' compositions have ``spread`` times the control noise (dispersion difference). Cases' BMI is
    higher by ``bmi_shift`` SDs (4 kg/m²), and Shannon rises by ``bmi_effect`` per BMI SD. ``observed``
    adds observed features that follow Shannon (10 features per nat, plus noise); ``depth2`` adds
    Shannon at half the rarefaction depth (500 reads): a little lower, plus noise.
    """
    rng = np.random.default_rng(seed)
    n_case = n_case or {"eczema": 30, "psoriasis": 30}
    cond = ["none"] * n_ctrl + [lv for lv, k in n_case.items() for _ in range(k)]
    n = len(cond)
    ids = [f"{name}_s{i:03d}" for i in range(n)]
    case = np.array([c != "none" for c in cond])
    age = rng.uniform(20, 70, n).round()
    sex = rng.choice(["female", "male"], n)
    bmi = rng.normal(25, 4, n) + 4 * bmi_shift * case
    abx = rng.choice(["past_month", "not_past_year"], n, p=[0.2, 0.8])
    shannon = 3.0 + 0.005 * (age - 45) + g * case + rng.normal(0, 1.0, n)
    shannon = shannon + bmi_effect * (bmi - 25) / 4
    samples = pd.DataFrame(
        {
            "sample_id": ids,
            "subject_id": [f"{name}_p{i:03d}" for i in range(n)],
            "dataset": name,
            "body_site": "gut",
            "condition": cond,
            "age": age,
            "sex": sex,
            "bmi": bmi,
            "antibiotics": abx if antibiotics else np.nan,
        }
    )
    if families:
        samples["family_id"] = [f"fam{i // 3:02d}" for i in rng.permutation(n)]
    samples.index = pd.Index(ids)
    alpha = pd.DataFrame({"shannon_mean": shannon}, index=pd.Index(ids, name="sample_id"))
    if observed:
        extra = np.random.default_rng(seed + 1000).normal(0, 3.0, n)
        alpha["observed_mean"] = 100 + 10 * (shannon - 3.0) + extra
    info: dict[str, Any] = {"depth": 1000, "iterations": 10}
    if depth2:
        alpha["shannon_depth2_mean"] = (
            shannon - 0.1 + np.random.default_rng(seed + 2000).normal(0, 0.1, n)
        )
        info.update(depth2=500, depth2_fraction=0.5)
    # Compositions: 40 taxa, log-normal noise; cases shifted on 8 taxa and (optionally) noisier.
    base = rng.normal(0, 1, 40)
    noise = rng.normal(0, 0.6, (n, 40)) * np.where(case, spread, 1.0)[:, None]
    eff = np.zeros(40)
    eff[:8] = shift
    comp = np.exp(base + noise + case[:, None] * eff)
    cond_vec = pdist(comp / comp.sum(axis=1, keepdims=True), "braycurtis")
    path = tmp / f"{name}_beta_braycurtis.npz"
    np.savez(path, ids=np.array(ids), condensed=cond_vec)
    return ready_bundle(name, samples, alpha, beta_files={"braycurtis": path}, diversity_info=info)


def _tests(res: Any) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in res.tests}


def _one(res: Any, prefix: str) -> dict[str, Any]:
    hits = [t for t in res.tests if t["name"].startswith(prefix)]
    assert len(hits) == 1, [t["name"] for t in res.tests]
    return hits[0]


# ------------------------------------------------------------------------------------------------
# one dataset: existing behaviour plus the beta-diversity analogue
# ------------------------------------------------------------------------------------------------
def test_single_dataset_keeps_headline_and_adds_permanova(tmp_path: Path) -> None:
    b = _bundle(tmp_path, "agp", shift=0.5)
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "out")
    assert res.data_problem is None
    h = res.headline
    # planted g = -0.8 with 60 cases / 80 controls
    assert h["effect_size"] < -0.4 and h["effect_size_ci"][1] < 0
    roles = [t["role"] for t in res.tests]
    # sensitivity: Huber and minimal covariates (this bundle has no observed features)
    assert roles.count("primary") == 1 and roles.count("sensitivity") == 2
    prim = next(t for t in res.tests if t["role"] == "primary")
    assert set(prim) == {
        "name",
        "role",
        "estimate",
        "ci_low",
        "ci_high",
        "effect_size",
        "p_value",
        "n",
        "note",
    }
    pm = _one(res, "PERMANOVA R², any condition vs none")
    assert pm["role"] == "secondary"
    # a planted composition shift on 8 of 40 taxa: detectable, R² between 0 and 1
    assert pm["p_value"] < 0.05
    assert 0 < pm["estimate"] < 1 and pm["estimate"] == pm["r2"]
    assert pm["statistic"] > 1 and pm["df"] == [1, 140 - 1 - 5]  # any + age, sex, bmi, abx(1 dummy)
    assert pm["permutations"] == 199
    assert "adjusted for age, sex, bmi, antibiotics" in pm["note"]
    disp = _one(res, "PERMDISP dispersion difference")
    assert disp["p_value"] is not None and disp["n"] == 140
    assert "Freedman–Lane" in res.method and "PERMDISP" in res.method
    assert (tmp_path / "out" / "forest.svg").is_file()
    assert not (tmp_path / "out" / "meta_forest.svg").exists()
    json.dumps(res.to_dict(), allow_nan=False)


def test_no_composition_shift_gives_no_permanova_signal(tmp_path: Path) -> None:
    b = _bundle(tmp_path, "agp", shift=0.0, seed=3)
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "out")
    pm = _one(res, "PERMANOVA R², any condition vs none")
    # No planted difference: R² of one df among 140 samples is small (E[R²] ≈ 1/139 under H0).
    assert pm["estimate"] < 0.03
    assert pm["p_value"] > 0.01


def test_dispersion_difference_is_flagged(tmp_path: Path) -> None:
    # Same centre, cases twice as noisy: PERMDISP must see it and the PERMANOVA is flagged ambiguous.
    b = _bundle(tmp_path, "agp", shift=0.0, spread=2.0, seed=5)
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "out")
    disp = _one(res, "PERMDISP dispersion difference")
    assert disp["p_value"] < 0.05 and disp["estimate"] > 0  # cases further from their median
    pm = _one(res, "PERMANOVA R², any condition vs none")
    assert pm["dispersion_differs"] is True
    assert "dispersion differs: PERMANOVA ambiguous" in pm["note"]
    assert any("dispersion differs: PERMANOVA ambiguous" in n for n in res.notes)


def test_permanova_uses_the_configured_permutations_without_a_cap(tmp_path: Path) -> None:
    """Issue 11 item 10: the beta tests used min(configured, 999) — a cap in code."""
    b = _bundle(tmp_path, "agp")
    res = alpha_condition.run(
        _claim(["agp"]), {"agp": b}, {**CONFIG, "permutations": 1999}, tmp_path / "o"
    )
    pm = _one(res, "PERMANOVA R², any condition vs none")
    assert pm["permutations"] == 1999


def test_permanova_permutations_are_set_by_the_claim_param(tmp_path: Path) -> None:
    b = _bundle(tmp_path, "agp")
    claim = _claim(["agp"], permanova_permutations=49)
    res = alpha_condition.run(claim, {"agp": b}, {**CONFIG, "permutations": 9999}, tmp_path / "o")
    pm = _one(res, "PERMANOVA R², any condition vs none")
    assert pm["permutations"] == 49
    # p-values of 49 permutations are multiples of 1/50
    assert math.isclose(pm["p_value"] * 50, round(pm["p_value"] * 50), abs_tol=1e-9)


def test_missing_beta_metric_is_a_note_not_a_failure(tmp_path: Path) -> None:
    b = _bundle(tmp_path, "agp")
    b.beta_files = {}
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "out")
    assert res.data_problem is None and res.headline
    assert not [t for t in res.tests if t["name"].startswith("PERMANOVA")]
    assert any("beta metric braycurtis not computed" in n for n in res.notes)


# ------------------------------------------------------------------------------------------------
# several datasets: per-dataset g, random-effects pooling
# ------------------------------------------------------------------------------------------------
def _cohort(tmp: Path, name: str, g: float, seed: int) -> DatasetBundle:
    return _bundle(
        tmp,
        name,
        n_ctrl=45,
        n_case={"psoriasis": 60},
        g=g,
        seed=seed,
        families=True,
        antibiotics=False,
    )


def test_two_datasets_pooled_as_secondary_headline_stays_first(tmp_path: Path) -> None:
    agp = _bundle(tmp_path, "agp")
    pso = _cohort(tmp_path, "pso", g=-0.3, seed=11)
    single = alpha_condition.run(_claim(["agp"]), {"agp": agp}, CONFIG, tmp_path / "one")
    res = alpha_condition.run(
        _claim(["agp", "pso"]), {"agp": agp, "pso": pso}, CONFIG, tmp_path / "two"
    )
    # The headline is still the first dataset's primary test, unchanged by the second dataset.
    assert res.headline["effect_size"] == pytest.approx(single.headline["effect_size"], rel=1e-12)
    assert res.headline["p_value"] == pytest.approx(single.headline["p_value"], rel=1e-12)
    # The cohort has no antibiotics data: the covariate is dropped there, with a note.
    assert any(n.startswith("pso: covariate(s) antibiotics missing") for n in res.notes)
    pso_test = _one(res, "any of psoriasis vs none (OLS, HC3) — pso")
    assert pso_test["role"] == "secondary" and pso_test["n"] == 105
    m = _one(res, "random-effects meta-analysis")
    assert m["role"] == "secondary"
    # Hand check of the pooling: w_i = 1 / (se_i² + τ²), μ = Σ w y / Σ w, SE = 1/sqrt(Σ w).
    agp_prim = next(t for t in res.tests if t["role"] == "primary")
    y = np.array([agp_prim["effect_size"], pso_test["effect_size"]])
    se = np.array([agp_prim["effect_size_se"], pso_test["effect_size_se"]])
    w = 1 / (se**2 + m["tau2"])
    mu = float(np.sum(w * y) / np.sum(w))
    assert m["estimate"] == pytest.approx(mu, rel=1e-10)
    half = stats.norm.ppf(0.975) / math.sqrt(np.sum(w))
    assert m["ci_low"] == pytest.approx(mu - half, rel=1e-10)
    # Cochran's Q with fixed-effect weights
    wf = 1 / se**2
    mu_f = np.sum(wf * y) / np.sum(wf)
    assert m["q"] == pytest.approx(float(np.sum(wf * (y - mu_f) ** 2)), rel=1e-10)
    # k = 2: no prediction interval, and the report says why
    assert m["prediction_interval"] is None
    assert any("prediction interval not computed" in n for n in res.notes)
    assert (tmp_path / "two" / "meta_forest.svg").is_file()
    assert any(f["path"].endswith("meta_forest.svg") for f in res.figures)
    # sample flow is labelled by dataset
    assert {r["dataset"] for r in res.sample_flow} == {"agp", "pso"}
    # PERMANOVA for each dataset
    assert len([t for t in res.tests if t["name"].startswith("PERMANOVA")]) == 2
    json.dumps(res.to_dict(), allow_nan=False)


def test_three_datasets_give_a_prediction_interval(tmp_path: Path) -> None:
    bundles = {
        "agp": _bundle(tmp_path, "agp"),
        "pso": _cohort(tmp_path, "pso", g=-0.2, seed=12),
        "pso2": _cohort(tmp_path, "pso2", g=0.3, seed=13),
    }
    res = alpha_condition.run(_claim(list(bundles)), bundles, CONFIG, tmp_path / "o")
    m = _one(res, "random-effects meta-analysis")
    assert m["role"] == "secondary"
    k = 3
    pi = m["prediction_interval"]
    assert pi is not None
    # Higgins et al. 2009: μ ± t_{0.975, k-2} sqrt(τ² + SE²), SE from the 95% CI half-width
    se = (m["ci_high"] - m["ci_low"]) / (2 * stats.norm.ppf(0.975))
    half = stats.t.ppf(0.975, k - 2) * math.sqrt(m["tau2"] + se**2)
    assert pi[0] == pytest.approx(m["estimate"] - half, rel=1e-9)
    assert pi[1] == pytest.approx(m["estimate"] + half, rel=1e-9)
    # the headline stays the first dataset's (the workflow pools cohorts in claims/pooling.py)
    assert [t["role"] for t in res.tests if t["name"].startswith("any of")] == [
        "primary",
        "secondary",
        "secondary",
    ]


def test_one_condition_is_not_tested_twice(tmp_path: Path) -> None:
    b = _bundle(tmp_path, "agp", shift=0.5)
    claim = _claim(["agp"])
    claim["params"]["levels"] = ["psoriasis"]
    res = alpha_condition.run(claim, {"agp": b}, CONFIG, tmp_path / "out")
    assert res.data_problem is None
    names = [t["name"] for t in res.tests]
    assert any(n.startswith("any of psoriasis vs none") for n in names)
    # the per-condition secondary test would repeat the headline exactly
    assert not any(n.startswith("psoriasis vs none") for n in names), names


def test_first_dataset_missing_keeps_the_others_visible(tmp_path: Path) -> None:
    gone = unavailable_bundle("agp")
    pso = _cohort(tmp_path, "pso", g=-0.3, seed=11)
    res = alpha_condition.run(
        _claim(["agp", "pso"]), {"agp": gone, "pso": pso}, CONFIG, tmp_path / "o"
    )
    # headline "first": no headline without the first dataset, but the cohort's result is reported
    assert res.data_problem == "dataset agp unavailable: no network"
    assert not res.headline
    assert _one(res, "any of psoriasis vs none (OLS, HC3) — pso")["role"] == "secondary"
    assert any("meta-analysis not computed: 1 of 2 datasets" in n for n in res.notes)


def test_cluster_robust_standard_errors_by_family(tmp_path: Path) -> None:
    pso = _cohort(tmp_path, "pso", g=-0.5, seed=21)
    claim = _claim(
        ["pso"],
        levels=["psoriasis"],
        covariates=["age", "sex", "bmi"],
        per_dataset={"pso": {"cluster": "family_id", "strata": "family_id"}},
    )
    res = alpha_condition.run(claim, {"pso": pso}, CONFIG, tmp_path / "o")
    prim = next(t for t in res.tests if t["role"] == "primary")
    assert "cluster-robust by family_id" in prim["name"]
    # CR1 sandwich by hand: V = c (X'X)^-1 [Σ_g X_g' e_g e_g' X_g] (X'X)^-1,
    # c = G/(G-1) · (N-1)/(N-K); CI with t on G-1 df.
    d = pso.samples.copy()
    d["y"] = pso.alpha["shannon_mean"]
    d["any"] = (d["condition"] != "none").astype(float)
    X = np.column_stack(
        [np.ones(len(d)), d["any"], d["age"], (d["sex"] == "male").astype(float), d["bmi"]]
    )
    yv = d["y"].to_numpy()
    beta, *_ = np.linalg.lstsq(X, yv, rcond=None)
    e = yv - X @ beta
    xtx_inv = np.linalg.inv(X.T @ X)
    meat = np.zeros((5, 5))
    fam = d["family_id"].to_numpy()
    groups = np.unique(fam)
    for gname in groups:
        m = fam == gname
        s = X[m].T @ e[m]
        meat += np.outer(s, s)
    n_obs, k = X.shape
    gcount = len(groups)
    c = gcount / (gcount - 1) * (n_obs - 1) / (n_obs - k)
    se = math.sqrt(c * (xtx_inv @ meat @ xtx_inv)[1, 1])
    tq = stats.t.ppf(0.975, gcount - 1)
    assert prim["estimate"] == pytest.approx(beta[1], rel=1e-9)
    assert prim["ci_low"] == pytest.approx(beta[1] - tq * se, rel=1e-8)
    assert prim["ci_high"] == pytest.approx(beta[1] + tq * se, rel=1e-8)
    pm = _one(res, "PERMANOVA R², any condition vs none")
    assert "within family_id" in pm["note"]


# ------------------------------------------------------------------------------------------------
# parameter validation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"headline": "meta"}, "params.headline"),
        ({"meta_method": "REML"}, "params.meta_method"),
        ({"permanova_permutations": -1}, "params.permanova_permutations"),
        ({"per_dataset": {"other": {"cluster": "family_id"}}}, "params.per_dataset.other"),
        ({"per_dataset": {"agp": {"colour": "red"}}}, "params.per_dataset.agp"),
    ],
)
def test_bad_params_name_the_key(tmp_path: Path, params: dict[str, Any], key: str) -> None:
    b = _bundle(tmp_path, "agp")
    with pytest.raises(InputError) as err:
        alpha_condition.run(_claim(["agp"], **params), {"agp": b}, CONFIG, tmp_path / "o")
    assert key in str(err.value) and "claim C8" in str(err.value)


# ------------------------------------------------------------------------------------------------
# several sensitivity analyses and the robustness score
# ------------------------------------------------------------------------------------------------
def _ledger_entry(res: Any) -> dict[str, Any]:
    from gutskin.claims.ledger import build_ledger

    claim = {**_claim(["agp"]), "analysis": "alpha_condition", "primary": True, "title": "t"}
    return build_ledger([claim], {"C8": res.to_dict()}, CONFIG)[0]


def test_planted_effect_survives_every_sensitivity_analysis(tmp_path: Path) -> None:
    b = _bundle(tmp_path, "agp", observed=True)
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "out")
    sens = [t for t in res.tests if t["role"] == "sensitivity"]
    assert [t["name"] for t in sens] == [
        "any condition vs reference (Huber robust regression)",
        "any condition vs reference (minimal covariates: age, sex)",
        "any condition vs reference (observed features instead of Shannon)",
    ]
    assert [o["name"] for o in res.sensitivity_analyses] == [
        "Huber robust regression",
        "minimal covariates",
        "observed features",
    ]
    # the runner records each analysis's numbers on the Hedges g scale; the ledger judges them
    for o in res.sensitivity_analyses:
        assert o["agrees"] is None
        assert o["estimate"] < 0 and o["ci"][1] < 0 and o["ci90"][1] < 0 and o["p_value"] < 0.05
    # every sensitivity estimate is significant in the same (negative) direction
    assert all(t["p_value"] < 0.05 and t["estimate"] < 0 for t in sens)
    # minimal covariates: same subjects, age and sex only; the observed-features g is on its own scale
    assert sens[1]["n"] == sens[2]["n"] == res.headline["n"]
    assert sens[2]["effect_size"] < -0.4
    assert "no second rarefaction depth (not computed for this dataset)" in res.method
    entry = _ledger_entry(res)
    assert entry["robustness"] == "3/3 agree"
    assert [o["outcome"] for o in entry["sensitivity_analyses"]] == ["agrees"] * 3
    assert entry["verdict"] == "supported"
    assert "the sensitivity analyses agree" in entry["reason"]
    assert [o["name"] for o in entry["sensitivity_analyses"]] == [
        o["name"] for o in res.sensitivity_analyses
    ]


def test_effect_only_through_a_covariate_makes_the_verdict_inconclusive(tmp_path: Path) -> None:
    """Cases have a higher BMI, which raises Shannon as much as the condition lowers it: adjusted for
    BMI the effect is large, adjusted for age and sex only it vanishes."""
    b = _bundle(tmp_path, "agp", observed=True, bmi_shift=1.0, bmi_effect=0.8)
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "out")
    assert res.headline["p_value"] < 0.001 and res.headline["effect_size"] < -0.4
    minimal = _one(res, "any condition vs reference (minimal covariates")
    assert minimal["role"] == "sensitivity" and minimal["p_value"] > 0.05
    entry = _ledger_entry(res)
    agrees = {o["name"]: o["agrees"] for o in entry["sensitivity_analyses"]}
    assert agrees == {
        "Huber robust regression": True,
        "minimal covariates": False,
        "observed features": True,
    }
    assert entry["robustness"] == "2/3 agree (disagrees: minimal covariates)"
    assert entry["verdict"] == "inconclusive"
    assert entry["reason"].startswith(
        "sensitivity analyses disagree: minimal covariates disagrees (2 of 3 agree); "
    )


def test_second_rarefaction_depth_is_a_sensitivity_analysis(tmp_path: Path) -> None:
    b = _bundle(tmp_path, "agp", observed=True, depth2=True)
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "out")
    d2 = _one(res, "any condition vs reference (Shannon at half the rarefaction depth")
    assert d2["name"] == (
        "any condition vs reference (Shannon at half the rarefaction depth (500 reads))"
    )
    assert d2["role"] == "sensitivity" and d2["n"] == res.headline["n"]  # same subjects
    assert d2["p_value"] < 0.05 and d2["estimate"] < 0
    # the same model on the depth-2 column, by hand
    data = pd.read_csv(tmp_path / "out" / "analysis_data.tsv", sep="\t")
    assert "shannon_depth2" in data.columns
    y = b.alpha.loc[data["sample_id"], "shannon_depth2_mean"].to_numpy()
    np.testing.assert_allclose(data["shannon_depth2"], y, rtol=0, atol=1e-12)
    assert [o["name"] for o in res.sensitivity_analyses] == [
        "Huber robust regression",
        "minimal covariates",
        "observed features",
        "second rarefaction depth",
    ]
    assert "the same model on Shannon at half the rarefaction depth (500 reads)" in res.method
    entry = _ledger_entry(res)
    assert entry["sensitivity_analyses"][-1]["outcome"] == "agrees"
    assert entry["robustness"] == "4/4 agree"


def test_second_rarefaction_depth_disagreeing_makes_the_verdict_inconclusive(
    tmp_path: Path,
) -> None:
    b = _bundle(tmp_path, "agp", depth2=True)
    # at the second depth the values are noise: no effect there
    b.alpha["shannon_depth2_mean"] = np.random.default_rng(99).normal(3, 1, len(b.alpha))
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "out")
    entry = _ledger_entry(res)
    agrees = {o["name"]: o["agrees"] for o in entry["sensitivity_analyses"]}
    assert agrees["second rarefaction depth"] is False
    assert entry["robustness"] == "2/3 agree (disagrees: second rarefaction depth)"
    assert entry["verdict"] == "inconclusive"


def test_second_rarefaction_depth_is_pooled_over_cohorts(tmp_path: Path) -> None:
    """Each cohort job runs the declared sensitivity analyses; the pooling pools the second depth as the
    headline is, and only when every cohort has it."""
    from gutskin.claims.pooling import cohort_claim, cohort_result, pool

    def cohorts(bundles: dict[str, Any], out: str) -> dict[str, Any]:
        claim = _claim(list(bundles))
        return {
            ds: cohort_result(
                alpha_condition.run(
                    cohort_claim(claim, ds), {ds: b}, CONFIG, tmp_path / out / ds
                ).to_dict(),
                ds,
            )
            for ds, b in bundles.items()
        }

    bundles = {
        "agp": _bundle(tmp_path, "agp", depth2=True),
        "pso": _bundle(tmp_path, "pso", seed=12, depth2=True),
    }
    cs = cohorts(bundles, "o")
    assert all(
        "second rarefaction depth" in [o["name"] for o in c["sensitivity_analyses"]]
        for c in cs.values()
    )
    res = pool(_claim(list(bundles)), cs, CONFIG, tmp_path / "p")
    names = [o["name"] for o in res["sensitivity_analyses"]]
    assert "second rarefaction depth (pooled)" in names
    # only one cohort has it: not pooled
    bundles["pso"] = _bundle(tmp_path, "pso", seed=12)
    res = pool(_claim(list(bundles)), cohorts(bundles, "o2"), CONFIG, tmp_path / "p2")
    assert "second rarefaction depth (pooled)" not in [
        o["name"] for o in res["sensitivity_analyses"]
    ]


# ------------------------------------------------------------------------------------------------
# the matched case–control analysis (issue 11 item 2)
# ------------------------------------------------------------------------------------------------
def test_matched_analysis_is_run_balanced_and_judged(tmp_path: Path) -> None:
    from gutskin.claims import run_claim
    from gutskin.claims.ledger import build_ledger
    from gutskin.stats.matching import match_nearest

    b = _bundle(tmp_path, "agp", bmi_shift=1.0)  # cases 4 kg/m² heavier: imbalanced before matching
    claim = {**_claim(["agp"]), "analysis": "alpha_condition", "primary": True, "title": "t"}
    config = {**CONFIG, "matching": {"calipers": {"age": 5.0, "bmi": 2.5}, "ratio": 2}}
    res = run_claim(claim, {"agp": b}, config, tmp_path / "out")
    m = res.matched
    assert m is not None
    # the same sets by hand, from the analysed subjects
    data = pd.read_csv(tmp_path / "out" / "analysis_data.tsv", sep="\t")
    data["case"] = (data["condition"] != "none").astype(float)
    ref = match_nearest(
        data,
        "case",
        exact=["sex"],
        nearest=["age", "bmi"],
        calipers={"age": 5, "bmi": 2.5},
        ratio=2,
    )
    assert (m["n_cases"], m["n_controls"]) == (ref.n_cases, ref.n_controls)
    bal = {x["covariate"]: x for x in m["balance"]}
    assert bal["bmi"]["smd_before"] > 0.5
    assert abs(bal["bmi"]["smd_after"]) < bal["bmi"]["smd_before"] / 3
    # planted g = -0.8: the matched estimate is negative and significant, so it agrees
    assert m["estimate"] < -0.3 and m["ci"][1] < 0
    sens = next(o for o in res.sensitivity_analyses if o["kind"] == "matched")
    assert sens["estimate"] == m["estimate"]
    (entry,) = build_ledger([claim], {"C8": res.to_dict()}, config)
    assert entry["matched"]["outcome"] == "agrees" and entry["matched"]["verdict"] == "supported"
    assert entry["verdict"] == "supported"


def test_matched_analysis_that_disagrees_makes_the_verdict_inconclusive() -> None:
    from gutskin.claims.ledger import build_ledger

    claim = {**_claim(["agp"]), "analysis": "alpha_condition", "primary": True, "title": "t"}
    result = {
        "id": "C8",
        "headline": {
            "effect_size": -0.5,
            "effect_size_ci": [-0.8, -0.2],
            "effect_size_ci90": [-0.75, -0.25],
            "p_value": 0.001,
            "power": 0.9,
            "n": 300,
        },
        "matched": {"estimate": -0.1, "ci": [-0.4, 0.2], "n_cases": 50, "n_controls": 120},
        "sensitivity_analyses": [
            {
                "name": "matched case–control",
                "kind": "matched",
                "estimate": -0.1,
                "ci": [-0.4, 0.2],
                "ci90": [-0.35, 0.15],
                "p_value": 0.5,
                "note": "matched",
            }
        ],
    }
    (entry,) = build_ledger([claim], {"C8": result}, CONFIG)
    assert entry["verdict"] == "inconclusive"
    assert entry["matched"]["outcome"] == "disagrees"
    assert entry["matched"]["verdict"] == "inconclusive"
    assert "matched case–control disagrees" in entry["reason"]


def test_permdisp_beyond_its_limit_keeps_the_permanova(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PERMDISP_MAX_SAMPLES (dense eigendecomposition) PERMDISP is refused; the PERMANOVA, which
    has no such limit, is still reported (it used to be dropped with it), and a note says why."""
    from gutskin.stats import permanova

    b = _bundle(tmp_path, "agp")
    full = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "a")
    monkeypatch.setattr(permanova, "PERMDISP_MAX_SAMPLES", 100)  # below this bundle's 140 samples
    res = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "b")
    pm = _one(res, "PERMANOVA R², any condition vs none")
    assert pm == _one(full, "PERMANOVA R², any condition vs none") | {
        "note": pm["note"],
        "dispersion_differs": False,
    }
    assert pm["note"].endswith("PERMDISP p = not computed")
    assert not [t for t in res.tests if t["name"].startswith("PERMDISP")]
    assert any("PERMDISP not computed" in n and "exceed the limit of 100" in n for n in res.notes)


def test_headline_power_is_one_sided_for_a_directional_claim(tmp_path: Path) -> None:
    """C8 is directional (lower diversity), so it is tested one-sided and its power at the SESOI is the
    one-sided t test's (pwr's alternative "greater", checked in test_stats_power); registered two-sided
    (``sided: two``) it is the two-tailed power."""
    from gutskin.stats.power import two_sample_power

    b = _bundle(tmp_path, "agp", shift=0.5)
    one = alpha_condition.run(_claim(["agp"]), {"agp": b}, CONFIG, tmp_path / "one").headline
    two = alpha_condition.run(
        {**_claim(["agp"]), "sided": "two"}, {"agp": b}, CONFIG, tmp_path / "two"
    ).headline
    # 60 cases / 80 controls in this bundle
    assert one["power"] == pytest.approx(two_sample_power(0.2, 60, 80, alternative="greater"))
    assert two["power"] == pytest.approx(two_sample_power(0.2, 60, 80))
    assert one["power"] > two["power"]
