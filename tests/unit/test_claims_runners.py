"""Claim runners ``alpha_exposure``, ``comorbidity_logistic`` and ``longitudinal_mixed`` on hand-built
dataset bundles with planted effects (verdicts asserted through the ledger), plus the ledger's handling of
testable claims whose data are unavailable.

Expected numbers are hand computations on the simulated data (group means, a least-squares slope, the
odds ratio ad/bc of a 2×2 table, difference-in-differences of means, counts), never the runner's own output.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gutskin.claims import RUNNERS
from gutskin.claims.bundle import DatasetBundle
from gutskin.claims.ledger import build_ledger
from tests.support.bundles import RAREFIED, ready_bundle
from tests.support.claims import claim_entry

CONFIG = {"alpha": 0.05, "power_target": 0.8, "seed": 5}
PLANTS = ["Less than 5", "6 to 10", "11 to 20", "21 to 30", "More than 30"]


def _bundle(
    samples: pd.DataFrame,
    alpha: pd.DataFrame | None = None,
    *,
    name: str = "d",
    import_info: dict | None = None,
    diversity_info: dict | None = None,
) -> DatasetBundle:
    samples = samples.copy()
    samples.index = pd.Index(samples["sample_id"].astype(str).to_numpy())
    return ready_bundle(
        name,
        samples,
        alpha,
        import_info=import_info,
        diversity_info=diversity_info or dict(RAREFIED),
    )


def _claim(cid: str, analysis: str, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return claim_entry(
        cid, analysis=analysis, params=params, **{"expected_direction": "positive", **kw}
    )


def _verdict(claim: dict, result: dict) -> dict:
    return build_ledger([claim], {claim["id"]: result}, CONFIG)[0]


def test_runners_are_registered() -> None:
    assert {"alpha_exposure", "comorbidity_logistic", "longitudinal_mixed"} <= set(RUNNERS)


# ================================================================================================
# alpha_exposure
# ================================================================================================
def _plants_data(
    n: int, slope: float, seed: int, duplicates: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gut samples with Shannon = 3 + slope·score + 0.01·(age − 45) + N(0, 0.5²)."""
    rng = np.random.default_rng(seed)
    score = rng.integers(0, 5, n)
    age = rng.uniform(20, 70, n).round()
    sex = rng.choice(["female", "male"], n)
    y = 3 + slope * score + 0.01 * (age - 45) + rng.normal(0, 0.5, n)
    samples = pd.DataFrame(
        {
            "sample_id": [f"a{i:05d}" for i in range(n)],
            "subject_id": [f"S{i}" for i in range(n)],
            "body_site": "gut",
            "types_of_plants": np.array(PLANTS)[score],
            "age": age,
            "sex": sex,
        }
    )
    shannon = pd.Series(y, index=samples["sample_id"])
    if duplicates:
        # a second, later sample of some subjects with an absurd value: it must never be picked
        dup = samples.iloc[:duplicates].copy()
        dup["sample_id"] = [f"z{i:05d}" for i in range(duplicates)]
        samples = pd.concat([samples, dup], ignore_index=True)
        shannon = pd.concat([shannon, pd.Series(100.0, index=dup["sample_id"])])
    samples.loc[len(samples)] = {  # a skin sample: not in a gut analysis
        "sample_id": "skin1",
        "subject_id": "S0",
        "body_site": "skin",
        "types_of_plants": PLANTS[0],
        "age": 40.0,
        "sex": "female",
    }
    shannon["skin1"] = 50.0
    alpha = pd.DataFrame({"shannon_mean": shannon, "observed_mean": shannon * 40})
    return samples, alpha


def _exposure_params(**kw: Any) -> dict[str, Any]:
    p = {
        "body_site": "gut",
        "metric": "shannon",
        "exposure": "types_of_plants",
        "levels": PLANTS,
        "covariates": ["age", "sex"],
        "min_group_size": 10,
    }
    p.update(kw)
    return p


def test_alpha_exposure_planted_trend_is_supported(tmp_path: Path) -> None:
    samples, alpha = _plants_data(800, slope=0.12, seed=1, duplicates=30)
    claim = _claim("C25", "alpha_exposure", _exposure_params(secondary_metrics=["observed"]))
    res = RUNNERS["alpha_exposure"](claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path)
    out = res.to_dict()
    assert out["data_problem"] is None
    assert out["n"] == 800  # one sample per subject, the duplicates and the skin sample left out
    # planted top-vs-bottom difference 4 × 0.12 = 0.48 nats lies in the 95% CI
    assert out["headline"]["ci_low"] < 0.48 < out["headline"]["ci_high"]
    entry = _verdict(claim, out)
    assert entry["verdict"] == "supported"
    assert {t["role"] for t in out["tests"]} >= {"primary", "secondary", "sensitivity"}
    # observed features is both a secondary metric and the alternative-metric sensitivity analysis:
    # listed once, as the latter; the covariates are age and sex, so there is no minimal model
    observed = [t for t in out["tests"] if "observed features" in t["name"]]
    assert [(t["name"], t["role"]) for t in observed] == [
        ("More than 30 vs Less than 5 on observed features (OLS, HC3)", "sensitivity")
    ]
    assert entry["robustness"] == "2/2 agree"
    assert "the same model on observed features instead of Shannon" in out["method"]
    assert (tmp_path / "analysis_data.tsv").is_file()
    assert all(Path(f["path"]).is_file() for f in out["figures"])


def test_alpha_exposure_minimal_covariates(tmp_path: Path) -> None:
    """With a covariate besides age and sex, the headline is refitted with age and sex only."""
    samples, alpha = _plants_data(400, slope=0.12, seed=2)
    samples["bmi"] = np.random.default_rng(5).normal(25, 4, len(samples))
    params = _exposure_params(covariates=["age", "sex", "bmi"])
    claim = _claim("C25", "alpha_exposure", params)
    out = RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path
    ).to_dict()
    sens = {t["name"]: t for t in out["tests"] if t["role"] == "sensitivity"}
    minimal = sens["More than 30 vs Less than 5 (minimal covariates: age, sex) (OLS, HC3)"]
    data = pd.read_csv(tmp_path / "analysis_data.tsv", sep="\t")
    assert minimal["n"] == out["headline"]["n"] == len(data)  # the same subjects
    assert [o["name"] for o in out["sensitivity_analyses"]] == [
        "Huber robust regression",
        "minimal covariates",
        "observed features",
    ]
    assert _verdict(claim, out)["robustness"] == "3/3 agree"


def test_alpha_exposure_second_rarefaction_depth(tmp_path: Path) -> None:
    """With ``shannon_depth2_mean`` in alpha.tsv the headline is refitted on it (same subjects)."""
    samples, alpha = _plants_data(400, slope=0.12, seed=2)
    noise = np.random.default_rng(6).normal(0, 0.05, len(alpha))
    alpha["shannon_depth2_mean"] = alpha["shannon_mean"] - 0.1 + noise
    info = {"depth": 1000, "iterations": 10, "depth2": 500, "depth2_fraction": 0.5}
    claim = _claim("C25", "alpha_exposure", _exposure_params())
    out = RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(samples, alpha, diversity_info=info)}, CONFIG, tmp_path
    ).to_dict()
    sens = {t["name"]: t for t in out["tests"] if t["role"] == "sensitivity"}
    name = "More than 30 vs Less than 5 on Shannon at half the rarefaction depth (500 reads) (OLS, HC3)"
    assert sens[name]["n"] == out["headline"]["n"]
    assert [o["name"] for o in out["sensitivity_analyses"]] == [
        "Huber robust regression",
        "observed features",
        "second rarefaction depth",
    ]
    assert _verdict(claim, out)["robustness"] == "3/3 agree"
    assert "the same model on Shannon at half the rarefaction depth (500 reads)" in out["method"]
    # the same model by hand
    import statsmodels.formula.api as smf

    data = pd.read_csv(tmp_path / "analysis_data.tsv", sep="\t")
    fit = smf.ols(
        "shannon_depth2 ~ C(types_of_plants, Treatment('Less than 5')) + age + C(sex)", data=data
    ).fit(cov_type="HC3")
    term = "C(types_of_plants, Treatment('Less than 5'))[T.More than 30]"
    assert sens[name]["estimate"] == pytest.approx(fit.params[term], rel=1e-9)


def test_alpha_exposure_estimates_equal_hand_computations(tmp_path: Path) -> None:
    samples, alpha = _plants_data(300, slope=0.1, seed=2)
    claim = _claim("C25", "alpha_exposure", _exposure_params(covariates=[]))
    out = RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path
    ).to_dict()
    gut = samples[samples["body_site"] == "gut"].set_index("sample_id")
    y = alpha.loc[gut.index, "shannon_mean"]
    lv = gut["types_of_plants"]
    # no covariates: the top-vs-reference coefficient is the difference of the two group means
    assert out["headline"]["estimate"] == pytest.approx(
        y[lv == PLANTS[-1]].mean() - y[lv == PLANTS[0]].mean(), abs=1e-10
    )
    # the trend coefficient is the least-squares slope cov(score, y) / var(score)
    score = lv.map({p: i for i, p in enumerate(PLANTS)}).astype(float)
    slope = np.cov(score, y, ddof=1)[0, 1] / np.var(score, ddof=1)
    trend = next(t for t in out["tests"] if "linear trend" in t["name"])
    assert trend["estimate"] == pytest.approx(slope, abs=1e-10)
    assert out["n_groups"] == {p: int((lv == p).sum()) for p in PLANTS}


def test_alpha_exposure_null_shows_equivalence(tmp_path: Path) -> None:
    samples, alpha = _plants_data(4000, slope=0.0, seed=3)
    claim = _claim("C32", "alpha_exposure", _exposure_params())
    out = RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path
    ).to_dict()
    assert _verdict(claim, out)["verdict"] == "not_supported"


def test_alpha_exposure_merges_levels_and_compares_published(tmp_path: Path) -> None:
    samples, alpha = _plants_data(600, slope=0.12, seed=4)
    params = _exposure_params(
        merge={"Under 11": ["Less than 5", "6 to 10"]},
        published=[
            {
                "label": "top vs bottom (R1)",
                "term": "top",
                "beta": 0.85,
                "ci": [0.15, 1.55],
                "g": 0.8,
                "units": "Faith PD",
            }
        ],
    )
    claim = _claim("C25", "alpha_exposure", params)
    out = RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path
    ).to_dict()
    gut = samples[samples["body_site"] == "gut"]
    lv = gut["types_of_plants"]
    assert list(out["n_groups"]) == ["Under 11", "11 to 20", "21 to 30", "More than 30"]
    assert out["n_groups"]["Under 11"] == int(lv.isin(PLANTS[:2]).sum())
    assert "Under 11" in out["estimate_label"]
    # planted: 0.12 × (4 − 0.5 average score of the merged level) ≈ 0.42 nats over a residual SD of
    # 0.5, i.e. g ≈ 0.84 — a published g of 0.8 lies inside our CI, and the note says so
    assert any("published g is within our 95% CI" in n for n in out["notes"])
    assert (tmp_path / "published_comparison.tsv").is_file()


def test_alpha_exposure_levels_from_import_and_data_problems(tmp_path: Path) -> None:
    samples, alpha = _plants_data(200, slope=0.1, seed=5)
    info = {"columns": {"types_of_plants": {"type": "ordinal", "levels": PLANTS}}}
    params = _exposure_params()
    del params["levels"]
    claim = _claim("C25", "alpha_exposure", params)
    ok = RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(samples, alpha, import_info=info)}, CONFIG, tmp_path
    )
    assert ok.data_problem is None and ok.headline["n"] == 200

    no_levels = RUNNERS["alpha_exposure"](claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path)
    assert "no declared ordinal levels" in no_levels.data_problem

    missing = _claim("C25", "alpha_exposure", _exposure_params(covariates=["bmi"]))
    r = RUNNERS["alpha_exposure"](missing, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path)
    assert "bmi" in r.data_problem and "datasets.yaml" in r.data_problem

    few = samples[~((samples["types_of_plants"] == PLANTS[0]) & (samples.index > 20))]
    r = RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(few, alpha, import_info=info)}, CONFIG, tmp_path
    )
    assert "too few samples" in r.data_problem

    gone = DatasetBundle("d", False, "HTTP 404", samples, alpha, pd.DataFrame())
    r = RUNNERS["alpha_exposure"](claim, {"d": gone}, CONFIG, tmp_path)
    assert (
        "unavailable" in r.data_problem
        and _verdict(claim, r.to_dict())["verdict"] == "data_unavailable"
    )


# ================================================================================================
# comorbidity_logistic
# ================================================================================================
def _comorbidity_data(n: int, log_or: float, seed: int, p_ibd: float = 0.15) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ibd = rng.uniform(size=n) < p_ibd
    ibd_type = np.where(rng.uniform(size=n) < 0.6, "ulcerative_colitis", "crohns_disease")
    age = rng.uniform(20, 75, n).round()
    eta = -1.4 + log_or * ibd + 0.01 * (age - 45)
    skin = rng.uniform(size=n) < 1 / (1 + np.exp(-eta))
    cond = np.where(skin, rng.choice(["eczema", "rosacea", "psoriasis"], n), "none")
    return pd.DataFrame(
        {
            "sample_id": [f"s{i:05d}" for i in range(n)],
            "subject_id": [f"P{i}" for i in range(n)],
            "body_site": "gut",
            "condition": cond,
            "ibd": np.where(ibd, ibd_type, "none"),
            "age": age,
            "sex": rng.choice(["female", "male"], n),
            "acne_medication": np.where(rng.uniform(size=n) < 0.05, "yes", "no"),
        }
    )


def _comorbidity_params(**kw: Any) -> dict[str, Any]:
    p = {
        "outcome": "condition",
        "outcome_reference": "none",
        "outcome_levels": ["eczema", "rosacea", "psoriasis"],
        "exposures": [
            {"column": "ibd", "reference": "none", "label": "IBD"},
            {
                "column": "ibd",
                "reference": "none",
                "levels": ["crohns_disease"],
                "label": "Crohn's",
            },
        ],
        "covariates": ["age", "sex"],
        "extra_outcomes": [
            {"column": "acne_medication", "case": "yes", "control": "no", "label": "acne meds"}
        ],
    }
    p.update(kw)
    return p


def _c3(params: dict[str, Any]) -> dict[str, Any]:
    return _claim(
        "C3", "comorbidity_logistic", params, sesoi={"value": 0.405, "scale": "odds_ratio_log"}
    )


def test_comorbidity_planted_odds_ratio_is_supported(tmp_path: Path) -> None:
    data = _comorbidity_data(5000, log_or=1.0, seed=1)
    claim = _c3(_comorbidity_params())
    out = RUNNERS["comorbidity_logistic"](claim, {"d": _bundle(data)}, CONFIG, tmp_path).to_dict()
    assert out["data_problem"] is None
    assert out["headline"]["ci_low"] < 1.0 < out["headline"]["ci_high"]
    assert _verdict(claim, out)["verdict"] == "supported"
    names = [t["name"] for t in out["tests"]]
    assert "eczema/rosacea/psoriasis ~ Crohn's" in names  # second GI exposure
    assert any(n.startswith("psoriasis ~ IBD") for n in names)  # each condition separately
    assert any(n.startswith("acne meds ~ IBD") for n in names)  # extra outcome
    fam = [
        t
        for t in out["tests"]
        if t["name"].startswith("eczema/rosacea/psoriasis ~") and t["role"] != "sensitivity"
    ]
    assert len(fam) == 2 and all("p_adjusted" in t for t in fam)  # Holm within the claim


def test_comorbidity_estimate_equals_log_odds_ratio_of_the_table(tmp_path: Path) -> None:
    data = _comorbidity_data(1500, log_or=0.7, seed=2)
    claim = _c3(_comorbidity_params(covariates=[], extra_outcomes=[]))
    out = RUNNERS["comorbidity_logistic"](claim, {"d": _bundle(data)}, CONFIG, tmp_path).to_dict()
    case = data["condition"] != "none"
    exp = data["ibd"] != "none"
    a, b = int((exp & case).sum()), int((exp & ~case).sum())
    c, d = int((~exp & case).sum()), int((~exp & ~case).sum())
    assert out["headline"]["estimate"] == pytest.approx(math.log(a * d / (b * c)), abs=1e-8)
    assert out["headline"]["odds_ratio"] == pytest.approx(a * d / (b * c), rel=1e-8)
    assert out["tests"][0]["note"].count(f"exposed {a}/{a + b} cases vs unexposed {c}/{c + d}") == 1


def test_comorbidity_null_shows_equivalence(tmp_path: Path) -> None:
    data = _comorbidity_data(8000, log_or=0.0, seed=3, p_ibd=0.3)
    claim = _c3(_comorbidity_params(extra_outcomes=[]))
    out = RUNNERS["comorbidity_logistic"](claim, {"d": _bundle(data)}, CONFIG, tmp_path).to_dict()
    assert _verdict(claim, out)["verdict"] == "not_supported"


def test_comorbidity_sparse_cells_use_firth(tmp_path: Path) -> None:
    data = _comorbidity_data(600, log_or=0.0, seed=4, p_ibd=0.0)
    # exactly four exposed participants, three of them cases: a sparse 2×2 table
    data.loc[:3, "ibd"] = "crohns_disease"
    data.loc[:2, "condition"] = "psoriasis"
    data.loc[3, "condition"] = "none"
    claim = _c3(
        _comorbidity_params(extra_outcomes=[], exposures=[{"column": "ibd", "reference": "none"}])
    )
    out = RUNNERS["comorbidity_logistic"](claim, {"d": _bundle(data)}, CONFIG, tmp_path).to_dict()
    head = out["tests"][0]
    assert head["sparse_cells"] is True and "Firth" in head["method"]
    assert any(n.startswith("Sparse cells") for n in out["notes"])
    # Firth is finite and the sensitivity row is the maximum-likelihood fit
    assert math.isfinite(out["headline"]["estimate"])
    sens = [t for t in out["tests"] if t["role"] == "sensitivity"]
    assert len(sens) == 1 and "ML" in sens[0]["name"]


def test_comorbidity_counts_other_conditions(tmp_path: Path) -> None:
    data = _comorbidity_data(400, log_or=0.5, seed=5)
    rng = np.random.default_rng(9)
    data["diabetes"] = rng.choice(["none", "type_1", "type_2"], len(data), p=[0.8, 0.1, 0.1])
    data["asthma"] = rng.choice(["no", "yes"], len(data), p=[0.85, 0.15])
    data.loc[5, "asthma"] = None  # unknown: the count is unknown, the participant is dropped
    params = _comorbidity_params(
        covariates=["age", "n_other_conditions"],
        other_conditions={"diabetes": "none", "asthma": "no"},
        extra_outcomes=[],
    )
    out = RUNNERS["comorbidity_logistic"](
        _c3(params), {"d": _bundle(data)}, CONFIG, tmp_path
    ).to_dict()
    assert out["data_problem"] is None
    table = pd.read_csv(tmp_path / "analysis_data.tsv", sep="\t").set_index("sample_id")
    hand = (data["diabetes"] != "none").astype(int) + (data["asthma"] == "yes").astype(int)
    hand.index = data["sample_id"]
    assert "s00005" not in table.index
    np.testing.assert_array_equal(
        table["n_other_conditions"].to_numpy(), hand.loc[table.index].to_numpy()
    )
    assert out["n"] == len(data) - 1


def test_comorbidity_missing_column_is_a_data_problem(tmp_path: Path) -> None:
    data = _comorbidity_data(300, log_or=0.5, seed=6).drop(columns="ibd")
    out = RUNNERS["comorbidity_logistic"](
        _c3(_comorbidity_params()), {"d": _bundle(data)}, CONFIG, tmp_path
    )
    assert "ibd" in out.data_problem


# ================================================================================================
# longitudinal_mixed
# ================================================================================================
def _trial_data(
    n_per_group: int, effect: float, seed: int, icc: float = 0.6, drop_followup: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Before/after samples; the treated group's change exceeds the placebo's by ``effect`` total SDs."""
    rng = np.random.default_rng(seed)
    rows, vals = [], {}
    for i in range(2 * n_per_group):
        grp = "LGG" if i < n_per_group else "Placebo"
        u = rng.normal(0, math.sqrt(icc))
        for t in (1, 2):
            if t == 2 and i < drop_followup:
                continue
            sid = f"x{i:04d}_{t}"
            rows.append(
                {
                    "sample_id": sid,
                    "subject_id": f"S{i}",
                    "body_site": "gut",
                    "visit": t,
                    "treatment": grp,
                }
            )
            vals[sid] = (
                4
                + u
                + 0.1 * (t == 2)
                + effect * (t == 2) * (grp == "LGG")
                + rng.normal(0, math.sqrt(1 - icc))
            )
    samples = pd.DataFrame(rows)
    return samples, pd.DataFrame({"shannon_mean": pd.Series(vals)})


def _trial_params() -> dict[str, Any]:
    return {
        "design": "group_by_time",
        "metric": "shannon",
        "group": {"column": "treatment", "reference": "Placebo", "levels": ["LGG"]},
        "time": {"column": "visit", "baseline": [1], "followup": [2]},
        "min_subjects": 5,
    }


def test_longitudinal_planted_interaction_is_supported(tmp_path: Path) -> None:
    samples, alpha = _trial_data(30, effect=0.8, seed=1, drop_followup=2)
    noise = np.random.default_rng(9).normal(0, 1.0, len(alpha))
    alpha["observed_mean"] = 100 + 10 * alpha["shannon_mean"] + noise
    claim = _claim("C20", "longitudinal_mixed", _trial_params(), claim_type="causal")
    bundle = _bundle(
        samples,
        alpha,
        import_info={"values": "signal"},
        diversity_info={"values": "signal", "rarefied": False},
    )
    out = RUNNERS["longitudinal_mixed"](claim, {"d": bundle}, CONFIG, tmp_path).to_dict()
    assert out["data_problem"] is None
    # two treated subjects lack a follow-up sample and are left out
    assert out["n_groups"] == {"LGG (subjects)": 28, "Placebo (subjects)": 30}
    assert out["headline"]["n"] == 2 * 58
    entry = _verdict(claim, out)
    assert entry["verdict"] == "supported"
    assert entry["verdict_label"] == "Association consistent with the claim"
    # no covariates, so no minimal-covariate model; observed features by the same mixed model
    assert [o["name"] for o in out["sensitivity_analyses"]] == [
        "subject-level OLS",
        "observed features",
    ]
    assert entry["robustness"] == "2/2 agree"
    alt = next(
        t
        for t in out["tests"]
        if t["name"].endswith("(mixed model, observed features instead of Shannon)")
    )
    assert alt["role"] == "sensitivity" and alt["n"] == out["headline"]["n"]
    assert any("microarray" in n and "not comparable" in n for n in out["notes"])
    # hand computation: the interaction equals the difference of the groups' mean changes
    kept = samples[~samples["subject_id"].isin(["S0", "S1"])].set_index("sample_id")
    y = alpha.loc[kept.index, "shannon_mean"]
    mean = y.groupby([kept["treatment"], kept["visit"]]).mean()
    did = (mean["LGG", 2] - mean["LGG", 1]) - (mean["Placebo", 2] - mean["Placebo", 1])
    assert out["headline"]["estimate"] == pytest.approx(did, abs=1e-8)


def test_longitudinal_null_shows_equivalence(tmp_path: Path) -> None:
    samples, alpha = _trial_data(300, effect=0.0, seed=2, icc=0.8)
    claim = _claim("C20", "longitudinal_mixed", _trial_params())
    out = RUNNERS["longitudinal_mixed"](
        claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path
    ).to_dict()
    assert _verdict(claim, out)["verdict"] == "not_supported"


def _skin_data(seed: int, effect: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """AD vs healthy skin, 3–5 visits, two sites per visit; AD lowers Shannon by ``effect`` (total SDs)."""
    rng = np.random.default_rng(seed)
    rows, vals = [], {}
    for i in range(30):
        cond = "atopic_dermatitis" if i < 16 else "none"
        u = rng.normal(0, 0.7)
        for v in range(1, int(rng.integers(3, 6)) + 1):
            for site, shift in (("forearm", 0.0), ("knee", 0.3)):
                sid = f"k{i:02d}_{v}_{site}"
                rows.append(
                    {
                        "sample_id": sid,
                        "subject_id": f"K{i}",
                        "body_site": "skin",
                        "body_subsite": site,
                        "visit": v,
                        "condition": cond,
                    }
                )
                vals[sid] = 2.5 + u + shift - effect * (cond != "none") + rng.normal(0, 0.7)
    # a gut sample that the skin filter must drop
    rows.append(
        {
            "sample_id": "gut1",
            "subject_id": "K0",
            "body_site": "gut",
            "body_subsite": "feces",
            "visit": 1,
            "condition": "atopic_dermatitis",
        }
    )
    vals["gut1"] = 99.0
    return pd.DataFrame(rows), pd.DataFrame({"shannon_mean": pd.Series(vals)})


def _c18b_claim() -> dict[str, Any]:
    """C18b as registered: Shannon of forearm and knee skin, atopic dermatitis vs none, mixed model."""
    params = {
        "design": "group",
        "metric": "shannon",
        "body_site": "skin",
        "subsites": ["forearm", "knee"],
        "group": {"column": "condition", "reference": "none", "levels": ["atopic_dermatitis"]},
        "covariates": ["body_subsite"],
    }
    return _claim("C18b", "longitudinal_mixed", params, expected_direction="negative")


def test_longitudinal_group_design_ad_skin(tmp_path: Path) -> None:
    samples, alpha = _skin_data(3, effect=0.9)
    claim = _c18b_claim()
    out = RUNNERS["longitudinal_mixed"](
        claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path
    ).to_dict()
    assert out["data_problem"] is None
    assert out["n_groups"] == {"atopic_dermatitis (subjects)": 16, "none (subjects)": 14}
    assert out["headline"]["n"] == len(samples) - 1  # every skin sample, the gut one dropped
    # between-subject contrast: df = subjects − between-subject terms − 1 = 30 − 1 − 1
    assert out["headline"]["df"] == 28
    entry = _verdict(claim, out)
    assert entry["verdict"] == "supported"
    # subject-level OLS and the mixed model without body_subsite (no age or sex here); no observed
    # features in these data
    sens = [t["name"] for t in out["tests"] if t["role"] == "sensitivity"]
    assert sens[1] == "atopic_dermatitis vs none (mixed model, minimal covariates: none)"
    assert entry["robustness"] == "2/2 agree"


def test_longitudinal_data_problems(tmp_path: Path) -> None:
    samples, alpha = _trial_data(10, effect=0.5, seed=4)
    claim = _claim("C20", "longitudinal_mixed", _trial_params())
    switch = samples.copy()
    switch.loc[1, "treatment"] = "Placebo"  # subject S0 changes arm between visits
    r = RUNNERS["longitudinal_mixed"](claim, {"d": _bundle(switch, alpha)}, CONFIG, tmp_path)
    assert "change treatment" in r.data_problem
    few = samples[samples["subject_id"].isin(["S0", "S1", "S10", "S11", "S12", "S13", "S14"])]
    r = RUNNERS["longitudinal_mixed"](claim, {"d": _bundle(few, alpha)}, CONFIG, tmp_path)
    assert "too few subjects" in r.data_problem
    bad = _claim("C20", "longitudinal_mixed", {**_trial_params(), "time": {"column": "visit"}})
    r = RUNNERS["longitudinal_mixed"](bad, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path)
    assert "baseline" in r.data_problem


# ================================================================================================
# the ledger: testable claims whose data are unavailable
# ================================================================================================
def test_ledger_data_unavailable_is_its_own_verdict_not_untestable() -> None:
    unavailable = {
        "id": "C26",
        "title": "t",
        "quote": "q",
        "claim_type": "causal",
        "testable": "yes",
        "hypothesis": "h",
        "primary": True,
        "data_unavailable": True,
        "not_testable_reason": "fermented-food frequency (fermented_plant_frequency) is not in the 2014 release.",
    }
    untestable = {**unavailable, "id": "C29", "testable": "no", "data_unavailable": False}
    analysed = _claim("C8", "alpha_condition", {}, expected_direction="negative")
    result = {
        "id": "C8",
        "headline": {
            "estimate": -0.5,
            "p_value": 0.01,
            "effect_size": -0.5,
            "effect_size_ci": [-0.7, -0.3],
            "effect_size_ci90": [-0.65, -0.35],
            "power": 0.9,
            "n": 500,
        },
    }
    led = {
        e["id"]: e
        for e in build_ledger([unavailable, analysed, untestable], {"C8": result}, CONFIG)
    }
    assert led["C26"]["verdict"] == "data_unavailable"
    assert led["C26"]["reason"] == (
        "no dataset has the needed field: fermented-food frequency (fermented_plant_frequency) is not in "
        "the 2014 release."
    )
    assert led["C26"]["p_value"] is None and led["C26"]["tests"] == []
    assert led["C29"]["verdict"] == "not_testable"
    # the unavailable primary claim is not in the Holm family: C8's p is adjusted over one test only
    # (one-sided by the sidedness rule, as this claim does not say "sided: two": 0.01 / 2)
    assert led["C8"]["holm_family"] == ["C8"] and led["C8"]["p_adjusted"] == pytest.approx(0.005)


def test_longitudinal_second_rarefaction_depth(tmp_path: Path) -> None:
    """With <metric>_depth2_mean the mixed model is refitted on it and counted in the robustness score."""
    from gutskin.stats import mixed

    samples, alpha = _skin_data(3, effect=0.9)
    rng = np.random.default_rng(5)
    alpha["shannon_depth2_mean"] = alpha["shannon_mean"] - 0.05 + rng.normal(0, 0.02, len(alpha))
    claim = _c18b_claim()
    info = {
        "depth": 1000,
        "iterations": 10,
        "rarefied": True,
        "depth2": 500,
        "depth2_fraction": 0.5,
    }
    out = RUNNERS["longitudinal_mixed"](
        claim, {"d": _bundle(samples, alpha, diversity_info=info)}, CONFIG, tmp_path
    ).to_dict()
    assert out["data_problem"] is None
    entry = _verdict(claim, out)
    assert entry["robustness"] == "3/3 agree"
    row = next(t for t in out["tests"] if "half the rarefaction depth" in t["name"])
    assert row["role"] == "sensitivity"
    # the same model fitted directly on the second-depth column (the runner's model data, saved as TSV)
    data = pd.read_csv(tmp_path / "analysis_data.tsv", sep="\t", dtype={"subject_id": str})
    ref = mixed.mixed_random_intercept(
        data, "shannon_depth2 ~ case + C(body_subsite)", "subject_id", "case"
    )
    assert row["estimate"] == pytest.approx(ref.estimate, rel=1e-9)
    assert "No second rarefaction depth" not in out["method"]


def test_alpha_exposure_registered_contrast_and_five_level_trend(tmp_path: Path) -> None:
    """Issue 11 item 4: C25's registered headline is >30 vs ≤10 (two levels merged) while the
    registered linear trend still scores the five declared levels (by hand below)."""
    import statsmodels.formula.api as smf

    samples, alpha = _plants_data(800, slope=0.12, seed=1, duplicates=30)
    params = _exposure_params(
        merge={"10 or fewer": ["Less than 5", "6 to 10"]},
        reference="10 or fewer",
        top="More than 30",
        trend_levels="declared",
    )
    claim = _claim("C25", "alpha_exposure", params)
    out = RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path
    ).to_dict()
    assert out["data_problem"] is None
    assert set(out["n_groups"]) == {"10 or fewer", "11 to 20", "21 to 30", "More than 30"}
    (primary,) = [t for t in out["tests"] if t["role"] == "primary"]
    assert primary["name"].startswith("types_of_plants: More than 30 vs 10 or fewer")
    trend = next(t for t in out["tests"] if "linear trend" in t["name"])
    assert "scores 0–4 for Less than 5, 6 to 10, 11 to 20, 21 to 30, More than 30" in trend["note"]
    data = pd.read_csv(tmp_path / "analysis_data.tsv", sep="\t")
    data["score"] = data["sample_id"].map(
        samples.set_index("sample_id")["types_of_plants"].map(
            {lv: i for i, lv in enumerate(PLANTS)}
        )
    )
    fit = smf.ols("shannon ~ score + age + C(sex)", data=data).fit(cov_type="HC3")
    assert trend["estimate"] == pytest.approx(fit.params["score"], rel=1e-9)
