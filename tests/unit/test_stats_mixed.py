"""Mixed models and logistic regression, pinned to R (lme4, nlme, sandwich, brglm2, fisher.test) and to
closed-form results computed by hand.

R reference numbers: ``tests/fixtures/r_mixed_reference.json``, made by ``tests/fixtures/make_r_mixed.R``
(the data are simulated in R and stored in the JSON, so Python fits exactly what R fitted).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gutskin.errors import InputError
from gutskin.stats import logistic, mixed, regression
from gutskin.stats.regression import TermNotFoundError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "r_mixed_reference.json"


@pytest.fixture(scope="module")
def ref() -> dict:
    with FIXTURE.open() as fh:
        return json.load(fh)


# ------------------------------------------------------------------------------------------------
# mixed models vs R
# ------------------------------------------------------------------------------------------------
INTERACTION_TERMS = {
    "Intercept": "(Intercept)",
    "C(group, Treatment('placebo'))[T.treated]": "grouptreated",
    "C(period, Treatment('before'))[T.after]": "periodafter",
    "age": "age",
    "C(group, Treatment('placebo'))[T.treated]:C(period, Treatment('before'))[T.after]": (
        "grouptreated:periodafter"
    ),
}
GROUP_TERMS = {
    "Intercept": "(Intercept)",
    "C(condition, Treatment('none'))[T.atopic_dermatitis]": "conditionatopic_dermatitis",
    "visit": "visit",
    "log_depth": "log_depth",
}


@pytest.mark.parametrize(
    ("key", "formula", "terms"),
    [
        (
            "mixed_interaction",
            "y ~ C(group, Treatment('placebo')) * C(period, Treatment('before')) + age",
            INTERACTION_TERMS,
        ),
        (
            "mixed_group",
            "y ~ C(condition, Treatment('none')) + visit + log_depth",
            GROUP_TERMS,
        ),
    ],
)
def test_mixed_matches_lme4_and_nlme(ref: dict, key: str, formula: str, terms: dict) -> None:
    r = ref[key]
    data = pd.DataFrame(r["data"])
    assert len(data) == r["n_obs"]
    for py_term, r_term in terms.items():
        fit = mixed.mixed_random_intercept(data, formula, "subject", py_term)
        # fixed effects and SEs: lme4 (REML) and nlme agree; both to 1e-4
        assert fit.estimate == pytest.approx(r["lmer"]["fixef"][r_term], abs=1e-4)
        assert fit.estimate == pytest.approx(r["lme"]["fixef"][r_term], abs=1e-4)
        assert fit.se == pytest.approx(r["lmer"]["se"][r_term], rel=1e-4)
        # nlme's containment degrees of freedom and t-test p-values
        assert fit.df == r["lme"]["df"][r_term]
        assert fit.t == pytest.approx(r["lme"]["t"][r_term], rel=1e-4)
        assert fit.p_value == pytest.approx(r["lme"]["p"][r_term], rel=1e-3, abs=1e-9)
        # variance components and the REML log-likelihood
        assert fit.subject_var == pytest.approx(r["lmer"]["subject_var"], rel=1e-3)
        assert fit.resid_var == pytest.approx(r["lmer"]["resid_var"], rel=1e-3)
        assert fit.reml_loglik == pytest.approx(r["lme"]["loglik"], abs=1e-5)
        assert fit.n_obs == r["n_obs"] and fit.n_subjects == r["n_subjects"]


@pytest.mark.parametrize(
    ("key", "formula", "term", "r_term"),
    [
        (
            "mixed_interaction",
            "y ~ C(group, Treatment('placebo')) * C(period, Treatment('before')) + age",
            list(INTERACTION_TERMS)[-1],
            "grouptreated:periodafter",
        ),
        (
            "mixed_group",
            "y ~ C(condition, Treatment('none')) + visit + log_depth",
            list(GROUP_TERMS)[1],
            "conditionatopic_dermatitis",
        ),
    ],
)
def test_statsmodels_engine_agrees_with_r(
    ref: dict, key: str, formula: str, term: str, r_term: str
) -> None:
    r = ref[key]
    fit = mixed.mixed_random_intercept(
        pd.DataFrame(r["data"]), formula, "subject", term, engine="statsmodels"
    )
    assert fit.optimizer in ("lbfgs", "bfgs", "powell", "nm")
    assert fit.estimate == pytest.approx(r["lmer"]["fixef"][r_term], abs=1e-4)
    assert fit.se == pytest.approx(r["lmer"]["se"][r_term], rel=1e-4)
    assert fit.subject_var == pytest.approx(r["lmer"]["subject_var"], rel=1e-3)


def test_mixed_singular_fit_reduces_to_ols() -> None:
    # x and y centred within each subject: every subject's mean residual is exactly 0, less spread than
    # residual noise alone would give, so the REML subject variance is 0 (lme4: "singular fit") and the
    # fixed effects are those of ordinary least squares.
    rng = np.random.default_rng(8)
    data = pd.DataFrame({"subject": np.repeat([f"s{i}" for i in range(10)], 4)})
    data["x"] = rng.normal(size=40)
    data["y"] = 1 + 0.5 * data["x"] + rng.normal(size=40)
    for col in ("x", "y"):
        data[col] -= data.groupby("subject")[col].transform("mean")
    fit = mixed.mixed_random_intercept(data, "y ~ x", "subject", "x")
    X = np.column_stack([np.ones(40), data["x"]])
    beta = np.linalg.lstsq(X, data["y"].to_numpy(), rcond=None)[0]
    assert fit.boundary and fit.subject_var == 0.0
    assert fit.estimate == pytest.approx(beta[1], abs=1e-10)


def test_mixed_between_and_within_degrees_of_freedom(ref: dict) -> None:
    # by hand, design (a): 48 observations, 24 subjects; within-subject terms: period, group×period
    # (2), between-subject terms: group, age (2). Within: 48 − 24 − 2 = 22; between: 24 − 2 − 1 = 21.
    data = pd.DataFrame(ref["mixed_interaction"]["data"])
    f = "y ~ C(group, Treatment('placebo')) * C(period, Treatment('before')) + age"
    inter = mixed.mixed_random_intercept(data, f, "subject", list(INTERACTION_TERMS)[-1])
    age = mixed.mixed_random_intercept(data, f, "subject", "age")
    assert (inter.df, inter.within_subject) == (22, True)
    assert (age.df, age.within_subject) == (21, False)


def _balanced_before_after(seed: int, n_per_group: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(2 * n_per_group):
        treated = i < n_per_group
        u = rng.normal(0, 1.0)  # large subject effect: the subject variance is far from 0
        for after in (0, 1):
            y = 2 + u + 0.2 * after + 0.5 * after * treated + rng.normal(0, 0.3)
            rows.append(
                {"subject": f"s{i}", "treated": float(treated), "after": float(after), "y": y}
            )
    return pd.DataFrame(rows)


def test_balanced_interaction_equals_t_test_on_change_scores() -> None:
    # Hand result: with two time points per subject, no covariates and a subject variance above 0, the
    # REML mixed model's group × time test is the pooled two-sample t test on the per-subject changes
    # (estimate = difference of mean changes; df = subjects − 2).
    data = _balanced_before_after(3)
    fit = mixed.mixed_random_intercept(data, "y ~ treated * after", "subject", "treated:after")
    wide = data.pivot(index="subject", columns="after", values="y")
    change = wide[1.0] - wide[0.0]
    grp = data.groupby("subject")["treated"].first()
    t_ref = stats.ttest_ind(change[grp == 1.0], change[grp == 0.0], equal_var=True)
    did = change[grp == 1.0].mean() - change[grp == 0.0].mean()
    assert not fit.boundary
    assert fit.estimate == pytest.approx(did, abs=1e-9)
    assert fit.df == 24 - 2
    assert fit.t == pytest.approx(t_ref.statistic, rel=1e-5)
    assert fit.p_value == pytest.approx(t_ref.pvalue, rel=1e-4)


def test_balanced_group_effect_equals_t_test_on_subject_means() -> None:
    # Hand result: k visits per subject (balanced), no covariates: the between-subject group effect of the
    # random-intercept model is the pooled t test on the subject means, with subjects − 2 df.
    rng = np.random.default_rng(11)
    rows = []
    for i in range(20):
        case = i < 9
        u = rng.normal(0, 0.8)
        for _v in range(3):
            rows.append(
                {
                    "subject": f"p{i}",
                    "case": float(case),
                    "y": 3 + u - 0.6 * case + rng.normal(0, 0.4),
                }
            )
    data = pd.DataFrame(rows)
    fit = mixed.mixed_random_intercept(data, "y ~ case", "subject", "case")
    means = data.groupby("subject").agg(y=("y", "mean"), case=("case", "first"))
    t_ref = stats.ttest_ind(means.y[means.case == 1.0], means.y[means.case == 0.0], equal_var=True)
    assert fit.estimate == pytest.approx(
        means.y[means.case == 1.0].mean() - means.y[means.case == 0.0].mean(), abs=1e-9
    )
    assert fit.df == 18
    assert fit.t == pytest.approx(t_ref.statistic, rel=1e-5)
    assert fit.p_value == pytest.approx(t_ref.pvalue, rel=1e-4)


def test_mixed_bad_input_is_named() -> None:
    data = _balanced_before_after(1)
    with pytest.raises(TermNotFoundError, match="available terms"):
        mixed.mixed_random_intercept(data, "y ~ treated * after", "subject", "nope")
    with pytest.raises(InputError, match="subject column"):
        mixed.mixed_random_intercept(data, "y ~ after", "person", "after")
    with pytest.raises(InputError, match=r"\(1 \| subject\)"):
        mixed.mixed_random_intercept(data, "y ~ after + (1 | subject)", "subject", "after")
    one_each = data.drop_duplicates("subject")
    with pytest.raises(InputError, match="single complete observation"):
        mixed.mixed_random_intercept(one_each, "y ~ treated", "subject", "treated")
    with pytest.raises(InputError, match="column 'nope'"):
        mixed.mixed_random_intercept(data, "y ~ nope", "subject", "nope")
    with pytest.raises(InputError, match="engine"):
        mixed.mixed_random_intercept(data, "y ~ after", "subject", "after", engine="lme4")


def test_mixed_power_matches_noncentral_t_by_hand() -> None:
    # ncp = 0.5 / 0.2 = 2.5 with 30 df: P(T > t_.975) + P(T < -t_.975) for T ~ t'(30, 2.5)
    tc = stats.t.ppf(0.975, 30)
    expected = stats.nct.sf(tc, 30, 2.5) + stats.nct.cdf(-tc, 30, 2.5)
    assert mixed.mixed_power(0.5, 0.2, 30) == pytest.approx(expected, rel=1e-12)
    assert mixed.mixed_power(0.0, 0.2, 30) == pytest.approx(0.05, rel=1e-9)
    with pytest.raises(InputError):
        mixed.mixed_power(0.5, 0.0, 30)


# ------------------------------------------------------------------------------------------------
# logistic regression vs R
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cov_type", ["HC0", "HC3"])
def test_logistic_sandwich_matches_r(ref: dict, cov_type: str) -> None:
    r = ref["logistic"]
    data = pd.DataFrame(r["data"])
    key = cov_type.lower()
    for py_term, r_term in (("ibd", "ibd"), ("age", "age"), ("C(sex)[T.male]", "sexmale")):
        formula = r["formula"].replace("sex", "C(sex)")
        fit = logistic.logit_robust(data, formula, py_term, cov_type=cov_type)
        assert fit.estimate == pytest.approx(r["coef"][r_term], rel=1e-6)
        assert fit.se == pytest.approx(r[f"se_{key}"][r_term], rel=1e-6)
        assert fit.p_value == pytest.approx(r[f"p_{key}"][r_term], rel=1e-5)
    fit = logistic.logit_robust(data, r["formula"], "ibd", cov_type="HC0")
    assert fit.ci95 == pytest.approx(tuple(r["ci_hc0_ibd"]), rel=1e-6)
    assert fit.odds_ratio == pytest.approx(math.exp(r["coef"]["ibd"]), rel=1e-6)
    assert fit.n == 400 and fit.n_term == int(data["ibd"].sum())


@pytest.mark.parametrize("key", ["firth", "firth_separated"])
def test_firth_matches_brglm2(ref: dict, key: str) -> None:
    r = ref[key]
    data = pd.DataFrame(r["data"])
    for term in ("exposed", "age"):
        fit = logistic.logit_firth(data, r["formula"], term)
        assert fit.estimate == pytest.approx(r["coef"][term], rel=1e-5)
        assert fit.se == pytest.approx(r["se"][term], rel=1e-5)
        assert fit.p_value == pytest.approx(r["p"][term], rel=1e-4)


def test_separation_is_refused_by_ml_and_handled_by_firth(ref: dict) -> None:
    data = pd.DataFrame(ref["firth_separated"]["data"])
    with pytest.raises(InputError, match="logit_firth"):
        logistic.logit_robust(data, "case ~ exposed + age", "exposed")
    assert math.isfinite(logistic.logit_firth(data, "case ~ exposed + age", "exposed").estimate)


def test_fisher_exact_matches_r(ref: dict) -> None:
    r = ref["fisher"]
    res = logistic.exact_odds_ratio(tuple(tuple(row) for row in r["table"]))
    assert res.odds_ratio == pytest.approx(r["odds_ratio"], rel=1e-4)
    assert res.ci95 == pytest.approx(tuple(r["ci"]), rel=2e-4)
    assert res.p_value == pytest.approx(r["p"], rel=1e-6)


def _two_by_two_data(a: int, b: int, c: int, d: int) -> pd.DataFrame:
    """Individual rows of a 2x2 table: a exposed cases, b exposed non-cases, c and d unexposed."""
    x = [1.0] * (a + b) + [0.0] * (c + d)
    y = [1.0] * a + [0.0] * b + [1.0] * c + [0.0] * d
    return pd.DataFrame({"x": x, "y": y})


def test_saturated_two_by_two_by_hand() -> None:
    a, b, c, d = 12, 28, 30, 130
    data = _two_by_two_data(a, b, c, d)
    # ML: log OR = log(ad / bc) = log(1560 / 840); HC0 SE = Woolf's sqrt(1/a + 1/b + 1/c + 1/d)
    hc0 = logistic.logit_robust(data, "y ~ x", "x", cov_type="HC0")
    assert hc0.estimate == pytest.approx(math.log(1560 / 840), rel=1e-9)
    assert hc0.se == pytest.approx(math.sqrt(1 / 12 + 1 / 28 + 1 / 30 + 1 / 130), rel=1e-7)
    # HC3: every hat value of group g is 1/n_g, so each group's variance is inflated by (n_g/(n_g-1))²
    n1, n0 = a + b, c + d
    v3 = (1 / a + 1 / b) * (n1 / (n1 - 1)) ** 2 + (1 / c + 1 / d) * (n0 / (n0 - 1)) ** 2
    hc3 = logistic.logit_robust(data, "y ~ x", "x", cov_type="HC3")
    assert hc3.se == pytest.approx(math.sqrt(v3), rel=1e-7)
    # Firth on a saturated 2x2 model adds 1/2 to every cell (Haldane's estimator)
    firth = logistic.logit_firth(data, "y ~ x", "x")
    assert firth.estimate == pytest.approx(math.log(12.5 * 130.5 / (28.5 * 30.5)), rel=1e-8)
    assert logistic.two_by_two(data["y"], data["x"]) == ((12, 28), (30, 130))


def test_wald_power_by_hand() -> None:
    # effect 0.405, SE 0.2: Φ(0.405/0.2 − 1.959964) + Φ(−0.405/0.2 − 1.959964)
    z = stats.norm.ppf(0.975)
    expected = stats.norm.cdf(2.025 - z) + stats.norm.cdf(-2.025 - z)
    assert logistic.wald_power(0.405, 0.2) == pytest.approx(expected, rel=1e-12)
    assert logistic.wald_power(0.0, 0.2) == pytest.approx(0.05, rel=1e-9)


def test_logistic_bad_input_is_named() -> None:
    data = _two_by_two_data(5, 5, 5, 5)
    with pytest.raises(TermNotFoundError):
        logistic.logit_robust(data, "y ~ x", "z")
    with pytest.raises(InputError, match="0/1"):
        logistic.logit_robust(data.assign(y=data["y"] * 2), "y ~ x", "x")
    with pytest.raises(InputError, match="constant"):
        logistic.logit_robust(data.assign(y=1.0), "y ~ x", "x")
    with pytest.raises(InputError, match="cov_type"):
        logistic.logit_robust(data, "y ~ x", "x", cov_type="HC1")
    with pytest.raises(InputError, match="empty"):
        logistic.exact_odds_ratio(((0, 0), (3, 4)))


@pytest.mark.parametrize(
    ("fit", "model"),
    [
        (lambda d, f: regression.ols_hc3(d, f, "x"), "model"),
        (lambda d, f: regression.rlm_huber(d, f, "x"), "model"),
        (lambda d, f: logistic.logit_robust(d, f, "x"), "logistic model"),
        (lambda d, f: logistic.logit_firth(d, f, "x"), "logistic model"),
        (lambda d, f: mixed.mixed_random_intercept(d, f, "subject", "x"), "mixed model"),
    ],
    ids=["ols", "rlm", "logit", "firth", "mixed"],
)
def test_every_model_refuses_bad_data_the_same_way(fit, model: str) -> None:
    """The OLS/RLM, logistic and mixed models share their input checks: a non-frame, an empty frame and an
    unknown column are refused with the model's name, the column and the available columns."""
    d = pd.DataFrame(
        {"y": [0.0, 1.0, 0.0, 1.0], "x": [1.0, 2.0, 3.0, 4.0], "subject": list("aabb")}
    )
    with pytest.raises(InputError, match="data must be a pandas DataFrame, got dict"):
        fit(d.to_dict(), "y ~ x")
    with pytest.raises(InputError, match="the data have no rows") as err:
        fit(d.iloc[:0], "y ~ x")
    assert err.value.where == "formula 'y ~ x'"
    with pytest.raises(InputError, match=f"cannot build the {model} 'y ~ x \\+ age'") as err:
        fit(d, "y ~ x + age")
    assert err.value.where == "column 'age'"
    assert err.value.hint == "available columns: y, x, subject"
