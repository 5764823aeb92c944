"""Covariate-adjusted PERMANOVA (``vegan::adonis2``-style) and PERMDISP (``vegan::betadisper``).

scikit-bio's ``permanova`` takes one grouping factor, no covariates and no strata; CLAIMS.md §3.4 asks for the
marginal test of a term given the other terms, with Freedman–Lane permutation blocked by strata. This module
does that on the Gower-centred matrix, in the distance-based redundancy-analysis formulation of McArdle &
Anderson (2001):

* ``G = -1/2 (I - 11'/n) D² (I - 11'/n)``, ``SS_total = tr(G)``;
* ``H`` = projection on the (centred) columns of a model; ``SS_model = tr(H G)``;
* marginal ``SS_term = SS(full) - SS(full without term)`` (vegan's ``by = "margin"``), or sequential
  ``SS(terms up to term) - SS(terms before it)`` (vegan's ``by = "terms"``);
* ``pseudo-F = (SS_term / df_term) / (SS_residual / df_residual)``, ``R² = SS_term / SS_total`` (vegan's
  ``R2`` column), ``partial R² = SS_term / (SS_term + SS_residual)`` and partial ω² (Kelly et al. 2015,
  *Bioinformatics* 31:2461; Olejnik & Algina 2003).

Permutation test (Freedman & Lane 1983; Anderson 2001): the residuals of the *reduced* model (without the
term) are permuted, ``Y* = H_r Y + P (I - H_r) Y``, and the pseudo-F of the full model recomputed. With
``E = (I - H_r) G (I - H_r)`` every statistic is a sum of quadratic forms ``v'Ev`` with ``v`` a permuted
column of an orthonormal basis of the model, so a permutation costs ``O(n² k)`` (``k`` = model rank) as one
matrix product over a block of permutations. This is exactly ``vegan::anova(dbrda(d ~ term +
Condition(covariates)), model = "reduced")`` given the same permutations; with no covariates it is also
``adonis2`` (which then permutes the raw rows, the same thing). ``adonis2(by = "margin")`` *with*
covariates permutes raw rows instead, so its p-value differs slightly (its F and R² are identical). With
``strata``, rows are permuted only within strata (``permute::how(blocks = strata)``). The p-value is
``(1 + #{F* >= F - eps}) / (1 + permutations)`` with vegan's ``eps = sqrt(machine epsilon)``.

Memory at scale: neither ``G`` nor ``E`` is ever formed. Every quantity above is a quadratic form ``w'Gw``
with ``G = -1/2 J D² J`` (``J = I - 11'/n``), so ``w'Gw = -1/2 (Jw)' D² (Jw)``; ``D² (Jw)`` is computed in
row blocks of the caller's matrix (each block squared in float64), ``tr(G) = Σ d_ij² / 2n`` and
``tr(E) = tr(G) - SS_reduced``. The only n × n matrix is the caller's ``dm``, used as given (float32 is not
copied to float64): at n = 30,000 a float32 matrix is 3.6 GB and the working memory is a few row and
permutation blocks (:data:`_BLOCK_FLOATS` floats each). This is algebraically the dense formulation above,
and matches it to rounding (tested to 1e-9 at small n). Inputs above :data:`MAX_SAMPLES` are refused.
PERMDISP still forms ``G`` and its eigenvectors (dense float64, :data:`PERMDISP_MAX_SAMPLES`).

PERMDISP (:func:`permdisp`) follows ``vegan::betadisper`` + ``permutest.betadisper``: principal coordinates
of all axes with non-zero eigenvalues (negative ones included, as imaginary axes), distances of each sample
to its group's spatial median (or centroid), a one-way ANOVA F on those distances, and permutation of the
ANOVA residuals. scikit-bio's ``permdisp`` uses the first 10 positive axes only and permutes group labels,
so its F equals this one for Euclidean distances when all axes are kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._util import (
    JsonMixin,
    StatsInputError,
    check_count,
    derive_rng,
    permutation_matrix,
    strata_codes,
)

__all__ = [
    "MAX_SAMPLES",
    "PERMDISP_MAX_SAMPLES",
    "PermanovaResult",
    "PermdispResult",
    "gower_centred",
    "permanova",
    "permdisp",
]

#: Largest number of samples PERMANOVA accepts (only the caller's n × n matrix is held; module docstring).
MAX_SAMPLES = 60_000
#: Largest number of samples PERMDISP accepts (dense n × n float64 Gower matrix and eigenvectors).
PERMDISP_MAX_SAMPLES = 10_000
#: Tolerance when comparing permuted with observed statistics (vegan's ``sqrt(.Machine$double.eps)``).
EPS = math.sqrt(np.finfo(float).eps)
#: Relative tolerance for rank decisions of the design (R's ``qr`` default ``tol = 1e-07``).
RANK_TOL = 1e-7
#: Upper bound on the floats of one permutation block (n × block × k), ~16 MB per array.
_BLOCK_FLOATS = 2_000_000
_METHODS = ("marginal", "sequential")
_CENTRES = ("median", "centroid")


# ------------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PermanovaResult(JsonMixin):
    """PERMANOVA of one term, adjusted for the other terms of the model.

    Attributes
    ----------
    term
        The tested term (as given in ``formula_terms``).
    other_terms
        The other terms of the model (covariates).
    method
        ``marginal`` (vegan ``by = "margin"``) or ``sequential`` (``by = "terms"``).
    ss_term, ss_residual, ss_total
        Sums of squares (vegan's ``SumOfSqs``): of the term, of the full model's residual, and
        ``tr(G)``.
    df_term, df_residual
        Degrees of freedom (``df_residual = n - 1 - rank(full model)``).
    pseudo_f
        ``(ss_term / df_term) / (ss_residual / df_residual)``.
    r2
        ``ss_term / ss_total`` (vegan's ``R2`` column).
    r2_partial
        ``ss_term / (ss_term + ss_residual)``: the share of the variation left after the covariates.
    omega2
        Partial ω² ``(SS_t - df_t MS_res) / (SS_t + (n - df_t) MS_res)``, a less biased effect size;
        with no covariates it is Kelly et al.'s (2015) ω² ``(SS_A - df_A MS_W) / (SS_T + MS_W)``.
        Can be negative when the term explains less than chance.
    p_value
        Permutation p-value, ``None`` when ``permutations == 0``.
    permutations
        Number of permutations.
    n
        Number of samples.
    n_strata
        Number of strata permutations were restricted to (``None``: unrestricted).
    permutation_scheme
        ``freedman-lane`` (residuals of the reduced model permuted).
    """

    term: str
    other_terms: tuple[str, ...]
    method: str
    ss_term: float
    ss_residual: float
    ss_total: float
    df_term: int
    df_residual: int
    pseudo_f: float
    r2: float
    r2_partial: float
    omega2: float
    p_value: float | None
    permutations: int
    n: int
    n_strata: int | None
    permutation_scheme: str = "freedman-lane"


@dataclass(frozen=True)
class PermdispResult(JsonMixin):
    """Test of homogeneity of multivariate dispersions (PERMDISP).

    Attributes
    ----------
    f
        One-way ANOVA F of the distances to the group centres.
    p_value
        Permutation p-value, ``None`` when ``permutations == 0``.
    df_groups, df_residual
        ``g - 1`` and ``n - g``.
    groups
        Group labels, sorted.
    group_sizes
        Samples per group, in the order of ``groups``.
    mean_distance
        Mean distance to the group centre per group (vegan's ``group.distances``).
    centre
        ``median`` (spatial median, vegan's default) or ``centroid``.
    permutations
        Number of permutations.
    n
        Number of samples.
    n_strata
        Number of strata (``None``: unrestricted).
    n_negative_set_to_zero
        Samples whose squared distance to the centre came out negative (non-Euclidean input) and was
        set to 0, as vegan does (with a warning).
    """

    f: float
    p_value: float | None
    df_groups: int
    df_residual: int
    groups: tuple[str, ...]
    group_sizes: tuple[int, ...]
    mean_distance: tuple[float, ...]
    centre: str
    permutations: int
    n: int
    n_strata: int | None
    n_negative_set_to_zero: int


# ------------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------------
def _as_square(
    dm: Any, limit: int = MAX_SAMPLES, what: str = "PERMANOVA"
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Validated square float distance matrix and its ids (if ``dm`` is a DistanceMatrix).

    A float32 or float64 array is used as given (no copy); other types are converted to float64. The checks
    run in row blocks, so they need no n × n temporary.
    """
    ids = None
    if hasattr(dm, "data") and hasattr(dm, "ids"):  # skbio DistanceMatrix
        ids = tuple(str(i) for i in dm.ids)
        dm = dm.data
    arr = np.asarray(dm)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise StatsInputError(
            f"the distance matrix must be square, got shape {arr.shape}",
            where="dm",
            hint="expand a condensed vector with scipy.spatial.distance.squareform",
        )
    n = arr.shape[0]
    if n > limit:
        raise StatsInputError(
            f"{n} samples exceed the limit of {limit} for {what} "
            f"(the n × n matrix alone is ~{arr.itemsize * n * n / 1e9:.1f} GB)",
            where="dm",
            hint="sub-sample, or test on fewer samples (e.g. one per subject)",
        )
    rows = max(1, _BLOCK_FLOATS // max(1, n))
    peak = 0.0
    for i0 in range(0, n, rows):
        blk = arr[i0 : i0 + rows]
        if not np.all(np.isfinite(blk)):
            raise StatsInputError(
                "the distance matrix has missing or non-finite entries", where="dm"
            )
        peak = max(peak, float(np.max(np.abs(blk))) if blk.size else 0.0)
    scale = max(1.0, peak)
    for i0 in range(0, n, rows):
        blk = arr[i0 : i0 + rows]
        if not np.allclose(blk, arr[:, i0 : i0 + rows].T, rtol=0, atol=1e-10 * scale):
            raise StatsInputError("the distance matrix is not symmetric", where="dm")
        if np.any(blk < -1e-7 * scale):
            raise StatsInputError("the distance matrix has negative distances", where="dm")
    if np.any(np.abs(np.diagonal(arr)) > 1e-10 * scale):
        raise StatsInputError("the distance matrix has a non-zero diagonal", where="dm")
    return arr, ids


def _sq_times(d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(D ∘ D) @ w`` in row blocks of ``d`` (each squared in float64): no n × n temporary."""
    n = d.shape[0]
    out = np.empty((n, w.shape[1]))
    rows = max(1, _BLOCK_FLOATS // max(1, n))
    for i0 in range(0, n, rows):
        blk = np.asarray(d[i0 : i0 + rows], dtype=np.float64)
        out[i0 : i0 + rows] = (blk * blk) @ w
    return out


def _gower_quad(d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``diag(w' G w)`` for the columns of ``w``, ``G`` the Gower-centred matrix of ``d``, without ``G``.

    ``G = -1/2 J D² J`` with ``J = I - 11'/n``, so ``w'Gw = -1/2 (Jw)' D² (Jw)`` exactly.
    """
    if w.shape[1] == 0:
        return np.zeros(0)
    wc = w - w.mean(axis=0, keepdims=True)
    return -0.5 * np.sum(wc * _sq_times(d, wc), axis=0)


def _gower_trace(d: np.ndarray) -> float:
    """``tr(G) = Σ_ij d_ij² / 2n`` (zero diagonal), in row blocks."""
    n = d.shape[0]
    rows = max(1, _BLOCK_FLOATS // max(1, n))
    total = 0.0
    for i0 in range(0, n, rows):
        blk = np.asarray(d[i0 : i0 + rows], dtype=np.float64)
        total += float(np.sum(blk * blk))
    return total / (2 * n)


def _permutation_plan(
    strata: Any, permutation_indices: Any, permutations: int, n: int
) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """The strata codes, the checked explicit permutations (or ``None``) and their number."""
    codes = strata_codes(strata, n)
    explicit = None
    if permutation_indices is not None:
        explicit = _check_explicit_perms(permutation_indices, n, codes)
        permutations = explicit.shape[0]
    return codes, explicit, check_count("permutations", permutations)


def _check_explicit_perms(perms: np.ndarray, n: int, codes: np.ndarray | None) -> np.ndarray:
    arr = np.asarray(perms)
    if arr.ndim != 2 or arr.shape[1] != n or not np.issubdtype(arr.dtype, np.integer):
        raise StatsInputError(
            f"permutation_indices must be an integer array of shape (permutations, {n}), "
            f"got {arr.dtype} {arr.shape}",
            where="permutation_indices",
        )
    ok = np.sort(arr, axis=1) == np.arange(n)[None, :]
    if not ok.all():
        bad = int(np.flatnonzero(~ok.all(axis=1))[0])
        raise StatsInputError(
            f"row {bad} of permutation_indices is not a permutation of 0..{n - 1}",
            where="permutation_indices",
        )
    if codes is not None and np.any(codes[arr] != codes[None, :]):
        raise StatsInputError(
            "permutation_indices move samples across strata", where="permutation_indices"
        )
    return arr.astype(np.int64)


def _perm_blocks(
    n: int,
    permutations: int,
    seed: int | np.random.SeedSequence | None,
    codes: np.ndarray | None,
    block: int,
    explicit: np.ndarray | None,
):
    """Yield blocks of permutations (rows: ``p`` with permuted data ``x[p]``)."""
    if explicit is not None:
        for start in range(0, explicit.shape[0], block):
            yield explicit[start : start + block]
        return
    rng = derive_rng(seed, 0)
    done = 0
    while done < permutations:
        size = min(block, permutations - done)
        yield permutation_matrix(n, size, rng, codes)
        done += size


def gower_centred(d: np.ndarray) -> np.ndarray:
    """Gower's centred matrix ``G = -1/2 (I - 11'/n) D² (I - 11'/n)`` of a square distance matrix."""
    a = -0.5 * d * d
    row = a.mean(axis=1)
    col = a.mean(axis=0)
    return a - row[:, None] - col[None, :] + a.mean()


# ------------------------------------------------------------------------------------------------
# design
# ------------------------------------------------------------------------------------------------
def _term_block(data: pd.DataFrame, term: str) -> np.ndarray:
    """Centred model-matrix columns of one formula term (patsy, treatment contrasts)."""
    import patsy

    try:
        mat = patsy.dmatrix(f"~ {term}", data, NA_action="raise", return_type="dataframe")
    except Exception as exc:  # patsy: unknown column, syntax, missing values
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StatsInputError(
            f"cannot build the model term {term!r}: {first}",
            where=f"term {term!r}",
            hint=f"available columns: {', '.join(map(str, data.columns))}",
        ) from None
    x = mat.drop(columns=[c for c in mat.columns if c == "Intercept"]).to_numpy(dtype=np.float64)
    return x - x.mean(axis=0, keepdims=True)


def _orth_after(x: np.ndarray, basis: np.ndarray | None) -> np.ndarray:
    """Orthonormal basis of the part of ``span(x)`` orthogonal to ``basis`` (rank-revealing)."""
    n = x.shape[0]
    if x.shape[1] == 0:
        return np.zeros((n, 0))
    norms = np.sqrt(np.sum(x * x, axis=0))
    keep = norms > 0
    x = x[:, keep] / norms[keep]
    if x.shape[1] == 0:
        return np.zeros((n, 0))
    if basis is not None and basis.shape[1]:
        x = x - basis @ (basis.T @ x)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    # Columns were unit vectors before projection: what is left below RANK_TOL is aliased.
    return u[:, s > RANK_TOL]


def _check_data(data: pd.DataFrame, formula_terms: Sequence[str], term: str, n: int) -> list[str]:
    if not isinstance(data, pd.DataFrame):
        raise StatsInputError(
            f"data must be a pandas DataFrame, got {type(data).__name__}", where="data"
        )
    if len(data) != n:
        raise StatsInputError(
            f"data have {len(data)} rows but the distance matrix has {n} samples",
            where="data",
            hint="pass one row per sample, in the distance matrix's order",
        )
    terms = [str(t) for t in formula_terms]
    if not terms:
        raise StatsInputError("formula_terms is empty", where="formula_terms")
    if len(set(terms)) != len(terms):
        raise StatsInputError(f"formula_terms has duplicates: {terms}", where="formula_terms")
    if term not in terms:
        raise StatsInputError(
            f"the tested term {term!r} is not among formula_terms {terms}", where="term"
        )
    used = [c for c in data.columns if any(_mentions(t, str(c)) for t in terms)]
    for c in used:
        miss = int(data[c].isna().sum())
        if miss:
            raise StatsInputError(
                f"column {c!r} has {miss} missing value(s)",
                where=f"column {c!r}",
                hint="drop incomplete samples (and their rows/columns of the distance matrix) first",
            )
    return terms


def _mentions(term: str, column: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(column)}(?![\w.])", term) is not None


# ------------------------------------------------------------------------------------------------
# PERMANOVA
# ------------------------------------------------------------------------------------------------
def permanova(
    dm: Any,
    data: pd.DataFrame,
    formula_terms: Sequence[str],
    term: str,
    permutations: int = 999,
    seed: int | np.random.SeedSequence | None = None,
    strata: Sequence[Any] | np.ndarray | None = None,
    method: str = "marginal",
    *,
    permutation_indices: np.ndarray | None = None,
) -> PermanovaResult:
    """PERMANOVA of ``term`` adjusted for the other terms, with Freedman–Lane permutations.

    Parameters
    ----------
    dm
        Square distance matrix (``numpy`` array, float32 or float64, or ``skbio.DistanceMatrix``),
        ``n`` ≤ :data:`MAX_SAMPLES`; never copied to a second n × n matrix. With a DistanceMatrix whose ids are all in ``data.index``, ``data`` is
        reordered to its ids; otherwise row ``i`` of ``data`` is sample ``i``.
    data
        One row per sample with the columns the terms use; no missing values.
    formula_terms
        Right-hand-side terms in patsy syntax, e.g. ``["condition", "age", "C(sex)"]``; string
        columns are categorical (treatment contrasts). The column space, not the coding, matters.
    term
        The term to test; one of ``formula_terms``.
    permutations
        Number of permutations (0: no p-value).
    seed
        Seed of the permutations (:func:`numpy.random.SeedSequence`, stream 0).
    strata
        Optional block per sample: permutations stay within blocks (``how(blocks = strata)``).
    method
        ``marginal`` (the term given all other terms; vegan ``by = "margin"``) or ``sequential``
        (given the terms listed before it; ``by = "terms"``).
    permutation_indices
        Explicit permutations (``permutations`` × ``n`` integer array, 0-based, permuted data
        ``x[p]``), e.g. to reproduce another program exactly; overrides ``permutations``/``seed``.

    Returns
    -------
    PermanovaResult

    Raises
    ------
    StatsInputError
        Bad matrix, missing values, unknown term, a term aliased with the others, no residual df.
    """
    sq, ids = _as_square(dm)
    n = sq.shape[0]
    if method not in _METHODS:
        raise StatsInputError(f"method must be one of {_METHODS}, got {method!r}", where="method")
    if ids is not None and isinstance(data, pd.DataFrame):
        index = data.index.astype(str)
        if index.is_unique and set(ids) <= set(index):
            data = data.iloc[index.get_indexer(list(ids))]
    terms = _check_data(data, formula_terms, term, n)
    if n < 3:
        raise StatsInputError(f"PERMANOVA needs at least 3 samples, got {n}", where="dm")
    codes, explicit, permutations = _permutation_plan(strata, permutation_indices, permutations, n)

    data = data.reset_index(drop=True)
    blocks = {t: _term_block(data, t) for t in terms}
    pos = terms.index(term)
    if method == "marginal":
        before = [t for t in terms if t != term]
        after: list[str] = []
    else:
        before, after = terms[:pos], terms[pos + 1 :]

    def _stack(ts: list[str]) -> np.ndarray:
        return np.hstack([blocks[t] for t in ts]) if ts else np.zeros((n, 0))

    q_r = _orth_after(_stack(before), None)
    q_t = _orth_after(blocks[term], q_r)
    base = np.hstack([q_r, q_t])
    q_a = _orth_after(_stack(after), base)
    df_t = q_t.shape[1]
    if df_t == 0:
        raise StatsInputError(
            f"the term {term!r} is constant or fully explained by the other terms "
            f"({', '.join(before) or 'intercept'}): nothing to test",
            where=f"term {term!r}",
        )
    rank_f = q_r.shape[1] + df_t + q_a.shape[1]
    df_res = n - 1 - rank_f
    if df_res < 1:
        raise StatsInputError(
            f"no residual degrees of freedom: {n} samples for a model of rank {rank_f} "
            "(plus intercept)",
            where="formula_terms",
            hint="use fewer covariates or more samples",
        )

    ss_total = _gower_trace(sq)
    ss_r = float(np.sum(_gower_quad(sq, q_r)))
    ss_t = float(np.sum(_gower_quad(sq, q_t)))
    ss_a = float(np.sum(_gower_quad(sq, q_a)))
    ss_res = ss_total - ss_r - ss_t - ss_a
    if not ss_res > 0:
        raise StatsInputError(
            "the residual sum of squares is not positive (the model fits the distances exactly)",
            where="formula_terms",
        )
    ms_res = ss_res / df_res
    f_obs = (ss_t / df_t) / ms_res
    r2 = ss_t / ss_total
    r2_partial = ss_t / (ss_t + ss_res)
    omega2 = (ss_t - df_t * ms_res) / (ss_t + (n - df_t) * ms_res)

    p_value = None
    if permutations > 0:
        # v'Ev with E = (I - H_r) G (I - H_r) is w'Gw with w = (I - H_r) v; tr(E) = tr(G) - SS_reduced.
        tr_e = ss_total - ss_r
        q_all = np.hstack([q_r, q_t, q_a])
        k = q_all.shape[1]
        k_r = q_r.shape[1]
        block = max(1, min(permutations, _BLOCK_FLOATS // max(1, n * k)))
        n_ge = 0
        for perms in _perm_blocks(n, permutations, seed, codes, block, explicit):
            b = perms.shape[0]
            inv = np.argsort(perms, axis=1)
            v = q_all[inv]  # (b, n, k): v_k = u_k[p^-1], so v'Ev = u'(P E P')u
            v2 = np.ascontiguousarray(v.transpose(1, 0, 2).reshape(n, b * k))
            if k_r:
                v2 = v2 - q_r @ (q_r.T @ v2)
            quad = _gower_quad(sq, v2).reshape(b, k)
            ss_t_p = quad[:, k_r : k_r + df_t].sum(axis=1)
            ss_res_p = tr_e - quad.sum(axis=1)
            f_p = (ss_t_p / df_t) / (ss_res_p / df_res)
            n_ge += int(np.sum(f_p >= f_obs - EPS))
        p_value = (1 + n_ge) / (1 + permutations)

    return PermanovaResult(
        term=term,
        other_terms=tuple(t for t in terms if t != term),
        method=method,
        ss_term=ss_t,
        ss_residual=ss_res,
        ss_total=ss_total,
        df_term=int(df_t),
        df_residual=int(df_res),
        pseudo_f=float(f_obs),
        r2=float(r2),
        r2_partial=float(r2_partial),
        omega2=float(omega2),
        p_value=p_value,
        permutations=permutations,
        n=n,
        n_strata=None if codes is None else int(codes.max() + 1),
    )


# ------------------------------------------------------------------------------------------------
# PERMDISP
# ------------------------------------------------------------------------------------------------
def _spatial_median(x: np.ndarray, tol: float = 1e-12, max_iter: int = 10_000) -> np.ndarray:
    """Geometric (spatial) median by Weiszfeld's algorithm with the Vardi–Zhang modification."""
    if x.shape[1] == 0:
        return np.zeros(0)
    if x.shape[0] == 1:
        return x[0].copy()
    y = np.median(x, axis=0)
    scale = max(float(np.max(np.abs(x))), 1e-300)
    for _ in range(max_iter):
        diff = x - y
        dist = np.sqrt(np.sum(diff * diff, axis=1))
        at = dist <= 1e-15 * scale
        w = 1.0 / np.where(at, 1.0, dist)
        w[at] = 0.0
        t = (w[:, None] * x).sum(axis=0) / w.sum()
        n_at = int(at.sum())
        if n_at:
            r = (w[:, None] * (x - y)).sum(axis=0)
            rn = float(np.sqrt(np.sum(r * r)))
            gamma = 0.0 if rn == 0 else min(1.0, n_at / rn)
            t = (1 - gamma) * t + gamma * y
        step = float(np.sqrt(np.sum((t - y) ** 2)))
        y = t
        if step <= tol * scale:
            break
    return y


def _anova_f(z: np.ndarray, onehot: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """One-way ANOVA F for each row of ``z`` (``b`` × ``n``) with groups ``onehot`` (``n`` × ``g``)."""
    n, g = onehot.shape
    sums = z @ onehot
    means = sums / sizes
    grand = z.mean(axis=1, keepdims=True)
    mss = np.sum(sizes * (means - grand) ** 2, axis=1)
    rss = np.sum(z * z, axis=1) - np.sum(sums * means, axis=1)
    return (mss / (g - 1)) / (rss / (n - g))


def permdisp(
    dm: Any,
    groups: Sequence[Any] | np.ndarray | pd.Series,
    permutations: int = 999,
    seed: int | np.random.SeedSequence | None = None,
    *,
    centre: str = "median",
    strata: Sequence[Any] | np.ndarray | None = None,
    permutation_indices: np.ndarray | None = None,
) -> PermdispResult:
    """Homogeneity of multivariate dispersions (``vegan::betadisper`` + ``permutest``).

    Parameters
    ----------
    dm
        Square distance matrix (array or ``skbio.DistanceMatrix``), ``n`` ≤ :data:`PERMDISP_MAX_SAMPLES`.
    groups
        Group of each sample (at least 2 groups, no missing values).
    permutations
        Number of permutations of the ANOVA residuals (0: no p-value).
    seed
        Seed of the permutations.
    centre
        ``median`` (spatial median; vegan and scikit-bio default) or ``centroid``.
    strata
        Optional blocks to restrict permutations to.
    permutation_indices
        Explicit permutations (0-based), overriding ``permutations``/``seed``.

    Returns
    -------
    PermdispResult
    """
    sq, _ids = _as_square(
        dm, PERMDISP_MAX_SAMPLES, "PERMDISP (dense Gower matrix and eigenvectors)"
    )
    sq = np.asarray(sq, dtype=np.float64)
    n = sq.shape[0]
    if centre not in _CENTRES:
        raise StatsInputError(f"centre must be one of {_CENTRES}, got {centre!r}", where="centre")
    grp = np.asarray(groups, dtype=object)
    if grp.ndim != 1 or grp.shape[0] != n:
        raise StatsInputError(
            f"groups must have one entry per sample ({n}), got shape {grp.shape}", where="groups"
        )
    miss = [i for i, v in enumerate(grp) if v is None or (isinstance(v, float) and math.isnan(v))]
    if miss:
        raise StatsInputError(
            f"groups has {len(miss)} missing value(s) (first at position {miss[0]})",
            where="groups",
            hint="drop samples without a group first",
        )
    labels, codes_g = np.unique(grp.astype(str), return_inverse=True)
    g = labels.size
    if g < 2:
        raise StatsInputError("PERMDISP needs at least 2 groups", where="groups")
    if n - g < 1:
        raise StatsInputError(f"too few samples ({n}) for {g} groups", where="groups")
    codes, explicit, permutations = _permutation_plan(strata, permutation_indices, permutations, n)

    gmat = gower_centred(sq)
    eig, vec = np.linalg.eigh(gmat)
    order = np.argsort(eig)[::-1]
    eig, vec = eig[order], vec[:, order]
    tol = math.sqrt(np.finfo(float).eps)
    want = np.abs(eig) > max(tol, tol * eig[0])
    eig, vec = eig[want], vec[:, want]
    coords = vec * np.sqrt(np.abs(eig))[None, :]
    pos = eig > 0
    d_pos = np.zeros(n)
    d_neg = np.zeros(n)
    for k in range(g):
        members = codes_g == k
        for mask, out in ((pos, d_pos), (~pos, d_neg)):
            if not mask.any():
                continue
            x = coords[np.ix_(members, mask)]
            c = x.mean(axis=0) if centre == "centroid" else _spatial_median(x)
            out[members] = np.sum((x - c) ** 2, axis=1)
    sq_dist = d_pos - d_neg
    n_neg = int(np.sum(sq_dist < 0))
    z = np.sqrt(np.clip(sq_dist, 0.0, None))

    onehot = np.zeros((n, g))
    onehot[np.arange(n), codes_g] = 1.0
    sizes = onehot.sum(axis=0)
    f_obs = float(_anova_f(z[None, :], onehot, sizes)[0])
    if not math.isfinite(f_obs):
        raise StatsInputError(
            "the distances to the group centres do not vary within groups: F is undefined",
            where="dm",
        )
    p_value = None
    if permutations > 0:
        resid = z - (onehot @ (z @ onehot / sizes))
        block = max(1, min(permutations, _BLOCK_FLOATS // max(1, n)))
        n_ge = 0
        for perms in _perm_blocks(n, permutations, seed, codes, block, explicit):
            n_ge += int(np.sum(_anova_f(resid[perms], onehot, sizes) >= f_obs - EPS))
        p_value = (1 + n_ge) / (1 + permutations)
    return PermdispResult(
        f=f_obs,
        p_value=p_value,
        df_groups=int(g - 1),
        df_residual=int(n - g),
        groups=tuple(str(x) for x in labels),
        group_sizes=tuple(int(s) for s in sizes),
        mean_distance=tuple(float(z[codes_g == k].mean()) for k in range(g)),
        centre=centre,
        permutations=permutations,
        n=n,
        n_strata=None if codes is None else int(codes.max() + 1),
        n_negative_set_to_zero=n_neg,
    )
