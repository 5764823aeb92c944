"""Numba kernels for rarefaction, alpha and beta diversity.

Everything here works on the raw arrays of a CSR (``indptr``, ``indices``, ``data``) or CSC matrix,
plus, for the all-pairs kernels, a dense block holding only the *prevalent* features (see
:mod:`gutskin.diversity.beta`); never on a dense samples x features matrix of a whole table. The
public, validated entry points live in :mod:`gutskin.diversity.rarefy`, :mod:`gutskin.diversity.alpha`
and :mod:`gutskin.diversity.beta`; the kernels assume their inputs were checked there (non-negative,
finite, integer where required). Performance notes and measurements: ``docs/PERFORMANCE.md``.

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
# Rarefaction: an exact uniform sample of reads without replacement. Rows with at most
# FLOYD_MAX_READS reads use Floyd's algorithm on a bitset of read positions (O(draws) random bits,
# O(reads / 64 + k) to count per feature); larger rows draw read by read from an urn kept in a
# Fenwick tree (O(k) memory, O(log k) per read). Both draw whichever is smaller: the reads kept or
# the reads removed.
# --------------------------------------------------------------------------------------------------

#: Rows with more reads than this use the Fenwick-tree urn (the bitset would exceed 8 MiB; the
#: 32-bit draws of :func:`_floyd_draw` need totals below 2^32).
FLOYD_MAX_READS = 1 << 26


@njit(cache=True, inline="always")
def _bounded(
    bound: np.uint64, s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
) -> tuple[np.int64, np.uint64, np.uint64, np.uint64, np.uint64]:  # pragma: no cover - numba
    """A uniform integer in ``[0, bound)``, exactly (no modulo bias), and the new state."""
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
        return np.int64(m >> _S32), s0, s1, s2, s3
    thr = (_U0 - bound) % bound
    r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
    while r < thr:
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
    return np.int64(r % bound), s0, s1, s2, s3


@njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> np.uint64:  # pragma: no cover - numba
    """Bits set in ``x`` (LLVM turns this into a ``popcnt`` / ``vpopcntq`` instruction)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, inline="always")
def _low_bits(x: np.uint64, width: np.int64) -> np.uint64:  # pragma: no cover - numba
    """The lowest ``width`` (1..64) bits of ``x``."""
    if width >= 64:
        return x
    return x & ((np.uint64(1) << np.uint64(width)) - np.uint64(1))


@njit(cache=True)
def _popcount_range(bits: np.ndarray, a: np.int64, b: np.int64) -> np.int64:  # pragma: no cover
    """Bits set in positions ``a .. b - 1`` of a bitset stored as uint64 words (LSB first)."""
    if b <= a:
        return np.int64(0)
    wa = a >> 6
    wb = (b - 1) >> 6
    lo = a & 63
    if wa == wb:
        return np.int64(_popcount(_low_bits(bits[wa] >> np.uint64(lo), b - a)))
    s = _popcount(bits[wa] >> np.uint64(lo))
    for w in range(wa + 1, wb):
        s += _popcount(bits[w])
    s += _popcount(_low_bits(bits[wb], ((b - 1) & 63) + 1))
    return np.int64(s)


@njit(cache=True)
def _floyd_draw(
    counts: np.ndarray, total: np.int64, n_draw: np.int64, seed: np.uint64, drawn: np.ndarray
) -> None:  # pragma: no cover - numba
    """``drawn[t]``: reads of feature ``t`` among ``n_draw`` of ``total`` drawn without replacement.

    Floyd's algorithm (Bentley & Floyd 1987) picks a uniformly random ``n_draw``-subset of the read
    positions ``0 .. total - 1`` (feature ``t`` owns a run of ``counts[t]`` consecutive positions)
    with exactly ``n_draw`` bounded random integers; a bitset marks the chosen positions. Totals are
    below 2^32 here, so each bounded integer needs one 32-bit draw (Lemire's method) and every
    64-bit xoshiro output serves two of them (high half first).
    """
    bits = np.zeros((total + 63) >> 6, dtype=np.uint64)
    s0, s1, s2, s3 = _seed(seed)
    one = np.uint64(1)
    spare = _U0
    have_spare = False
    for j in range(total - n_draw, total):
        bound = np.uint64(j + 1)
        if have_spare:
            r32 = spare
            have_spare = False
        else:
            r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
            r32 = r >> _S32
            spare = r & _LOW32
            have_spare = True
        m = r32 * bound
        low = m & _LOW32
        if low < bound:
            thr = (_TWO32 - bound) % bound
            while low < thr:
                if have_spare:
                    r32 = spare
                    have_spare = False
                else:
                    r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
                    r32 = r >> _S32
                    spare = r & _LOW32
                    have_spare = True
                m = r32 * bound
                low = m & _LOW32
        t = np.int64(m >> _S32)
        bit = one << np.uint64(t & 63)
        if bits[t >> 6] & bit:
            t = np.int64(j)
            bit = one << np.uint64(t & 63)
        bits[t >> 6] |= bit
    pos = np.int64(0)
    for f in range(counts.shape[0]):
        c = np.int64(counts[f])
        drawn[f] = _popcount_range(bits, pos, pos + c)
        pos += c


@njit(cache=True)
def _fenwick_draw(
    counts: np.ndarray, total: np.int64, n_draw: np.int64, seed: np.uint64, drawn: np.ndarray
) -> None:  # pragma: no cover - numba
    """As :func:`_floyd_draw`, read by read from an urn in a Fenwick tree (any 64-bit total)."""
    k = counts.shape[0]
    tree = np.zeros(k + 1, dtype=np.int64)
    for t in range(k):
        tree[t + 1] += counts[t]
        parent = (t + 1) + ((t + 1) & -(t + 1))
        if parent <= k:
            tree[parent] += tree[t + 1]
    for t in range(k):
        drawn[t] = 0
    top = np.int64(1)
    while top * 2 <= k:
        top *= 2
    s0, s1, s2, s3 = _seed(seed)
    remaining = total
    for _ in range(n_draw):
        u, s0, s1, s2, s3 = _bounded(np.uint64(remaining), s0, s1, s2, s3)
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
    if total <= FLOYD_MAX_READS:
        _floyd_draw(counts, total, n_draw, seed, out)
    else:
        _fenwick_draw(counts, total, n_draw, seed, out)
    if remove:
        for t in range(k):
            out[t] = counts[t] - out[t]


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


@njit(cache=True, parallel=True)
def rarefied_alpha_rows(
    indptr: np.ndarray,
    data: np.ndarray,
    rows: np.ndarray,
    depth: np.int64,
    seeds: np.ndarray,
    clogc: np.ndarray,
    sums: np.ndarray,
    means: np.ndarray,
    m2: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Repeated rarefaction + alpha diversity, fused: nothing rarefied is kept in memory.

    Row ``rows[r]`` is rarefied ``seeds.shape[0]`` times, iteration ``i`` seeded with
    ``seeds[i, r]`` (the same draw as :func:`rarefy_rows` with ``seeds[i]``). For each draw,
    observed features, Shannon (natural log) and Gini–Simpson are computed and added to
    ``sums[m, r]`` and to Welford's running mean and sum of squared deviations ``means[m, r]``,
    ``m2[m, r]`` (``m`` = 0, 1, 2 for observed, Shannon, Simpson), iterations in order.

    ``clogc[c] = c ln c`` for ``c = 0 .. depth`` (or empty: computed on the fly); Shannon is
    ``ln(depth) − Σ c ln c / depth`` and Simpson ``1 − Σ c² / depth²``.
    """
    n_iter = seeds.shape[0]
    logd = np.log(np.float64(depth))
    fd = np.float64(depth)
    table = clogc.shape[0] > depth
    for r in prange(rows.shape[0]):
        row = rows[r]
        a = indptr[row]
        b = indptr[row + 1]
        counts = data[a:b]
        buf = np.empty(b - a, dtype=np.int64)
        for it in range(n_iter):
            _rarefy_row(counts, depth, seeds[it, r], buf)
            obs = 0
            sc = 0.0
            sq = np.int64(0)
            for t in range(b - a):
                c = buf[t]
                if c > 0:
                    obs += 1
                    sc += clogc[c] if table else c * np.log(np.float64(c))
                    sq += c * c
            h = logd - sc / fd
            if h < 0.0:
                h = 0.0
            vals = (np.float64(obs), h, 1.0 - np.float64(sq) / (fd * fd))
            cnt = it + 1
            for m in range(3):
                v = vals[m]
                sums[m, r] += v
                delta = v - means[m, r]
                means[m, r] += delta / cnt
                m2[m, r] += delta * (v - means[m, r])


# --------------------------------------------------------------------------------------------------
# Alpha diversity
# --------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _alpha_row(
    indptr: np.ndarray,
    data: np.ndarray,
    r: int,
    observed: np.ndarray,
    shannon: np.ndarray,
    simpson: np.ndarray,
) -> None:  # pragma: no cover - numba
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
        return
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


@njit(cache=True, parallel=True)
def _alpha_rows_parallel(
    indptr: np.ndarray,
    data: np.ndarray,
    observed: np.ndarray,
    shannon: np.ndarray,
    simpson: np.ndarray,
) -> None:  # pragma: no cover - numba
    for r in prange(indptr.shape[0] - 1):
        _alpha_row(indptr, data, r, observed, shannon, simpson)


@njit(cache=True)
def _alpha_rows_serial(
    indptr: np.ndarray,
    data: np.ndarray,
    observed: np.ndarray,
    shannon: np.ndarray,
    simpson: np.ndarray,
) -> None:  # pragma: no cover - numba
    for r in range(indptr.shape[0] - 1):
        _alpha_row(indptr, data, r, observed, shannon, simpson)


#: Below this many stored values one thread computes alpha diversity: a single pass over a table of
#: a million values takes milliseconds, less than waking threads on a busy machine.
ALPHA_PARALLEL_MIN = 1 << 20


def alpha_rows(
    indptr: np.ndarray,
    data: np.ndarray,
    observed: np.ndarray,
    shannon: np.ndarray,
    simpson: np.ndarray,
) -> None:
    """Observed features, Shannon (natural log) and Gini–Simpson of every CSR row.

    Zeros (stored or not) are ignored; a row summing to 0 gets observed 0 and NaN Shannon/Simpson.
    Runs on one thread below ``ALPHA_PARALLEL_MIN`` stored values, else on numba's threads (the
    same arithmetic per row, so the same bits either way).
    """
    kernel = _alpha_rows_serial if data.shape[0] < ALPHA_PARALLEL_MIN else _alpha_rows_parallel
    kernel(indptr, data, observed, shannon, simpson)


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
# Beta diversity: all pairs, by row tiles.
#
# The features of a table are split by prevalence (see gutskin.diversity.beta): the few present in
# many samples are stored densely (uint16/uint32/float64 values for Bray–Curtis, bitsets for
# Jaccard, float64 for the Aitchison Gram matrix, which uses BLAS), the long tail stays sparse and
# is handled through its posting lists (CSC), so only the pairs that share a tail feature cost work.
# Work on a dense pair of rows is SIMD (vpminuw / vpopcntq / dgemm), on a sparse one a scatter.
#
# A tile of `tile` consecutive rows owns the condensed slices of its pairs (i, j > i); tiles k and
# T - 1 - k run in one parallel iteration to balance the triangle. Additions happen in an order that
# does not depend on the number of threads, so results are the same bits for any thread count.
# --------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _cond_base(i: int, n: int) -> int:  # pragma: no cover - numba
    """Condensed index of pair (i, j), i < j, is ``_cond_base(i, n) + j``."""
    return n * i - (i * (i + 1)) // 2 - i - 1


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _minsum4(
    a0: np.ndarray, a1: np.ndarray, a2: np.ndarray, a3: np.ndarray, b: np.ndarray
) -> tuple:  # pragma: no cover - numba
    """Σ_f min(a_k[f], b[f]) for four rows a_k at once (b is loaded once per feature).

    Sums are returned in the arrays' dtype: exact for integers as long as they fit (callers pick
    uint16 only when every row sums to < 2^16, so no partial sum can wrap), and the narrow type lets
    LLVM use 32 uint16 lanes per AVX-512 instruction.
    """
    z = b.dtype.type(0)
    s0 = z
    s1 = z
    s2 = z
    s3 = z
    for f in range(b.shape[0]):
        y = b[f]
        x = a0[f]
        s0 += x if x < y else y
        x = a1[f]
        s1 += x if x < y else y
        x = a2[f]
        s2 += x if x < y else y
        x = a3[f]
        s3 += x if x < y else y
    return b.dtype.type(s0), b.dtype.type(s1), b.dtype.type(s2), b.dtype.type(s3)


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _minsum1(a: np.ndarray, b: np.ndarray):  # pragma: no cover - numba
    """Σ_f min(a[f], b[f]) in the arrays' dtype (see :func:`_minsum4`)."""
    s = b.dtype.type(0)
    for f in range(b.shape[0]):
        x = a[f]
        y = b[f]
        s += x if x < y else y
    return b.dtype.type(s)


@njit(cache=True)
def _first_after(cindices: np.ndarray, a: int, b: int, i: int) -> int:  # pragma: no cover - numba
    """First position in ``cindices[a:b]`` (sorted) holding a row > ``i``."""
    lo = a
    hi = b
    while lo < hi:
        mid = (lo + hi) // 2
        if cindices[mid] <= i:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _bc_tile(
    t: int,
    tile: int,
    dense: np.ndarray,
    sums: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    cdata: np.ndarray,
    accumulate: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    n = sums.shape[0]
    i0 = t * tile
    i1 = min(n - 1, i0 + tile)
    width = n - i0
    acc = np.zeros((i1 - i0, width), dtype=np.float64)
    # dense features: Σ min over the tile's rows against every later row (SIMD)
    if dense.shape[1] > 0:
        for j in range(i0 + 1, n):
            xj = dense[j]
            iend = min(i1, j)
            i = i0
            while i + 4 <= iend:
                v0, v1, v2, v3 = _minsum4(dense[i], dense[i + 1], dense[i + 2], dense[i + 3], xj)
                acc[i - i0, j - i0] = v0
                acc[i + 1 - i0, j - i0] = v1
                acc[i + 2 - i0, j - i0] = v2
                acc[i + 3 - i0, j - i0] = v3
                i += 4
            while i < iend:
                acc[i - i0, j - i0] = _minsum1(dense[i], xj)
                i += 1
    # sparse features: walk the posting list of each of the row's features (rows > i only)
    for i in range(i0, i1):
        row = acc[i - i0]
        for p in range(indptr[i], indptr[i + 1]):
            f = indices[p]
            x = data[p]
            b = cindptr[f + 1]
            for u in range(_first_after(cindices, cindptr[f], b, i), b):
                y = cdata[u]
                row[cindices[u] - i0] += x if x < y else y
    for i in range(i0, i1):
        base = _cond_base(i, n)
        row = acc[i - i0]
        si = sums[i]
        for j in range(i + 1, n):
            tot = si + sums[j]
            d = (tot - 2.0 * row[j - i0]) / tot
            if d < 0.0:
                d = 0.0
            if accumulate:
                out[base + j] += d
            else:
                out[base + j] = d


@njit(cache=True, parallel=True)
def braycurtis_tiles(
    dense: np.ndarray,
    sums: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    cdata: np.ndarray,
    tile: int,
    accumulate: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    """All-pairs Bray–Curtis, condensed: BC(i, j) = (S_i + S_j − 2 Σ_f min(x_if, x_jf)) / (S_i + S_j).

    Parameters
    ----------
    dense
        ``n x d`` values of the prevalent features (C order; ``d`` may be 0).
    sums
        Row totals S_i over *all* features (float64).
    indptr, indices, data
        CSR of the remaining (sparse) features; ``indices`` index the CSC below.
    cindptr, cindices, cdata
        CSC of the same sparse features (posting lists, rows ascending).
    tile
        Rows per tile (a multiple of 4 is best).
    accumulate
        Add the distances to ``out`` (averaging over rarefactions) instead of writing them.
    out
        Condensed float64 vector of length n (n − 1) / 2.
    """
    n = sums.shape[0]
    if n < 2:
        return
    n_tiles = (n - 1 + tile - 1) // tile
    for k in prange((n_tiles + 1) // 2):
        _bc_tile(
            k, tile, dense, sums, indptr, indices, data, cindptr, cindices, cdata, accumulate, out
        )
        k2 = n_tiles - 1 - k
        if k2 != k:
            _bc_tile(
                k2,
                tile,
                dense,
                sums,
                indptr,
                indices,
                data,
                cindptr,
                cindices,
                cdata,
                accumulate,
                out,
            )


@njit(cache=True)
def _and_popcount(a: np.ndarray, b: np.ndarray) -> np.int64:  # pragma: no cover - numba
    """|A ∩ B| of two bitsets (vectorised to ``vpopcntq`` where the CPU has it)."""
    s = np.uint64(0)
    for w in range(a.shape[0]):
        s += _popcount(a[w] & b[w])
    return np.int64(s)


@njit(cache=True)
def _jaccard_tile(
    t: int,
    tile: int,
    bits: np.ndarray,
    sizes: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    accumulate: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    n = sizes.shape[0]
    i0 = t * tile
    i1 = min(n - 1, i0 + tile)
    width = n - i0
    acc = np.zeros((i1 - i0, width), dtype=np.int64)
    if bits.shape[1] > 0:
        for j in range(i0 + 1, n):
            bj = bits[j]
            for i in range(i0, min(i1, j)):
                acc[i - i0, j - i0] = _and_popcount(bits[i], bj)
    for i in range(i0, i1):
        row = acc[i - i0]
        for p in range(indptr[i], indptr[i + 1]):
            f = indices[p]
            b = cindptr[f + 1]
            for u in range(_first_after(cindices, cindptr[f], b, i), b):
                row[cindices[u] - i0] += 1
    for i in range(i0, i1):
        base = _cond_base(i, n)
        row = acc[i - i0]
        si = sizes[i]
        for j in range(i + 1, n):
            x = row[j - i0]
            union = si + sizes[j] - x
            d = (union - x) / union
            if accumulate:
                out[base + j] += d
            else:
                out[base + j] = d


@njit(cache=True, parallel=True)
def jaccard_tiles(
    bits: np.ndarray,
    sizes: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    tile: int,
    accumulate: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    """All-pairs binary Jaccard, condensed: d = (|A ∪ B| − |A ∩ B|) / |A ∪ B| (scipy's arithmetic).

    ``bits`` (``n x w`` uint64) holds the presence of the prevalent features, ``sizes`` the number of
    features present in each row (all features), ``indptr``/``indices`` and ``cindptr``/``cindices``
    the CSR and CSC patterns of the remaining features. Intersections are exact integers.
    """
    n = sizes.shape[0]
    if n < 2:
        return
    n_tiles = (n - 1 + tile - 1) // tile
    for k in prange((n_tiles + 1) // 2):
        _jaccard_tile(k, tile, bits, sizes, indptr, indices, cindptr, cindices, accumulate, out)
        k2 = n_tiles - 1 - k
        if k2 != k:
            _jaccard_tile(
                k2, tile, bits, sizes, indptr, indices, cindptr, cindices, accumulate, out
            )


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
def euclidean_block(
    gram: np.ndarray,
    r0: int,
    sqnorms: np.ndarray,
    s_indptr: np.ndarray,
    s_indices: np.ndarray,
    s_data: np.ndarray,
    cindptr: np.ndarray,
    cindices: np.ndarray,
    cdata: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    rel_tol: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Euclidean distances of rows ``r0 .. r0 + len(gram) - 1`` to every later row.

    ``gram[b, j - r0]`` holds the dense-feature part of the dot product of rows ``r0 + b`` and ``j``
    (from BLAS); the sparse features' part is added here from their posting lists
    (``s_*``: CSR, ``c*``: CSC). Then d = √max(‖x‖² + ‖y‖² − 2 x·y, 0); where that difference is
    below ``rel_tol (‖x‖² + ‖y‖²)`` the Gram form has lost its digits to cancellation (near-identical
    rows), so the distance is recomputed exactly from the full CSR rows (``indptr``, ``indices``,
    ``data``, sorted indices).
    """
    n = sqnorms.shape[0]
    for b in prange(gram.shape[0]):
        i = r0 + b
        row = gram[b]
        for p in range(s_indptr[i], s_indptr[i + 1]):
            f = s_indices[p]
            x = s_data[p]
            e = cindptr[f + 1]
            for u in range(_first_after(cindices, cindptr[f], e, i), e):
                row[cindices[u] - r0] += x * cdata[u]
        base = _cond_base(i, n)
        ni = sqnorms[i]
        for j in range(i + 1, n):
            tot = ni + sqnorms[j]
            d2 = tot - 2.0 * row[j - r0]
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


# --------------------------------------------------------------------------------------------------
# Splitting a CSR matrix into dense (prevalent) and sparse (tail) features
# --------------------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def scatter_dense(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, col_map: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """``out[i, col_map[f]] = x_if`` for every stored entry whose feature has ``col_map[f] >= 0``."""
    for i in prange(indptr.shape[0] - 1):
        for p in range(indptr[i], indptr[i + 1]):
            c = col_map[indices[p]]
            if c >= 0:
                out[i, c] = data[p]


@njit(cache=True, parallel=True)
def scatter_bits(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, col_map: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """Set bit ``col_map[f]`` of row ``i`` of ``out`` (uint64 words) for every ``x_if > 0``."""
    one = np.uint64(1)
    for i in prange(indptr.shape[0] - 1):
        for p in range(indptr[i], indptr[i + 1]):
            c = col_map[indices[p]]
            if c >= 0 and data[p] > 0:
                out[i, c >> 6] |= one << np.uint64(c & 63)


@njit(cache=True)
def add_into(acc: np.ndarray, x: np.ndarray) -> None:  # pragma: no cover - numba
    """``acc += x`` in place (sequential, so the same bits for any thread count)."""
    for t in range(acc.shape[0]):
        acc[t] += x[t]
