"""Rarefaction (gutskin.diversity.rarefy): exact sampling without replacement, sparse and seeded.

Expected values come from the multivariate hypergeometric distribution (means, variances and the exact
marginal pmf from ``scipy.stats.hypergeom``), from hand arithmetic, or from scikit-bio; never from the
code under test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from skbio.diversity import alpha_diversity

from gutskin.diversity import rarefy, rarefy_counts, repeated_rarefaction_alpha
from gutskin.errors import InputError
from gutskin.io.table import FeatureTable

REPO = Path(__file__).resolve().parents[2]
AGP_TABLE = (
    "raw.githubusercontent.com/biocore/American-Gut/043c46753a879652c4656d1e6fda3714823ab5ad/"
    "data/AG/AG_100nt_even10k.biom.gz"
)


def _mirror_file(rel: str) -> Path | None:
    env = os.environ.get("GUTSKIN_MIRROR")
    roots = [Path(p) for p in env.split(":") if p] if env else [REPO.parent / "shared" / "mirror"]
    for root in roots:
        if (root / rel).is_file():
            return root / rel
    return None


def _table(seed: int = 0, n: int = 25, m: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.poisson(0.7, size=(n, m)) * rng.integers(1, 40, size=(n, m))
    return x


def _repeat_rows(counts: list[int], r: int) -> sp.csr_array:
    return sp.csr_array(np.tile(np.asarray(counts, dtype=np.int64), (r, 1)))


# ------------------------------------------------------------------------------------------ basics


def test_rows_sum_to_depth_and_never_exceed_original() -> None:
    x = _table()
    out, kept = rarefy_counts(sp.csr_array(x), 60, 1)
    dense = out.toarray()
    assert out.shape == (kept.size, x.shape[1])
    assert (dense.sum(axis=1) == 60).all()
    assert (dense <= x[kept]).all()
    assert (dense >= 0).all()
    # a feature absent from a sample can never appear in it
    assert not ((dense > 0) & (x[kept] == 0)).any()
    # explicit zeros are removed
    assert (out.data > 0).all()


def test_dropped_samples_are_those_below_depth() -> None:
    x = np.array(
        [
            [5, 5, 0, 0],  # 10 reads: kept (exactly depth)
            [1, 2, 3, 0],  # 6 reads: dropped
            [0, 0, 0, 0],  # empty: dropped
            [9, 0, 0, 40],  # 49 reads: kept
        ]
    )
    out, kept = rarefy_counts(sp.csr_array(x), 10, 3)
    assert kept.tolist() == [0, 3]
    # a sample with exactly `depth` reads keeps all of them
    np.testing.assert_array_equal(out.toarray()[0], [5, 5, 0, 0])
    assert out.toarray()[1].sum() == 10


def test_float_integer_valued_counts_are_accepted() -> None:
    x = _table(2).astype(np.float64)
    out_f, kept_f = rarefy_counts(sp.csr_array(x), 50, 9)
    out_i, kept_i = rarefy_counts(sp.csr_array(x.astype(np.int64)), 50, 9)
    np.testing.assert_array_equal(kept_f, kept_i)
    np.testing.assert_array_equal(out_f.toarray(), out_i.toarray())


def test_all_samples_below_depth_gives_empty_table() -> None:
    out, kept = rarefy_counts(sp.csr_array(np.array([[1, 2], [0, 3]])), 100, 0)
    assert kept.size == 0
    assert out.shape == (0, 2)


# ------------------------------------------------------------------------------------- determinism


def test_same_seed_same_result_other_seed_differs() -> None:
    x = sp.csr_array(_table(5, n=30, m=60))
    a, _ = rarefy_counts(x, 80, 123)
    b, _ = rarefy_counts(x, 80, 123)
    c, _ = rarefy_counts(x, 80, 124)
    np.testing.assert_array_equal(a.toarray(), b.toarray())
    assert (a.toarray() != c.toarray()).any()
    # a Generator is accepted as well and is equivalent to seeding it the same way
    g, _ = rarefy_counts(x, 80, np.random.default_rng(123))
    np.testing.assert_array_equal(a.toarray(), g.toarray())


def test_result_independent_of_thread_count() -> None:
    x = sp.csr_array(_table(6, n=200, m=80))
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one, _ = rarefy_counts(x, 50, 77)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many, _ = rarefy_counts(x, 50, 77)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(one.toarray(), many.toarray())


# -------------------------------------------------------------------------------- the distribution


def _hypergeom_moments(c: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each feature's kept count (multivariate hypergeometric marginals)."""
    n_total = c.sum()
    p = c / n_total
    mean = depth * p
    var = depth * p * (1 - p) * (n_total - depth) / (n_total - 1)
    return mean, var


@pytest.mark.parametrize("depth", [40, 90])  # 90 > N/2 exercises the "draw the removed reads" path
def test_marginal_mean_and_variance_match_hypergeometric(depth: int) -> None:
    counts = np.array([50, 30, 15, 4, 1])  # N = 100
    r = 20000
    out, kept = rarefy_counts(_repeat_rows(counts.tolist(), r), depth, 2024)
    assert kept.size == r
    draws = out.toarray().astype(np.float64)
    mean, var = _hypergeom_moments(counts, depth)
    emp_mean = draws.mean(axis=0)
    se_mean = np.sqrt(var / r)
    assert np.all(np.abs(emp_mean - mean) < 5 * se_mean), (emp_mean, mean, se_mean)
    # Sampling WITH replacement would give variance depth p (1 - p), larger by (N - 1)/(N - depth):
    # 1.65x at depth 40, 9.9x at depth 90. Check the variance to within 6 standard errors, where
    # SE(S^2) ~ sqrt((m4 - s^4) / r) with m4 the empirical 4th central moment.
    emp_var = draws.var(axis=0, ddof=1)
    m4 = ((draws - emp_mean) ** 4).mean(axis=0)
    se_var = np.sqrt((m4 - emp_var**2) / r)
    assert np.all(np.abs(emp_var - var) < 6 * se_var), (emp_var, var, se_var)


def test_marginal_distribution_is_the_exact_hypergeometric_pmf() -> None:
    counts = [50, 30, 15, 4, 1]
    depth, r = 40, 20000
    out, _ = rarefy_counts(_repeat_rows(counts, r), depth, 7)
    x1 = out.toarray()[:, 1]  # feature with 30 of 100 reads
    support = np.arange(0, 31)
    pmf = stats.hypergeom(M=100, n=30, N=depth).pmf(support)
    observed = np.bincount(x1, minlength=support.size)[: support.size].astype(float)
    expected = pmf * r
    # pool bins with expected count < 5 into the two tails
    keep = expected >= 5
    lo, hi = np.flatnonzero(keep)[[0, -1]]
    obs = np.concatenate([[observed[: lo + 1].sum()], observed[lo + 1 : hi], [observed[hi:].sum()]])
    exp = np.concatenate([[expected[: lo + 1].sum()], expected[lo + 1 : hi], [expected[hi:].sum()]])
    exp *= obs.sum() / exp.sum()
    p = stats.chisquare(obs, exp).pvalue
    assert p > 1e-4, p


def test_huge_totals_use_exact_64_bit_draws() -> None:
    # total reads > 2^32 takes the 64-bit rejection path; the marginal mean is still depth * c / N
    counts = [3_000_000_000, 2_000_000_000, 7]
    r, depth = 20000, 10
    out, _ = rarefy_counts(_repeat_rows(counts, r), depth, 11)
    draws = out.toarray()
    assert (draws.sum(axis=1) == depth).all()
    c = np.asarray(counts, dtype=np.float64)
    mean, var = _hypergeom_moments(c, depth)
    assert abs(draws[:, 0].mean() - mean[0]) < 5 * np.sqrt(var[0] / r)


# -------------------------------------------------------------------------------------- bad input


def test_non_integer_values_raise_input_error_with_advice() -> None:
    x = sp.csr_array(np.array([[1.0, 2.5, 0.0], [3.0, 0.0, 1.0]]))
    with pytest.raises(InputError) as err:
        rarefy_counts(x, 2, 0, source="table.biom", ids=["a", "b"])
    msg = str(err.value)
    assert "non-integer" in msg
    assert "values: relative" in msg and "signal" in msg
    assert "table.biom" in msg and "sample a" in msg


@pytest.mark.parametrize("depth", [0, -5, 2.5, True])
def test_bad_depth_raises(depth: object) -> None:
    with pytest.raises(InputError, match="depth"):
        rarefy_counts(sp.csr_array(np.array([[1, 2]])), depth, 0)  # type: ignore[arg-type]


def test_negative_counts_raise() -> None:
    with pytest.raises(InputError, match="negative"):
        rarefy_counts(sp.csr_array(np.array([[1, -2, 3]])), 1, 0)


def test_dense_input_is_refused() -> None:
    with pytest.raises(InputError, match="sparse"):
        rarefy_counts(np.array([[1, 2]]), 1, 0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- FeatureTable and repeated


def test_rarefy_feature_table_keeps_ids_of_retained_samples() -> None:
    x = np.array([[3, 4, 0], [1, 0, 0], [0, 5, 5]], dtype=float)
    t = FeatureTable(sp.csr_array(x), ["s1", "s2", "s3"], ["f1", "f2", "f3"])
    r = rarefy(t, 5, 0)
    assert list(r.sample_ids) == ["s1", "s3"]
    assert list(r.feature_ids) == ["f1", "f2", "f3"]
    np.testing.assert_array_equal(r.counts.toarray().sum(axis=1), [5, 5])


def test_rarefy_refuses_relative_tables() -> None:
    t = FeatureTable(sp.csr_array(np.array([[0.5, 0.5]])), ["s1"], ["f1", "f2"], values="relative")
    with pytest.raises(InputError, match="relative"):
        rarefy(t, 1, 0)


def test_repeated_rarefaction_follows_the_spawned_seed_contract() -> None:
    """Iteration i must equal a rarefaction seeded with SeedSequence(seed).spawn(iterations)[i]."""
    x = sp.csr_array(_table(8, n=15, m=30))
    depth, iterations, seed = 40, 6, 99
    kept, means, sds = repeated_rarefaction_alpha(x, depth, iterations, seed)
    per_iter = {m: [] for m in ("observed", "shannon", "simpson")}
    for child in np.random.SeedSequence(seed).spawn(iterations):
        rare, kept_i = rarefy_counts(x, depth, np.random.default_rng(child))
        np.testing.assert_array_equal(kept_i, kept)
        dense = rare.toarray()
        per_iter["observed"].append(alpha_diversity("observed_features", dense).to_numpy())
        per_iter["shannon"].append(alpha_diversity("shannon", dense).to_numpy())
        per_iter["simpson"].append(alpha_diversity("simpson", dense).to_numpy())
    for m, vals in per_iter.items():
        arr = np.vstack(vals)
        np.testing.assert_allclose(means[m], arr.mean(axis=0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(sds[m], arr.std(axis=0, ddof=1), rtol=0, atol=1e-12)
    assert (sds["shannon"] > 0).any()


def test_repeated_rarefaction_at_full_depth_is_deterministic_by_hand() -> None:
    # Every sample has exactly `depth` reads, so each rarefaction returns the sample itself:
    # means are the plain alpha values and SDs are 0. [2, 2] -> Shannon ln 2, Simpson 1/2;
    # [1, 3] -> Shannon -(1/4 ln 1/4 + 3/4 ln 3/4), Simpson 1 - (1/16 + 9/16) = 3/8.
    x = sp.csr_array(np.array([[2, 2, 0], [1, 0, 3]]))
    kept, means, sds = repeated_rarefaction_alpha(x, 4, 5, 1)
    assert kept.tolist() == [0, 1]
    np.testing.assert_allclose(means["observed"], [2, 2], atol=1e-12)
    h2 = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    np.testing.assert_allclose(means["shannon"], [np.log(2), h2], atol=1e-12)
    np.testing.assert_allclose(means["simpson"], [0.5, 3 / 8], atol=1e-12)
    for m in means:
        np.testing.assert_allclose(sds[m], 0.0, atol=1e-12)


def test_repeated_rarefaction_single_iteration_sd_is_nan() -> None:
    x = sp.csr_array(_table(3))
    _, means, sds = repeated_rarefaction_alpha(x, 30, 1, 5, metrics=("shannon",))
    assert set(means) == {"shannon"}
    assert np.isnan(sds["shannon"]).all()


def test_repeated_rarefaction_rejects_bad_arguments() -> None:
    x = sp.csr_array(_table(3))
    with pytest.raises(InputError, match="iterations"):
        repeated_rarefaction_alpha(x, 30, 0, 5)
    with pytest.raises(InputError, match="chao1"):
        repeated_rarefaction_alpha(x, 30, 2, 5, metrics=("chao1",))


# ------------------------------------------------------------------------------------ real data


@pytest.mark.realdata
def test_american_gut_table_rarefies_to_depth() -> None:
    path = _mirror_file(AGP_TABLE)
    if path is None:
        pytest.skip(
            f"real file not in the mirror (GUTSKIN_MIRROR or ../shared/mirror): {AGP_TABLE}"
        )
    from gutskin.io.table import read_biom

    table = read_biom(path)
    reads = np.asarray(table.counts.sum(axis=1)).ravel()
    # the published table is already rarefied to 10,000 reads per sample
    assert np.all(reads == 10000)
    out, kept = rarefy_counts(table.counts, 1000, 1)
    assert kept.size == table.counts.shape[0]
    assert np.all(np.asarray(out.sum(axis=1)).ravel() == 1000)
    diff = sp.csr_array(table.counts[kept]) - out  # sparse: no feature gains reads
    assert diff.data.size == 0 or diff.data.min() >= 0
