"""Beta diversity (all pairs of samples) on sparse tables, as condensed distance vectors.

The condensed vector holds d(i, j) for i < j in the order of ``scipy.spatial.distance.squareform``
(row-major upper triangle): the pair (i, j) is at ``n*i - i*(i+1)/2 + j - i - 1``. No step builds a
dense samples x features matrix; dense *row blocks* of a samples x samples product are bounded by
``block_entries`` (default 2^22 entries, 32 MiB in float64).

Metrics
-------
``braycurtis``
    Σ|x−y| / Σ(x+y) = 1 − 2 Σmin(x, y) / (S_x + S_y); a numba kernel walks the feature posting lists
    (CSC) so only features two samples share cost work.
``jaccard``
    Presence/absence: 1 − |A∩B| / |A∪B|, with |A∩B| from the sparse product of the binary matrix
    with its transpose (int32, exact), in row blocks.
``robust_aitchison``
    Euclidean distance between robust-CLR vectors (log of each non-zero value minus the mean log of
    that sample's non-zero values; zeros stay 0), as vegan's ``vegdist(x, "robust.aitchison")``.
    Distances come from blocked Gram products √(‖x‖² + ‖y‖² − 2x·y); pairs where that difference is
    lost to cancellation (near-identical samples) are recomputed exactly from the sparse rows.

A sample whose values are all zero has no defined distance to anything; every metric raises
:class:`~gutskin.errors.InputError` naming it (drop it first, e.g. by rarefaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from . import _kernels
from ._common import as_csr, default_ids, row_where, split_table
from .rarefy import _prepare, _rarefy_aligned

__all__ = [
    "BETA_METRICS",
    "RAREFIED_METRICS",
    "beta_diversity",
    "braycurtis",
    "condensed_index",
    "jaccard",
    "mean_rarefied_beta",
    "rclr",
    "robust_aitchison",
]

#: Beta metrics known to :func:`beta_diversity`.
BETA_METRICS: tuple[str, ...] = ("braycurtis", "jaccard", "robust_aitchison")
#: Metrics averaged over rarefactions by :func:`mean_rarefied_beta` (the others use raw counts once).
RAREFIED_METRICS: tuple[str, ...] = ("braycurtis", "jaccard")

#: Default bound on the entries of one dense samples x samples row block.
BLOCK_ENTRIES = 1 << 22
#: Below this fraction of ‖x‖² + ‖y‖², a Gram-form squared distance is recomputed exactly.
GRAM_REL_TOL = 1e-4


def condensed_index(i: np.ndarray | int, j: np.ndarray | int, n: int) -> np.ndarray | int:
    """Position of pair (i, j), i != j, in a condensed vector over ``n`` samples."""
    a = np.minimum(i, j)
    b = np.maximum(i, j)
    return n * a - a * (a + 1) // 2 + (b - a - 1)


def _check_no_empty_rows(
    csr: sp.csr_array, ids: np.ndarray | None, source: str | None, metric: str
) -> None:
    row_of = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    nonzero_per_row = np.bincount(row_of[csr.data > 0], minlength=csr.shape[0])
    empty = np.flatnonzero(nonzero_per_row == 0)
    if empty.size:
        raise InputError(
            source or "<feature table>",
            f"{empty.size} sample(s) have no non-zero value, so {metric} distances to them are "
            "undefined",
            where=row_where(int(empty[0]), ids),
            hint="drop empty samples first (rarefaction drops them automatically)",
        )


def _block_rows(n: int, block_entries: int | None) -> int:
    entries = BLOCK_ENTRIES if block_entries is None else int(block_entries)
    return max(1, min(n, entries // max(n, 1)))


def _empty_condensed(n: int) -> np.ndarray:
    return np.zeros(n * (n - 1) // 2, dtype=np.float64)


def _braycurtis_into(csr: sp.csr_array, out: np.ndarray, accumulate: bool) -> None:
    data = csr.data.astype(np.float64, copy=False)
    csr64 = sp.csr_array((data, csr.indices, csr.indptr), shape=csr.shape)
    csc = csr64.tocsc()
    csc.sort_indices()
    row_of = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    sums = np.bincount(row_of, weights=data, minlength=csr.shape[0]).astype(np.float64)
    _kernels.braycurtis_condensed(
        csr.indptr.astype(np.int64, copy=False),
        csr.indices.astype(np.int64, copy=False),
        data,
        csc.indptr.astype(np.int64, copy=False),
        csc.indices.astype(np.int64, copy=False),
        csc.data,
        sums,
        accumulate,
        out,
    )


def braycurtis(
    csr: Any, *, ids: Sequence[str] | np.ndarray | None = None, source: str | None = None
) -> np.ndarray:
    """Bray–Curtis dissimilarity of all pairs of rows, condensed (float64).

    Parameters
    ----------
    csr
        Samples x features sparse matrix (counts or proportions, non-negative).
    ids, source
        Sample ids and file name, used in error messages only.

    Returns
    -------
    numpy.ndarray
        Condensed distances in ``squareform`` order; 0 for identical rows, 1 for rows sharing no
        feature.

    Raises
    ------
    InputError
        For negative/non-finite values or a row with no non-zero value.
    """
    m = as_csr(csr, source=source)
    ids_arr = None if ids is None else np.asarray(ids, dtype=str)
    _check_no_empty_rows(m, ids_arr, source, "Bray–Curtis")
    out = _empty_condensed(m.shape[0])
    _braycurtis_into(m, out, accumulate=False)
    return out


def _binary(csr: sp.csr_array) -> sp.csr_array:
    keep = csr.data > 0
    row_of = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    indptr = np.zeros(csr.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of[keep], minlength=csr.shape[0]), out=indptr[1:])
    return sp.csr_array(
        (np.ones(int(keep.sum()), dtype=np.int32), csr.indices[keep], indptr), shape=csr.shape
    )


def _jaccard_into(
    csr: sp.csr_array, out: np.ndarray, accumulate: bool, block_entries: int | None
) -> None:
    b = _binary(csr)
    n = b.shape[0]
    sizes = np.diff(b.indptr).astype(np.int64)
    bt = sp.csr_array(b.T)  # features x samples
    step = _block_rows(n, block_entries)
    for r0 in range(0, max(n - 1, 0), step):
        r1 = min(n - 1, r0 + step)
        inter = (b[r0:r1] @ bt).toarray()  # int32, exact
        _kernels.jaccard_fill(inter, r0, sizes, accumulate, out)


def jaccard(
    csr: Any,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
    source: str | None = None,
    block_entries: int | None = None,
) -> np.ndarray:
    """Binary (presence/absence) Jaccard distance of all pairs of rows, condensed (float64).

    ``d = 1 − |A∩B| / |A∪B|`` with A, B the sets of features > 0. Use it on rarefied counts: presence
    depends on sequencing depth.

    Parameters
    ----------
    csr
        Samples x features sparse matrix, non-negative.
    ids, source
        Sample ids and file name for error messages.
    block_entries
        Bound on the entries of one dense row block of the intersection matrix.

    Returns
    -------
    numpy.ndarray
        Condensed distances (``squareform`` order).
    """
    m = as_csr(csr, source=source)
    ids_arr = None if ids is None else np.asarray(ids, dtype=str)
    _check_no_empty_rows(m, ids_arr, source, "Jaccard")
    out = _empty_condensed(m.shape[0])
    _jaccard_into(m, out, False, block_entries)
    return out


def rclr(csr: Any, *, source: str | None = None) -> sp.csr_array:
    """Robust centred log-ratio transform of every row, keeping the sparsity pattern.

    ``rclr(x)_j = ln x_j − mean_{k: x_k > 0} ln x_k`` for ``x_j > 0``; zeros stay 0 (vegan's
    ``decostand(x, "rclr")``).
    """
    m = as_csr(csr, source=source)
    out = np.empty(m.data.size, dtype=np.float64)
    _kernels.rclr_rows(
        m.indptr.astype(np.int64, copy=False), m.data.astype(np.float64, copy=False), out
    )
    res = sp.csr_array((out, m.indices.copy(), m.indptr.copy()), shape=m.shape)
    res.has_sorted_indices = True
    return res


def robust_aitchison(
    csr: Any,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
    source: str | None = None,
    block_entries: int | None = None,
) -> np.ndarray:
    """Robust Aitchison distance (Euclidean on rCLR) of all pairs of rows, condensed (float64).

    Equals vegan's ``vegdist(x, method = "robust.aitchison")``. Computed from blocked Gram products
    in float64; near-identical pairs (where ‖x‖² + ‖y‖² − 2x·y < 1e-4 (‖x‖² + ‖y‖²)) are recomputed
    exactly from the sparse rows so that cancellation cannot inflate small distances.

    Parameters
    ----------
    csr
        Samples x features sparse matrix of (unrarefied) counts or proportions, non-negative.
    ids, source
        Sample ids and file name for error messages.
    block_entries
        Bound on the entries of one dense row block of the Gram matrix.
    """
    m = as_csr(csr, source=source)
    ids_arr = None if ids is None else np.asarray(ids, dtype=str)
    _check_no_empty_rows(m, ids_arr, source, "robust Aitchison")
    r = rclr(m)
    n = r.shape[0]
    out = _empty_condensed(n)
    row_of = np.repeat(np.arange(n), np.diff(r.indptr))
    sq = np.bincount(row_of, weights=r.data * r.data, minlength=n).astype(np.float64)
    rt = sp.csr_array(r.T)
    indptr = r.indptr.astype(np.int64, copy=False)
    indices = r.indices.astype(np.int64, copy=False)
    step = _block_rows(n, block_entries)
    for r0 in range(0, max(n - 1, 0), step):
        r1 = min(n - 1, r0 + step)
        gram = (r[r0:r1] @ rt).toarray()
        _kernels.euclidean_fill(gram, r0, sq, indptr, indices, r.data, GRAM_REL_TOL, out)
    return out


def _check_metric(metric: str) -> None:
    if metric not in BETA_METRICS:
        raise InputError(
            None,
            f"unknown beta metric {metric!r}",
            where="key beta_metrics",
            hint=f"choose from {list(BETA_METRICS)}",
        )


def beta_diversity(
    data: Any,
    metric: str,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
    source: str | None = None,
    block_entries: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Beta diversity of all pairs of samples, without rarefaction.

    Parameters
    ----------
    data
        A FeatureTable or a samples x features sparse matrix.
    metric
        ``"braycurtis"``, ``"jaccard"`` or ``"robust_aitchison"``.
    ids
        Sample ids (default: the table's ids, or ``"0".."n-1"`` for a bare matrix).
    source
        File name for error messages.
    block_entries
        Bound on dense row-block entries (Jaccard, robust Aitchison).

    Returns
    -------
    condensed : numpy.ndarray
        float64 distances in ``squareform`` order.
    ids : numpy.ndarray
        The sample ids, in row order.
    """
    _check_metric(metric)
    matrix, table_ids, _ = split_table(data)
    ids_arr = default_ids(matrix.shape[0], ids if ids is not None else table_ids)
    if metric == "braycurtis":
        cond = braycurtis(matrix, ids=ids_arr, source=source)
    elif metric == "jaccard":
        cond = jaccard(matrix, ids=ids_arr, source=source, block_entries=block_entries)
    else:
        cond = robust_aitchison(matrix, ids=ids_arr, source=source, block_entries=block_entries)
    return cond, ids_arr


def mean_rarefied_beta(
    data: Any,
    metric: str,
    depth: int,
    iterations: int,
    seed: int | np.random.SeedSequence,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
    source: str | None = None,
    block_entries: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Beta diversity averaged over ``iterations`` rarefactions to ``depth``.

    Samples with fewer than ``depth`` reads are dropped, for every metric (so all metrics cover the
    same samples). Bray–Curtis and Jaccard are averaged over rarefactions, iteration ``i`` using
    ``numpy.random.SeedSequence(seed).spawn(iterations)[i]`` (the same draws as
    :func:`~gutskin.diversity.rarefy.repeated_rarefaction_alpha` with the same seed); the running sum
    is kept in one condensed vector, so memory does not grow with ``iterations``.
    ``robust_aitchison`` is computed once on the unrarefied counts of the retained samples.

    Returns
    -------
    condensed : numpy.ndarray
        Mean float64 distances over the retained samples, ``squareform`` order.
    ids : numpy.ndarray
        Ids of the retained samples.
    """
    _check_metric(metric)
    matrix, table_ids, _ = split_table(data)
    all_ids = default_ids(matrix.shape[0], ids if ids is not None else table_ids)
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, int | np.integer)
        or iterations < 1
    ):
        raise InputError(
            None,
            f"beta rarefaction iterations must be a positive integer, got {iterations!r}",
            where="key rarefaction.beta_iterations",
        )
    csr, vals, depth, kept, _ = _prepare(matrix, depth, source=source, ids=all_ids)
    kept_ids = all_ids[kept]
    n = kept.size
    if metric == "robust_aitchison":
        cond = robust_aitchison(csr[kept], ids=kept_ids, source=source, block_entries=block_entries)
        return cond, kept_ids
    out = _empty_condensed(n)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    starts = csr.indptr[kept]
    for child in seq.spawn(int(iterations)):
        indptr, rdata = _rarefy_aligned(csr, vals, depth, kept, np.random.default_rng(child))
        lengths = np.diff(indptr)
        pos = np.repeat(starts - indptr[:-1], lengths) + np.arange(rdata.size)
        rare = sp.csr_array(
            (rdata.astype(np.float64), csr.indices[pos], indptr), shape=(n, csr.shape[1])
        )
        rare.has_sorted_indices = True
        rare.eliminate_zeros()
        if metric == "braycurtis":
            _braycurtis_into(rare, out, accumulate=True)
        else:
            _jaccard_into(rare, out, True, block_entries)
        del rare, rdata
    out /= iterations
    return out, kept_ids
