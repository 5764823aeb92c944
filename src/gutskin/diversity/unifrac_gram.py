"""Faith PD and UniFrac compiled with numba: gutskin's own phylogenetic back end (pip-only installs).

:mod:`gutskin.diversity.phylogeny` uses the Striped UniFrac package where conda installed it and this
module otherwise (back end ``"gutskin"``). Results equal scikit-bio's ``faith_pd``,
``unweighted_unifrac`` and ``weighted_unifrac(normalized=True)`` to 1e-9 (``tests/unit/
test_unifrac_gram.py``; measured differences are around 1e-15).

Branch coverage
---------------
A sample *covers* the branch above node ``b`` (length ``l_b``) when a feature present in it lies
below ``b``; ``a_ib`` is the sample's abundance below ``b`` and ``n_i`` its total. One pass per sample
walks from each present feature towards the root, stopping at the first node already seen, and then
sums abundances upwards in postorder (:func:`_cover`). No samples x nodes matrix is built: the
coverage is a CSR matrix with one entry per covered branch. The root's own branch, when the tree gives
it a length, is covered by every non-empty sample (as in scikit-bio).

Metrics
-------
``faith_pd``
    ``PD_i = Σ_b l_b c_ib`` with ``c_ib`` = 1 when sample i covers b.
``unweighted_unifrac``
    Unique / observed branch length, from the Gram matrix of the rows of ``C diag(√l)``:
    ``G_ij = Σ_b l_b c_ib c_jb`` (length shared by i and j) and
    ``d_ij = (PD_i + PD_j − 2 G_ij) / (PD_i + PD_j − G_ij)``. ``G`` goes through the machinery of
    robust Aitchison (:mod:`gutskin.diversity.beta`): branches covered by at least
    ``UNIFRAC_DENSE_PREVALENCE`` of the samples (those near the root) through BLAS in row blocks, the
    others through posting lists. Where the numerator is below ``GRAM_REL_TOL (PD_i + PD_j)``
    (near-identical samples, whose difference the Gram form would lose to cancellation) the distance
    is recomputed exactly from the two coverage rows, so identical samples are exactly 0.
``weighted_unifrac``
    Normalised weighted UniFrac, ``Σ_b l_b |a_ib/n_i − a_jb/n_j| / Σ_t d_t (p_it + p_jt)`` with ``d_t``
    the root-to-tip distance of feature t. The denominator equals ``D_i + D_j`` with
    ``D_i = Σ_b l_b a_ib / n_i``, so with ``w_ib = l_b a_ib / n_i`` the distance is
    ``Σ_b |w_ib − w_jb| / Σ_b (w_ib + w_jb)``: Bray–Curtis of the rows of ``w``, computed by
    gutskin's Bray–Curtis kernel.

Conventions (those of scikit-bio)
---------------------------------
A sample with no non-zero value is at distance 0 from another such sample and 1 from any other
(Faith PD 0); two samples that cover only zero-length branches are at distance 0 (unweighted). For
weighted UniFrac such a pair (``D_i + D_j = 0`` but a sample non-empty) is 0 here, where
scikit-bio divides 0 by 0 (NaN). The public functions of :mod:`gutskin.diversity.phylogeny` reject
empty samples before they get here.

Determinism: every parallel loop writes only its own rows, and the order of additions within a row
does not depend on the thread count, so results are the same bits for any number of threads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import get_num_threads, njit, prange

from ..errors import InputError
from ..io.newick import check_tree
from . import _kernels
from ._common import as_csr
from .beta import (
    AITCHISON_DENSE_PREVALENCE,
    GRAM_REL_TOL,
    _block_rows,
    _braycurtis_into,
    _empty_condensed,
    _gram_rows,
    _split_features,
)

__all__ = [
    "UNIFRAC_DENSE_PREVALENCE",
    "PostorderTree",
    "faith_pd",
    "unweighted_unifrac",
    "weighted_normalized_unifrac",
]

#: Branches covered by at least this fraction of the samples go into the dense (BLAS) part of the
#: unweighted UniFrac Gram matrix: float64 cells, the trade-off of robust Aitchison.
UNIFRAC_DENSE_PREVALENCE = AITCHISON_DENSE_PREVALENCE

#: Rows per scratch allocation of the coverage kernel (at most; fewer for small tables).
_COVER_CHUNK = 256


# ---------------------------------------------------------------------- the tree as arrays
@dataclass(frozen=True)
class PostorderTree:
    """A rooted tree as postorder arrays (children before their parent; the root last).

    Attributes
    ----------
    parent
        int64, the parent of each node (-1 for the root).
    lengths
        float64, the length of the branch above each node; the root's own length when the tree
        gives it one (scikit-bio counts it), else 0.
    tip_index
        Tip name -> node number.
    """

    parent: np.ndarray
    lengths: np.ndarray
    tip_index: dict[str, int]

    @classmethod
    def from_tree(
        cls, tree: Any, *, source: str | Path | None = None, checked: bool = False
    ) -> PostorderTree:
        """Arrays of a :class:`skbio.TreeNode`.

        The tree is checked as :func:`~gutskin.diversity.phylogeny.prepare_tree` checks it (rooted,
        named unique tips, finite lengths >= 0 on every branch) unless ``checked`` says that was done.

        Raises
        ------
        InputError
            For a tree that fails those checks.
        """
        if isinstance(tree, PostorderTree):
            return tree
        if not checked:
            check_tree(tree, source)
        root_length = tree.length
        if root_length is not None and (not np.isfinite(root_length) or root_length < 0):
            raise InputError(
                source,
                f"the root's branch has length {root_length!r}; it must be finite and >= 0",
                hint="Faith PD and UniFrac need a tree with branch lengths",
            )
        nodes = list(tree.postorder(include_self=True))
        index = {id(nd): k for k, nd in enumerate(nodes)}
        parent = np.array(
            [index[id(nd.parent)] if nd.parent is not None else -1 for nd in nodes], dtype=np.int64
        )
        lengths = np.array([0.0 if nd.length is None else float(nd.length) for nd in nodes])
        tip_index = {str(nd.name): k for k, nd in enumerate(nodes) if nd.is_tip()}
        return cls(parent=parent, lengths=lengths, tip_index=tip_index)

    def tips_of(
        self, feature_ids: Sequence[str] | np.ndarray, *, source: str | Path | None = None
    ) -> np.ndarray:
        """Node number of each feature (int64).

        Raises
        ------
        InputError
            If a feature is not a tip of the tree (the message names some), or a feature id repeats.
        """
        fids = [str(f) for f in np.asarray(feature_ids, dtype=str)]
        missing = [f for f in fids if f not in self.tip_index]
        if missing:
            raise InputError(
                source,
                f"{len(missing)} of the table's {len(fids)} features are not tips of the tree "
                f"(e.g. {', '.join(map(repr, missing[:5]))})",
                hint="the tree must hold every feature of the table (use the tree that came with it)",
            )
        if len(set(fids)) != len(fids):
            dups = [f for f, k in Counter(fids).items() if k > 1]
            raise InputError(
                source,
                f"feature id(s) occur more than once (e.g. {', '.join(map(repr, dups[:3]))})",
                hint="feature ids must be unique",
            )
        return np.array([self.tip_index[f] for f in fids], dtype=np.int64)


# ---------------------------------------------------------------------- coverage
@njit(cache=True, parallel=True)
def _cover(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    tips: np.ndarray,
    parent: np.ndarray,
    chunk: int,
    fill: bool,
    counts: np.ndarray,
    out_indptr: np.ndarray,
    out_nodes: np.ndarray,
    out_below: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Branches covered by each CSR row, and the row's abundance below each of them.

    With ``fill`` False, ``counts[i]`` receives the number of nodes row ``i`` covers (root included);
    with ``fill`` True, ``out_nodes[out_indptr[i]:out_indptr[i + 1]]`` receives them in ascending
    (post)order and ``out_below`` the sum of the row's positive values at or below each. Scratch
    arrays are allocated once per chunk of rows and reset entry by entry.
    """
    n = indptr.shape[0] - 1
    n_nodes = parent.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        seen = np.zeros(n_nodes, dtype=np.bool_)
        below = np.zeros(n_nodes, dtype=np.float64)
        stack = np.empty(n_nodes, dtype=np.int64)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            k = 0
            for p in range(indptr[i], indptr[i + 1]):
                x = data[p]
                if not x > 0:
                    continue
                v = tips[indices[p]]
                below[v] += x
                while v >= 0 and not seen[v]:
                    seen[v] = True
                    stack[k] = v
                    k += 1
                    v = parent[v]
            if fill:
                nodes = np.sort(stack[:k])
                pos = out_indptr[i]
                # postorder: a node's children come before it, so their sums are complete here
                for t in range(k):
                    v = nodes[t]
                    out_nodes[pos + t] = v
                    out_below[pos + t] = below[v]
                    u = parent[v]
                    if u >= 0:
                        below[u] += below[v]
            else:
                counts[i] = k
            for t in range(k):
                v = stack[t]
                seen[v] = False
                below[v] = 0.0


@dataclass
class _Coverage:
    indptr: np.ndarray  # int64, n + 1
    nodes: np.ndarray  # int64, covered nodes of each row, ascending
    below: np.ndarray  # float64, the row's abundance at or below each covered node
    totals: np.ndarray  # float64, the row's total (positive values)
    lengths: np.ndarray  # float64, branch length of each node

    @property
    def n(self) -> int:
        return int(self.indptr.size - 1)

    def row_sums(self, values: np.ndarray) -> np.ndarray:
        """Σ over each row's covered nodes of ``values`` (one entry per covered node)."""
        row_of = np.repeat(np.arange(self.n), np.diff(self.indptr))
        return np.bincount(row_of, weights=values, minlength=self.n).astype(np.float64)

    def matrix(self, values: np.ndarray) -> sp.csr_array:
        """Samples x nodes CSR matrix of ``values`` (zeros, e.g. zero-length branches, dropped)."""
        m = sp.csr_array(
            (values, self.nodes, self.indptr), shape=(self.n, self.lengths.size), copy=False
        )
        m.has_sorted_indices = True
        m.has_canonical_format = True
        if values.size and not values.all():
            m = m.copy()
            m.eliminate_zeros()
        return m


def _coverage(
    data: Any, tree: Any, feature_ids: Sequence[str] | np.ndarray, source: str | Path | None
) -> _Coverage:
    csr = as_csr(data, source=None if source is None else str(source))
    arrays = PostorderTree.from_tree(tree, source=source)
    if np.asarray(feature_ids).shape != (csr.shape[1],):
        raise InputError(
            source,
            f"{np.asarray(feature_ids).size} feature ids given for a table of {csr.shape[1]} "
            "features",
        )
    tips = arrays.tips_of(feature_ids, source=source)
    n = csr.shape[0]
    indptr = csr.indptr.astype(np.int64, copy=False)
    indices = csr.indices.astype(np.int64, copy=False)
    values = csr.data.astype(np.float64, copy=False)
    chunk = max(1, min(_COVER_CHUNK, -(-n // (4 * get_num_threads()))))
    counts = np.zeros(n, dtype=np.int64)
    none_i = np.zeros(0, dtype=np.int64)
    none_f = np.zeros(0, dtype=np.float64)
    _cover(
        indptr, indices, values, tips, arrays.parent, chunk, False, counts, none_i, none_i, none_f
    )
    cov_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=cov_indptr[1:])
    nodes = np.empty(int(cov_indptr[-1]), dtype=np.int64)
    below = np.empty(nodes.size, dtype=np.float64)
    _cover(
        indptr, indices, values, tips, arrays.parent, chunk, True, counts, cov_indptr, nodes, below
    )
    row_of = np.repeat(np.arange(n), np.diff(indptr))
    positive = values > 0
    totals = np.bincount(row_of[positive], weights=values[positive], minlength=n).astype(np.float64)
    return _Coverage(cov_indptr, nodes, below, totals, arrays.lengths)


# ---------------------------------------------------------------------- kernels
@njit(cache=True)
def _unique_observed(
    indptr: np.ndarray, nodes: np.ndarray, lengths: np.ndarray, i: int, j: int
) -> tuple[float, float]:  # pragma: no cover - numba
    """Branch length covered by exactly one / by either of rows i and j (merge of sorted rows)."""
    a = indptr[i]
    ea = indptr[i + 1]
    b = indptr[j]
    eb = indptr[j + 1]
    unique = 0.0
    observed = 0.0
    while a < ea and b < eb:
        va = nodes[a]
        vb = nodes[b]
        if va == vb:
            observed += lengths[va]
            a += 1
            b += 1
        elif va < vb:
            unique += lengths[va]
            observed += lengths[va]
            a += 1
        else:
            unique += lengths[vb]
            observed += lengths[vb]
            b += 1
    while a < ea:
        unique += lengths[nodes[a]]
        observed += lengths[nodes[a]]
        a += 1
    while b < eb:
        unique += lengths[nodes[b]]
        observed += lengths[nodes[b]]
        b += 1
    return unique, observed


@njit(cache=True, parallel=True)
def _unweighted_block(
    gram: np.ndarray,
    r0: int,
    pd: np.ndarray,
    s_indptr: np.ndarray,
    s_indices: np.ndarray,
    s_data: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    cdata: np.ndarray,
    indptr: np.ndarray,
    nodes: np.ndarray,
    lengths: np.ndarray,
    rel_tol: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Unweighted UniFrac of rows ``r0 .. r0 + len(gram) - 1`` to every later row.

    ``gram[b, j - r0]`` holds the dense (prevalent-branch) part of ``G`` for rows ``r0 + b`` and
    ``j``; the sparse branches' part is added from their posting lists (``s_*``: CSR of √l, ``c*``:
    CSC). Pairs whose numerator ``PD_i + PD_j − 2 G_ij`` is at most ``rel_tol (PD_i + PD_j)`` are
    recomputed exactly from the coverage rows (``indptr``, ``nodes``) and branch ``lengths``.
    """
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
            num = tot - 2.0 * g
            if num <= rel_tol * tot:
                unique, observed = _unique_observed(indptr, nodes, lengths, i, j)
                out[base + j] = unique / observed if observed > 0.0 else 0.0
            else:
                out[base + j] = num / (tot - g)


# ---------------------------------------------------------------------- metrics
def faith_pd(
    data: Any,
    tree: Any,
    feature_ids: Sequence[str] | np.ndarray,
    *,
    source: str | Path | None = None,
) -> np.ndarray:
    """Faith's PD of every row: total length of the branches its present features cover.

    Parameters
    ----------
    data
        Samples x features scipy sparse matrix, non-negative; only presence (> 0) matters.
    tree
        Rooted :class:`skbio.TreeNode` with branch lengths, or a :class:`PostorderTree` of one.
    feature_ids
        The tree tip of each column.
    source
        Named in error messages.

    Returns
    -------
    numpy.ndarray
        float64, one value per row (0 for a row without non-zero values).

    Raises
    ------
    InputError
        For negative or non-finite values, a feature that is not a tip, or an invalid tree.
    """
    cov = _coverage(data, tree, feature_ids, source)
    return cov.row_sums(cov.lengths[cov.nodes])


def unweighted_unifrac(
    data: Any,
    tree: Any,
    feature_ids: Sequence[str] | np.ndarray,
    *,
    source: str | Path | None = None,
    block_entries: int | None = None,
) -> np.ndarray:
    """Unweighted UniFrac of all pairs of rows, condensed (``squareform`` order, float64).

    Parameters
    ----------
    data, tree, feature_ids, source
        As :func:`faith_pd` (presence only).
    block_entries
        Bound on the entries of one dense row block of the Gram matrix (default
        :data:`gutskin.diversity.beta.BLOCK_ENTRIES`).

    Returns
    -------
    numpy.ndarray
        Condensed distances; 0 for rows covering the same branches, 1 for rows sharing none.
    """
    cov = _coverage(data, tree, feature_ids, source)
    n = cov.n
    out = _empty_condensed(n)
    if n < 2:
        return out
    lengths = cov.lengths
    node_lengths = lengths[cov.nodes]
    pd = cov.row_sums(node_lengths)
    weights = cov.matrix(np.sqrt(node_lengths))
    split = _split_features(weights, UNIFRAC_DENSE_PREVALENCE, 64, np.float64)
    del weights
    step = _block_rows(n, block_entries)
    for r0 in range(0, n - 1, step):
        r1 = min(n - 1, r0 + step)
        if split.dense.shape[1]:
            gram = _gram_rows(split.dense, r0, r1)
        else:
            gram = np.zeros((r1 - r0, n - r0))
        _unweighted_block(
            gram,
            r0,
            pd,
            *split.tail,
            cov.indptr,
            cov.nodes,
            lengths,
            GRAM_REL_TOL,
            out,
        )
    return out


def weighted_normalized_unifrac(
    data: Any,
    tree: Any,
    feature_ids: Sequence[str] | np.ndarray,
    *,
    source: str | Path | None = None,
) -> np.ndarray:
    """Normalised weighted UniFrac of all pairs of rows, condensed (``squareform`` order, float64).

    Bray–Curtis of the branch vectors ``w_ib = l_b a_ib / n_i`` (see the module docs); values are
    used as proportions of each row's total, so counts and relative abundances give the same result.

    Parameters
    ----------
    data, tree, feature_ids, source
        As :func:`faith_pd` (abundances matter).

    Returns
    -------
    numpy.ndarray
        Condensed distances in [0, 1].
    """
    cov = _coverage(data, tree, feature_ids, source)
    n = cov.n
    out = _empty_condensed(n)
    if n < 2:
        return out
    row_of = np.repeat(np.arange(n), np.diff(cov.indptr))
    totals = cov.totals[row_of]
    safe = np.where(totals > 0, totals, 1.0)
    w = cov.matrix(cov.lengths[cov.nodes] * (cov.below / safe))
    del row_of, totals, safe
    _braycurtis_into(w, out, accumulate=False)
    mass = np.asarray(w.sum(axis=1), dtype=np.float64).ravel()
    none = np.flatnonzero(mass == 0)
    if none.size > 1:
        # both rows empty (scikit-bio: 0) or on zero-length branches only: nothing separates them
        a, b = np.triu_indices(none.size, k=1)
        i, j = none[a], none[b]
        out[n * i - i * (i + 1) // 2 + (j - i - 1)] = 0.0
    return out
