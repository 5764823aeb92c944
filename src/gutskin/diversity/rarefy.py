"""Rarefaction: exact subsampling of reads without replacement, on sparse tables.

Each retained sample keeps ``depth`` of its reads chosen uniformly at random without replacement, so
the counts it keeps follow the multivariate hypergeometric distribution over its non-zero features
(the same distribution as ``numpy.random.Generator.multivariate_hypergeometric`` and QIIME's
``subsample_counts``). The numba kernel picks a uniformly random subset of the sample's read
positions with Floyd's algorithm on a bitset (one bounded random integer per read drawn, then one
popcount per feature: O(draws + reads / 64 + k) for a sample with k non-zero features); samples with
more than 2^26 reads draw from an urn kept in a Fenwick tree instead (O(k) memory, O(log k) per read).
Either way it draws the reads to *remove* when that is the smaller number.

:func:`repeated_rarefaction_alpha` fuses rarefaction and alpha diversity in one parallel kernel
(samples across threads, the iterations of a sample in order), so no rarefied table is ever
materialised and a sample's counts stay in cache across its iterations.

Reproducibility: one 64-bit seed per sample and iteration is drawn from the caller's generator before
the parallel loop, so identical input + seed give identical output whatever the number of threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from . import _kernels
from ._common import as_csr, positive_int, row_where, split_table, subset_table

if TYPE_CHECKING:  # pragma: no cover
    from ..io.table import FeatureTable

__all__ = [
    "ALPHA_METRICS",
    "check_integer_counts",
    "rarefy",
    "rarefy_counts",
    "repeated_rarefaction_alpha",
]

#: Alpha metrics computed by :func:`repeated_rarefaction_alpha`.
ALPHA_METRICS: tuple[str, ...] = ("observed", "shannon", "simpson")

SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator | None


def check_integer_counts(
    csr: sp.csr_array, *, source: str | None = None, ids: np.ndarray | None = None
) -> np.ndarray:
    """Return the stored values of ``csr`` as ``int64``, or raise if they are not whole numbers.

    Parameters
    ----------
    csr
        Samples x features table (already checked non-negative and finite by ``as_csr``).
    source
        File name for the error message.
    ids
        Sample ids for the error message.

    Raises
    ------
    InputError
        If any value is not an integer (e.g. relative abundances or averaged replicates).
    """
    data = csr.data
    if data.dtype.kind in "biu":
        return data.astype(np.int64, copy=False)
    frac = data != np.floor(data)
    if frac.any():
        bad = int(np.flatnonzero(frac)[0])
        row = int(np.searchsorted(csr.indptr, bad, side="right") - 1)
        raise InputError(
            source or "<feature table>",
            f"the table holds non-integer values (e.g. {data[bad]!r}), so it cannot be rarefied",
            where=f"{row_where(row, ids)}, feature column {int(csr.indices[bad])}",
            hint=(
                "rarefaction needs raw read counts; if the table holds proportions or signal "
                "intensities, declare `values: relative` or `values: signal` for this dataset in "
                "config/datasets.yaml"
            ),
        )
    if data.size and data.max() >= 2.0**62:
        raise InputError(source or "<feature table>", "a count exceeds 2^62; not a read count")
    return data.astype(np.int64)


def _check_depth(depth: Any) -> int:
    return positive_int(
        depth,
        "rarefaction depth",
        "key rarefaction.depth (or the dataset's rarefaction_depth)",
        hint="set it in config/config.yaml or config/datasets.yaml",
    )


def _prepare(
    matrix: Any, depth: Any, *, source: str | None, ids: np.ndarray | None
) -> tuple[sp.csr_array, np.ndarray, int, np.ndarray, np.ndarray]:
    """Validate; return ``(csr, int64 data, depth, kept rows, read totals)``."""
    depth = _check_depth(depth)
    csr = as_csr(matrix, source=source)
    data = check_integer_counts(csr, source=source, ids=ids)
    csum = np.zeros(data.size + 1, dtype=np.int64)
    np.cumsum(data, out=csum[1:])
    totals = csum[csr.indptr[1:]] - csum[csr.indptr[:-1]]
    kept = np.flatnonzero(totals >= depth).astype(np.int64)
    return csr, data, depth, kept, totals


def _row_seeds(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)


def _rarefy_aligned(
    csr: sp.csr_array, data: np.ndarray, depth: int, kept: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rarefied values of the kept rows aligned with their stored entries: ``(indptr, data)``."""
    nnz = np.diff(csr.indptr)[kept]
    out_indptr = np.zeros(kept.size + 1, dtype=np.int64)
    np.cumsum(nnz, out=out_indptr[1:])
    out_data = np.empty(int(out_indptr[-1]), dtype=np.int64)
    seeds = _row_seeds(rng, kept.size)
    if kept.size:
        _kernels.rarefy_rows(
            csr.indptr.astype(np.int64, copy=False),
            data,
            kept,
            np.int64(depth),
            seeds,
            out_indptr,
            out_data,
        )
    return out_indptr, out_data


def rarefy_counts(
    csr: Any,
    depth: int,
    seed_or_rng: SeedLike,
    *,
    source: str | None = None,
    ids: Sequence[str] | np.ndarray | None = None,
) -> tuple[sp.csr_array, np.ndarray]:
    """Subsample every sample to exactly ``depth`` reads, without replacement.

    Parameters
    ----------
    csr
        Samples x features sparse matrix of integer read counts (any integer or integer-valued float
        dtype).
    depth
        Reads to keep per sample. Samples with fewer reads are dropped.
    seed_or_rng
        Seed (int or ``SeedSequence``) or a ``numpy.random.Generator``; the same seed and input give
        the same result for any thread count.
    source, ids
        File name and sample ids, used only in error messages.

    Returns
    -------
    rarefied : scipy.sparse.csr_array
        ``len(kept) x n_features`` int64 counts; every row sums to ``depth``; explicit zeros removed.
    kept : numpy.ndarray
        Indices (into the rows of ``csr``) of the samples kept, ascending.

    Raises
    ------
    InputError
        If the values are not non-negative integers, or ``depth`` is not a positive integer.

    Notes
    -----
    The counts kept by a sample with counts ``c`` (total ``N``) follow the multivariate
    hypergeometric distribution: ``E[x_j] = depth c_j / N`` and
    ``Var[x_j] = depth (c_j/N)(1 - c_j/N)(N - depth)/(N - 1)``.
    """
    ids_arr = None if ids is None else np.asarray(ids, dtype=str)
    csr_c, data, depth, kept, _ = _prepare(csr, depth, source=source, ids=ids_arr)
    rng = np.random.default_rng(seed_or_rng)
    out_indptr, out_data = _rarefy_aligned(csr_c, data, depth, kept, rng)
    starts = csr_c.indptr[kept]
    lengths = np.diff(out_indptr)
    # column indices of the kept rows, aligned with out_data
    idx_pos = np.repeat(starts - out_indptr[:-1], lengths) + np.arange(out_data.size)
    indices = csr_c.indices[idx_pos] if out_data.size else np.zeros(0, dtype=csr_c.indices.dtype)
    nz = out_data > 0
    row_of = np.repeat(np.arange(kept.size), lengths)
    new_indptr = np.zeros(kept.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of[nz], minlength=kept.size), out=new_indptr[1:])
    out = sp.csr_array((out_data[nz], indices[nz], new_indptr), shape=(kept.size, csr_c.shape[1]))
    out.has_sorted_indices = True
    return out, kept


def rarefy(table: FeatureTable, depth: int, seed: SeedLike) -> FeatureTable:
    """Rarefy a :class:`~gutskin.io.table.FeatureTable`; samples below ``depth`` are dropped.

    See :func:`rarefy_counts` for the method; the returned table keeps ``feature_ids``,
    ``taxonomy`` and ``values`` and holds only the retained samples.
    """
    counts, ids, values = split_table(table)
    if values != "counts":
        raise InputError(
            None,
            f"the table declares `values: {values}`; only read counts can be rarefied",
            hint="diversity on relative or signal data is computed on proportions without rarefaction",
        )
    rarefied, kept = rarefy_counts(counts, depth, seed, ids=ids)
    return subset_table(table, rarefied, kept)


def _alpha_from_aligned(
    indptr: np.ndarray, data: np.ndarray, metrics: Sequence[str]
) -> dict[str, np.ndarray]:
    n = indptr.size - 1
    obs = np.empty(n, dtype=np.float64)
    sha = np.empty(n, dtype=np.float64)
    sim = np.empty(n, dtype=np.float64)
    _kernels.alpha_rows(indptr, data, obs, sha, sim)
    table = {"observed": obs, "shannon": sha, "simpson": sim}
    return {m: table[m] for m in metrics}


def check_alpha_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """Validate alpha metric names; returns them as a tuple."""
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in ALPHA_METRICS]
    if unknown or not metrics:
        raise InputError(
            None,
            f"unknown alpha metric(s) {unknown}" if unknown else "no alpha metric requested",
            where="key alpha_metrics",
            hint=f"choose from {list(ALPHA_METRICS)}",
        )
    return metrics


#: Largest depth for which ``c ln c`` is tabulated (8 bytes per entry) instead of computed per value.
CLOGC_TABLE_MAX = 1 << 22


def _clogc_table(depth: int) -> np.ndarray:
    """``c ln c`` for ``c = 0 .. depth`` (0 for c = 0), or an empty array for very large depths."""
    if depth > CLOGC_TABLE_MAX:
        return np.zeros(0)
    c = np.arange(depth + 1, dtype=np.float64)
    out = np.zeros(depth + 1)
    out[1:] = c[1:] * np.log(c[1:])
    return out


def repeated_rarefaction_alpha(
    data: Any,
    depth: int,
    iterations: int,
    seed: int | np.random.SeedSequence,
    metrics: Sequence[str] = ALPHA_METRICS,
    *,
    source: str | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Alpha diversity averaged over repeated rarefactions.

    Iteration ``i`` rarefies with ``numpy.random.SeedSequence(seed).spawn(iterations)[i]``, so each
    iteration's draw depends only on ``seed`` and ``i``. Means and standard deviations are
    accumulated on the fly (Welford), so memory does not grow with ``iterations``; no rarefied table
    is materialised (alpha is computed from the rarefied values in place).

    Parameters
    ----------
    data
        A FeatureTable or a samples x features sparse matrix of integer counts.
    depth
        Rarefaction depth; samples with fewer reads are dropped.
    iterations
        Number of rarefactions (>= 1).
    seed
        Base seed.
    metrics
        Any of ``"observed"``, ``"shannon"`` (natural log) and ``"simpson"`` (1 − Σp²).
    source
        File name for error messages.

    Returns
    -------
    kept : numpy.ndarray
        Row indices of the retained samples.
    means, sds : dict of str to numpy.ndarray
        Per retained sample, the mean and the sample standard deviation (``ddof=1``; NaN when
        ``iterations == 1``) of each metric over the iterations.
    """
    matrix, ids, _ = split_table(data)
    metrics = check_alpha_metrics(metrics)
    positive_int(iterations, "rarefaction iterations", "key rarefaction.iterations")
    csr, vals, depth, kept, _ = _prepare(matrix, depth, source=source, ids=ids)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # the per-row seeds of every iteration, exactly as _rarefy_aligned draws them
    seeds = np.empty((int(iterations), kept.size), dtype=np.uint64)
    for i, child in enumerate(seq.spawn(int(iterations))):
        seeds[i] = _row_seeds(np.random.default_rng(child), kept.size)
    sums = np.zeros((3, kept.size))
    run_mean = np.zeros((3, kept.size))
    m2 = np.zeros((3, kept.size))
    if kept.size:
        _kernels.rarefied_alpha_rows(
            csr.indptr.astype(np.int64, copy=False),
            vals,
            kept,
            np.int64(depth),
            seeds,
            _clogc_table(depth),
            sums,
            run_mean,
            m2,
        )
    row = {"observed": 0, "shannon": 1, "simpson": 2}
    # The mean is reported as sum / iterations (exact for integer-valued ``observed``); Welford's
    # running mean is only used for the numerically stable sum of squared deviations.
    means = {m: sums[row[m]] / iterations for m in metrics}
    if iterations > 1:
        sds = {m: np.sqrt(m2[row[m]] / (iterations - 1)) for m in metrics}
    else:
        sds = {m: np.full(kept.size, np.nan) for m in metrics}
    return kept, means, sds
