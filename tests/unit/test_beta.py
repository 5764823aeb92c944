"""Beta diversity (gutskin.diversity.beta) against scipy, scikit-bio, R vegan and hand arithmetic.

vegan reference values: tests/fixtures/vegan_diversity.json, made by
tests/fixtures/make_vegan_diversity.R (vegan 2.6-4): ``vegdist(x, "bray")``,
``vegdist(x, "jaccard", binary = TRUE)``, ``vegdist(x, "robust.aitchison")``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import pdist, squareform
from skbio.diversity import beta_diversity as skbio_beta

from gutskin.diversity import (
    beta_diversity,
    braycurtis,
    condensed_index,
    jaccard,
    mean_rarefied_beta,
    rarefy_counts,
    rclr,
    robust_aitchison,
)
from gutskin.errors import InputError
from gutskin.io.table import FeatureTable

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vegan_diversity.json"


def _random_counts(seed: int, n: int = 30, m: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.poisson(0.5, size=(n, m)) * rng.integers(1, 100, size=(n, m))
    empty = x.sum(axis=1) == 0
    x[empty, rng.integers(0, m, size=int(empty.sum()))] = 1
    return x


def _rclr_dense(x: np.ndarray) -> np.ndarray:
    """Independent rCLR: log of non-zeros minus their mean, zeros stay 0 (vegan decostand 'rclr')."""
    out = np.zeros(x.shape)
    for i, row in enumerate(x):
        nz = row > 0
        logs = np.log(row[nz])
        out[i, nz] = logs - logs.mean()
    return out


# ------------------------------------------------------------------------------- reference values


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("block_entries", [None, 7, 100])
def test_equal_to_scipy_pdist(seed: int, block_entries: int | None) -> None:
    x = _random_counts(seed)
    x[5] = x[4]  # identical rows
    csr = sp.csr_array(x)
    np.testing.assert_allclose(braycurtis(csr), pdist(x, "braycurtis"), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        jaccard(csr, block_entries=block_entries), pdist(x > 0, "jaccard"), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        robust_aitchison(csr, block_entries=block_entries),
        pdist(_rclr_dense(x), "euclidean"),
        rtol=0,
        atol=1e-12,
    )


def test_braycurtis_and_jaccard_equal_scikit_bio() -> None:
    x = _random_counts(3, n=20, m=35)
    ids = [f"s{i}" for i in range(20)]
    bc = skbio_beta("braycurtis", x, ids=ids)
    jc = skbio_beta("jaccard", x > 0, ids=ids)
    np.testing.assert_allclose(braycurtis(sp.csr_array(x)), bc.condensed_form(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(jaccard(sp.csr_array(x)), jc.condensed_form(), rtol=0, atol=1e-12)


def test_equal_to_vegan() -> None:
    ref = json.loads(FIXTURE.read_text())
    x = sp.csr_array(np.array(ref["matrix"], dtype=np.float64))
    np.testing.assert_allclose(braycurtis(x), ref["bray"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(jaccard(x), ref["jaccard_binary"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(robust_aitchison(x), ref["robust_aitchison"], rtol=0, atol=1e-10)


def test_hand_computed_pair() -> None:
    # x = [4, 0, 2, 2], y = [2, 2, 0, 4]
    #   Bray–Curtis = Σ|x−y| / Σ(x+y) = (2 + 2 + 2 + 2) / (8 + 8) = 0.5
    #   Jaccard: A = {0, 2, 3}, B = {0, 1, 3}: |A∩B| = 2, |A∪B| = 4 -> 1 − 2/4 = 0.5
    #   rCLR(x) on non-zeros (4, 2, 2): ln4 − (ln4 + 2 ln2)/3 = (2/3) ln 2, ln2 − (4/3) ln2 = −(1/3) ln 2
    #   rCLR(y) on non-zeros (2, 2, 4) likewise: (−1/3, 0, ·, 2/3)·ln 2 at features 0, 1, 3
    #   difference (ln 2) · [2/3 + 1/3, 0 + 1/3, −1/3 − 0, −1/3 − 2/3] = ln2 · [1, 1/3, −1/3, −1]
    #   distance = ln 2 · sqrt(1 + 1/9 + 1/9 + 1) = ln 2 · sqrt(20/9)
    x = sp.csr_array(np.array([[4, 0, 2, 2], [2, 2, 0, 4]]))
    assert braycurtis(x)[0] == pytest.approx(0.5, abs=1e-15)
    assert jaccard(x)[0] == pytest.approx(0.5, abs=1e-15)
    assert robust_aitchison(x)[0] == pytest.approx(np.log(2) * np.sqrt(20 / 9), abs=1e-14)


# ------------------------------------------------------------------------------------- edge cases


def test_identical_rows_are_zero_and_disjoint_rows_are_one() -> None:
    x = sp.csr_array(np.array([[1, 5, 0, 0], [1, 5, 0, 0], [0, 0, 3, 9], [0, 0, 6, 18]]))
    n = 4
    bc, jc, ra = braycurtis(x), jaccard(x), robust_aitchison(x)
    for d in (bc, jc, ra):
        assert d[condensed_index(0, 1, n)] == 0.0
    for d in (bc, jc):
        assert d[condensed_index(0, 2, n)] == 1.0
        assert d[condensed_index(1, 3, n)] == 1.0
    # rows 2 and 3 have the same composition (3 is 2 x row 2): robust Aitchison 0, Bray–Curtis not
    assert ra[condensed_index(2, 3, n)] == pytest.approx(0.0, abs=1e-14)
    assert bc[condensed_index(2, 3, n)] == pytest.approx(12 / 36, abs=1e-15)


def test_near_identical_rows_do_not_suffer_cancellation() -> None:
    """The Gram form loses ~1e-7 here; the exact sparse fallback must give pdist's answer."""
    base = np.array([1e6, 2e6, 3e6, 5e6, 7e6, 11e6, 13e6, 17e6])
    x = np.vstack([base, base + np.array([1, 0, 0, 0, 0, 0, 0, 0]), base[::-1]])
    got = robust_aitchison(sp.csr_array(x))
    want = pdist(_rclr_dense(x), "euclidean")
    assert want[0] < 1e-5
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)


def test_empty_sample_raises_naming_it() -> None:
    x = sp.csr_array(np.array([[1, 2], [0, 0], [3, 0]]))
    for func in (braycurtis, jaccard, robust_aitchison):
        with pytest.raises(InputError, match=r"sample b \(row 1\)"):
            func(x, ids=["a", "b", "c"])


def test_fewer_than_two_samples_give_empty_vector() -> None:
    one = sp.csr_array(np.array([[1, 2, 3]]))
    for func in (braycurtis, jaccard, robust_aitchison):
        assert func(one).shape == (0,)
    none = sp.csr_array((0, 3))
    assert braycurtis(none).shape == (0,)


def test_condensed_index_matches_squareform() -> None:
    n = 7
    cond = np.arange(n * (n - 1) // 2, dtype=float) + 1
    square = squareform(cond)
    for i in range(n):
        for j in range(n):
            if i != j:
                assert cond[condensed_index(i, j, n)] == square[i, j]


def test_rclr_keeps_zeros_and_centres_non_zeros() -> None:
    x = sp.csr_array(np.array([[1.0, 0, np.e**2], [0, 5, 0]]))
    r = rclr(x).toarray()
    # row 0: logs (0, 2), mean 1 -> (−1, 0, 1); row 1: single non-zero -> 0
    np.testing.assert_allclose(r, [[-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], atol=1e-15)


# The thread-count independence of the beta kernels: tests/unit/test_kernels_perf.py.


# ------------------------------------------------------------------------- dispatcher and averages


def test_beta_diversity_dispatcher_returns_ids() -> None:
    x = _random_counts(4, n=6, m=10).astype(float)
    t = FeatureTable(sp.csr_array(x), [f"s{i}" for i in range(6)], [f"f{j}" for j in range(10)])
    cond, ids = beta_diversity(t, "braycurtis")
    assert list(ids) == [f"s{i}" for i in range(6)]
    np.testing.assert_allclose(cond, pdist(x, "braycurtis"), atol=1e-12)
    cond2, ids2 = beta_diversity(sp.csr_array(x), "jaccard")
    assert list(ids2) == [str(i) for i in range(6)]
    np.testing.assert_allclose(cond2, pdist(x > 0, "jaccard"), atol=1e-12)
    with pytest.raises(InputError, match="unknown beta metric"):
        beta_diversity(t, "unifrac")


@pytest.mark.parametrize("metric", ["braycurtis", "jaccard"])
def test_mean_rarefied_beta_averages_spawned_rarefactions(metric: str) -> None:
    x = _random_counts(5, n=12, m=25)
    x[0] = 0
    x[0, 0] = 3  # below depth: dropped
    csr = sp.csr_array(x)
    depth, iterations, seed = 30, 4, 17
    got, ids = mean_rarefied_beta(
        csr, metric, depth, iterations, seed, ids=[f"s{i}" for i in range(12)]
    )
    want = np.zeros_like(got)
    for child in np.random.SeedSequence(seed).spawn(iterations):
        rare, kept = rarefy_counts(csr, depth, np.random.default_rng(child))
        dense = rare.toarray()
        want += (
            pdist(dense, "braycurtis") if metric == "braycurtis" else pdist(dense > 0, "jaccard")
        )
    want /= iterations
    assert list(ids) == [f"s{i}" for i in kept]
    assert "s0" not in ids
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    again, _ = mean_rarefied_beta(csr, metric, depth, iterations, seed)
    np.testing.assert_array_equal(got, again)


def test_mean_rarefied_beta_robust_aitchison_uses_unrarefied_counts_of_retained() -> None:
    x = _random_counts(6, n=10, m=20)
    csr = sp.csr_array(x)
    depth = int(np.sort(x.sum(axis=1))[3])  # drops the 3 shallowest samples
    got, ids = mean_rarefied_beta(csr, "robust_aitchison", depth, 5, 1)
    kept = np.flatnonzero(x.sum(axis=1) >= depth)
    assert list(ids) == [str(i) for i in kept]
    np.testing.assert_allclose(got, pdist(_rclr_dense(x[kept]), "euclidean"), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# issue 11 item 11: the small-integer paths of Bray–Curtis at their exact boundaries
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("total", [2**16 - 1, 2**16, 2**16 + 1, 2**32 - 1, 2**32, 2**32 + 1])
def test_braycurtis_integer_path_boundaries(total: int) -> None:
    """Rows whose sums are exactly 2^16 or 2^32 must not be stored in 16 / 32-bit cells (a count of
    65,536 wraps to 0 there, and two identical samples get distance 1 instead of 0)."""
    import scipy.sparse as sparse
    from scipy.spatial.distance import braycurtis as scipy_bc

    from gutskin.diversity.beta import braycurtis

    half = total // 2
    rows = np.array([[total, 0], [total, 0], [half, total - half], [0, total]], dtype=np.float64)
    d = braycurtis(sparse.csr_array(rows))
    expected = [scipy_bc(rows[i], rows[j]) for i in range(4) for j in range(i + 1, 4)]
    assert d[0] == 0.0  # the two identical samples
    np.testing.assert_allclose(d, expected, rtol=0, atol=1e-12)
