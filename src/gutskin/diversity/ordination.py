"""Principal coordinates analysis (PCoA) of a condensed distance vector, without an n x n matrix.

PCoA needs the leading eigenpairs of the Gower-centred matrix ``B = −½ J D² J`` (``D²`` the squared
distances, ``J = I − 11ᵀ/n``). scikit-bio builds ``D`` and ``B`` as n x n float64 matrices (7.2 GB
each at 30,000 samples) and its full ``eigh`` takes minutes at 10,000 samples. Here ``B`` is never
formed: products ``B V`` with a thin block ``V`` (n x b) are computed from the condensed vector in
row blocks (two BLAS calls per block, ``O(block x n)`` extra memory), and the eigenpairs come from a
randomised block Krylov method (Musco & Musco 2015) with Rayleigh–Ritz extraction and explicit
residual checks:

1. ``V₀`` = orthonormalised Gaussian block (seeded), ``b = dimensions + oversample`` columns;
2. each sweep multiplies the newest block by ``B`` and appends it, re-orthogonalised, to the basis;
3. Rayleigh–Ritz on the basis gives Ritz pairs ``(θ, x)``; iteration stops when every one of the
   requested pairs has ``‖B x − θ x‖ ≤ tol · |θ₁|`` (default ``tol`` = 1e-10), so the result is the
   exact decomposition's to about ``tol / gap`` (checked against ``eigh`` in the tests and the
   benchmark); when the basis grows past ``MAX_BASIS`` columns it restarts from the current Ritz
   vectors.

The eigenvalues wanted are the largest *algebraic* ones (non-Euclidean distances such as
Bray–Curtis give negative eigenvalues too). Up to ``DENSE_GOWER_BYTES`` (4,096 samples) ``B`` is
formed once and the same iteration multiplies it with BLAS; tables of at most ``DENSE_MAX`` samples
are decomposed exactly with LAPACK (``numpy.linalg.eigh`` on ``B``). ``method="eigh"`` is
scikit-bio's exact full decomposition, kept for checking.

Conventions follow scikit-bio: axes with a negative eigenvalue get eigenvalue 0 and all-zero
coordinates; the proportion of variance explained is relative to the trace of ``B`` (the sum of all
its eigenvalues, negative ones included), ``(1/n) Σ_{i<j} d_ij²``. Axes are oriented so that the
coordinate with the largest absolute value is positive (eigenvectors have no intrinsic sign), which
makes results comparable between methods and runs.

Memory at n samples: the condensed vector (8 n²/2 bytes, the caller's), one row block of ``D²``
(``BLOCK_ENTRIES`` float64) and the Krylov basis (2 x n x ``MAX_BASIS`` float64): about 0.5 GB at
30,000 samples besides the distances.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from numba import njit, prange

from ..errors import InputError
from ._common import positive_int

__all__ = [
    "BLOCK_ENTRIES",
    "DENSE_GOWER_BYTES",
    "DENSE_MAX",
    "MAX_BASIS",
    "OVERSAMPLE",
    "TOL",
    "pcoa",
]

#: Extra columns of the Krylov block beyond the requested axes.
OVERSAMPLE = 20
#: Stop when every requested Ritz pair has residual ``‖Bx − θx‖ ≤ TOL · |θ₁|``.
TOL = 1e-10
#: Most sweeps (products with ``B``) before giving up on ``TOL`` (the best pairs are returned).
MAX_SWEEPS = 200
#: Krylov basis columns before a restart.
MAX_BASIS = 1000
#: Up to this many samples, ``B`` is built and decomposed exactly.
DENSE_MAX = 1000
#: Entries of one dense row block of ``D²`` (float64).
BLOCK_ENTRIES = 1 << 23
#: Up to this size (bytes), ``B`` is formed once as a dense matrix and multiplied by BLAS
#: (4,096 samples); above it, every product is computed from the condensed vector by row blocks.
DENSE_GOWER_BYTES = 128 << 20


def _empty(ids: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    coords = pd.DataFrame(index=pd.Index(ids, name="sample_id"), dtype=float)
    return coords, pd.Series(dtype=float, name="proportion_explained")


@njit(cache=True, parallel=True)
def _fill_sq_block(cond: np.ndarray, n: int, r0: int, r1: int, out: np.ndarray) -> None:
    """``out[i − r0, j − r0] = d_ij²`` for r0 ≤ i < r1 and j > i; 0 elsewhere (strict upper part)."""
    for i in prange(r0, r1):
        row = out[i - r0]
        for j in range(0, i - r0 + 1):
            row[j] = 0.0
        base = n * i - (i * (i + 1)) // 2 - i - 1
        for j in range(i + 1, n):
            d = cond[base + j]
            row[j - r0] = d * d


def _sq_matmat(cond: np.ndarray, n: int, v: np.ndarray, block_entries: int) -> np.ndarray:
    """``D² @ v`` from the condensed distances, by row blocks of the strict upper triangle U.

    ``D² = U + Uᵀ``; for the block of rows ``r0 .. r1`` of U (columns ``r0 ..``; the rest is 0):
    ``(U v)[r0:r1] = W v[r0:]`` and ``(Uᵀ v)[r0:] += Wᵀ v[r0:r1]``.
    """
    out = np.zeros((n, v.shape[1]))
    step = max(1, min(n, block_entries // max(n, 1)))
    buf = np.empty(step * n)
    for r0 in range(0, n - 1, step):
        r1 = min(n - 1, r0 + step)
        w = buf[: (r1 - r0) * (n - r0)].reshape(r1 - r0, n - r0)
        _fill_sq_block(cond, n, r0, r1, w)
        out[r0:r1] += w @ v[r0:]
        out[r0:] += w.T @ v[r0:r1]
    return out


def _gower_matmat(cond: np.ndarray, n: int, v: np.ndarray, block_entries: int) -> np.ndarray:
    """``B @ v`` with ``B = −½ J D² J``, never forming B."""
    vc = v - v.mean(axis=0)
    y = _sq_matmat(cond, n, vc, block_entries)
    y -= y.mean(axis=0)
    y *= -0.5
    return y


def _orthonormal(y: np.ndarray, basis: np.ndarray | None) -> np.ndarray:
    """Columns of ``y`` orthonormalised against ``basis`` and each other.

    Projected out twice (CGS2, "twice is enough"); columns left with less than 1e-10 of their norm
    lie in the span already and are dropped (an invariant subspace: the Krylov space is exhausted).
    """
    norms = np.linalg.norm(y, axis=0)
    if basis is not None and basis.shape[1]:
        for _ in range(2):
            y = y - basis @ (basis.T @ y)
    keep = np.linalg.norm(y, axis=0) > 1e-10 * np.maximum(norms, np.finfo(float).tiny)
    y, r = np.linalg.qr(y[:, keep])
    diag = np.abs(np.diag(r))
    return y[:, diag > 1e-10 * max(1.0, float(diag.max(initial=0.0)))]


def _top_eigh(t: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of the small symmetric matrix ``t``, largest first."""
    from scipy.linalg import eigh

    m = t.shape[0]
    k = min(k, m)
    theta, s = eigh(0.5 * (t + t.T), subset_by_index=[m - k, m - 1])
    return theta[::-1], s[:, ::-1]


def _krylov_eigs(
    matmat: Callable[[np.ndarray], np.ndarray],
    n: int,
    k: int,
    block: int,
    seed: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Leading ``k`` algebraic eigenpairs of the symmetric operator ``matmat``.

    Block Krylov with Rayleigh–Ritz: the basis ``V``, its products ``BV`` and the projected matrix
    ``T = Vᵀ B V`` grow by one block per sweep (T by its new columns only). Returns ``(values,
    vectors, sweeps, worst relative residual)``.
    """
    rng = np.random.default_rng(seed)
    cap = int(min(n, max(MAX_BASIS, 3 * block)))
    # column-major, so that every basis[:, :m] is one contiguous block for BLAS
    basis = np.empty((n, cap), order="F")
    b_basis = np.empty((n, cap), order="F")
    t = np.empty((cap, cap))
    m = 0

    def append(q: np.ndarray, bq: np.ndarray) -> None:
        nonlocal m
        c = q.shape[1]
        basis[:, m : m + c] = q
        b_basis[:, m : m + c] = bq
        t[: m + c, m : m + c] = basis[:, : m + c].T @ bq
        t[m : m + c, :m] = t[:m, m : m + c].T
        m += c

    q = _orthonormal(rng.standard_normal((n, block)), None)
    bq = matmat(q)
    append(q, bq)
    sweeps = 1
    since_check = 0.0  # flops of products with B since the last Rayleigh–Ritz check
    theta, x, worst = np.zeros(0), np.zeros((n, 0)), float("inf")
    while True:
        # A Rayleigh–Ritz check costs ~4 m³ + 4 n m k flops; on small problems that exceeds a
        # product with B (2 n² b), so it is done only once the products since the last check cost
        # as much (deterministic: flop counts, not clocks). At American-Gut scale: every sweep.
        rr_flops = 4.0 * m**3 + 4.0 * n * m * k
        last = sweeps >= MAX_SWEEPS or m >= n or m + block > cap
        if since_check >= rr_flops or last or sweeps == 1:
            theta, s = _top_eigh(t[:m, :m], k)
            x = basis[:, :m] @ s
            res = np.linalg.norm(b_basis[:, :m] @ s - x * theta, axis=0)
            worst = float(res.max() / max(abs(float(theta[0])), np.finfo(float).tiny))
            since_check = 0.0
            if worst <= tol or sweeps >= MAX_SWEEPS or m >= n:
                return theta, x, sweeps, worst
        if m + block > cap:
            # thick restart from the best 2 x block Ritz vectors (and their products)
            r = min(m, 2 * block)
            _, sr = _top_eigh(t[:m, :m], r)
            keep_x = basis[:, :m] @ sr
            keep_bx = b_basis[:, :m] @ sr
            m = 0
            append(keep_x, keep_bx)
            bq = keep_bx[:, :block]
        q = _orthonormal(bq, basis[:, :m])
        if q.shape[1] == 0:
            theta, s = _top_eigh(t[:m, :m], k)
            x = basis[:, :m] @ s
            return theta, x, sweeps, worst
        bq = matmat(q)
        since_check += 2.0 * n * n * q.shape[1]
        sweeps += 1
        append(q, bq)


def _dense_gower(cond: np.ndarray, n: int) -> np.ndarray:
    from scipy.spatial.distance import squareform

    b = squareform(cond)
    b *= b
    b -= b.mean(axis=0)
    b -= b.mean(axis=1)[:, None]
    b *= -0.5
    return b


def _check_condensed(cond: np.ndarray) -> None:
    step = 1 << 24
    for a in range(0, cond.size, step):
        part = cond[a : a + step]
        if not np.isfinite(part).all() or part.min() < 0:
            raise InputError(None, "distances must be finite and non-negative for PCoA")


def pcoa(
    condensed: np.ndarray,
    ids: Sequence[str] | np.ndarray,
    dimensions: int = 10,
    *,
    seed: int = 0,
    method: str = "fsvd",
    oversample: int = OVERSAMPLE,
    tol: float = TOL,
    block_entries: int = BLOCK_ENTRIES,
) -> tuple[pd.DataFrame, pd.Series]:
    """PCoA of a condensed distance vector.

    Parameters
    ----------
    condensed
        Distances in ``scipy.spatial.distance.squareform`` order over ``ids``.
    ids
        Sample ids (n of them; ``len(condensed) == n (n - 1) / 2``).
    dimensions
        Number of axes to compute; reduced to ``n - 1`` for small n.
    seed
        Seed of the random starting block (same seed, same result).
    method
        ``"fsvd"`` (default): only the requested axes, by the randomised block Krylov method of the
        module docstring (exact LAPACK ``eigh`` for n ≤ ``DENSE_MAX``); ``"eigh"``: scikit-bio's
        exact full decomposition (n x n matrices; for checking).
    oversample
        Extra columns of the Krylov block (accuracy per sweep vs cost per sweep).
    tol
        Residual tolerance, relative to the largest eigenvalue.
    block_entries
        Entries of one dense row block of ``D²`` (memory vs BLAS efficiency).

    Returns
    -------
    coordinates : pandas.DataFrame
        Index ``sample_id``, columns ``PC1`` .. ``PCk``. Axes with a negative eigenvalue are all 0
        (scikit-bio's convention). Empty (no columns) when there are fewer than 2 samples.
    proportion_explained : pandas.Series
        Index ``PC1`` .. ``PCk``: eigenvalue / trace of the Gower-centred matrix (0 for an axis with
        a negative eigenvalue).

    Raises
    ------
    InputError
        If the vector length does not match the ids, or it holds NaN, infinite or negative values.
    """
    ids_arr = np.asarray(ids, dtype=str)
    cond = np.asarray(condensed, dtype=np.float64)
    n = ids_arr.size
    if cond.ndim != 1 or cond.size != n * (n - 1) // 2:
        raise InputError(
            None,
            f"condensed distances have {cond.size} entries; {n} ids need {n * (n - 1) // 2}",
            hint="pass the ids that the distance vector was computed for",
        )
    _check_condensed(cond)
    positive_int(dimensions, "PCoA dimensions", "key pcoa_dimensions")
    if method not in ("fsvd", "eigh"):
        raise InputError(None, f"unknown PCoA method {method!r}", hint="use 'fsvd' or 'eigh'")
    if n < 2:
        return _empty(ids_arr)
    k = int(min(dimensions, n - 1))
    cond = np.ascontiguousarray(cond)
    if method == "eigh":
        from skbio import DistanceMatrix
        from skbio.stats.ordination import pcoa as skbio_pcoa

        with warnings.catch_warnings():
            # skbio warns about large negative eigenvalues (non-Euclidean metrics); the affected
            # axes are returned as 0, as documented above.
            warnings.simplefilter("ignore", RuntimeWarning)
            res = skbio_pcoa(DistanceMatrix(cond, ids=list(ids_arr)), method="eigh", dimensions=k)
        eig = np.asarray(res.eigvals, dtype=np.float64)[:k]
        vecs = res.samples.iloc[:, :k].to_numpy(dtype=np.float64, copy=True)
        coords = vecs
    else:
        if n <= DENSE_MAX:
            w, v = np.linalg.eigh(_dense_gower(cond, n))
            order = np.argsort(w)[::-1][:k]
            eig, vecs = w[order], v[:, order]
        else:
            block = int(min(n, k + max(1, int(oversample))))
            if n * n * 8 <= DENSE_GOWER_BYTES:
                gower = _dense_gower(cond, n)

                def matmat(v: np.ndarray) -> np.ndarray:
                    return gower @ v
            else:

                def matmat(v: np.ndarray) -> np.ndarray:
                    return _gower_matmat(cond, n, v, block_entries)

            eig, vecs, _, _ = _krylov_eigs(matmat, n, k, block, seed, float(tol))
        eig = np.where(eig > 0, eig, 0.0)
        coords = vecs * np.sqrt(eig)
    # Proportion explained = eigenvalue / trace of the Gower-centred matrix, the sum of ALL its
    # eigenvalues (negative ones included): trace(-1/2 J D² J) = (1/n) Σ_{i<j} d_ij².
    trace = float(np.dot(cond, cond)) / n
    prop = eig / trace if trace > 0 else np.zeros(k)
    for c in range(coords.shape[1]):
        col = coords[:, c]
        mag = np.abs(col)
        # first entry within rounding of the largest magnitude (ties: the first sample decides)
        lead = int(np.flatnonzero(mag >= mag.max() * (1 - 1e-9))[0]) if col.size else 0
        if col.size and col[lead] < 0:
            coords[:, c] = -col
    names = [f"PC{i}" for i in range(1, k + 1)]
    coordinates = pd.DataFrame(coords, index=pd.Index(ids_arr, name="sample_id"), columns=names)
    proportion = pd.Series(prop, index=names, name="proportion_explained")
    return coordinates, proportion
