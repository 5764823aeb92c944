"""Adjusted PERMANOVA and PERMDISP against R vegan, scikit-bio and hand computations.

References: ``tests/fixtures/vegan_adonis.json`` made by ``tests/fixtures/make_vegan_adonis.R`` (vegan
adonis2 by margin / by terms, dbrda + anova with the reduced model, betadisper + permutest). The recorded
permutation matrices are fed to gutskin, so p-values are compared exactly where vegan permutes the same
thing (raw rows with no covariates; residuals of the reduced model in partial dbRDA; ANOVA residuals in
permutest.betadisper).
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.spatial.distance import pdist, squareform

from gutskin.stats._util import StatsInputError
from gutskin.stats.permanova import permanova, permdisp

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vegan_adonis.json"
EPS = math.sqrt(np.finfo(float).eps)


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def bray(ref: dict) -> np.ndarray:
    return squareform(np.array(ref["bray"]))


@pytest.fixture(scope="module")
def meta(ref: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {"group": ref["group"], "age": ref["age"], "sex": ref["sex"], "site": ref["site"]},
        index=ref["sample_ids"],
    )


@pytest.fixture(scope="module")
def perms(ref: dict) -> tuple[np.ndarray, np.ndarray]:
    # permute::shuffleSet rows are 1-based "take" vectors: permuted data = x[take]
    return np.array(ref["perm_free"]) - 1, np.array(ref["perm_block"]) - 1


TERMS = ["group", "age", "sex"]


# ------------------------------------------------------------------------------------------------
# hand computations
# ------------------------------------------------------------------------------------------------
def test_one_dimensional_two_groups_by_hand() -> None:
    """Euclidean distances of y = 0, 1, 3, 4 with groups a a b b.

    ȳ = 2; SS_total = 4 + 1 + 1 + 4 = 10; group means 0.5 and 3.5, SS_between = 2·1.5² + 2·1.5² = 9;
    SS_within = 1; F = (9/1)/(1/2) = 18; R² = 0.9; ω² = (9 − 1·0.5)/(10 + 0.5) = 8.5/10.5.
    Over all 24 permutations, F* = 18 exactly when the permuted pair in group a is {0, 1} or {2, 3}:
    2 pairs × 2 orders × 2 orders of the rest = 8 of 24, so p = (1 + 8)/(1 + 24) = 0.36.
    """
    y = np.array([0.0, 1.0, 3.0, 4.0])
    d = np.abs(y[:, None] - y[None, :])
    data = pd.DataFrame({"g": ["a", "a", "b", "b"]})
    all_perms = np.array(list(itertools.permutations(range(4))))
    r = permanova(d, data, ["g"], "g", permutation_indices=all_perms)
    assert r.ss_total == pytest.approx(10.0)
    assert r.ss_term == pytest.approx(9.0)
    assert r.ss_residual == pytest.approx(1.0)
    assert r.pseudo_f == pytest.approx(18.0)
    assert r.r2 == pytest.approx(0.9)
    assert r.r2_partial == pytest.approx(0.9)
    assert r.omega2 == pytest.approx(8.5 / 10.5)
    assert (r.df_term, r.df_residual) == (1, 2)
    assert r.p_value == pytest.approx(9 / 25)


def test_euclidean_one_dimension_equals_ols_partial_f_test() -> None:
    """On 1-D Euclidean distances the marginal PERMANOVA F is the OLS partial F (statsmodels)."""
    rng = np.random.default_rng(3)
    n = 40
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "f": rng.choice(["u", "v", "w"], n),
        }
    )
    df["y"] = 0.3 * df["x"] + 0.5 * df["z"] + (df["f"] == "v") * 0.4 + rng.normal(size=n)
    d = np.abs(df["y"].to_numpy()[:, None] - df["y"].to_numpy()[None, :])
    full = smf.ols("y ~ x + z + C(f)", df).fit()
    for term, reduced in (("x", "y ~ z + C(f)"), ("C(f)", "y ~ x + z")):
        r = permanova(d, df, ["x", "z", "C(f)"], term, permutations=0)
        f_ols, _, df_diff = full.compare_f_test(smf.ols(reduced, df).fit())
        assert r.pseudo_f == pytest.approx(f_ols, rel=1e-10)
        assert r.df_term == df_diff
        assert r.ss_residual == pytest.approx(full.ssr, rel=1e-10)
        assert r.p_value is None


# ------------------------------------------------------------------------------------------------
# vegan adonis2 / dbrda
# ------------------------------------------------------------------------------------------------
def test_one_factor_matches_adonis2_with_the_same_permutations(
    ref: dict, bray: np.ndarray, meta: pd.DataFrame, perms: tuple[np.ndarray, np.ndarray]
) -> None:
    a = ref["adonis_one"]
    r = permanova(bray, meta, ["group"], "group", permutation_indices=perms[0])
    assert r.pseudo_f == pytest.approx(a["F"][0], rel=1e-9)
    assert r.r2 == pytest.approx(a["R2"][0], rel=1e-9)
    assert r.ss_term == pytest.approx(a["SumOfSqs"][0], rel=1e-9)
    assert r.ss_residual == pytest.approx(a["SumOfSqs"][1], rel=1e-9)
    assert r.ss_total == pytest.approx(a["SumOfSqs"][2], rel=1e-9)
    assert (r.df_term, r.df_residual) == (a["Df"][0], a["Df"][1])
    # no covariates: Freedman–Lane permutes the centred data, as adonis2 does
    assert r.p_value == pytest.approx(a["p"][0], abs=1e-12)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_marginal_matches_adonis2_by_margin(
    ref: dict, bray: np.ndarray, meta: pd.DataFrame, i: int
) -> None:
    a = ref["adonis_margin"]
    r = permanova(bray, meta, TERMS, TERMS[i], permutations=0)
    assert a["terms"][i] == TERMS[i]
    # sex explains less than nothing on this non-Euclidean matrix: SS and F are negative in vegan too
    assert r.pseudo_f == pytest.approx(a["F"][i], rel=1e-9)
    assert r.r2 == pytest.approx(a["R2"][i], rel=1e-9)
    assert r.ss_term == pytest.approx(a["SumOfSqs"][i], rel=1e-9)
    assert r.df_term == a["Df"][i]
    assert r.ss_residual == pytest.approx(a["SumOfSqs"][3], rel=1e-9)
    assert r.df_residual == a["Df"][3]


@pytest.mark.parametrize("i", [0, 1, 2])
def test_sequential_matches_adonis2_by_terms(
    ref: dict, bray: np.ndarray, meta: pd.DataFrame, i: int
) -> None:
    a = ref["adonis_terms"]
    r = permanova(bray, meta, TERMS, TERMS[i], permutations=0, method="sequential")
    assert r.pseudo_f == pytest.approx(a["F"][i], rel=1e-9)
    assert r.r2 == pytest.approx(a["R2"][i], rel=1e-9)
    assert r.ss_term == pytest.approx(a["SumOfSqs"][i], rel=1e-9)


@pytest.mark.parametrize(("term", "key"), [("group", "fl_group"), ("age", "fl_age")])
def test_freedman_lane_equals_partial_dbrda_permutation_by_permutation(
    ref: dict,
    bray: np.ndarray,
    meta: pd.DataFrame,
    perms: tuple[np.ndarray, np.ndarray],
    term: str,
    key: str,
) -> None:
    """vegan's anova(dbrda(d ~ term + Condition(others)), model = "reduced") is Freedman–Lane."""
    fl = ref[key]
    r = permanova(bray, meta, TERMS, term, permutation_indices=perms[0])
    assert r.pseudo_f == pytest.approx(fl["F"], rel=1e-9)
    assert r.p_value == pytest.approx(fl["p"], abs=1e-12)
    # Each single permutation lands on the same side of the observed F as in vegan.
    f_perm = np.array(fl["F_perm"])
    for k in range(perms[0].shape[0]):
        one = permanova(bray, meta, TERMS, term, permutation_indices=perms[0][k : k + 1])
        expected = 1.0 if f_perm[k] >= fl["F"] - EPS else 0.5
        assert one.p_value == expected, k


def test_strata_match_vegan_blocks(
    ref: dict, bray: np.ndarray, meta: pd.DataFrame, perms: tuple[np.ndarray, np.ndarray]
) -> None:
    r = permanova(bray, meta, TERMS, "group", strata=meta["site"], permutation_indices=perms[1])
    assert r.p_value == pytest.approx(ref["fl_group_block"]["p"], abs=1e-12)
    assert r.n_strata == 4


def test_explicit_permutations_must_respect_strata(
    bray: np.ndarray, meta: pd.DataFrame, perms: tuple[np.ndarray, np.ndarray]
) -> None:
    with pytest.raises(StatsInputError, match="across strata"):
        permanova(bray, meta, TERMS, "group", strata=meta["site"], permutation_indices=perms[0])


def test_generated_permutations_stay_within_strata(bray: np.ndarray, meta: pd.DataFrame) -> None:
    """With strata = the tested groups, permuting within them cannot change the group means.

    No covariates: residuals of the intercept-only model permuted within groups leave each group's
    centroid where it was, so every F* equals F and p = (1 + 99)/(1 + 99) = 1.
    """
    r = permanova(bray, meta, ["group"], "group", permutations=99, seed=4, strata=meta["group"])
    assert r.p_value == 1.0
    free = permanova(bray, meta, ["group"], "group", permutations=99, seed=4)
    assert free.p_value < 1.0


def test_monte_carlo_p_close_to_adonis2_margin(
    ref: dict, bray: np.ndarray, meta: pd.DataFrame
) -> None:
    """adonis2 (by margin) permutes raw rows; Freedman–Lane permutes residuals. Both are
    asymptotically exact and agree closely here: within 4 binomial SEs of the difference of two
    independent 9,999-permutation estimates."""
    for i, term in enumerate(("group", "age")):
        p_v = ref["adonis_margin_9999"]["p"][i]
        r = permanova(bray, meta, TERMS, term, permutations=9999, seed=11)
        se = math.sqrt(2 * p_v * (1 - p_v) / 9999)
        assert abs(r.p_value - p_v) < 4 * se, (term, r.p_value, p_v)


def test_seeded_permutations_are_reproducible(bray: np.ndarray, meta: pd.DataFrame) -> None:
    a = permanova(bray, meta, TERMS, "group", permutations=199, seed=5)
    b = permanova(bray, meta, TERMS, "group", permutations=199, seed=5)
    assert a == b


def test_distance_matrix_ids_reorder_the_data(
    ref: dict, bray: np.ndarray, meta: pd.DataFrame
) -> None:
    from skbio import DistanceMatrix

    dm = DistanceMatrix(bray, ids=ref["sample_ids"])
    shuffled = meta.sample(frac=1.0, random_state=2)
    r = permanova(dm, shuffled, TERMS, "group", permutations=0)
    assert r.pseudo_f == pytest.approx(ref["adonis_margin"]["F"][0], rel=1e-9)


def test_one_factor_f_matches_scikit_bio(ref: dict, bray: np.ndarray) -> None:
    from skbio import DistanceMatrix
    from skbio.stats.distance import permanova as sk_permanova

    sk = sk_permanova(DistanceMatrix(bray, ids=ref["sample_ids"]), ref["group"], permutations=0)
    r = permanova(bray, pd.DataFrame({"g": ref["group"]}), ["g"], "g", permutations=0)
    assert r.pseudo_f == pytest.approx(float(sk["test statistic"]), rel=1e-10)


# ------------------------------------------------------------------------------------------------
# PERMDISP
# ------------------------------------------------------------------------------------------------
def test_permdisp_one_dimension_by_hand() -> None:
    """Points a: 0, 2, 4 (centroid 2) and b: 0, 4, 8 (centroid 4).

    Distances to the centroids z = 2, 0, 2 | 4, 0, 4; group means 4/3, 8/3, grand mean 2.
    SS_between = 3·(2/3)² · 2 = 8/3; SS_within = (2·(2/3)² + (4/3)²) + (2·(4/3)² + (8/3)²) = 24/9 + 96/9.
    F = (8/3 / 1) / ((120/9) / 4) = 0.8. In 1-D the spatial median is the median: 2 and 4 again.
    """
    x = np.array([0.0, 2.0, 4.0, 0.0, 4.0, 8.0])
    d = np.abs(x[:, None] - x[None, :])
    g = ["a", "a", "a", "b", "b", "b"]
    for centre in ("centroid", "median"):
        r = permdisp(d, g, permutations=0, centre=centre)
        assert r.f == pytest.approx(0.8, rel=1e-9)
        assert r.mean_distance == pytest.approx((4 / 3, 8 / 3), rel=1e-9)
        assert (r.df_groups, r.df_residual) == (1, 4)


@pytest.mark.parametrize("centre", ["centroid", "median"])
def test_permdisp_matches_betadisper_permutest(
    ref: dict,
    bray: np.ndarray,
    meta: pd.DataFrame,
    perms: tuple[np.ndarray, np.ndarray],
    centre: str,
) -> None:
    b = ref[f"betadisper_{centre}"]
    assert b["n_eig_negative"] > 0  # Bray–Curtis: imaginary axes are part of the computation
    r = permdisp(bray, meta["group"], centre=centre, permutation_indices=perms[0])
    # vegan finds the spatial median with optim(BFGS), which stops near 1e-6; the centroid is exact.
    tol = 1e-9 if centre == "centroid" else 1e-4
    assert r.f == pytest.approx(b["F"], rel=tol)
    assert r.mean_distance == pytest.approx(b["group_distances"], rel=tol)
    assert r.p_value == pytest.approx(b["p"], abs=1e-12)
    if centre == "centroid":
        f_perm = np.array(b["F_perm"])
        n_ge = int(np.sum(f_perm >= b["F"] - EPS))
        assert r.p_value == pytest.approx((1 + n_ge) / (1 + len(f_perm)), abs=1e-12)


def test_permdisp_euclidean_matches_scikit_bio_and_vegan(ref: dict) -> None:
    from skbio import DistanceMatrix
    from skbio.stats.distance import permdisp as sk_permdisp

    de = squareform(np.array(ref["euclid_log"]))
    n = de.shape[0]
    dm = DistanceMatrix(de, ids=ref["sample_ids"])
    for centre, tol in (("centroid", 1e-9), ("median", 1e-6)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk = sk_permdisp(dm, ref["group"], test=centre, permutations=0, dimensions=n - 1)
        r = permdisp(de, ref["group"], centre=centre, permutations=0)
        assert r.f == pytest.approx(float(sk["test statistic"]), rel=tol)
        assert r.n_negative_set_to_zero == 0
    r = permdisp(de, ref["group"], centre="centroid", permutations=0)
    assert r.f == pytest.approx(ref["betadisper_euclid_centroid"]["F"], rel=1e-9)


def test_permdisp_detects_a_planted_dispersion_difference() -> None:
    rng = np.random.default_rng(8)
    x = np.vstack([rng.normal(0, 1, (30, 5)), rng.normal(0, 2.5, (30, 5))])
    d = squareform(pdist(x))
    r = permdisp(d, ["a"] * 30 + ["b"] * 30, permutations=199, seed=1)
    assert r.p_value == pytest.approx(1 / 200)
    assert r.mean_distance[1] > 2 * r.mean_distance[0]


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------
def test_bad_input_is_named(bray: np.ndarray, meta: pd.DataFrame) -> None:
    holes = meta.copy()
    holes["age"] = holes["age"].astype(float)
    holes.iloc[3, holes.columns.get_loc("age")] = np.nan
    with pytest.raises(StatsInputError, match="column 'age' has 1 missing"):
        permanova(bray, holes, TERMS, "group", permutations=0)
    with pytest.raises(StatsInputError, match="not among formula_terms"):
        permanova(bray, meta, ["group"], "age", permutations=0)
    alias = meta.assign(age2=meta["age"] * 2)
    with pytest.raises(StatsInputError, match="fully explained by the other terms"):
        permanova(bray, alias, ["age2", "age", "group"], "age2", permutations=0)
    with pytest.raises(StatsInputError, match="rows"):
        permanova(bray, meta.iloc[:10], TERMS, "group", permutations=0)
    asym = bray.copy()
    asym[0, 1] += 0.1
    with pytest.raises(StatsInputError, match="not symmetric"):
        permanova(asym, meta, TERMS, "group", permutations=0)
    with pytest.raises(StatsInputError, match="method"):
        permanova(bray, meta, TERMS, "group", method="terms")
    with pytest.raises(StatsInputError, match="not a permutation"):
        permanova(bray, meta, TERMS, "group", permutation_indices=np.zeros((2, 36), dtype=int))
    with pytest.raises(StatsInputError, match="cannot build the model term"):
        permanova(bray, meta, ["group", "nope"], "group", permutations=0)
    with pytest.raises(StatsInputError, match="at least 2 groups"):
        permdisp(bray, ["a"] * 36, permutations=0)
    with pytest.raises(StatsInputError, match="missing"):
        permdisp(bray, [None] + ["a"] * 35, permutations=0)
