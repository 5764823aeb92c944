"""Unweighted UniFrac as a Gram-matrix product, compiled with numba (benchmark only).

gutskin's phylogeny module delegates UniFrac to the Striped UniFrac package (conda) or to scikit-bio.
This module shows what a pip-only compiled path costs, for the benchmark: with ``c_ib`` = 1 when
branch ``b`` lies on the path from the root to a feature present in sample ``i`` and ``l_b`` its
length,

* ``PD_i = Σ_b l_b c_ib`` (Faith's PD, root branch excluded),
* ``G_ij = Σ_b l_b c_ib c_jb`` (branch length shared by i and j), and
* ``UniFrac(i, j) = (PD_i + PD_j − 2 G_ij) / (PD_i + PD_j − G_ij)`` (unique / observed length).

``G`` is the Gram matrix of the rows of ``C diag(√l)``: branches covered by many samples (near the
root) go through BLAS in row blocks, the rest through posting lists, exactly as gutskin's robust
Aitchison kernel (:mod:`gutskin.diversity.beta`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from gutskin.diversity import _kernels
from gutskin.diversity.beta import (
    AITCHISON_DENSE_PREVALENCE,
    _block_rows,
    _gram_rows,
    _split_features,
)

__all__ = ["random_tree", "unweighted_unifrac"]


def random_tree(n_tips: int, *, seed: int = 0) -> tuple[Any, np.ndarray]:
    """A random rooted binary tree (skbio ``TreeNode``) with tips ``F0 .. F{n-1}``.

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


def _tree_arrays(tree: Any, fids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Postorder ``parent`` indices (-1 for the root), branch ``lengths`` (root: 0) and the node
    of each feature."""
    nodes = list(tree.postorder(include_self=True))
    index = {id(nd): k for k, nd in enumerate(nodes)}
    parent = np.array(
        [index[id(nd.parent)] if nd.parent is not None else -1 for nd in nodes], dtype=np.int64
    )
    lengths = np.array(
        [0.0 if nd.parent is None or nd.length is None else float(nd.length) for nd in nodes]
    )
    tip_of = {nd.name: k for k, nd in enumerate(nodes) if nd.is_tip()}
    tips = np.array([tip_of[str(f)] for f in fids], dtype=np.int64)
    return parent, lengths, tips


@njit(cache=True, parallel=True)
def _coverage(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    tips: np.ndarray,
    parent: np.ndarray,
    counts: np.ndarray,
    out_indptr: np.ndarray,
    out_indices: np.ndarray,
    fill: bool,
) -> None:  # pragma: no cover - numba
    """Nodes on the root paths of each row's present features (the root itself excluded)."""
    n_nodes = parent.shape[0]
    for i in prange(indptr.shape[0] - 1):
        seen = np.zeros(n_nodes, dtype=np.bool_)
        k = 0
        pos = out_indptr[i] if fill else 0
        for p in range(indptr[i], indptr[i + 1]):
            if data[p] <= 0:
                continue
            v = tips[indices[p]]
            while v >= 0 and not seen[v] and parent[v] >= 0:
                seen[v] = True
                if fill:
                    out_indices[pos + k] = v
                k += 1
                v = parent[v]
        if not fill:
            counts[i] = k


@njit(cache=True, parallel=True)
def _unifrac_block(
    gram: np.ndarray,
    r0: int,
    pd: np.ndarray,
    s_indptr: np.ndarray,
    s_indices: np.ndarray,
    s_data: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    cdata: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    n = pd.shape[0]
    for b in prange(gram.shape[0]):
        i = r0 + b
        row = gram[b]
        for p in range(s_indptr[i], s_indptr[i + 1]):
            f = s_indices[p]
            x = s_data[p]
            e = cindptr[f + 1]
            for u in range(_kernels._first_after(cindices, cindptr[f], e, i), e):
                row[cindices[u] - r0] += x * cdata[u]
        base = _kernels._cond_base(i, n)
        for j in range(i + 1, n):
            g = row[j - r0]
            tot = pd[i] + pd[j]
            union = tot - g
            out[base + j] = (tot - 2.0 * g) / union if union > 0 else 0.0


def unweighted_unifrac(csr: sp.csr_array, tree: Any, fids: np.ndarray) -> np.ndarray:
    """Unweighted UniFrac of all pairs of rows of ``csr`` (features ``fids`` on ``tree``), condensed."""
    csr = sp.csr_array(csr)
    parent, lengths, tips = _tree_arrays(tree, np.asarray(fids))
    n = csr.shape[0]
    indptr = csr.indptr.astype(np.int64)
    indices = csr.indices.astype(np.int64)
    data = csr.data.astype(np.float64)
    counts = np.zeros(n, dtype=np.int64)
    dummy = np.zeros(0, dtype=np.int64)
    _coverage(indptr, indices, data, tips, parent, counts, indptr, dummy, False)
    cov_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=cov_indptr[1:])
    cov_indices = np.empty(int(cov_indptr[-1]), dtype=np.int64)
    _coverage(indptr, indices, data, tips, parent, counts, cov_indptr, cov_indices, True)
    weights = np.sqrt(lengths)[cov_indices]
    cov = sp.csr_array((weights, cov_indices, cov_indptr), shape=(n, parent.size))
    cov.sort_indices()
    cov.eliminate_zeros()
    pd = np.asarray(cov.multiply(cov).sum(axis=1), dtype=np.float64).ravel()
    split = _split_features(cov, AITCHISON_DENSE_PREVALENCE, 64, np.float64)
    out = np.zeros(n * (n - 1) // 2)
    step = _block_rows(n, None)
    for r0 in range(0, max(n - 1, 0), step):
        r1 = min(n - 1, r0 + step)
        if split.dense.shape[1]:
            gram = _gram_rows(split.dense, r0, r1)
        else:
            gram = np.zeros((r1 - r0, n - r0))
        _unifrac_block(
            gram,
            r0,
            pd,
            split.indptr,
            split.indices,
            split.data,
            split.cindptr,
            split.cindices,
            split.cdata,
            out,
        )
    return out
