"""Concordance between paired body sites of the same subjects ("mirroring" claims).

* :func:`spearman_permutation` — Spearman's rho of per-subject values (e.g. gut vs skin Shannon)
  with a permutation p-value and a Fisher-z CI using the Bonett–Wright SE.
* :func:`mantel` and :func:`partial_mantel` — correlation between two (three) subject-matched
  distance matrices, with permutation p-values (optionally restricted within strata such as run
  centre) and a subject-bootstrap CI. Statistics equal ``vegan::mantel`` / ``vegan::mantel.partial``
  and ``skbio.stats.distance.mantel``.
* :func:`protest` — symmetric Procrustes (``vegan::protest``): m², r = sqrt(1 - m²), permutation p.
* :func:`cross_site_distances` — within- vs between-subject distances across two sites (e.g. each
  subject's gut sample to their own skin sample vs to other subjects' skin samples), with a
  permutation p-value (subject labels of the second site permuted, optionally within strata; exact
  enumeration when there are few permutations) and a subject-bootstrap CI.

Conventions (scikit-bio and vegan): a permutation p-value is
``(1 + #{permuted statistic at least as extreme as observed}) / (1 + permutations)``; "at least as
extreme" allows a tolerance of ``sqrt(machine epsilon)`` as vegan does, so ties are counted despite
rounding. Permutations and bootstrap draws come from independent streams derived from ``seed``
(:class:`numpy.random.SeedSequence`), so changing ``n_boot`` never changes the p-value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange
from scipy import stats
from scipy.spatial.distance import squareform

from ._util import (
    JsonMixin,
    StatsInputError,
    as_vector,
    check_count,
    derive_rng,
    permutation_matrix,
    strata_codes,
)

__all__ = [
    "CorrelationResult",
    "CrossSiteResult",
    "MantelResult",
    "ProcrustesResult",
    "cross_site_distances",
    "mantel",
    "partial_mantel",
    "procrustes",
    "protest",
    "spearman_permutation",
]

#: Complete enumeration of the (within-strata) permutations is used when there are at most this
#: many of them and no more than ``permutations`` (vegan's ``minperm`` for ``how()`` is 5040).
EXACT_MAX = 5040
#: Tolerance when comparing permuted with observed statistics (vegan's ``sqrt(.Machine$double.eps)``).
EPS = math.sqrt(np.finfo(float).eps)
#: Permutations generated per block (bounds memory at ~16 bytes × block × n).
_BLOCK = 1000
_ALTERNATIVES = ("two-sided", "greater", "less")


# ------------------------------------------------------------------------------------------------
# result types
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorrelationResult(JsonMixin):
    """Spearman correlation with a permutation p-value.

    Attributes
    ----------
    rho
        Spearman's rho (Pearson correlation of average-tie ranks).
    p_value
        Permutation p-value (``None`` when ``permutations == 0``).
    ci95, ci90
        Fisher-z intervals with the Bonett–Wright SE ``sqrt((1 + rho²/2) / (n - 3))``.
    n
        Number of pairs.
    permutations
        Number of permutations.
    alternative
        ``two-sided``, ``greater`` or ``less``.
    n_strata
        Number of strata permutations were restricted to (``None``: unrestricted).
    method
        ``"spearman"``.
    """

    rho: float
    p_value: float | None
    ci95: tuple[float, float]
    ci90: tuple[float, float]
    n: int
    permutations: int
    alternative: str
    n_strata: int | None
    method: str = "spearman"


@dataclass(frozen=True)
class MantelResult(JsonMixin):
    """(Partial) Mantel test.

    Attributes
    ----------
    r
        Mantel statistic: Pearson or Spearman correlation of the distances (partial correlation
        given the third matrix for :func:`partial_mantel`).
    p_value
        Permutation p-value (``None`` when ``permutations == 0``).
    n
        Number of subjects (rows of each matrix).
    method
        ``pearson`` or ``spearman``.
    permutations, alternative
        As requested.
    ci95, ci90
        Percentile subject-bootstrap intervals for ``r`` (``None`` if ``n_boot == 0`` or too few
        valid replicates).
    n_boot
        Bootstrap replicates that gave a defined ``r`` (degenerate resamples are skipped).
    n_strata
        Number of strata (``None``: unrestricted permutations).
    partial
        ``True`` for :func:`partial_mantel`.
    """

    r: float
    p_value: float | None
    n: int
    method: str
    permutations: int
    alternative: str
    ci95: tuple[float, float] | None
    ci90: tuple[float, float] | None
    n_boot: int
    n_strata: int | None
    partial: bool = False


@dataclass(frozen=True)
class ProcrustesResult(JsonMixin):
    """Symmetric Procrustes analysis with a PROTEST permutation p-value.

    Attributes
    ----------
    m2
        Symmetric Procrustes sum of squares (vegan's ``ss``; ``scipy.spatial.procrustes``'
        ``disparity``), in [0, 1]; 0 = identical configurations.
    r
        ``sqrt(1 - m2)`` (vegan's ``t0``, the "Procrustes correlation").
    p_value
        ``(1 + #{r_perm >= r}) / (1 + permutations)`` with rows of ``y`` permuted.
    n
        Number of subjects (rows).
    dims_x, dims_y
        Columns (ordination axes) used from each configuration.
    permutations
        As requested.
    ci95, ci90
        Percentile subject-bootstrap intervals for ``r`` (``None`` if ``n_boot == 0``).
    n_boot
        Valid bootstrap replicates.
    n_strata
        Number of strata (``None``: unrestricted).
    """

    m2: float
    r: float
    p_value: float | None
    n: int
    dims_x: int
    dims_y: int
    permutations: int
    ci95: tuple[float, float] | None
    ci90: tuple[float, float] | None
    n_boot: int
    n_strata: int | None


@dataclass(frozen=True)
class CrossSiteResult(JsonMixin):
    """Within- vs between-subject distances across two sites (:func:`cross_site_distances`).

    Attributes
    ----------
    difference
        ``within_mean - between_mean``; negative = a subject's second-site sample is closer to their
        own first-site sample than other subjects' second-site samples are.
    within_mean
        Mean of ``d(x_i, y_i)`` over subjects.
    between_mean
        Mean of ``d(x_i, y_j)`` over ordered pairs ``i != j``.
    p_value
        Permutation p-value of ``difference`` (``None`` when ``permutations == 0``).
    exact
        ``True`` if every (within-strata) permutation was enumerated: then
        ``p = #{permutations at least as extreme, the identity included} / #permutations``;
        otherwise ``p = (1 + #extreme) / (1 + permutations)`` over random permutations.
    null_mean
        Mean of ``difference`` over all (within-strata) permutations of the subject labels (0 without
        strata); the two-sided test measures extremeness from it.
    ci95, ci90
        Percentile subject-bootstrap intervals for ``difference`` (``None`` if ``n_boot == 0`` or
        too few valid replicates).
    n
        Number of subjects.
    permutations
        Random permutations requested (the number enumerated when ``exact``).
    alternative
        ``two-sided``, ``less`` (own sample closer) or ``greater``.
    n_boot
        Valid bootstrap replicates.
    n_strata
        Number of strata (``None``: unrestricted).
    """

    difference: float
    within_mean: float
    between_mean: float
    p_value: float | None
    exact: bool
    null_mean: float
    ci95: tuple[float, float] | None
    ci90: tuple[float, float] | None
    n: int
    permutations: int
    alternative: str
    n_boot: int
    n_strata: int | None


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _check_alternative(alternative: str) -> str:
    if alternative not in _ALTERNATIVES:
        raise StatsInputError(
            f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}",
            where="alternative",
        )
    return alternative


def _count_extreme(perm: np.ndarray, observed: float, alternative: str) -> int:
    if alternative == "two-sided":
        return int(np.sum(np.abs(perm) >= abs(observed) - EPS))
    if alternative == "greater":
        return int(np.sum(perm >= observed - EPS))
    return int(np.sum(perm <= observed + EPS))


def _standardise(v: np.ndarray, name: str) -> np.ndarray:
    c = v - v.mean()
    norm = math.sqrt(float(np.sum(c * c)))
    if norm == 0 or not math.isfinite(norm):
        raise StatsInputError(
            f"{name} is constant: a correlation with it is undefined",
            where=name,
            hint="check that the values (or distances) differ between subjects",
        )
    return c / norm


def _fisher_ci(rho: float, n: int, level: float) -> tuple[float, float]:
    if abs(rho) >= 1.0:
        return (rho, rho)
    se = math.sqrt((1 + rho * rho / 2) / (n - 3))
    z = math.atanh(rho)
    q = float(stats.norm.ppf(0.5 + level / 2))
    return (math.tanh(z - q * se), math.tanh(z + q * se))


def _percentile_ci(values: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    lo, hi = np.quantile(values, [a, 1 - a])
    return (float(lo), float(hi))


def _iter_perm_blocks(
    n: int, permutations: int, rng: np.random.Generator, codes: np.ndarray | None
):
    done = 0
    while done < permutations:
        size = min(_BLOCK, permutations - done)
        yield permutation_matrix(n, size, rng, codes)
        done += size


def _as_square(name: str, dm: Any) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Square float64 distance matrix (validated) and the ids if ``dm`` carried them."""
    ids = None
    if hasattr(dm, "data") and hasattr(dm, "ids"):  # skbio DistanceMatrix
        ids = tuple(str(i) for i in dm.ids)
        dm = dm.data
    arr = np.asarray(dm, dtype=np.float64)
    if arr.ndim == 1:
        m = arr.shape[0]
        n = round((1 + math.sqrt(1 + 8 * m)) / 2)
        if n * (n - 1) // 2 != m:
            raise StatsInputError(
                f"{name} is 1-D with {m} entries, which is not a condensed distance matrix "
                "(n(n-1)/2 entries)",
                where=name,
            )
        if not np.all(np.isfinite(arr)):
            raise StatsInputError(f"{name} has missing or non-finite distances", where=name)
        return squareform(arr, checks=False), ids
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise StatsInputError(
            f"{name} must be a square or condensed distance matrix, got shape {arr.shape}",
            where=name,
        )
    if not np.all(np.isfinite(arr)):
        raise StatsInputError(f"{name} has missing or non-finite distances", where=name)
    scale = max(1.0, float(np.max(np.abs(arr))) if arr.size else 1.0)
    if not np.allclose(arr, arr.T, rtol=0, atol=1e-10 * scale):
        raise StatsInputError(f"{name} is not symmetric", where=name)
    if np.any(np.abs(np.diag(arr)) > 1e-10 * scale):
        raise StatsInputError(f"{name} has a non-zero diagonal", where=name)
    return arr, ids


def _matched_squares(named: Sequence[tuple[str, Any]]) -> list[np.ndarray]:
    mats = []
    first_ids: tuple[str, ...] | None = None
    first_name = ""
    n0 = None
    for name, dm in named:
        sq, ids = _as_square(name, dm)
        if n0 is None:
            n0 = sq.shape[0]
        elif sq.shape[0] != n0:
            raise StatsInputError(
                f"{name} has {sq.shape[0]} subjects but {named[0][0]} has {n0}; the matrices "
                "must hold the same subjects in the same order",
                where=name,
            )
        if ids is not None:
            if first_ids is None:
                first_ids, first_name = ids, name
            elif ids != first_ids:
                raise StatsInputError(
                    f"{name} and {first_name} list different subject ids (or a different order)",
                    where=name,
                    hint="reorder both matrices to the same subject order first",
                )
        mats.append(sq)
    assert n0 is not None
    if n0 < 3:
        raise StatsInputError(
            f"a Mantel test needs at least 3 subjects, got {n0}", where=named[0][0]
        )
    return mats


def _condensed(sq: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(sq.shape[0], 1)
    return sq[iu]


def _transform(v: np.ndarray, method: str) -> np.ndarray:
    return stats.rankdata(v) if method == "spearman" else v


@njit(cache=True, parallel=True)
def _perm_dot(xs: np.ndarray, ys: np.ndarray, perms: np.ndarray) -> np.ndarray:  # pragma: no cover
    """For each permutation p: sum_{i<j} xs[p_i, p_j] * ys[i, j] (numba).

    Permutations run in parallel over numba's threads; each one's sum is accumulated serially in a fixed
    order and written to its own slot, so the result is the same for any thread count.
    """
    n_perm, n = perms.shape
    out = np.empty(n_perm)
    for k in prange(n_perm):
        p = perms[k]
        s = 0.0
        for i in range(n - 1):
            row = xs[p[i]]
            for j in range(i + 1, n):
                s += row[p[j]] * ys[i, j]
        out[k] = s
    return out


@njit(cache=True, parallel=True)
def _perm_dot2(
    xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, perms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Like :func:`_perm_dot` for two targets at once (partial Mantel)."""
    n_perm, n = perms.shape
    out_y = np.empty(n_perm)
    out_z = np.empty(n_perm)
    for k in prange(n_perm):
        p = perms[k]
        sy = 0.0
        sz = 0.0
        for i in range(n - 1):
            row = xs[p[i]]
            for j in range(i + 1, n):
                v = row[p[j]]
                sy += v * ys[i, j]
                sz += v * zs[i, j]
        out_y[k] = sy
        out_z[k] = sz
    return out_y, out_z


def _bootstrap_indices(n: int, rng: np.random.Generator, codes: np.ndarray | None) -> np.ndarray:
    """Resample subjects with replacement (within strata, keeping their sizes, if given)."""
    if codes is None:
        return rng.integers(0, n, n)
    idx = np.empty(n, dtype=np.int64)
    for s in np.unique(codes):
        members = np.flatnonzero(codes == s)
        idx[members] = members[rng.integers(0, members.size, members.size)]
    return idx


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product of two vectors without BLAS (multi-threaded BLAS is slow on a busy machine)."""
    return float(np.sum(a * b))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ca = a - a.mean()
    cb = b - b.mean()
    den = math.sqrt(_dot(ca, ca) * _dot(cb, cb))
    if den == 0:
        return math.nan
    return max(-1.0, min(1.0, _dot(ca, cb) / den))


def _dense_ranks(sq: np.ndarray) -> tuple[np.ndarray, int]:
    """Square matrix of dense ranks (0..K-1, ties share a rank) of the off-diagonal distances."""
    cond = _condensed(sq)
    uniq, inv = np.unique(cond, return_inverse=True)
    return squareform(inv.astype(np.float64), checks=False).astype(np.int64), int(uniq.size)


def _ranks_from_dense(u: np.ndarray, k: int) -> np.ndarray:
    """Average-tie ranks (1-based, as ``scipy.stats.rankdata``) of values with dense ranks ``u``."""
    counts = np.bincount(u, minlength=k)
    below = np.cumsum(counts) - counts
    return below[u] + (counts[u] + 1) / 2.0


def _partial(rxy: float, rxz: float, ryz: float) -> float:
    den = math.sqrt((1 - rxz * rxz) * (1 - ryz * ryz))
    if den == 0 or not math.isfinite(den):
        return math.nan
    return max(-1.0, min(1.0, (rxy - rxz * ryz) / den))


def _bootstrap_mantel(
    mats: list[np.ndarray],
    method: str,
    n_boot: int,
    rng: np.random.Generator,
    codes: np.ndarray | None,
) -> tuple[tuple[float, float] | None, tuple[float, float] | None, int]:
    n = mats[0].shape[0]
    iu0, iu1 = np.triu_indices(n, 1)
    # Spearman: rank each resample by counting over precomputed dense ranks (much faster than
    # re-sorting); identical to scipy.stats.rankdata(method="average") on the resampled values.
    dense = [_dense_ranks(m) for m in mats] if method == "spearman" else None
    reps = []
    for _ in range(n_boot):
        idx = _bootstrap_indices(n, rng, codes)
        a, b = idx[iu0], idx[iu1]
        keep = a != b  # a subject paired with itself has distance 0 in every matrix: drop
        a, b = a[keep], b[keep]
        if a.size < 3:
            continue
        if dense is None:
            vals = [m[a, b] for m in mats]
        else:
            vals = [_ranks_from_dense(u[a, b], k) for u, k in dense]
        if len(vals) == 2:
            r = _corr(vals[0], vals[1])
        else:
            r = _partial(_corr(vals[0], vals[1]), _corr(vals[0], vals[2]), _corr(vals[1], vals[2]))
        if math.isfinite(r):
            reps.append(r)
    if len(reps) < max(20, n_boot // 2):
        return None, None, len(reps)
    arr = np.asarray(reps)
    return _percentile_ci(arr, 0.95), _percentile_ci(arr, 0.90), len(reps)


# ------------------------------------------------------------------------------------------------
# Spearman with permutation p
# ------------------------------------------------------------------------------------------------
def spearman_permutation(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    permutations: int = 9999,
    seed: int | np.random.SeedSequence | None = None,
    strata: Sequence[Any] | np.ndarray | None = None,
    alternative: str = "two-sided",
) -> CorrelationResult:
    """Spearman's rho between paired values with a permutation p-value.

    Parameters
    ----------
    x, y
        Paired values (same subject order), finite, at least 4 pairs.
    permutations
        Number of random permutations of ``y`` (0: no p-value).
    seed
        Seed (int or :class:`numpy.random.SeedSequence`); pass the configured seed for
        reproducible p-values.
    strata
        Optional stratum per pair (e.g. run centre): ``y`` is permuted only within strata.
    alternative
        ``two-sided`` (default; ``|rho_perm| >= |rho|``), ``greater`` or ``less``.

    Returns
    -------
    CorrelationResult
        ``rho``; ``p = (1 + #extreme) / (1 + permutations)``; 95 % and 90 % CIs from Fisher's z
        with the Bonett & Wright (2000) SE ``sqrt((1 + rho²/2) / (n - 3))``; ``n``.
    """
    xa = as_vector("x", x)
    ya = as_vector("y", y)
    if xa.size != ya.size:
        raise StatsInputError(
            f"x and y must have the same length (pairs), got {xa.size} and {ya.size}", where="x, y"
        )
    n = int(xa.size)
    if n < 4:
        raise StatsInputError(
            f"too few pairs (n = {n}); Spearman with a Fisher-z CI needs at least 4", where="x, y"
        )
    permutations = check_count("permutations", permutations)
    alternative = _check_alternative(alternative)
    codes = strata_codes(strata, n)
    xs = _standardise(stats.rankdata(xa), "x")
    ys = _standardise(stats.rankdata(ya), "y")
    rho = float(np.clip(_dot(xs, ys), -1.0, 1.0))
    p_value = None
    if permutations:
        rng = derive_rng(seed, 0)
        count = 0
        for block in _iter_perm_blocks(n, permutations, rng, codes):
            count += _count_extreme(np.einsum("kn,n->k", ys[block], xs), rho, alternative)
        p_value = (count + 1) / (permutations + 1)
    return CorrelationResult(
        rho=rho,
        p_value=p_value,
        ci95=_fisher_ci(rho, n, 0.95),
        ci90=_fisher_ci(rho, n, 0.90),
        n=n,
        permutations=permutations,
        alternative=alternative,
        n_strata=None if codes is None else int(codes.max() + 1),
    )


# ------------------------------------------------------------------------------------------------
# Mantel
# ------------------------------------------------------------------------------------------------
def _check_method(method: str) -> str:
    if method not in ("pearson", "spearman"):
        raise StatsInputError(
            f"method must be 'pearson' or 'spearman', got {method!r}", where="method"
        )
    return method


def mantel(
    dm_x: Any,
    dm_y: Any,
    method: str = "spearman",
    permutations: int = 9999,
    seed: int | np.random.SeedSequence | None = None,
    strata: Sequence[Any] | np.ndarray | None = None,
    alternative: str = "greater",
    n_boot: int = 999,
) -> MantelResult:
    """Mantel test between two subject-matched distance matrices.

    Parameters
    ----------
    dm_x, dm_y
        Square (n × n, symmetric, zero diagonal) or condensed distance matrices of the SAME
        subjects in the SAME order (e.g. gut and skin Bray–Curtis). ``skbio.DistanceMatrix``
        objects are accepted; their ids must then agree.
    method
        ``spearman`` (rank correlation of the distances) or ``pearson``.
    permutations
        Number of random permutations of the subjects of ``dm_x`` (0: no p-value).
    seed
        Seed for the permutations and the bootstrap (independent streams).
    strata
        Optional stratum per subject (e.g. run centre): subject labels are permuted only within
        strata (and the bootstrap resamples within strata).
    alternative
        ``greater`` (default, as vegan: concordance), ``less`` or ``two-sided``.
    n_boot
        Subject-bootstrap replicates for the CI (0: no CI). Subjects are resampled with
        replacement; pairs formed by a subject and its own copy are dropped (their distance is 0 in
        both matrices and would inflate r); r is recomputed (re-ranking for Spearman); percentile
        95 % and 90 % intervals are returned.

    Returns
    -------
    MantelResult

    Notes
    -----
    The statistic equals ``vegan::mantel`` and ``skbio.stats.distance.mantel`` (to rounding); the
    p-value follows vegan (permuting ``dm_x``; ``(1 + #{r_perm >= r}) / (1 + permutations)``), so
    it agrees with theirs within Monte Carlo error. Permuted statistics are computed without
    building permuted matrices: the (ranked) distances are standardised once and each permuted r is
    a dot product over index pairs (numba).
    """
    method = _check_method(method)
    permutations = check_count("permutations", permutations)
    alternative = _check_alternative(alternative)
    n_boot = check_count("n_boot", n_boot)
    sx, sy = _matched_squares([("dm_x", dm_x), ("dm_y", dm_y)])
    n = sx.shape[0]
    codes = strata_codes(strata, n)
    vx = _standardise(_transform(_condensed(sx), method), "dm_x")
    vy = _standardise(_transform(_condensed(sy), method), "dm_y")
    r = float(np.clip(_dot(vx, vy), -1.0, 1.0))
    p_value = None
    if permutations:
        xs = np.ascontiguousarray(squareform(vx, checks=False))
        ys = np.ascontiguousarray(squareform(vy, checks=False))
        rng = derive_rng(seed, 0)
        count = 0
        for block in _iter_perm_blocks(n, permutations, rng, codes):
            count += _count_extreme(_perm_dot(xs, ys, block), r, alternative)
        p_value = (count + 1) / (permutations + 1)
    ci95 = ci90 = None
    n_ok = 0
    if n_boot:
        ci95, ci90, n_ok = _bootstrap_mantel([sx, sy], method, n_boot, derive_rng(seed, 1), codes)
    return MantelResult(
        r=r,
        p_value=p_value,
        n=n,
        method=method,
        permutations=permutations,
        alternative=alternative,
        ci95=ci95,
        ci90=ci90,
        n_boot=n_ok,
        n_strata=None if codes is None else int(codes.max() + 1),
        partial=False,
    )


def partial_mantel(
    dm_x: Any,
    dm_y: Any,
    dm_z: Any,
    method: str = "spearman",
    permutations: int = 9999,
    seed: int | np.random.SeedSequence | None = None,
    strata: Sequence[Any] | np.ndarray | None = None,
    alternative: str = "greater",
    n_boot: int = 999,
) -> MantelResult:
    """Partial Mantel test of ``dm_x`` vs ``dm_y`` given ``dm_z`` (``vegan::mantel.partial``).

    The statistic is the partial correlation
    ``(r_xy - r_xz r_yz) / sqrt((1 - r_xz²)(1 - r_yz²))`` of the (ranked, for Spearman)
    distances; the p-value permutes the subjects of ``dm_x`` (within strata if given), keeping
    ``dm_y`` and ``dm_z`` fixed, as vegan does.

    Parameters
    ----------
    dm_x, dm_y, dm_z
        Distance matrices of the same subjects in the same order; ``dm_z`` is typically a
        covariate distance (e.g. Euclidean on standardised age, sex, BMI).
    method, permutations, seed, strata, alternative, n_boot
        As for :func:`mantel`.

    Returns
    -------
    MantelResult
        With ``partial=True``.
    """
    method = _check_method(method)
    permutations = check_count("permutations", permutations)
    alternative = _check_alternative(alternative)
    n_boot = check_count("n_boot", n_boot)
    sx, sy, sz = _matched_squares([("dm_x", dm_x), ("dm_y", dm_y), ("dm_z", dm_z)])
    n = sx.shape[0]
    codes = strata_codes(strata, n)
    vx = _standardise(_transform(_condensed(sx), method), "dm_x")
    vy = _standardise(_transform(_condensed(sy), method), "dm_y")
    vz = _standardise(_transform(_condensed(sz), method), "dm_z")
    rxy, rxz, ryz = _dot(vx, vy), _dot(vx, vz), _dot(vy, vz)
    r = _partial(rxy, rxz, ryz)
    if not math.isfinite(r):
        raise StatsInputError(
            "the partial Mantel statistic is undefined: dm_z is perfectly correlated with dm_x "
            "or dm_y",
            where="dm_z",
        )
    p_value = None
    if permutations:
        xs = np.ascontiguousarray(squareform(vx, checks=False))
        ys = np.ascontiguousarray(squareform(vy, checks=False))
        zs = np.ascontiguousarray(squareform(vz, checks=False))
        rng = derive_rng(seed, 0)
        count = 0
        den_yz = math.sqrt(1 - ryz * ryz)
        for block in _iter_perm_blocks(n, permutations, rng, codes):
            pxy, pxz = _perm_dot2(xs, ys, zs, block)
            with np.errstate(divide="ignore", invalid="ignore"):
                stat = (pxy - pxz * ryz) / np.sqrt(1 - pxz * pxz) / den_yz
            count += _count_extreme(stat[np.isfinite(stat)], r, alternative)
        p_value = (count + 1) / (permutations + 1)
    ci95 = ci90 = None
    n_ok = 0
    if n_boot:
        ci95, ci90, n_ok = _bootstrap_mantel(
            [sx, sy, sz], method, n_boot, derive_rng(seed, 1), codes
        )
    return MantelResult(
        r=float(r),
        p_value=p_value,
        n=n,
        method=method,
        permutations=permutations,
        alternative=alternative,
        ci95=ci95,
        ci90=ci90,
        n_boot=n_ok,
        n_strata=None if codes is None else int(codes.max() + 1),
        partial=True,
    )


# ------------------------------------------------------------------------------------------------
# PROTEST
# ------------------------------------------------------------------------------------------------
def _procrustes_config(name: str, coords: Any) -> np.ndarray:
    arr = np.asarray(coords, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise StatsInputError(
            f"{name} must be an n × k coordinate matrix, got shape {arr.shape}", where=name
        )
    if not np.all(np.isfinite(arr)):
        raise StatsInputError(f"{name} has missing or non-finite coordinates", where=name)
    c = arr - arr.mean(axis=0)
    norm = math.sqrt(float(np.sum(c * c)))
    if norm == 0:
        raise StatsInputError(f"{name} has all points identical", where=name)
    return c / norm


def _procrustes_r(x: np.ndarray, y: np.ndarray) -> float:
    """sum of singular values of X'Y for centred, unit-norm X and Y."""
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    nx = math.sqrt(float(np.sum(x * x)))
    ny = math.sqrt(float(np.sum(y * y)))
    if nx == 0 or ny == 0:
        return math.nan
    cross = np.einsum("ia,ib->ab", x / nx, y / ny)
    return float(np.sum(np.linalg.svd(cross, compute_uv=False)))


def protest(
    x_coords: Any,
    y_coords: Any,
    permutations: int = 9999,
    seed: int | np.random.SeedSequence | None = None,
    strata: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 0,
) -> ProcrustesResult:
    """Symmetric Procrustes analysis with a permutation test (``vegan::protest`` semantics).

    Parameters
    ----------
    x_coords, y_coords
        n × k1 and n × k2 ordination coordinates (e.g. PCoA axes) of the same subjects in the same
        order. They are centred and scaled to unit total sum of squares.
    permutations
        Number of random permutations of the rows of ``y_coords`` (0: no p-value).
    seed
        Seed for permutations and bootstrap (independent streams).
    strata
        Optional stratum per subject: rows are permuted only within strata.
    n_boot
        Subject-bootstrap replicates for a percentile CI of ``r`` (0, the default: none).

    Returns
    -------
    ProcrustesResult
        ``r`` = sum of the singular values of ``X'Y`` (vegan ``t0``), ``m2 = 1 - r²`` (vegan
        ``ss``; equal to ``scipy.spatial.procrustes``' disparity), p-value
        ``(1 + #{r_perm >= r - eps}) / (1 + permutations)``.
    """
    permutations = check_count("permutations", permutations)
    n_boot = check_count("n_boot", n_boot)
    X = _procrustes_config("x_coords", x_coords)
    Y = _procrustes_config("y_coords", y_coords)
    if X.shape[0] != Y.shape[0]:
        raise StatsInputError(
            f"x_coords has {X.shape[0]} rows but y_coords has {Y.shape[0]}; they must be the same "
            "subjects in the same order",
            where="y_coords",
        )
    n = X.shape[0]
    if n < 3:
        raise StatsInputError(f"Procrustes needs at least 3 subjects, got {n}", where="x_coords")
    codes = strata_codes(strata, n)
    r = float(min(1.0, np.sum(np.linalg.svd(np.einsum("ia,ib->ab", X, Y), compute_uv=False))))
    m2 = max(0.0, 1.0 - r * r)
    p_value = None
    if permutations:
        rng = derive_rng(seed, 0)
        count = 0
        for block in _iter_perm_blocks(n, permutations, rng, codes):
            cross = np.einsum("ia,kib->kab", X, Y[block])
            rp = np.sum(np.linalg.svd(cross, compute_uv=False), axis=1)
            count += _count_extreme(rp, r, "greater")
        p_value = (count + 1) / (permutations + 1)
    ci95 = ci90 = None
    n_ok = 0
    if n_boot:
        brng = derive_rng(seed, 1)
        reps = []
        for _ in range(n_boot):
            idx = _bootstrap_indices(n, brng, codes)
            rb = _procrustes_r(X[idx], Y[idx])
            if math.isfinite(rb):
                reps.append(rb)
        n_ok = len(reps)
        if n_ok >= max(20, n_boot // 2):
            arr = np.asarray(reps)
            ci95, ci90 = _percentile_ci(arr, 0.95), _percentile_ci(arr, 0.90)
    return ProcrustesResult(
        m2=float(m2),
        r=r,
        p_value=p_value,
        n=n,
        dims_x=int(X.shape[1]),
        dims_y=int(Y.shape[1]),
        permutations=permutations,
        ci95=ci95,
        ci90=ci90,
        n_boot=n_ok,
        n_strata=None if codes is None else int(codes.max() + 1),
    )


#: Alias named in docs/ARCHITECTURE.md.
procrustes = protest


# ------------------------------------------------------------------------------------------------
# Within- vs between-subject cross-site distances
# ------------------------------------------------------------------------------------------------
def _n_restricted_permutations(n: int, codes: np.ndarray | None) -> int:
    """Number of permutations of ``n`` labels that keep every label in its stratum."""
    if codes is None:
        return math.factorial(n)
    return math.prod(math.factorial(int(c)) for c in np.bincount(codes))


def _all_restricted_permutations(n: int, codes: np.ndarray | None) -> Iterator[np.ndarray]:
    """Every permutation ``p`` of ``range(n)`` with ``p[i]`` in the stratum of ``i`` (identity first)."""
    groups = (
        [np.arange(n)] if codes is None else [np.flatnonzero(codes == c) for c in np.unique(codes)]
    )
    for choice in itertools.product(*(itertools.permutations(g.tolist()) for g in groups)):
        p = np.empty(n, dtype=np.int64)
        for g, perm in zip(groups, choice, strict=True):
            p[g] = perm
        yield p


def cross_site_distances(
    dm_xy: Any,
    permutations: int = 9999,
    seed: int | np.random.SeedSequence | None = None,
    strata: Sequence[Any] | np.ndarray | None = None,
    alternative: str = "two-sided",
    n_boot: int = 999,
) -> CrossSiteResult:
    """Are a subject's two sites closer to each other than to other subjects' samples?

    Parameters
    ----------
    dm_xy
        n × n cross-site distances: ``dm_xy[i, j] = d(x_i, y_j)``, the distance between subject
        ``i``'s first-site sample (e.g. gut) and subject ``j``'s second-site sample (e.g. skin),
        taken from one distance matrix over all samples. Not symmetric in general.
    permutations
        Random permutations of the subject labels of the ``y`` samples (columns) (0: no p-value).
        When the number of distinct (within-strata) permutations is at most ``permutations`` and at
        most :data:`EXACT_MAX`, all of them are enumerated instead (an exact p-value).
    seed
        Seed for permutations and bootstrap (independent streams).
    strata
        Optional stratum per subject (e.g. run centre): labels are permuted only within strata and
        the bootstrap resamples within strata.
    alternative
        ``two-sided`` (default: ``|D_perm - null_mean| >= |D - null_mean|``), ``less`` (own samples
        closer: ``D_perm <= D``) or ``greater``.
    n_boot
        Subject-bootstrap replicates for a percentile CI of the difference (0: none). Subjects are
        resampled with replacement; a resampled subject's own pair counts as within-subject, and
        pairs of a subject with its own copy are left out of the between-subject mean.

    Returns
    -------
    CrossSiteResult
        ``difference = mean_i d(x_i, y_i) - mean_{i != j} d(x_i, y_j)``.

    Notes
    -----
    Permuting the columns moves the diagonal but keeps the total, so with
    ``S = sum_i d(x_i, y_p(i))`` and total ``T`` the statistic is
    ``S / n - (T - S) / (n (n - 1)) = S / (n - 1) - T / (n (n - 1))``: linear in ``S``. Its
    permutation mean uses ``E[S] = sum_i mean_{j in stratum(i)} d(x_i, y_j)``.
    """
    permutations = check_count("permutations", permutations)
    alternative = _check_alternative(alternative)
    n_boot = check_count("n_boot", n_boot)
    c = np.asarray(dm_xy, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise StatsInputError(
            f"dm_xy must be a square n × n cross-site matrix, got shape {c.shape}", where="dm_xy"
        )
    if not np.all(np.isfinite(c)):
        raise StatsInputError("dm_xy has missing or non-finite distances", where="dm_xy")
    n = c.shape[0]
    if n < 3:
        raise StatsInputError(
            f"within- vs between-subject distances need at least 3 subjects, got {n}",
            where="dm_xy",
        )
    codes = strata_codes(strata, n)
    total = float(np.sum(c))
    rows = np.arange(n)

    def stat(s_within: np.ndarray | float) -> np.ndarray | float:
        return s_within / (n - 1) - total / (n * (n - 1))

    s_obs = float(np.sum(np.diag(c)))
    diff = float(stat(s_obs))
    within = s_obs / n
    between = (total - s_obs) / (n * (n - 1))
    if codes is None:
        e_s = total / n
    else:
        same = codes[:, None] == codes[None, :]
        e_s = float(np.sum(np.where(same, c, 0.0).sum(axis=1) / same.sum(axis=1)))
    null_mean = float(stat(e_s))

    def n_extreme(values: np.ndarray) -> int:
        if alternative == "two-sided":
            return int(np.sum(np.abs(values - null_mean) >= abs(diff - null_mean) - EPS))
        return _count_extreme(values, diff, alternative)

    p_value = None
    exact = False
    n_perm = permutations
    if permutations:
        n_all = _n_restricted_permutations(n, codes)
        if n_all <= min(permutations, EXACT_MAX):
            exact = True
            n_perm = n_all
            sums = np.array(
                [float(np.sum(c[rows, p])) for p in _all_restricted_permutations(n, codes)]
            )
            p_value = n_extreme(np.asarray(stat(sums))) / n_all
        else:
            rng = derive_rng(seed, 0)
            count = 0
            for block in _iter_perm_blocks(n, permutations, rng, codes):
                count += n_extreme(np.asarray(stat(c[rows[None, :], block].sum(axis=1))))
            p_value = (count + 1) / (permutations + 1)
    ci95 = ci90 = None
    n_ok = 0
    if n_boot:
        brng = derive_rng(seed, 1)
        reps = []
        for _ in range(n_boot):
            idx = _bootstrap_indices(n, brng, codes)
            sub = c[np.ix_(idx, idx)]
            off = idx[:, None] != idx[None, :]
            if not off.any():
                continue
            reps.append(float(np.mean(np.diag(sub)) - np.mean(sub[off])))
        n_ok = len(reps)
        if n_ok >= max(20, n_boot // 2):
            arr = np.asarray(reps)
            ci95, ci90 = _percentile_ci(arr, 0.95), _percentile_ci(arr, 0.90)
    return CrossSiteResult(
        difference=diff,
        within_mean=float(within),
        between_mean=float(between),
        p_value=p_value,
        exact=exact,
        null_mean=null_mean,
        ci95=ci95,
        ci90=ci90,
        n=n,
        permutations=n_perm,
        alternative=alternative,
        n_boot=n_ok,
        n_strata=None if codes is None else int(codes.max() + 1),
    )
