"""Mantel, partial Mantel, PROTEST and Spearman-with-permutations against vegan / R.

Reference numbers: ``tests/fixtures/r_stats_reference.json`` from
``tests/fixtures/make_r_stats_reference.R``. Exact permutation p-values there come from enumerating
every permutation (``permute::allPerms``): 7! for Mantel, 8! for PROTEST and Spearman, and the
4! × 4! within-strata permutations. Our Monte Carlo p-values (999 permutations) must lie within
3 binomial standard errors of the exact p (plus the 1/(B+1) offset of the "+1" convention).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.spatial
from scipy.spatial.distance import squareform
from skbio.stats.distance import mantel as skbio_mantel

from gutskin.errors import InputError
from gutskin.stats import (
    StatsInputError,
    mantel,
    partial_mantel,
    protest,
    spearman_permutation,
)
from gutskin.stats import paired as paired_mod
from gutskin.stats._util import permutation_matrix, strata_codes
from tests.support.fixtures import reference

REF = reference("r_stats_reference.json")
M = REF["mantel"]
B = 999  # permutations in tests


def dm(key: str) -> np.ndarray:
    return np.asarray(M[key], dtype=float)


def assert_p_close(p_mc: float | None, p_exact: float, permutations: int = B) -> None:
    assert p_mc is not None
    se = math.sqrt(p_exact * (1 - p_exact) / permutations)
    assert abs(p_mc - p_exact) <= 3 * se + 1 / (permutations + 1), (p_mc, p_exact, se)


# ---------------------------------------------------------------------------------------------
# Mantel
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_mantel_statistic_and_exact_p_match_vegan(method: str) -> None:
    ref = M["exact_n7"][method]
    res = mantel(dm("dm_x7"), dm("dm_y7"), method=method, permutations=B, seed=11, n_boot=0)
    assert res.r == pytest.approx(ref["statistic"], abs=1e-10)
    assert_p_close(res.p_value, ref["p_exact_greater"])
    assert res.n == 7 and res.alternative == "greater" and res.permutations == B


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_mantel_concordant_pair(method: str) -> None:
    ref = M["exact_n7"][method]
    res = mantel(dm("dm_x7"), dm("dm_yc7"), method=method, permutations=B, seed=3, n_boot=0)
    assert res.r == pytest.approx(ref["concordant_statistic"], abs=1e-10)
    # exact p = 1/5040: the observed ordering (and its rare ties) is the most extreme
    assert ref["concordant_p_exact_greater"] == pytest.approx(1 / 5040)
    assert res.p_value is not None and res.p_value <= 6 / (B + 1)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_mantel_n12_matches_vegan_and_skbio(method: str) -> None:
    x, y = dm("dm_x12"), dm("dm_y12")
    res = mantel(x, y, method=method, permutations=B, seed=5, n_boot=0)
    assert res.r == pytest.approx(M["n12"][method]["statistic"], abs=1e-10)
    sk_r, _, sk_n = skbio_mantel(x, y, method=method, permutations=0)
    assert res.r == pytest.approx(float(sk_r), abs=1e-10) and sk_n == res.n == 12
    # vegan's own p is Monte Carlo (9,999 permutations): compare with both errors
    p_r = M["n12"][method]["p_mc_greater_9999"]
    se = math.sqrt(p_r * (1 - p_r) / B + p_r * (1 - p_r) / 9999)
    assert abs(res.p_value - p_r) <= 3 * se + 1 / (B + 1)


def test_mantel_two_sided_matches_skbio_definition() -> None:
    x, y = dm("dm_x7"), dm("dm_y7")
    greater = mantel(x, y, method="pearson", permutations=B, seed=2, n_boot=0)
    two = mantel(x, y, method="pearson", permutations=B, seed=2, n_boot=0, alternative="two-sided")
    # same permutations: |r_perm| >= |r| includes every r_perm >= r (r > 0 here)
    assert greater.r > 0 and two.p_value >= greater.p_value
    sk = skbio_mantel(x, y, method="pearson", permutations=4999, seed=2, alternative="two-sided")
    se = math.sqrt(sk[1] * (1 - sk[1]) / B + sk[1] * (1 - sk[1]) / 4999)
    assert abs(two.p_value - sk[1]) <= 3 * se + 1 / (B + 1)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_mantel_within_strata_matches_exact_restricted_p(method: str) -> None:
    ref = M["strata_n8"][method]
    strata = M["inputs"]["strata8"]
    res = mantel(
        dm("dm_x8"), dm("dm_y8"), method=method, permutations=B, seed=7, strata=strata, n_boot=0
    )
    assert res.r == pytest.approx(ref["statistic"], abs=1e-10)
    assert res.n_strata == 2
    assert ref["n_perms"] == 575  # 4! * 4! - 1 restricted permutations
    assert_p_close(res.p_value, ref["p_exact_greater"])


def test_restricted_permutations_stay_within_strata_and_are_uniform() -> None:
    codes = strata_codes(["a", "b", "a", "b", "b", "a"], 6)
    perms = permutation_matrix(6, 6000, np.random.default_rng(0), codes)
    assert np.all(codes[perms] == codes[None, :])  # every label stays in its stratum
    assert np.all(np.sort(perms, axis=1) == np.arange(6))  # every row is a permutation
    # 3! * 3! = 36 possible permutations, each expected 6000/36 = 166.7 times
    _, counts = np.unique(perms, axis=0, return_counts=True)
    assert counts.size == 36
    assert counts.min() > 166.7 - 5 * math.sqrt(166.7) and counts.max() < 166.7 + 5 * math.sqrt(
        166.7
    )


def test_condensed_and_square_inputs_agree_and_seed_reproduces() -> None:
    x, y = dm("dm_x7"), dm("dm_y7")
    a = mantel(x, y, permutations=B, seed=42, n_boot=50)
    b = mantel(
        squareform(x, checks=False), squareform(y, checks=False), permutations=B, seed=42, n_boot=50
    )
    assert a == b
    c = mantel(x, y, permutations=B, seed=42, n_boot=0)
    assert c.p_value == a.p_value  # bootstrap draws do not change the permutation stream


def test_mantel_permutations_zero_gives_no_p() -> None:
    res = mantel(dm("dm_x7"), dm("dm_y7"), permutations=0, n_boot=0)
    assert res.p_value is None and res.ci95 is None
    assert json.loads(json.dumps(res.to_dict()))["p_value"] is None


def test_mantel_bootstrap_drops_self_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a fixed resample (subjects 0, 0, 1, 2, 4, 4, 6) the bootstrap r is computed by hand."""
    x, y = dm("dm_x7"), dm("dm_y7")
    idx = np.array([0, 0, 1, 2, 4, 4, 6])
    monkeypatch.setattr(paired_mod, "_bootstrap_indices", lambda n, rng, codes: idx.copy())
    pairs = [(idx[i], idx[j]) for i in range(7) for j in range(i + 1, 7) if idx[i] != idx[j]]
    assert len(pairs) == 21 - 2  # (0, 0) and (4, 4) dropped
    xs = np.array([x[a, b] for a, b in pairs])
    ys = np.array([y[a, b] for a, b in pairs])
    r_hand = float(np.corrcoef(xs, ys)[0, 1])
    res = mantel(x, y, method="pearson", permutations=0, n_boot=30, seed=1)
    assert res.n_boot == 30
    assert res.ci95 == pytest.approx((r_hand, r_hand), abs=1e-12)
    # Spearman re-ranks the resampled distances (average ties for the duplicated pairs)
    from scipy.stats import rankdata

    rho_hand = float(np.corrcoef(rankdata(xs), rankdata(ys))[0, 1])
    res_s = mantel(x, y, method="spearman", permutations=0, n_boot=30, seed=1)
    assert res_s.ci90 == pytest.approx((rho_hand, rho_hand), abs=1e-12)


def test_mantel_bootstrap_ci_brackets_r() -> None:
    res = mantel(dm("dm_x12"), dm("dm_y12"), method="spearman", permutations=0, n_boot=200, seed=4)
    assert res.ci95[0] <= res.ci90[0] <= res.ci90[1] <= res.ci95[1]
    assert res.ci95[0] < res.r < res.ci95[1]
    assert res.n_boot >= 190


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_partial_mantel_matches_vegan(method: str) -> None:
    ref = M["exact_n7"][method]
    res = partial_mantel(
        dm("dm_x7"), dm("dm_y7"), dm("dm_z7"), method=method, permutations=B, seed=9, n_boot=0
    )
    assert res.partial is True
    assert res.r == pytest.approx(ref["partial_statistic"], abs=1e-10)
    assert_p_close(res.p_value, ref["partial_p_exact_greater"])


def test_partial_mantel_by_hand_formula() -> None:
    x, y, z = dm("dm_x7"), dm("dm_y7"), dm("dm_z7")
    iu = np.triu_indices(7, 1)
    c = np.corrcoef(np.vstack([x[iu], y[iu], z[iu]]))
    rxy, rxz, ryz = c[0, 1], c[0, 2], c[1, 2]
    expected = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    res = partial_mantel(x, y, z, method="pearson", permutations=0, n_boot=0)
    assert res.r == pytest.approx(expected, abs=1e-12)


def test_mantel_input_validation() -> None:
    x = dm("dm_x7")
    bad = x.copy()
    bad[0, 1] += 0.1
    with pytest.raises(StatsInputError, match="not symmetric"):
        mantel(bad, x, permutations=0)
    diag = x.copy()
    diag[2, 2] = 0.5
    with pytest.raises(StatsInputError, match="diagonal"):
        mantel(diag, x, permutations=0)
    with pytest.raises(StatsInputError, match="same subjects"):
        mantel(x, dm("dm_x8"), permutations=0)
    nan = x.copy()
    nan[0, 1] = nan[1, 0] = np.nan
    with pytest.raises(InputError):
        mantel(nan, x, permutations=0)
    with pytest.raises(StatsInputError, match="condensed"):
        mantel(np.arange(5.0), np.arange(5.0), permutations=0)
    with pytest.raises(StatsInputError, match="strata"):
        mantel(x, x, permutations=10, strata=[1, 2, 3])
    with pytest.raises(StatsInputError, match="constant"):
        mantel(np.ones((4, 4)) - np.eye(4), squareform(np.arange(1.0, 7.0)), permutations=0)


def test_mantel_checks_skbio_ids() -> None:
    from skbio import DistanceMatrix

    x = DistanceMatrix(dm("dm_x7"), ids=list("abcdefg"))
    y = DistanceMatrix(dm("dm_y7"), ids=list("abcdefg"))
    y_other = DistanceMatrix(dm("dm_y7"), ids=list("gfedcba"))
    assert mantel(x, y, permutations=0, n_boot=0).r == pytest.approx(
        M["exact_n7"]["spearman"]["statistic"], abs=1e-10
    )
    with pytest.raises(StatsInputError, match="different subject ids"):
        mantel(x, y_other, permutations=0, n_boot=0)


# ---------------------------------------------------------------------------------------------
# PROTEST
# ---------------------------------------------------------------------------------------------
def test_protest_matches_vegan() -> None:
    ref = REF["protest"]
    res = protest(ref["inputs"]["X"], ref["inputs"]["Y"], permutations=B, seed=1)
    assert res.m2 == pytest.approx(ref["ss"], abs=1e-10)
    assert res.r == pytest.approx(ref["t0"], abs=1e-10)
    assert (res.dims_x, res.dims_y, res.n) == (2, 3, 8)
    assert_p_close(res.p_value, ref["p_exact"])


def test_protest_concordant_and_scipy_disparity() -> None:
    ref = REF["protest"]
    X = np.asarray(ref["inputs"]["X"])
    Yc = np.asarray(ref["inputs"]["Y_concordant"])
    res = protest(X, Yc, permutations=B, seed=1, n_boot=100)
    assert res.m2 == pytest.approx(ref["concordant"]["ss"], abs=1e-10)
    assert res.p_value == pytest.approx(1 / (B + 1))  # exact p = 1/40320
    assert res.ci95 is not None and res.ci95[0] <= res.r + 1e-12
    _, _, disparity = scipy.spatial.procrustes(X, Yc)
    assert res.m2 == pytest.approx(disparity, abs=1e-10)


def test_protest_input_validation() -> None:
    with pytest.raises(StatsInputError, match="rows"):
        protest(
            np.zeros((5, 2)) + np.arange(5)[:, None], np.arange(8.0).reshape(4, 2), permutations=0
        )
    with pytest.raises(StatsInputError, match="identical"):
        protest(np.ones((5, 2)), np.arange(10.0).reshape(5, 2), permutations=0)


# ---------------------------------------------------------------------------------------------
# Spearman with permutations
# ---------------------------------------------------------------------------------------------
def test_spearman_matches_cor_test_and_exact_p() -> None:
    ref = REF["spearman"]
    res = spearman_permutation(ref["inputs"]["x"], ref["inputs"]["y"], permutations=B, seed=1)
    assert res.rho == pytest.approx(ref["rho"], abs=1e-12)
    assert ref["cor_test_p"] == pytest.approx(ref["p_exact_two_sided"], abs=1e-9)
    assert_p_close(res.p_value, ref["p_exact_two_sided"])
    assert res.n == 8


def test_spearman_within_strata_matches_exact_restricted_p() -> None:
    ref = REF["spearman"]
    res = spearman_permutation(
        ref["inputs"]["x"],
        ref["inputs"]["y"],
        permutations=B,
        seed=2,
        strata=ref["inputs"]["strata"],
    )
    assert res.n_strata == 2
    assert_p_close(res.p_value, ref["p_exact_two_sided_strata"])


def test_spearman_ci_is_bonett_wright_fisher_z() -> None:
    ref = REF["spearman"]
    res = spearman_permutation(ref["inputs"]["x"], ref["inputs"]["y"], permutations=0)
    rho = ref["rho"]
    se = math.sqrt((1 + rho**2 / 2) / (8 - 3))
    z = math.atanh(rho)
    assert res.ci95 == pytest.approx(
        (math.tanh(z - 1.959963984540054 * se), math.tanh(z + 1.959963984540054 * se)), abs=1e-12
    )
    assert res.ci90 == pytest.approx(
        (math.tanh(z - 1.6448536269514722 * se), math.tanh(z + 1.6448536269514722 * se)), abs=1e-12
    )
    assert res.p_value is None


def test_spearman_ties_use_average_ranks() -> None:
    # x ranks (1.5, 1.5, 3, 4), y ranks (1, 2, 3, 4): Pearson of ranks by hand
    rx = np.array([1.5, 1.5, 3, 4])
    ry = np.array([1.0, 2, 3, 4])
    expected = float(
        np.sum((rx - rx.mean()) * (ry - ry.mean()))
        / math.sqrt(np.sum((rx - rx.mean()) ** 2) * np.sum((ry - ry.mean()) ** 2))
    )
    res = spearman_permutation([5, 5, 7, 9], [0.1, 0.2, 0.3, 0.4], permutations=99, seed=0)
    assert res.rho == pytest.approx(expected, abs=1e-12)


def test_spearman_input_validation() -> None:
    with pytest.raises(StatsInputError, match="same length"):
        spearman_permutation([1, 2, 3, 4], [1, 2, 3], permutations=0)
    with pytest.raises(StatsInputError, match="too few"):
        spearman_permutation([1, 2, 3], [1, 2, 3], permutations=0)
    with pytest.raises(StatsInputError, match="non-finite"):
        spearman_permutation([1, 2, np.nan, 4], [1, 2, 3, 4], permutations=0)
    with pytest.raises(StatsInputError, match="constant"):
        spearman_permutation([1, 1, 1, 1], [1, 2, 3, 4], permutations=0)
    with pytest.raises(StatsInputError, match="alternative"):
        spearman_permutation([1, 2, 3, 4], [1, 2, 3, 4], alternative="bigger")


def test_mantel_permutations_do_not_depend_on_the_thread_count() -> None:
    """The permutation loops run in parallel; every thread count must give the same bits."""
    import numba

    rng = np.random.default_rng(11)
    pts = rng.normal(size=(40, 3))
    x = squareform(scipy.spatial.distance.pdist(pts))
    y = squareform(scipy.spatial.distance.pdist(pts + rng.normal(scale=2.0, size=pts.shape)))
    z = squareform(scipy.spatial.distance.pdist(rng.normal(size=(40, 2))))
    perms = np.array([rng.permutation(40) for _ in range(257)])
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = paired_mod._perm_dot(x, y, perms), *paired_mod._perm_dot2(x, y, z, perms)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = paired_mod._perm_dot(x, y, perms), *paired_mod._perm_dot2(x, y, z, perms)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, b)
    # and each slot is the permuted cross-product a hand loop gives
    k = 5
    iu = np.triu_indices(40, 1)
    assert one[0][k] == pytest.approx(float(np.sum(x[np.ix_(perms[k], perms[k])][iu] * y[iu])))


# ---------------------------------------------------------------------------------------------
# Within- vs between-subject cross-site distances
# ---------------------------------------------------------------------------------------------
# C2[i, j] = d(x_i, y_j). Total T = 45, so D = S / 2 - 7.5 with S = sum_i C2[i, p(i)]. The six
# permutations p of the columns (by hand):
#   (0,1,2): S = 2+3+7 = 12, D = -1.5 (observed)   (0,2,1): 2+4+8 = 14, D = -0.5
#   (1,0,2): 1+5+7 = 13, D = -1.0                  (1,2,0): 1+4+6 = 11, D = -2.0
#   (2,0,1): 9+5+8 = 22, D = +3.5                  (2,1,0): 9+3+6 = 18, D = +1.5
# Permutation mean of D: 0. less: D <= -1.5 -> 2/6; greater: D >= -1.5 -> 5/6; two-sided:
# |D| >= 1.5 -> {-1.5, -2.0, 3.5, 1.5} -> 4/6.
C2 = np.array([[2.0, 1.0, 9.0], [5.0, 3.0, 4.0], [6.0, 8.0, 7.0]])


@pytest.mark.parametrize(
    ("alternative", "p_exact"), [("less", 2 / 6), ("greater", 5 / 6), ("two-sided", 4 / 6)]
)
def test_cross_site_distances_by_hand_exact(alternative: str, p_exact: float) -> None:
    res = paired_mod.cross_site_distances(
        C2, permutations=999, seed=1, alternative=alternative, n_boot=0
    )
    assert res.within_mean == pytest.approx(12 / 3)
    assert res.between_mean == pytest.approx((45 - 12) / 6)
    assert res.difference == pytest.approx(4 - 5.5)
    assert res.null_mean == pytest.approx(0.0, abs=1e-12)
    assert res.exact and res.permutations == 6 and res.n == 3
    assert res.p_value == pytest.approx(p_exact)
    assert res.ci95 is None and res.n_boot == 0 and res.n_strata is None


def test_cross_site_distances_within_strata_by_hand() -> None:
    # Strata {0, 1} and {2, 3}: four permutations (identity, swap 0-1, swap 2-3, both). T = 66, so
    # D = S / 3 - 5.5. S: 1+6+2+0 = 9; 2+5+2+0 = 9; 1+6+3+6 = 16; 2+5+3+6 = 16 -> D = -2.5, -2.5,
    # -1/6, -1/6. Permutation mean: S = 12.5 -> D = -4/3. less: D <= -2.5 -> 2/4; two-sided:
    # every |D - (-4/3)| = 7/6 -> 4/4.
    c = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 1, 2, 3], [4, 5, 6, 0]], dtype=float)
    strata = ["a", "a", "b", "b"]
    less = paired_mod.cross_site_distances(
        c, permutations=99, strata=strata, alternative="less", n_boot=0
    )
    assert less.difference == pytest.approx(9 / 4 - 57 / 12)
    assert less.null_mean == pytest.approx(12.5 / 3 - 5.5)
    assert less.exact and less.permutations == 4 and less.n_strata == 2
    assert less.p_value == pytest.approx(0.5)
    two = paired_mod.cross_site_distances(c, permutations=99, strata=strata, n_boot=0)
    assert two.p_value == pytest.approx(1.0)
    # Without strata there are 4! = 24 permutations: more than 10, so 10 random ones are drawn.
    mc = paired_mod.cross_site_distances(c, permutations=10, seed=3, n_boot=0)
    assert not mc.exact and mc.permutations == 10
    assert mc.p_value is not None and mc.p_value >= 1 / 11


def test_cross_site_distances_monte_carlo_matches_enumeration() -> None:
    import itertools

    rng = np.random.default_rng(4)
    n = 7
    c = rng.random((n, n)) + np.diag(np.full(n, -0.3))
    total = c.sum()
    rows = np.arange(n)
    diffs = np.array(
        [
            c[rows, list(p)].sum() / (n - 1) - total / (n * (n - 1))
            for p in itertools.permutations(range(n))
        ]
    )
    observed = np.trace(c) / (n - 1) - total / (n * (n - 1))
    p_less = float(np.mean(diffs <= observed + 1e-12))
    res = paired_mod.cross_site_distances(c, permutations=B, seed=9, alternative="less", n_boot=0)
    assert res.difference == pytest.approx(observed)
    assert not res.exact  # 7! = 5040 > 999
    assert_p_close(res.p_value, p_less)
    again = paired_mod.cross_site_distances(
        c, permutations=B, seed=9, alternative="less", n_boot=50
    )
    assert again.p_value == res.p_value  # the bootstrap has its own random stream


def test_cross_site_distances_bootstrap_and_validation() -> None:
    rng = np.random.default_rng(2)
    n = 30
    c = 0.5 + 0.1 * rng.random((n, n)) - 0.2 * np.eye(n)
    res = paired_mod.cross_site_distances(c, permutations=199, seed=1, n_boot=200)
    assert res.p_value == pytest.approx(1 / 200)
    assert res.ci95 is not None and res.ci90 is not None
    assert res.ci95[0] <= res.ci90[0] <= res.difference <= res.ci90[1] <= res.ci95[1] < 0
    assert res.n_boot == 200
    assert res.to_dict()["ci95"] == list(res.ci95)
    with pytest.raises(StatsInputError, match="square"):
        paired_mod.cross_site_distances(np.zeros((3, 4)))
    with pytest.raises(StatsInputError, match="at least 3"):
        paired_mod.cross_site_distances(np.zeros((2, 2)))
    with pytest.raises(StatsInputError, match="non-finite"):
        paired_mod.cross_site_distances(np.full((3, 3), np.nan))
    with pytest.raises(StatsInputError, match="alternative"):
        paired_mod.cross_site_distances(C2, alternative="smaller")


# ---------------------------------------------------------------------------------------------
# issue 11 item 7: the one-sided Mantel test against vegan::mantel (complete enumeration)
# ---------------------------------------------------------------------------------------------
def test_one_sided_mantel_matches_vegan() -> None:

    from scipy.spatial.distance import pdist, squareform

    from gutskin.stats import paired as _paired

    ref = reference("vegan_mantel.json")
    dx = squareform(pdist(np.asarray(ref["x"], dtype=float)))
    dy = squareform(pdist(np.asarray(ref["y"], dtype=float)))
    for method, r in ref["results"].items():
        up = _paired.mantel(
            dx, dy, method=method, permutations=19999, seed=3, alternative="greater"
        )
        lo = _paired.mantel(dx, dy, method=method, permutations=19999, seed=3, alternative="less")
        assert up.r == pytest.approx(r["r"], abs=1e-12)
        # vegan's p is exact (all 5040 permutations); ours is a Monte-Carlo estimate from 19,999:
        # binomial SD sqrt(p(1-p)/19999) < 2.5e-4 at p ~ 1e-3, so 1.5e-3 is > 5 SD
        assert up.p_value == pytest.approx(r["p_greater"], abs=1.5e-3)
        assert lo.p_value == pytest.approx(r["p_less"], abs=1.5e-3)
