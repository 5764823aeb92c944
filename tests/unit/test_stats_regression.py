"""OLS/HC3 and RLM regression, Hedges' g and TOST against R and hand computation.

Reference numbers: ``tests/fixtures/r_stats_reference.json``, made by
``tests/fixtures/make_r_stats_reference.R`` (lm + sandwich::vcovHC(type = "HC3") +
lmtest::coeftest/coefci; MASS::rlm; hand formulas evaluated in R).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from gutskin.errors import InputError
from gutskin.stats import (
    StatsInputError,
    TermNotFoundError,
    hedges_g,
    hedges_g_from_beta,
    hedges_j,
    ols_hc3,
    rlm_huber,
    tost,
    tost_correlation,
)
from tests.support.fixtures import reference

REF = reference("r_stats_reference.json")
FORMULA = "y ~ C(condition, Treatment('none')) + age + sex + bmi"
# R coefficient name -> patsy coefficient name
TERMS = {
    "conditioneczema": "C(condition, Treatment('none'))[T.eczema]",
    "conditionpsoriasis": "C(condition, Treatment('none'))[T.psoriasis]",
    "age": "age",
    "sexmale": "sex[T.male]",
    "bmi": "bmi",
}


@pytest.fixture(scope="module")
def reg_data() -> pd.DataFrame:
    return pd.DataFrame(REF["ols_hc3"]["inputs"])


# ---------------------------------------------------------------------------------------------
# OLS with HC3
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("r_term", list(TERMS))
def test_ols_hc3_matches_r_sandwich(reg_data: pd.DataFrame, r_term: str) -> None:
    ref = REF["ols_hc3"]["coefficients"][r_term]
    res = ols_hc3(reg_data, FORMULA, TERMS[r_term])
    assert res.estimate == pytest.approx(ref["estimate"], abs=1e-10)
    assert res.se == pytest.approx(ref["se"], rel=1e-8)
    assert res.t == pytest.approx(ref["t"], rel=1e-8)
    assert res.p_value == pytest.approx(ref["p"], rel=1e-7)
    assert res.ci95 == pytest.approx(tuple(ref["ci95"]), rel=1e-8)
    assert res.ci90 == pytest.approx(tuple(ref["ci90"]), rel=1e-8)


def test_ols_hc3_model_summaries_match_r(reg_data: pd.DataFrame) -> None:
    ref = REF["ols_hc3"]
    res = ols_hc3(reg_data, FORMULA, TERMS["conditioneczema"])
    assert res.n == ref["n"] == 34
    assert res.n_dropped_missing == ref["n_dropped"] == 2
    assert res.df_resid == ref["df_resid"]
    assert res.resid_sd == pytest.approx(ref["resid_sd"], rel=1e-10)
    assert res.r2 == pytest.approx(ref["r2"], rel=1e-10)
    assert res.formula == FORMULA


def test_group_sizes_count_complete_cases(reg_data: pd.DataFrame) -> None:
    complete = reg_data.dropna(subset=["y", "condition", "age", "sex", "bmi"])
    res = ols_hc3(reg_data, FORMULA, TERMS["conditioneczema"])
    assert res.n_term == int((complete["condition"] == "eczema").sum()) == 9
    assert res.n_reference == int((complete["condition"] == "none").sum()) == 18
    res_ps = ols_hc3(reg_data, FORMULA, TERMS["conditionpsoriasis"])
    assert res_ps.n_term == 7  # 8 psoriasis rows, one has missing BMI
    assert res_ps.n_reference == 18
    res_age = ols_hc3(reg_data, FORMULA, "age")
    assert res_age.n_term is None and res_age.n_reference is None


def test_binary_numeric_indicator_group_sizes(reg_data: pd.DataFrame) -> None:
    df = reg_data.assign(any_condition=(reg_data["condition"] != "none").astype(float))
    res = ols_hc3(df, "y ~ any_condition + age + sex + bmi", "any_condition")
    assert (res.n_term, res.n_reference) == (16, 18)


def test_to_dict_is_plain_json(reg_data: pd.DataFrame) -> None:
    d = ols_hc3(reg_data, FORMULA, TERMS["age"]).to_dict()
    text = json.dumps(d)  # raises on numpy scalars
    assert json.loads(text)["term"] == "age"
    assert type(d["estimate"]) is float and type(d["n"]) is int
    assert isinstance(d["ci95"], list) and len(d["ci95"]) == 2


def test_missing_term_lists_available_terms(reg_data: pd.DataFrame) -> None:
    with pytest.raises(TermNotFoundError) as err:
        ols_hc3(reg_data, FORMULA, "C(condition, Treatment('none'))[T.rosacea]")
    assert isinstance(err.value, InputError) and isinstance(err.value, ValueError)
    msg = str(err.value)
    assert "T.rosacea" in msg
    assert "C(condition, Treatment('none'))[T.eczema]" in msg and "'bmi'" in msg


def test_unknown_column_is_named(reg_data: pd.DataFrame) -> None:
    with pytest.raises(StatsInputError, match="'plants'"):
        ols_hc3(reg_data, "y ~ plants + age", "age")


def test_level_with_single_sample_is_an_error_not_a_number(reg_data: pd.DataFrame) -> None:
    df = reg_data.copy()
    df.loc[0, "condition"] = "rosacea"  # one rosacea sample: leverage 1, HC3 undefined
    with pytest.raises(StatsInputError, match="leverage 1"):
        ols_hc3(df, FORMULA, "C(condition, Treatment('none'))[T.rosacea]")


def test_rank_deficient_design_is_an_error(reg_data: pd.DataFrame) -> None:
    df = reg_data.assign(age2=reg_data["age"] * 2)
    with pytest.raises(StatsInputError, match="rank-deficient"):
        ols_hc3(df, "y ~ age + age2", "age")


def test_numeric_object_column_is_not_a_factor(reg_data: pd.DataFrame) -> None:
    df = reg_data.copy()
    df["age"] = pd.Series([None if pd.isna(v) else int(v) for v in df["age"]], dtype=object)
    res = ols_hc3(df, FORMULA, "age")
    assert res.estimate == pytest.approx(
        REF["ols_hc3"]["coefficients"]["age"]["estimate"], abs=1e-10
    )


def test_rows_with_missing_exposure_are_dropped_and_counted(reg_data: pd.DataFrame) -> None:
    df = reg_data.copy()
    df.loc[[1, 2], "condition"] = None  # rows 1 and 2 are otherwise complete
    res = ols_hc3(df, FORMULA, TERMS["conditioneczema"])
    assert res.n == 32 and res.n_dropped_missing == 4


# ---------------------------------------------------------------------------------------------
# RLM (Huber) sensitivity model
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("r_term", list(TERMS))
def test_rlm_huber_matches_mass_rlm(reg_data: pd.DataFrame, r_term: str) -> None:
    res = rlm_huber(reg_data, FORMULA, TERMS[r_term])
    assert res.estimate == pytest.approx(REF["ols_hc3"]["rlm_huber_coefficients"][r_term], abs=1e-4)
    assert res.r2 is None
    assert res.ci95[0] < res.estimate < res.ci95[1]


def test_rlm_scale_matches_mass(reg_data: pd.DataFrame) -> None:
    res = rlm_huber(reg_data, FORMULA, "age")
    assert res.resid_sd == pytest.approx(REF["ols_hc3"]["rlm_huber_scale"], rel=1e-3)


# ---------------------------------------------------------------------------------------------
# Hedges' g
# ---------------------------------------------------------------------------------------------
def test_hedges_j_exact_and_close_to_approximation() -> None:
    # J(10) = Γ(5) / (sqrt(5) Γ(4.5)) written out with math.gamma
    assert hedges_j(10) == pytest.approx(
        math.gamma(5) / (math.sqrt(5) * math.gamma(4.5)), rel=1e-12
    )
    for m in (5, 20, 100, 1000):
        assert hedges_j(m) == pytest.approx(1 - 3 / (4 * m - 1), abs=2e-3)


def test_hedges_g_matches_r_hand_formula() -> None:
    ref = REF["hedges_g"]
    g, var_g, ci = hedges_g(ref["inputs"]["x"], ref["inputs"]["y"])
    assert g == pytest.approx(ref["g"], rel=1e-10)
    assert var_g == pytest.approx(ref["var_g"], rel=1e-10)
    assert ci == pytest.approx(tuple(ref["ci95"]), rel=1e-9)


def test_hedges_g_by_hand_small_example() -> None:
    # x = 1, 2, 3 (mean 2, var 1); y = 3, 4, 5 (mean 4, var 1): s_pooled = 1, d = -2, df = 4
    # J(4) = Γ(2) / (sqrt(2) Γ(1.5)) = 1 / (sqrt(2) * sqrt(pi) / 2) = 0.797885
    j = 1 / (math.sqrt(2) * math.sqrt(math.pi) / 2)
    g, var_g, _ = hedges_g([1, 2, 3], [3, 4, 5])
    assert g == pytest.approx(-2 * j, rel=1e-12)
    assert var_g == pytest.approx(j**2 * (6 / 9 + 4 / 12), rel=1e-12)


def test_hedges_g_from_beta_scales_beta_and_ci() -> None:
    # beta = -0.3, residual SD 0.6, n 40 + 60: J(98) from math.gamma
    j = math.exp(math.lgamma(49) - 0.5 * math.log(49) - math.lgamma(48.5))
    g, (lo, hi) = hedges_g_from_beta(-0.3, 0.6, 40, 60, beta_ci=(-0.5, -0.1))
    assert g == pytest.approx(j * -0.5, rel=1e-12)
    assert (lo, hi) == pytest.approx((j * -0.5 / 0.6, j * -0.1 / 0.6), rel=1e-12)


def test_hedges_g_from_beta_fallback_ci_uses_hedges_olkin_variance() -> None:
    j = math.exp(math.lgamma(49) - 0.5 * math.log(49) - math.lgamma(48.5))
    d = -0.5
    se = j * math.sqrt(100 / 2400 + d * d / 200)
    g, (lo, hi) = hedges_g_from_beta(-0.3, 0.6, 40, 60)
    assert (lo, hi) == pytest.approx((g - 1.959963984540054 * se, g + 1.959963984540054 * se))


def test_hedges_g_rejects_bad_input() -> None:
    with pytest.raises(StatsInputError):
        hedges_g([1.0, np.nan, 2.0], [1.0, 2.0])
    with pytest.raises(StatsInputError):
        hedges_g([1.0], [1.0, 2.0])
    with pytest.raises(StatsInputError):
        hedges_g_from_beta(0.1, 0.0, 10, 10)


def test_c8_chain_regression_to_g(reg_data: pd.DataFrame) -> None:
    """The C8 runner's path: HC3 coefficient -> Hedges g with group sizes from the model."""
    ref = REF["ols_hc3"]
    res = ols_hc3(reg_data, FORMULA, TERMS["conditioneczema"])
    g, ci = hedges_g_from_beta(res.estimate, res.resid_sd, res.n_term, res.n_reference, res.ci95)
    j = math.exp(math.lgamma(25 / 2) - 0.5 * math.log(25 / 2) - math.lgamma(24 / 2))  # df 9+18-2
    b = ref["coefficients"]["conditioneczema"]
    assert g == pytest.approx(j * b["estimate"] / ref["resid_sd"], rel=1e-8)
    assert ci == pytest.approx(
        (j * b["ci95"][0] / ref["resid_sd"], j * b["ci95"][1] / ref["resid_sd"]), rel=1e-8
    )


# ---------------------------------------------------------------------------------------------
# TOST
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", range(3))
def test_tost_matches_r(case: int) -> None:
    ref = REF["tost"][case]
    res = tost(ref["estimate"], ref["se"], ref["df"], ref["bound"])
    assert res.p_lower == pytest.approx(ref["p_lower"], rel=1e-9)
    assert res.p_upper == pytest.approx(ref["p_upper"], rel=1e-9)
    assert res.p_value == pytest.approx(ref["p"], rel=1e-9)
    assert res.ci == pytest.approx(tuple(ref["ci90"]), rel=1e-9)
    inside = -ref["bound"] < ref["ci90"][0] and ref["ci90"][1] < ref["bound"]
    assert res.equivalent is inside is (ref["p"] < 0.05)


def test_tost_ci_and_p_agree_at_the_boundary() -> None:
    # estimate 0.2 - 1.6448536 * 0.1 puts the upper 90% limit exactly on the bound: p = 0.05
    est = 0.2 - 1.6448536269514722 * 0.1
    res = tost(est, 0.1, None, 0.2)
    assert res.p_value == pytest.approx(0.05, abs=1e-12)
    assert res.ci[1] == pytest.approx(0.2, abs=1e-12)


@pytest.mark.parametrize("case", range(3))
def test_tost_correlation_matches_r(case: int) -> None:
    ref = REF["tost_correlation"][case]
    res = tost_correlation(ref["r"], ref["n"], ref["bound"], spearman=ref["spearman"])
    assert res.p_value == pytest.approx(ref["p"], rel=1e-9)
    assert res.ci == pytest.approx(tuple(ref["ci90"]), rel=1e-9)
    assert res.estimate == ref["r"]


def test_tost_rejects_bad_input() -> None:
    with pytest.raises(StatsInputError):
        tost(0.1, 0.05, 30, 0.0)
    with pytest.raises(StatsInputError):
        tost(0.1, -1.0, 30, 0.2)
    with pytest.raises(StatsInputError):
        tost_correlation(0.1, 3, 0.1)
