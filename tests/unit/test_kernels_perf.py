"""Correctness of the fast paths of gutskin.diversity (issue #6); never timing.

The performance work added code paths that the small matrices of test_beta / test_rarefy /
test_ordination do not all reach: prevalent features stored densely (uint16 / uint32 / float64 cells,
presence bitsets, BLAS Gram blocks) next to posting lists for the rest, row tiles, Floyd's sampling on
a bitset next to the Fenwick-tree urn, the fused rarefaction + alpha kernel with its ``c ln c``
table, and the block-Krylov PCoA with its dense, row-block, restart and exhausted-space branches.
Each test forces one of those paths and checks it against an independent reference: scipy's
``pdist``, the exact hypergeometric pmf, LAPACK ``eigh`` on the explicitly built Gower matrix, or
hand arithmetic.
"""

from __future__ import annotations

import importlib
import math

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from gutskin.diversity import (
    _kernels,
    beta,
    braycurtis,
    jaccard,
    mean_rarefied_beta,
    ordination,
    pcoa,
    rarefy_counts,
    repeated_rarefaction_alpha,
    robust_aitchison,
)

rarefy_mod = importlib.import_module("gutskin.diversity.rarefy")


def _skewed_counts(seed: int, n: int, m: int, *, scale: int = 30) -> np.ndarray:
    """Counts where some features are in nearly every row and most are rare (both paths used)."""
    rng = np.random.default_rng(seed)
    prevalence = np.concatenate([np.full(m // 5, 0.9), np.full(m - m // 5, 0.04)])
    present = rng.random((n, m)) < prevalence
    x = present * rng.integers(1, scale, size=(n, m))
    empty = x.sum(axis=1) == 0
    x[empty, 0] = 1
    return x


def _rclr_dense(x: np.ndarray) -> np.ndarray:
    out = np.zeros(x.shape)
    for i, row in enumerate(x):
        nz = row > 0
        out[i, nz] = np.log(row[nz]) - np.log(row[nz]).mean()
    return out


# ------------------------------------------------------------------------------- Bray–Curtis


@pytest.mark.parametrize("n", [2, 3, 31, 32, 33, 97])
def test_braycurtis_tiles_match_pdist_for_any_tile_boundary(n: int) -> None:
    x = _skewed_counts(n, n, 150)
    x[n // 2] = x[0]  # identical rows: distance exactly 0
    got = braycurtis(sp.csr_array(x))
    np.testing.assert_allclose(got, pdist(x, "braycurtis"), rtol=0, atol=1e-13)
    assert got[beta.condensed_index(0, n // 2, n)] == 0.0 or n // 2 == 0


@pytest.mark.parametrize(
    ("scale", "fraction", "dtype"),
    [
        (30, False, "uint16"),  # rows sum below 2^16
        (10_000, False, "uint32"),  # rows sum above 2^16: wider integer cells
        (30, True, "float64"),  # proportions: float cells
    ],
)
def test_braycurtis_dense_cell_types(scale: int, fraction: bool, dtype: str) -> None:
    x = _skewed_counts(7, 60, 120, scale=scale).astype(np.float64)
    if fraction:
        x = x / x.sum(axis=1, keepdims=True)
    sums = x.sum(axis=1)
    if dtype == "uint16":
        assert sums.max() < 2**16
    elif dtype == "uint32":
        assert sums.max() >= 2**16
    np.testing.assert_allclose(
        braycurtis(sp.csr_array(x)), pdist(x, "braycurtis"), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("prevalence", [0.0, 0.5, 2.0])
def test_braycurtis_all_dense_all_sparse_and_mixed_agree(
    monkeypatch: pytest.MonkeyPatch, prevalence: float
) -> None:
    # 0.0: every feature dense; 2.0: every feature sparse (posting lists only)
    monkeypatch.setattr(beta, "BC_DENSE_PREVALENCE", prevalence)
    x = _skewed_counts(3, 45, 80)
    np.testing.assert_allclose(
        braycurtis(sp.csr_array(x)), pdist(x, "braycurtis"), rtol=0, atol=1e-13
    )


def test_dense_block_memory_cap_keeps_results(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _skewed_counts(4, 50, 90)
    ref = pdist(x, "braycurtis")
    # room for 3 uint16 columns of 50 rows only: the most prevalent 3 features go dense
    monkeypatch.setattr(beta, "DENSE_BLOCK_BYTES", 3 * 50 * 2)
    csr = sp.csr_array(x)
    split = beta._split_features(csr, 0.0, 16, np.uint16)
    assert split.dense.shape == (50, 3)
    np.testing.assert_allclose(braycurtis(csr), ref, rtol=0, atol=1e-13)


def test_explicit_zeros_are_not_features() -> None:
    x = _skewed_counts(5, 20, 40)
    coo = sp.coo_array(x)
    zr, zc = np.nonzero(x == 0)
    rows = np.concatenate([coo.row, zr[:5]])
    cols = np.concatenate([coo.col, zc[:5]])
    vals = np.concatenate([coo.data, np.zeros(5, dtype=coo.data.dtype)])
    m = sp.csr_array((vals, (rows, cols)), shape=x.shape)
    assert m.nnz == np.count_nonzero(x) + 5  # stored zeros present
    np.testing.assert_allclose(braycurtis(m), pdist(x, "braycurtis"), rtol=0, atol=1e-13)
    np.testing.assert_allclose(jaccard(m), pdist(x > 0, "jaccard"), rtol=0, atol=1e-13)


# ------------------------------------------------------------------------------------ Jaccard


@pytest.mark.parametrize(("n", "m"), [(40, 63), (40, 64), (40, 65), (70, 300)])
def test_jaccard_bitsets_of_any_width(monkeypatch: pytest.MonkeyPatch, n: int, m: int) -> None:
    # every feature in the bitset part: 63, 64, 65 and 300 bits per row
    monkeypatch.setattr(beta, "JACCARD_DENSE_PREVALENCE", 0.0)
    x = _skewed_counts(n + m, n, m)
    np.testing.assert_allclose(jaccard(sp.csr_array(x)), pdist(x > 0, "jaccard"), rtol=0, atol=0)


def test_jaccard_mixed_bitsets_and_posting_lists() -> None:
    x = _skewed_counts(9, 90, 400)
    csr = sp.csr_array(x)
    split = beta._split_features(csr, beta.JACCARD_DENSE_PREVALENCE, 1, np.uint64, bits=True)
    assert split.dense.shape[1] >= 1 and split.indices.size > 0  # both parts in use
    np.testing.assert_allclose(jaccard(csr), pdist(x > 0, "jaccard"), rtol=0, atol=0)


def test_jaccard_by_hand() -> None:
    # rows {0, 1, 2}, {1, 2, 3}, {4}: |A∩B| = 2, |A∪B| = 4 -> 0.5; disjoint rows -> 1
    x = sp.csr_array(np.array([[1, 5, 2, 0, 0], [0, 1, 1, 9, 0], [0, 0, 0, 0, 3]]))
    np.testing.assert_array_equal(jaccard(x), [0.5, 1.0, 1.0])


# --------------------------------------------------------------------------- robust Aitchison


@pytest.mark.parametrize("block_entries", [None, 1, 37, 500])
def test_robust_aitchison_blocks_and_dense_part(
    monkeypatch: pytest.MonkeyPatch, block_entries: int | None
) -> None:
    monkeypatch.setattr(beta, "AITCHISON_DENSE_PREVALENCE", 0.5)
    x = _skewed_counts(11, 55, 90)
    x[7] = x[3]  # identical rows: cancellation guard must give exactly 0
    x[8] = x[3] * 5  # proportional rows have identical rCLR: distance 0 too
    got = robust_aitchison(sp.csr_array(x), block_entries=block_entries)
    np.testing.assert_allclose(got, pdist(_rclr_dense(x)), rtol=0, atol=1e-11)
    assert got[beta.condensed_index(3, 7, 55)] == 0.0
    assert got[beta.condensed_index(3, 8, 55)] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("seed", "n", "m"), [(12, 80, 200), (9, 120, 60)])
def test_results_do_not_depend_on_the_thread_count(seed: int, n: int, m: int) -> None:
    x = sp.csr_array(_skewed_counts(seed, n, m))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = [braycurtis(x), jaccard(x), robust_aitchison(x)]
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = [braycurtis(x), jaccard(x), robust_aitchison(x)]
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mean_rarefied_beta_is_the_mean_of_single_rarefactions() -> None:
    x = _skewed_counts(13, 30, 60, scale=20)
    x[:, 0] += 50  # every row has at least 50 reads
    seeds = np.random.SeedSequence(5).spawn(3)
    for metric, ref_fn in (
        ("braycurtis", lambda r: pdist(r, "braycurtis")),
        ("jaccard", lambda r: pdist(r > 0, "jaccard")),
    ):
        ref = np.zeros(30 * 29 // 2)
        for child in seeds:
            r, kept = rarefy_counts(sp.csr_array(x), 40, child)
            assert kept.size == 30
            ref += ref_fn(r.toarray())
        got, ids = mean_rarefied_beta(sp.csr_array(x), metric, 40, 3, 5)
        assert ids.size == 30
        np.testing.assert_allclose(got, ref / 3, rtol=0, atol=1e-13)


# ------------------------------------------------------------------------------- rarefaction


def test_popcount_range_against_python() -> None:
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**63, size=7, dtype=np.uint64) * np.uint64(2) + rng.integers(
        0, 2, size=7, dtype=np.uint64
    )
    bits = "".join(format(int(w), "064b")[::-1] for w in words)  # LSB first, word by word
    for a, b in [(0, 0), (0, 1), (0, 64), (3, 64), (63, 65), (64, 128), (5, 448), (100, 300)]:
        assert _kernels._popcount_range(words, a, b) == bits[a:b].count("1"), (a, b)


def _empirical_draws(draw: object, counts: np.ndarray, n_draw: int, reps: int) -> np.ndarray:
    out = np.empty((reps, counts.size), dtype=np.int64)
    buf = np.empty(counts.size, dtype=np.int64)
    total = int(counts.sum())
    for r in range(reps):
        draw(counts, np.int64(total), np.int64(n_draw), np.uint64(1000 + r), buf)  # type: ignore[operator]
        out[r] = buf
    return out


@pytest.mark.parametrize("which", ["floyd", "fenwick"])
def test_both_samplers_draw_the_exact_hypergeometric(which: str) -> None:
    # counts spanning several 64-bit words; feature 1 gets k of 37 reads when 30 of 200 are drawn
    counts = np.array([3, 37, 80, 1, 79], dtype=np.int64)
    draw = _kernels._floyd_draw if which == "floyd" else _kernels._fenwick_draw
    reps = 4000
    got = _empirical_draws(draw, counts, 30, reps)
    assert (got.sum(axis=1) == 30).all() and (got <= counts).all() and (got >= 0).all()
    # chi-square of feature 1's draws against the exact pmf (bins with expected >= 5)
    pmf = stats.hypergeom(200, 37, 30).pmf(np.arange(31))
    obs = np.bincount(got[:, 1], minlength=31)
    exp = pmf * reps
    keep = exp >= 5
    chi2 = (((obs[keep] - exp[keep]) ** 2) / exp[keep]).sum() + (
        (obs[~keep].sum() - exp[~keep].sum()) ** 2 / max(exp[~keep].sum(), 1e-9)
    )
    p = stats.chi2.sf(chi2, keep.sum())
    assert p > 1e-4, p


def test_floyd_draws_every_read_when_asked() -> None:
    counts = np.array([5, 0, 7, 64, 1], dtype=np.int64)
    buf = np.empty(5, dtype=np.int64)
    _kernels._floyd_draw(counts, np.int64(77), np.int64(77), np.uint64(3), buf)
    np.testing.assert_array_equal(buf, counts)


def test_fused_alpha_equals_rarefy_then_alpha_with_large_counts() -> None:
    # totals ~ 3,000 (bitset path), depth 1,000: the c ln c table is used
    rng = np.random.default_rng(21)
    x = rng.poisson(30.0, size=(25, 100)) * (rng.random((25, 100)) < 0.6)
    x[0, :] = 0
    x[0, 0] = 1000  # a single feature: Shannon 0, Simpson 0
    csr = sp.csr_array(x.astype(float))
    kept, means, sds = repeated_rarefaction_alpha(csr, 1000, 4, 77)
    children = np.random.SeedSequence(77).spawn(4)
    vals: dict[str, list[np.ndarray]] = {"observed": [], "shannon": [], "simpson": []}
    for child in children:
        r, k2 = rarefy_counts(csr, 1000, child)
        np.testing.assert_array_equal(k2, kept)
        d = r.toarray()
        p = d / d.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
        vals["observed"].append((d > 0).sum(axis=1).astype(float))
        vals["shannon"].append(h)
        vals["simpson"].append(1 - (p**2).sum(axis=1))
    for m, v in vals.items():
        arr = np.vstack(v)
        np.testing.assert_allclose(means[m], arr.mean(axis=0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(sds[m], arr.std(axis=0, ddof=1), rtol=0, atol=1e-12)
    assert means["shannon"][0] == 0.0 and means["simpson"][0] == 0.0


def test_clogc_table_and_fallback_agree() -> None:
    table = rarefy_mod._clogc_table(50)
    c = np.arange(1, 51)
    np.testing.assert_allclose(table[1:], c * np.log(c), rtol=1e-15)
    assert table[0] == 0.0
    assert rarefy_mod._clogc_table(rarefy_mod.CLOGC_TABLE_MAX + 1).size == 0
    # the kernel's fallback (no table) gives the same Shannon as the table path
    rng = np.random.default_rng(1)
    x = rng.integers(0, 40, size=(6, 30)).astype(np.int64)
    x[:, 0] += 100
    csr = sp.csr_array(x)
    indptr = csr.indptr.astype(np.int64)
    kept = np.arange(6, dtype=np.int64)
    seeds = rng.integers(0, 2**63, size=(2, 6), dtype=np.uint64)
    out = []
    for tab in (rarefy_mod._clogc_table(100), np.zeros(0)):
        sums, means, m2 = np.zeros((3, 6)), np.zeros((3, 6)), np.zeros((3, 6))
        _kernels.rarefied_alpha_rows(
            indptr, csr.data.astype(np.int64), kept, np.int64(100), seeds, tab, sums, means, m2
        )
        out.append(sums)
    np.testing.assert_allclose(out[0], out[1], rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------- PCoA


def _gower_reference(cond: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k eigenpairs of B = -1/2 J D² J built explicitly, via LAPACK (coordinates v sqrt(λ))."""
    d2 = squareform(cond) ** 2
    n = d2.shape[0]
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ d2 @ j
    w, v = np.linalg.eigh(b)
    order = np.argsort(w)[::-1][:k]
    w, v = w[order], v[:, order]
    return w, v * np.sqrt(np.maximum(w, 0))


def _axis_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    errs = []
    for c in range(a.shape[1]):
        sign = 1.0 if np.dot(a[:, c], b[:, c]) >= 0 else -1.0
        errs.append(np.abs(a[:, c] - sign * b[:, c]).max() / np.abs(b[:, c]).max())
    return np.array(errs)


def _bc_condensed(seed: int, n: int) -> np.ndarray:
    x = _skewed_counts(seed, n, 80, scale=50).astype(float)
    return pdist(x, "braycurtis")


@pytest.mark.parametrize("path", ["dense_gower", "row_blocks", "restart"])
def test_krylov_pcoa_matches_explicit_eigendecomposition(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    monkeypatch.setattr(ordination, "DENSE_MAX", 100)  # n above it: the Krylov iteration runs
    n = 300
    cond = _bc_condensed(31, n)
    if path in ("row_blocks", "restart"):
        monkeypatch.setattr(ordination, "DENSE_GOWER_BYTES", 0)
    if path == "restart":
        monkeypatch.setattr(ordination, "MAX_BASIS", 60)
    kwargs = {"block_entries": 20_000} if path == "row_blocks" else {}
    coords, prop = pcoa(cond, [f"s{i}" for i in range(n)], 5, seed=3, **kwargs)
    w, ref = _gower_reference(cond, 5)
    assert (_axis_errors(coords.to_numpy(), ref) < 1e-8).all()
    trace = (cond**2).sum() / n
    np.testing.assert_allclose(prop.to_numpy(), w / trace, rtol=0, atol=1e-12)


def test_sq_matmat_equals_dense_product() -> None:
    cond = _bc_condensed(2, 70)
    v = np.random.default_rng(0).normal(size=(70, 4))
    ref = (squareform(cond) ** 2) @ v
    for entries in (700, 2_000, 10_000):
        np.testing.assert_allclose(
            ordination._sq_matmat(cond, 70, v, entries), ref, rtol=0, atol=1e-12
        )


def test_krylov_pcoa_of_low_rank_distances_exhausts_the_space(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 400 points in the plane: B has rank 2, the Krylov space is exhausted after one sweep;
    # two axes reproduce every distance and explain all the variance
    monkeypatch.setattr(ordination, "DENSE_GOWER_BYTES", 0)
    monkeypatch.setattr(ordination, "DENSE_MAX", 100)
    pts = np.random.default_rng(8).normal(size=(400, 2)) * np.array([3.0, 1.0])
    cond = pdist(pts)
    coords, prop = pcoa(cond, [f"p{i}" for i in range(400)], 4)
    np.testing.assert_allclose(pdist(coords.to_numpy()[:, :2]), cond, rtol=0, atol=1e-9)
    assert prop.iloc[:2].sum() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(coords.to_numpy()[:, 2:], 0.0, atol=1e-6)


def test_pcoa_negative_eigenvalue_axes_are_zero() -> None:
    # a strongly non-Euclidean dissimilarity among few points: asking for all axes must return
    # the negative-eigenvalue ones as 0 with proportion 0 (scikit-bio's convention)
    rng = np.random.default_rng(4)
    d = rng.uniform(0.1, 1.0, size=(6, 6))
    d = np.triu(d, 1)
    d = d + d.T
    d[0, 1] = d[1, 0] = 5.0  # violates the triangle inequality badly
    cond = squareform(d, checks=False)
    w, _ = _gower_reference(cond, 5)
    assert (w < 0).any()
    coords, prop = pcoa(cond, list("abcdef"), 5)
    neg = w < 0
    np.testing.assert_array_equal(coords.to_numpy()[:, neg], 0.0)
    np.testing.assert_array_equal(prop.to_numpy()[neg], 0.0)
    assert math.isclose(prop.to_numpy()[0], w[0] / ((cond**2).sum() / 6), rel_tol=1e-12)
