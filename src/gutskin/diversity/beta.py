"""Beta diversity (all pairs of samples) on sparse tables, as condensed distance vectors.

The condensed vector holds d(i, j) for i < j in the order of ``scipy.spatial.distance.squareform``
(row-major upper triangle): the pair (i, j) is at ``n*i - i*(i+1)/2 + j - i - 1``. Results are
float64 (float32 would lose the 1e-9 agreement with scipy/scikit-bio and saves nothing in the
kernels, whose intermediates are exact integers or float64 sums).

How the all-pairs kernels scale
-------------------------------
Microbiome tables are sparse but not uniformly so: a few hundred features are present in most
samples, the long tail in few. A posting-list (CSC) kernel costs one scattered operation per pair
of samples *sharing* a feature, ``Σ_f n_f² / 2`` in all, which the prevalent features dominate. So
each table is split by feature prevalence (:func:`_split_features`):

* features present in at least a metric's ``*_DENSE_PREVALENCE`` fraction of the samples go into a
  small dense block (at most ``DENSE_BLOCK_BYTES``; the most prevalent first) processed by SIMD over
  pairs of rows in tiles of ``TILE_ROWS`` rows;
* the rest stay sparse and are handled through their posting lists, so a pair costs work only for
  the tail features it shares.

No dense samples x features matrix of a whole table is built: the dense block holds only the
prevalent features, and at those prevalences its cells (2 bytes for Bray–Curtis counts, 1 bit for
Jaccard) take no more memory than the CSR entries they replace (12 bytes each).

Metrics
-------
``braycurtis``
    Σ|x−y| / Σ(x+y) = 1 − 2 Σmin(x, y) / (S_x + S_y). Σmin over the dense block is exact integer
    arithmetic in uint16 lanes (uint32 when a sample's total reaches 2^16, float64 for non-integer
    values) — 32 features per AVX-512 instruction; over the tail, a scatter per shared feature.
``jaccard``
    Presence/absence: 1 − |A∩B| / |A∪B|; |A∩B| = popcount(A & B) over bitsets of the prevalent
    features (``vpopcntq``) plus one increment per shared tail feature. Exact integers.
``robust_aitchison``
    Euclidean distance between robust-CLR vectors (log of each non-zero value minus the mean log of
    that sample's non-zero values; zeros stay 0), as vegan's ``vegdist(x, "robust.aitchison")``.
    Distances come from Gram products √(‖x‖² + ‖y‖² − 2x·y): BLAS ``dgemm`` on the dense block, one
    row block at a time (``block_entries`` entries, default 2^22 = 32 MiB; numpy's ``A @ A.T`` of
    a whole 20,000 x 10,000 matrix crashes OpenBLAS with 2 threads), plus posting lists for the
    tail; pairs where that difference is lost to cancellation (near-identical samples) are
    recomputed exactly from the sparse rows.

A sample whose values are all zero has no defined distance to anything; every metric raises
:class:`~gutskin.errors.InputError` naming it (drop it first, e.g. by rarefaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..progress import Progress
from . import _kernels
from ._common import as_csr, default_ids, positive_int, row_where, split_table
from .rarefy import _prepare, _rarefy_aligned

_LOG = logging.getLogger("gutskin.diversity.beta")

__all__ = [
    "Retained",
    "accumulate_braycurtis",
    "accumulate_jaccard",
    "braycurtis",
    "condensed_index",
    "jaccard",
    "mean_rarefied",
    "once_on_retained",
    "rclr",
    "robust_aitchison",
]

#: Default bound on the entries of one dense samples x samples row block (robust Aitchison).
BLOCK_ENTRIES = 1 << 22
#: Rows per tile of the Bray–Curtis and Jaccard kernels (scratch: TILE_ROWS x n per thread).
TILE_ROWS = 32
#: Features present in at least this fraction of samples are stored densely for Bray–Curtis
#: (uint16 cells when every sample sums to < 2^16, e.g. rarefied counts; higher thresholds for
#: uint32 / float64 cells). Measured break-even of a SIMD min over all pairs vs a posting-list
#: scatter over the pairs that share the feature (``bench``, 2 cores): about 0.1.
BC_DENSE_PREVALENCE = 0.1
#: Features present in at least this fraction of samples become presence bitsets for Jaccard.
JACCARD_DENSE_PREVALENCE = 0.02
#: Features present in at least this fraction of samples go into the dense BLAS part of the
#: Aitchison Gram matrix.
AITCHISON_DENSE_PREVALENCE = 0.15
#: Bound on the memory of one dense block of prevalent features (bytes).
DENSE_BLOCK_BYTES = 512 << 20
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


def _without_zeros(csr: sp.csr_array) -> sp.csr_array:
    if csr.data.size and not csr.data.all():
        csr = csr.copy()
        csr.eliminate_zeros()
    return csr


@dataclass
class _Split:
    """A CSR matrix split into dense (prevalent) features and sparse (tail) features.

    ``dense`` is ``n x d`` (values) or ``n x ceil(d / 64)`` (uint64 presence bitsets); the tail is
    held twice, as CSR rows (``indptr``, ``indices``, ``data``) and as CSC posting lists (``cindptr``,
    ``cindices``, ``cdata``, rows ascending), with feature numbers of the original matrix.
    """

    dense: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    cindptr: np.ndarray
    cindices: np.ndarray
    cdata: np.ndarray

    @property
    def tail(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The tail as the kernels take it: CSR ``indptr, indices, data``, CSC ``cindptr, cindices,
        cdata``."""
        return (self.indptr, self.indices, self.data, self.cindptr, self.cindices, self.cdata)


def _split_features(
    csr: sp.csr_array,
    min_prevalence: float,
    cell_bits: int,
    dtype: Any,
    *,
    bits: bool = False,
) -> _Split:
    """Split ``csr`` (canonical, no explicit zeros) by feature prevalence.

    Features present in at least ``min_prevalence`` of the rows go into a dense block (at most
    ``DENSE_BLOCK_BYTES`` of ``cell_bits``-bit cells, the most prevalent first); the rest stay sparse.
    """
    n, m = csr.shape
    prevalence = np.bincount(csr.indices, minlength=m)
    threshold = max(1, int(np.ceil(min_prevalence * n)))
    cols = np.flatnonzero(prevalence >= threshold)
    budget = max(0, (DENSE_BLOCK_BYTES * 8) // max(1, n * cell_bits))
    if cols.size > budget:
        order = np.argsort(-prevalence[cols], kind="stable")[:budget]
        cols = np.sort(cols[order])
    col_map = np.full(m, -1, dtype=np.int64)
    col_map[cols] = np.arange(cols.size)
    indptr = csr.indptr.astype(np.int64, copy=False)
    indices = csr.indices.astype(np.int64, copy=False)
    data = csr.data.astype(np.float64, copy=False)
    d = cols.size
    if bits:
        dense = np.zeros((n, (d + 63) // 64), dtype=np.uint64)
        if d:
            _kernels.scatter_bits(indptr, indices, data, col_map, dense)
    else:
        dense = np.zeros((n, d), dtype=dtype)
        if d:
            _kernels.scatter_dense(indptr, indices, data, col_map, dense)
    if d:
        keep = col_map[indices] < 0
        kept_before = np.zeros(indices.size + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        s_indptr = kept_before[indptr]
        s_indices = indices[keep]
        s_data = data[keep]
        del keep, kept_before
    else:
        s_indptr, s_indices, s_data = indptr, indices, data
    tail = sp.csc_array(sp.csr_array((s_data, s_indices, s_indptr), shape=(n, m)))
    tail.sort_indices()
    return _Split(
        dense=dense,
        indptr=s_indptr,
        indices=s_indices,
        data=s_data,
        cindptr=tail.indptr.astype(np.int64, copy=False),
        cindices=tail.indices.astype(np.int64, copy=False),
        cdata=tail.data.astype(np.float64, copy=False),
    )


def _braycurtis_into(csr: sp.csr_array, out: np.ndarray, accumulate: bool) -> None:
    csr = _without_zeros(csr)
    data = csr.data.astype(np.float64, copy=False)
    row_of = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    sums = np.bincount(row_of, weights=data, minlength=csr.shape[0]).astype(np.float64)
    del row_of
    integer = data.dtype.kind in "biu" or bool(np.all(data == np.rint(data)))
    top = float(sums.max()) if sums.size else 0.0
    dtype: type[np.generic]
    if integer and top < 2**16:
        dtype, cell_bits, prevalence = np.uint16, 16, BC_DENSE_PREVALENCE
    elif integer and top < 2**32:
        dtype, cell_bits, prevalence = np.uint32, 32, 1.5 * BC_DENSE_PREVALENCE
    else:
        dtype, cell_bits, prevalence = np.float64, 64, 2 * BC_DENSE_PREVALENCE
    split = _split_features(csr, prevalence, cell_bits, dtype)
    _kernels.braycurtis_tiles(
        split.dense,
        sums,
        *split.tail,
        TILE_ROWS,
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


def _jaccard_into(
    csr: sp.csr_array, out: np.ndarray, accumulate: bool, block_entries: int | None = None
) -> None:
    del block_entries  # the tiled kernel needs no dense samples x samples block
    csr = _without_zeros(csr)
    sizes = np.diff(csr.indptr).astype(np.int64)
    split = _split_features(csr, JACCARD_DENSE_PREVALENCE, 1, np.uint64, bits=True)
    _kernels.jaccard_tiles(
        split.dense,
        sizes,
        split.indptr,
        split.indices,
        split.cindptr,
        split.cindices,
        TILE_ROWS,
        accumulate,
        out,
    )


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
    r = _without_zeros(r)  # rCLR is 0 where x is 1 and the row's geometric mean is 1: no work
    n = r.shape[0]
    out = _empty_condensed(n)
    row_of = np.repeat(np.arange(n), np.diff(r.indptr))
    sq = np.bincount(row_of, weights=r.data * r.data, minlength=n).astype(np.float64)
    del row_of
    split = _split_features(r, AITCHISON_DENSE_PREVALENCE, 64, np.float64)
    indptr = r.indptr.astype(np.int64, copy=False)
    indices = r.indices.astype(np.int64, copy=False)
    dense = split.dense
    step = _block_rows(n, block_entries)
    for r0 in range(0, max(n - 1, 0), step):
        r1 = min(n - 1, r0 + step)
        if dense.shape[1]:
            gram = _gram_rows(dense, r0, r1)
        else:
            gram = np.zeros((r1 - r0, n - r0))
        _kernels.euclidean_block(
            gram,
            r0,
            sq,
            *split.tail,
            indptr,
            indices,
            r.data,
            GRAM_REL_TOL,
            out,
        )
    return out


def _gram_rows(dense: np.ndarray, r0: int, r1: int) -> np.ndarray:
    """Dot products of rows ``r0 .. r1 - 1`` of ``dense`` with rows ``r0 ..`` (one BLAS call).

    Only a row block is ever multiplied: numpy's ``A @ A.T`` of a whole 20,000 x 10,000 float64
    matrix crashes OpenBLAS with 2 threads (numpy issue 19685), and a full Gram matrix would be
    n x n anyway.
    """
    return dense[r0:r1] @ dense[r0:].T


class Retained(NamedTuple):
    """A count table after dropping the samples below a rarefaction depth (:func:`retain`)."""

    csr: sp.csr_array
    values: np.ndarray
    depth: int
    kept: np.ndarray
    ids: np.ndarray


def retain(
    data: Any,
    depth: int,
    iterations: int,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
    source: str | None = None,
) -> Retained:
    """Check ``iterations`` and keep the samples of ``data`` with at least ``depth`` reads.

    Every beta metric of a rarefied table covers these samples, whether it is averaged over
    rarefactions (:func:`mean_rarefied`) or computed once (:func:`once_on_retained`).
    """
    matrix, table_ids, _ = split_table(data)
    all_ids = default_ids(matrix.shape[0], ids if ids is not None else table_ids)
    positive_int(iterations, "beta rarefaction iterations", "key rarefaction.beta_iterations")
    csr, vals, depth, kept, _ = _prepare(matrix, depth, source=source, ids=all_ids)
    return Retained(csr, vals, depth, kept, all_ids[kept])


def mean_rarefied(
    accumulate: Callable[[sp.csr_array, np.ndarray, int | None], None],
    table: Retained,
    iterations: int,
    seed: int | np.random.SeedSequence,
    block_entries: int | None = None,
) -> np.ndarray:
    """A distance averaged over ``iterations`` rarefactions of ``table``, summed by ``accumulate``.

    ``accumulate(rarefied_csr, out, block_entries)`` adds one rarefaction's condensed distances to
    ``out`` (:func:`accumulate_braycurtis`, :func:`accumulate_jaccard`). Iteration ``i`` uses
    ``numpy.random.SeedSequence(seed).spawn(iterations)[i]`` (the same draws as
    :func:`~gutskin.diversity.rarefy.repeated_rarefaction_alpha` with the same seed); the running sum
    is kept in one condensed vector, so memory does not grow with ``iterations``. Callers pick
    ``accumulate`` by metric name through :func:`gutskin.diversity.registry.mean_rarefied_beta`.

    Returns
    -------
    numpy.ndarray
        Mean float64 distances over the retained samples (``table.ids``), ``squareform`` order.
    """
    csr, vals, depth, kept, _ = table
    n = kept.size
    out = _empty_condensed(n)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    starts = csr.indptr[kept]
    metric = getattr(accumulate, "__name__", "distance").removeprefix("accumulate_")
    progress = Progress(f"beta {metric}: rarefactions", int(iterations), _LOG)
    for child in seq.spawn(int(iterations)):
        indptr, rdata = _rarefy_aligned(csr, vals, depth, kept, np.random.default_rng(child))
        lengths = np.diff(indptr)
        pos = np.repeat(starts - indptr[:-1], lengths) + np.arange(rdata.size)
        rare = sp.csr_array(
            (rdata.astype(np.float64), csr.indices[pos], indptr), shape=(n, csr.shape[1])
        )
        rare.has_sorted_indices = True
        rare.eliminate_zeros()
        accumulate(rare, out, block_entries)
        del rare, rdata
        progress.update()
    out /= iterations
    return out


def once_on_retained(
    distance: Callable[..., np.ndarray],
    table: Retained,
    source: str | None,
    block_entries: int | None,
) -> np.ndarray:
    """``distance`` computed once on the unrarefied counts of the retained samples of ``table``.

    For metrics that are not averaged over rarefactions (robust Aitchison) but must cover the same
    samples as those that are.
    """
    return distance(
        table.csr[table.kept], ids=table.ids, source=source, block_entries=block_entries
    )


def accumulate_braycurtis(csr: sp.csr_array, out: np.ndarray, block_entries: int | None) -> None:
    """Add the Bray–Curtis distances of ``csr`` to the condensed vector ``out``."""
    del block_entries  # the tiled kernel needs no dense samples x samples block
    _braycurtis_into(csr, out, accumulate=True)


def accumulate_jaccard(csr: sp.csr_array, out: np.ndarray, block_entries: int | None) -> None:
    """Add the Jaccard distances of ``csr`` to the condensed vector ``out``."""
    _jaccard_into(csr, out, True, block_entries)
