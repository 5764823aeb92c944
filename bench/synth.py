"""Seeded synthetic feature tables at American-Gut scale, for the benchmark only.

The tables imitate what makes real 16S tables expensive: a few hundred features are present in most
samples and a long tail is rare. Feature ``r`` (by rank) is present in each sample independently with
probability ``p_r = min(p_max, c (r + 10)^-a)``; ``c`` and ``a`` are solved so that

* the mean density is ``density`` (Σ p_r = density × n_features features per sample), and
* the *sharing* ``Σ p_r² / Σ p_r`` equals ``share``: the expected fraction of a sample's features that
  another random sample also has. All-pairs kernels on sparse data cost about
  ``n²/2 × Σ p_r²`` shared-feature operations, so ``share`` sets their work.

The American Gut table in the mirror (AG_100nt_even10k, 1,962 samples × 19,236 OTUs, 2.2 % dense)
has ``share`` = 0.24; issue #6 quotes ~2.8e10 shared-feature operations for 30,000 × 10,000 at 1 %,
i.e. ``share`` ≈ 0.62. The benchmark's default is the latter (the harder case).

Counts: every present feature gets at least one read; the rest of the sample's reads are spread by a
multinomial draw over log-normal weights (σ = 1.8, heavier for prevalent features), so counts are
heavy-tailed as in real data (median 2, 99th percentile in the hundreds). Sample totals are
``depth × exp(N(0.6, 0.35))``: about 4 % of samples fall below ``depth`` and are dropped by
rarefaction, as in a real study.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "DEFAULT_SHARE",
    "pair_ops",
    "prevalence_curve",
    "synthetic_counts",
    "write_table",
]

#: Sharing of issue #6's synthetic tables (2.8e10 shared-feature operations at 30,000 x 10,000, 1 %).
DEFAULT_SHARE = 0.62
#: Sharing measured on the American Gut table in the mirror.
AGP_SHARE = 0.24


def _curve(ranks: np.ndarray, c: float, a: float, p_max: float) -> np.ndarray:
    return np.minimum(p_max, c * (ranks + 10.0) ** (-a))


def prevalence_curve(
    n_features: int, density: float, share: float, p_max: float = 0.98
) -> np.ndarray:
    """Per-feature presence probabilities (descending) with the given mean density and sharing.

    Parameters
    ----------
    n_features
        Number of features.
    density
        Mean fraction of features present in a sample (Σ p / n_features).
    share
        Target Σ p² / Σ p, in (density, p_max).
    p_max
        Largest presence probability.

    Returns
    -------
    numpy.ndarray
        ``n_features`` probabilities, largest first.
    """
    if not 0 < density < p_max:
        raise ValueError(f"density must be in (0, {p_max}), got {density}")
    target = density * n_features
    ranks = np.arange(1, n_features + 1, dtype=np.float64)

    def fit_c(a: float) -> float:
        lo, hi = 0.0, 1.0
        while _curve(ranks, hi, a, p_max).sum() < target:
            hi *= 2.0
            if hi > 1e300:
                raise ValueError("cannot reach the requested density")
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if _curve(ranks, mid, a, p_max).sum() < target:
                lo = mid
            else:
                hi = mid
        return hi

    def sharing(a: float) -> float:
        p = _curve(ranks, fit_c(a), a, p_max)
        return float((p * p).sum() / p.sum())

    lo, hi = 0.0, 8.0
    if not sharing(lo) <= share <= sharing(hi):
        raise ValueError(
            f"share {share} is out of reach for density {density} "
            f"({sharing(lo):.3f} .. {sharing(hi):.3f})"
        )
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if sharing(mid) < share:
            lo = mid
        else:
            hi = mid
    a = 0.5 * (lo + hi)
    return _curve(ranks, fit_c(a), a, p_max)


def synthetic_counts(
    n_samples: int,
    n_features: int,
    *,
    density: float = 0.01,
    share: float = DEFAULT_SHARE,
    depth: int = 10_000,
    seed: int = 20261126,
) -> sp.csr_array:
    """A seeded samples x features table of read counts (CSR, float64 integer values).

    Parameters
    ----------
    n_samples, n_features
        Shape.
    density
        Mean fraction of non-zero cells.
    share
        Expected fraction of a sample's features another sample shares (see the module docstring).
    depth
        Rarefaction depth the totals are scaled to (median total ≈ 1.8 × depth).
    seed
        Seed; the same arguments give the same table.

    Returns
    -------
    scipy.sparse.csr_array
        Sorted indices, no explicit zeros, every row non-empty.
    """
    rng = np.random.default_rng(seed)
    prev = prevalence_curve(n_features, density, share)
    # presence: feature f in Binomial(n, p_f) samples chosen uniformly (column by column)
    n_in = rng.binomial(n_samples, prev)
    col_ptr = np.zeros(n_features + 1, dtype=np.int64)
    np.cumsum(n_in, out=col_ptr[1:])
    rows = np.empty(int(col_ptr[-1]), dtype=np.int32)
    for f in range(n_features):
        m = int(n_in[f])
        if m:
            rows[col_ptr[f] : col_ptr[f + 1]] = rng.choice(n_samples, size=m, replace=False)
    cols = np.repeat(np.arange(n_features, dtype=np.int32), n_in)
    # every sample gets at least one feature (drawn by prevalence)
    present = np.zeros(n_samples, dtype=bool)
    present[rows] = True
    empty = np.flatnonzero(~present).astype(np.int32)
    if empty.size:
        extra = rng.choice(n_features, size=empty.size, p=prev / prev.sum()).astype(np.int32)
        rows = np.concatenate([rows, empty])
        cols = np.concatenate([cols, extra])
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_samples), out=indptr[1:])
    # abundances: 1 read per present feature + multinomial over log-normal weights
    mu = -0.8 * np.log(np.arange(1, n_features + 1) + 10.0)
    logw = mu[cols] + 1.8 * rng.standard_normal(cols.size)
    totals = np.rint(depth * np.exp(rng.normal(0.6, 0.35, size=n_samples))).astype(np.int64)
    data = np.ones(cols.size, dtype=np.float64)
    for i in range(n_samples):
        a, b = indptr[i], indptr[i + 1]
        k = b - a
        extra_reads = max(int(totals[i]) - k, 0)
        w = np.exp(logw[a:b] - logw[a:b].max())
        data[a:b] += rng.multinomial(extra_reads, w / w.sum())
    out = sp.csr_array((data, cols.astype(np.int32), indptr), shape=(n_samples, n_features))
    out.has_sorted_indices = True
    return out


def pair_ops(csr: sp.csr_array) -> int:
    """Shared-feature operations of an all-pairs sparse kernel: Σ_f n_f (n_f − 1) / 2."""
    n_f = np.bincount(csr.indices, minlength=csr.shape[1]).astype(np.float64)
    return int(math.fsum(n_f * (n_f - 1) / 2))


def write_table(csr: sp.csr_array, path: Path, *, fmt: str = "hdf5") -> None:
    """Write ``csr`` as BIOM 2.1 HDF5 (``fmt="hdf5"``) or a dense-text TSV (``fmt="tsv"``).

    The TSV is features x samples, as QIIME's classic OTU tables: ``#OTU ID`` then one column per
    sample. It is the slow baseline of the reading benchmark.
    """
    from gutskin.io.table import FeatureTable, write_biom

    n, m = csr.shape
    sids = np.array([f"S{i}" for i in range(n)])
    fids = np.array([f"F{j}" for j in range(m)])
    if fmt == "hdf5":
        write_biom(FeatureTable(csr, sids, fids), path)
        return
    if fmt != "tsv":
        raise ValueError(f"unknown format {fmt!r}")
    csc = sp.csc_array(csr)  # rows of the TSV are features
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("#OTU ID\t" + "\t".join(sids) + "\n")
        for j in range(m):
            col = np.zeros(n, dtype=np.int64)
            a, b = csc.indptr[j], csc.indptr[j + 1]
            col[csc.indices[a:b]] = csc.data[a:b].astype(np.int64)
            fh.write(fids[j] + "\t" + "\t".join(map(str, col.tolist())) + "\n")


def random_tree(n_tips: int, *, seed: int = 0) -> tuple[Any, np.ndarray]:
    """A random rooted binary tree (skbio ``TreeNode``) with tips ``F0 .. F{n-1}``, for UniFrac.

    Built by joining random pairs of subtrees (a coalescent-like topology); branch lengths are
    exponential with mean 0.1. Returns the tree and the tip names in feature order.
    """
    from skbio import TreeNode

    rng = np.random.default_rng(seed)
    names = np.array([f"F{j}" for j in range(n_tips)])
    nodes = [TreeNode(name=str(nm), length=float(rng.exponential(0.1))) for nm in names]
    while len(nodes) > 1:
        i, j = rng.choice(len(nodes), size=2, replace=False)
        a, b = nodes[i], nodes[j]
        for k in sorted((i, j), reverse=True):
            nodes[k] = nodes[-1]
            nodes.pop()
        parent = TreeNode(length=float(rng.exponential(0.1)), children=[a, b])
        nodes.append(parent)
    root = nodes[0]
    root.length = None
    return root, names
