"""Numba kernels for rarefaction, alpha and beta diversity.

Everything here works on the raw arrays of a CSR (``indptr``, ``indices``, ``data``) or CSC matrix and
never on a dense samples x features matrix. The public, validated entry points live in
:mod:`gutskin.diversity.rarefy`, :mod:`gutskin.diversity.alpha` and :mod:`gutskin.diversity.beta`;
the kernels assume their inputs were checked there (non-negative, finite, integer where required).

Determinism
-----------
Every parallel loop (``numba.prange``) writes to memory that only its own iteration owns, and the
order of additions inside an iteration does not depend on the number of threads. Random numbers come
from one xoshiro256** stream per sample, seeded from a 64-bit seed drawn in numpy *before* the
parallel loop, so a result depends on the seed only, never on scheduling.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_U0 = np.uint64(0)
_SM_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SM_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SM_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S17 = np.uint64(17)
_S45 = np.uint64(45)
_S7 = np.uint64(7)
_M5 = np.uint64(5)
_LOW32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)
_S32 = np.uint64(32)
_M9 = np.uint64(9)


# --------------------------------------------------------------------------------------------------
# Random numbers: xoshiro256** (Blackman & Vigna 2018), seeded with SplitMix64.
# --------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _splitmix64(x: np.uint64) -> tuple[np.uint64, np.uint64]:  # pragma: no cover - numba
    x = x + _SM_GAMMA
    z = x
    z = (z ^ (z >> _S30)) * _SM_M1
    z = (z ^ (z >> _S27)) * _SM_M2
    return x, z ^ (z >> _S31)


@njit(cache=True)
def _seed(seed: np.uint64) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:  # pragma: no cover
    """xoshiro256** state from a 64-bit seed via SplitMix64 (the authors' recommended seeding)."""
    x, s0 = _splitmix64(seed)
    x, s1 = _splitmix64(x)
    x, s2 = _splitmix64(x)
    x, s3 = _splitmix64(x)
    return s0, s1, s2, s3


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, k: np.uint64) -> np.uint64:  # pragma: no cover - numba
    return (x << k) | (x >> (np.uint64(64) - k))


@njit(cache=True, inline="always")
def _next(
    s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, np.uint64]:  # pragma: no cover - numba
    """One xoshiro256** step on a state held in scalars: ``(output, s0, s1, s2, s3)``."""
    result = _rotl(s1 * _M5, _S7) * _M9
    t = s1 << _S17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, _S45)
    return result, s0, s1, s2, s3


# --------------------------------------------------------------------------------------------------
# Rarefaction: draw reads one by one from an urn, without replacement, with a Fenwick tree over the
# remaining counts of the sample's non-zero features (O(k) memory, O(log k) per read).
# --------------------------------------------------------------------------------------------------


@njit(cache=True)
def _rarefy_row(
    counts: np.ndarray, depth: np.int64, seed: np.uint64, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """Write into ``out`` a multivariate-hypergeometric draw of ``depth`` reads from ``counts``."""
    k = counts.shape[0]
    total = np.int64(0)
    for t in range(k):
        total += counts[t]
    # Draw whichever is smaller: the reads kept or the reads removed.
    remove = depth > total - depth
    n_draw = total - depth if remove else depth
    if n_draw == 0:
        for t in range(k):
            out[t] = counts[t] if remove else 0
        return
    # Fenwick tree (1-based) over the counts.
    tree = np.zeros(k + 1, dtype=np.int64)
    for t in range(k):
        tree[t + 1] += counts[t]
        parent = (t + 1) + ((t + 1) & -(t + 1))
        if parent <= k:
            tree[parent] += tree[t + 1]
    drawn = np.zeros(k, dtype=np.int64)
    top = np.int64(1)
    while top * 2 <= k:
        top *= 2
    s0, s1, s2, s3 = _seed(seed)
    remaining = total
    for _ in range(n_draw):
        # u: uniform integer in [0, remaining), exactly (no modulo bias)
        bound = np.uint64(remaining)
        if bound <= _LOW32:
            # Lemire (2019): multiply a 32-bit draw by the bound, reject the biased low part
            r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
            m = (r >> _S32) * bound
            low = m & _LOW32
            if low < bound:
                thr = (_TWO32 - bound) % bound
                while low < thr:
                    r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
                    m = (r >> _S32) * bound
                    low = m & _LOW32
            u = np.int64(m >> _S32)
        else:
            thr = (_U0 - bound) % bound
            r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
            while r < thr:
                r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
            u = np.int64(r % bound)
        pos = np.int64(0)
        step = top
        while step > 0:
            nxt = pos + step
            if nxt <= k and tree[nxt] <= u:
                pos = nxt
                u -= tree[nxt]
            step //= 2
        drawn[pos] += 1
        i = pos + 1
        while i <= k:
            tree[i] -= 1
            i += i & -i
        remaining -= 1
    if remove:
        for t in range(k):
            out[t] = counts[t] - drawn[t]
    else:
        for t in range(k):
            out[t] = drawn[t]


@njit(cache=True, parallel=True)
def rarefy_rows(
    indptr: np.ndarray,
    data: np.ndarray,
    rows: np.ndarray,
    depth: np.int64,
    seeds: np.ndarray,
    out_indptr: np.ndarray,
    out_data: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Rarefy the CSR rows ``rows`` (each with at least ``depth`` reads) in parallel.

    ``out_data[out_indptr[r]:out_indptr[r + 1]]`` receives the rarefied counts of ``rows[r]``, aligned
    with that row's stored entries (so zeros may appear); ``seeds[r]`` seeds its random stream.
    """
    for r in prange(rows.shape[0]):
        row = rows[r]
        a = indptr[row]
        b = indptr[row + 1]
        _rarefy_row(data[a:b], depth, seeds[r], out_data[out_indptr[r] : out_indptr[r + 1]])


# --------------------------------------------------------------------------------------------------
# Alpha diversity
# --------------------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def alpha_rows(
    indptr: np.ndarray,
    data: np.ndarray,
    observed: np.ndarray,
    shannon: np.ndarray,
    simpson: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Observed features, Shannon (natural log) and Gini–Simpson of every CSR row.

    Zeros (stored or not) are ignored; a row summing to 0 gets observed 0 and NaN Shannon/Simpson.
    """
    n = indptr.shape[0] - 1
    for r in prange(n):
        a = indptr[r]
        b = indptr[r + 1]
        s = 0.0
        obs = 0
        for t in range(a, b):
            v = data[t]
            if v > 0:
                s += v
                obs += 1
        observed[r] = obs
        if s <= 0.0:
            shannon[r] = np.nan
            simpson[r] = np.nan
            continue
        h = 0.0
        d = 0.0
        for t in range(a, b):
            v = data[t]
            if v > 0:
                p = v / s
                h -= p * np.log(p)
                d += p * p
        shannon[r] = h
        simpson[r] = 1.0 - d


@njit(cache=True)
def welford_update(
    count: int, mean: np.ndarray, m2: np.ndarray, x: np.ndarray
) -> None:  # pragma: no cover - numba
    """Add observation number ``count`` (1-based) ``x`` to running means and sums of squares."""
    for r in range(x.shape[0]):
        delta = x[r] - mean[r]
        mean[r] += delta / count
        m2[r] += delta * (x[r] - mean[r])


# --------------------------------------------------------------------------------------------------
# Beta diversity
# --------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _cond_base(i: int, n: int) -> int:  # pragma: no cover - numba
    """Condensed index of pair (i, j), i < j, is ``_cond_base(i, n) + j``."""
    return n * i - (i * (i + 1)) // 2 - i - 1


@njit(cache=True)
def _braycurtis_row(
    i: int,
    n: int,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    cdata: np.ndarray,
    sums: np.ndarray,
    accumulate: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    base = _cond_base(i, n)
    acc = np.zeros(n, dtype=np.float64)
    for t in range(indptr[i], indptr[i + 1]):
        f = indices[t]
        x = data[t]
        a = cindptr[f]
        b = cindptr[f + 1]
        # first entry of the posting list with row > i (rows are sorted)
        lo = a
        hi = b
        while lo < hi:
            mid = (lo + hi) // 2
            if cindices[mid] <= i:
                lo = mid + 1
            else:
                hi = mid
        for u in range(lo, b):
            y = cdata[u]
            acc[cindices[u]] += x if x < y else y
    si = sums[i]
    for j in range(i + 1, n):
        tot = si + sums[j]
        d = (tot - 2.0 * acc[j]) / tot
        if d < 0.0:
            d = 0.0
        if accumulate:
            out[base + j] += d
        else:
            out[base + j] = d


@njit(cache=True, parallel=True)
def braycurtis_condensed(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    cdata: np.ndarray,
    sums: np.ndarray,
    accumulate: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    """All-pairs Bray–Curtis from CSR (rows) and CSC (posting lists) copies of the same matrix.

    BC(i, j) = (S_i + S_j − 2 Σ_f min(x_if, x_jf)) / (S_i + S_j). Row ``i`` owns the condensed slice
    of pairs ``(i, j > i)``; Σmin is accumulated in a per-row scratch vector feature by feature,
    walking only the posting lists of the row's own features, so only shared features cost work.
    Rows ``k`` and ``n - 2 - k`` are paired in one parallel iteration to balance the triangle.
    With ``accumulate`` the distances are added to ``out`` (for averaging over rarefactions).
    """
    n = indptr.shape[0] - 1
    if n < 2:
        return
    m = n - 1
    half = (m + 1) // 2
    for k in prange(half):
        _braycurtis_row(
            k, n, indptr, indices, data, cindptr, cindices, cdata, sums, accumulate, out
        )
        k2 = m - 1 - k
        if k2 != k:
            _braycurtis_row(
                k2, n, indptr, indices, data, cindptr, cindices, cdata, sums, accumulate, out
            )


@njit(cache=True, parallel=True)
def jaccard_fill(
    inter: np.ndarray, r0: int, sizes: np.ndarray, accumulate: bool, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """Fill (or add to) the condensed Jaccard distances of rows ``r0 .. r0 + len(inter) - 1``.

    ``inter[b, j]`` is |A ∩ B| of rows ``r0 + b`` and ``j`` (a dense row block of the binary Gram
    matrix); ``d = (|A ∪ B| − |A ∩ B|) / |A ∪ B|``, the same arithmetic as scipy's ``jaccard``.
    """
    n = sizes.shape[0]
    for b in prange(inter.shape[0]):
        i = r0 + b
        base = _cond_base(i, n)
        si = sizes[i]
        for j in range(i + 1, n):
            x = inter[b, j]
            union = si + sizes[j] - x
            d = (union - x) / union
            if accumulate:
                out[base + j] += d
            else:
                out[base + j] = d


@njit(cache=True)
def _sq_dist_sparse(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, i: int, j: int
) -> float:  # pragma: no cover - numba
    """Exact Σ(x_i - x_j)² of two CSR rows with sorted indices (merge of the two index lists)."""
    a = indptr[i]
    ea = indptr[i + 1]
    b = indptr[j]
    eb = indptr[j + 1]
    s = 0.0
    while a < ea and b < eb:
        fa = indices[a]
        fb = indices[b]
        if fa == fb:
            d = data[a] - data[b]
            a += 1
            b += 1
        elif fa < fb:
            d = data[a]
            a += 1
        else:
            d = data[b]
            b += 1
        s += d * d
    while a < ea:
        s += data[a] * data[a]
        a += 1
    while b < eb:
        s += data[b] * data[b]
        b += 1
    return s


@njit(cache=True, parallel=True)
def euclidean_fill(
    gram: np.ndarray,
    r0: int,
    sqnorms: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    rel_tol: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Euclidean distances of rows ``r0 ..`` from a dense Gram row block: √max(‖x‖²+‖y‖²−2x·y, 0).

    ``gram[b, j]`` is the dot product of rows ``r0 + b`` and ``j``.

    Where ``‖x‖²+‖y‖²−2x·y`` is below ``rel_tol * (‖x‖²+‖y‖²)`` the Gram form has lost its digits to
    cancellation (near-identical rows), so the distance is recomputed exactly from the sparse rows.
    """
    n = sqnorms.shape[0]
    for b in prange(gram.shape[0]):
        i = r0 + b
        base = _cond_base(i, n)
        ni = sqnorms[i]
        for j in range(i + 1, n):
            tot = ni + sqnorms[j]
            d2 = tot - 2.0 * gram[b, j]
            if d2 <= rel_tol * tot:
                d2 = _sq_dist_sparse(indptr, indices, data, i, j)
            out[base + j] = np.sqrt(d2) if d2 > 0.0 else 0.0


@njit(cache=True, parallel=True)
def rclr_rows(indptr: np.ndarray, data: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """Robust CLR of every CSR row: log(x) − mean(log x over the row's non-zeros); zeros stay 0."""
    n = indptr.shape[0] - 1
    for r in prange(n):
        a = indptr[r]
        b = indptr[r + 1]
        s = 0.0
        k = 0
        for t in range(a, b):
            if data[t] > 0:
                s += np.log(data[t])
                k += 1
        mean = s / k if k > 0 else 0.0
        for t in range(a, b):
            out[t] = np.log(data[t]) - mean if data[t] > 0 else 0.0


@njit(cache=True)
def add_into(acc: np.ndarray, x: np.ndarray) -> None:  # pragma: no cover - numba
    """``acc += x`` in place (sequential, so the same bits for any thread count)."""
    for t in range(acc.shape[0]):
        acc[t] += x[t]
