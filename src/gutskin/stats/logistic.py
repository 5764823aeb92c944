"""Logistic regression for comorbidity odds ratios: sandwich SEs, Firth, exact tests and power.

Three estimators of the log odds ratio of one 0/1 exposure term:

- :func:`logit_robust` — maximum likelihood (statsmodels ``Logit``) with a heteroscedasticity-consistent
  sandwich covariance, ``HC3`` by default (``HC0`` on request), z inference. This equals R's
  ``glm(family = binomial)`` with ``sandwich::vcovHC(fit, type = "HC3")`` and ``lmtest::coeftest``.
  The sandwich is computed here, not by statsmodels: statsmodels' ``Logit.fit(cov_type="HC3")`` silently
  returns HC0 for discrete models.
- :func:`logit_firth` — Firth's (1993) penalised likelihood (Heinze & Schemper 2002), finite even under
  separation; Wald SEs from the Fisher information at the estimate, like R's
  ``glm(method = brglm2::brglmFit, type = "AS_mean")``. Used when cells of the exposure × outcome table
  are sparse.
- :func:`exact_odds_ratio` — unadjusted conditional maximum-likelihood odds ratio of a 2 × 2 table with
  its exact CI and Fisher's exact p (R's ``fisher.test``).

:func:`wald_power` gives the power of a two-sided Wald test to detect an effect of a given size from the
standard error of the fitted model (a design-based approximation).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from ._util import Coefficient, JsonMixin, StatsInputError, check_finite, wald_fields
from .regression import TermNotFoundError, _checked_frame, _model_error

__all__ = [
    "ExactOddsRatio",
    "LogisticResult",
    "exact_odds_ratio",
    "logit_firth",
    "logit_robust",
    "two_by_two",
    "wald_power",
]

_COV_TYPES = ("HC0", "HC3")


@dataclass(frozen=True)
class LogisticResult(Coefficient):
    """One coefficient of a logistic regression, on the log-odds scale.

    Attributes
    ----------
    term
        Exact coefficient name, e.g. ``"ibd_any"``.
    estimate, se
        Log odds ratio and its standard error.
    ci95, ci90
        Wald intervals of the log odds ratio (the 90 % one is the TOST interval).
    p_value, z
        Two-sided Wald p-value (normal distribution) and the z statistic.
    odds_ratio, or_ci95
        ``exp(estimate)`` and ``exp(ci95)``.
    n, n_events
        Observations used (complete cases) and those with outcome 1.
    n_term, n_term_events
        For a 0/1 term: observations with the term equal to 1, and those among them with outcome 1
        (``None`` for a continuous term).
    formula, method
        The model and a one-line description of the estimator and its SEs.
    n_dropped_missing
        Rows dropped because a formula variable was missing.
    iterations
        Newton iterations used (Firth only; ``None`` for ML).
    """

    z: float
    odds_ratio: float
    or_ci95: tuple[float, float]
    n: int
    n_events: int
    n_term: int | None
    n_term_events: int | None
    formula: str
    method: str
    n_dropped_missing: int
    iterations: int | None = None


@dataclass(frozen=True)
class ExactOddsRatio(JsonMixin):
    """Conditional maximum-likelihood odds ratio of a 2 × 2 table with its exact CI and Fisher's p."""

    table: tuple[tuple[int, int], tuple[int, int]]
    odds_ratio: float
    ci95: tuple[float, float]
    p_value: float


# ------------------------------------------------------------------------------------------------
# design
# ------------------------------------------------------------------------------------------------
def _design(
    data: pd.DataFrame, formula: str, term: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Outcome vector, design matrix and column names of ``formula`` (complete cases), checked."""
    data = _checked_frame(data, formula)
    try:
        # the design via an OLS model object: it builds the same matrices without checking the outcome,
        # so a non-0/1 outcome gets the clear message below
        model = smf.ols(formula, data=data, missing="drop")
    except Exception as exc:  # patsy errors: unknown column, bad syntax, non-numeric outcome ...
        raise _model_error(exc, data, formula, "logistic model") from None
    names = list(model.exog_names)
    y = np.asarray(model.endog, dtype=float)
    X = np.asarray(model.exog, dtype=float)
    if term not in names:
        raise TermNotFoundError(
            f"term {term!r} is not a coefficient of the logistic model {formula!r}",
            where=f"term {term!r}",
            hint="available terms: " + ", ".join(repr(n) for n in names),
        )
    if X.shape[0] == 0:
        raise StatsInputError(
            "no complete cases: every row has a missing value in a formula variable",
            where=f"formula {formula!r}",
        )
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise StatsInputError(
            f"the outcome of {formula!r} must be coded 0/1",
            where=f"formula {formula!r}",
            hint="turn the outcome into a 0/1 indicator before fitting",
        )
    n_ev = int(y.sum())
    if n_ev == 0 or n_ev == len(y):
        raise StatsInputError(
            f"the outcome of {formula!r} is constant among the {len(y)} complete cases "
            f"({n_ev} events)",
            where=f"formula {formula!r}",
            hint="a logistic model needs both outcomes",
        )
    col = X[:, names.index(term)]
    if np.all(col == col[0]):
        raise TermNotFoundError(
            f"term {term!r} is constant among the complete cases",
            where=f"term {term!r}",
            hint="an exposure level with no (or only) complete-case subjects cannot be estimated",
        )
    rank = int(np.linalg.matrix_rank(X))
    if rank < X.shape[1]:
        raise StatsInputError(
            f"the design matrix of {formula!r} is rank-deficient (rank {rank} < {X.shape[1]} columns)",
            where=f"formula {formula!r}",
            hint="remove a collinear covariate or merge sparse levels",
        )
    if X.shape[0] <= X.shape[1]:
        raise StatsInputError(
            f"too few complete cases ({X.shape[0]}) for {X.shape[1]} coefficients",
            where=f"formula {formula!r}",
            hint="use fewer covariates or more samples",
        )
    return y, X, names


def _term_counts(y: np.ndarray, col: np.ndarray) -> tuple[int | None, int | None]:
    if not np.all(np.isin(col, (0.0, 1.0))):
        return None, None
    on = col == 1.0
    return int(on.sum()), int(y[on].sum())


def _result(
    data: pd.DataFrame,
    formula: str,
    term: str,
    design: tuple[np.ndarray, np.ndarray, list[str]],
    beta: np.ndarray,
    cov: np.ndarray,
    method: str,
    iterations: int | None = None,
) -> LogisticResult:
    """The result for ``term`` from the fitted coefficients ``beta`` and their covariance ``cov``.

    ``design`` is what :func:`_design` returned for ``data`` and ``formula``; ``iterations`` is ``None``
    for a fit that does not count them.
    """
    y, X, names = design
    k = names.index(term)
    est = float(beta[k])
    se = float(math.sqrt(cov[k, k]))
    if not (math.isfinite(est) and math.isfinite(se) and se > 0):
        raise StatsInputError(
            f"the log odds ratio of {term!r} or its SE is not finite in {formula!r} "
            f"(estimate {est!r}, SE {se!r})",
            where=f"term {term!r}",
            hint="cells of the exposure × outcome table are probably empty; use logit_firth",
        )
    z = est / se
    p = float(2.0 * stats.norm.sf(abs(z)))
    wald = wald_fields(term, est, se, p, stats.norm.ppf)
    ci95 = wald["ci95"]
    n_term, n_term_ev = _term_counts(y, X[:, k])
    return LogisticResult(
        **wald,
        z=float(z),
        odds_ratio=float(math.exp(est)),
        or_ci95=(float(math.exp(ci95[0])), float(math.exp(ci95[1]))),
        n=len(y),
        n_events=int(y.sum()),
        n_term=n_term,
        n_term_events=n_term_ev,
        formula=formula,
        method=method,
        n_dropped_missing=int(data.shape[0] - len(y)),
        iterations=iterations,
    )


def _sandwich(X: np.ndarray, y: np.ndarray, p: np.ndarray, cov_type: str) -> np.ndarray:
    """HC0 or HC3 sandwich covariance of a logistic fit, as R's ``sandwich::vcovHC`` for a glm."""
    w = p * (1.0 - p)
    bread = np.linalg.inv(X.T @ (X * w[:, None]))
    resid = y - p
    if cov_type == "HC3":
        # hat values of the weighted fit: h_i = w_i x_i' (X'WX)^-1 x_i
        h = w * np.einsum("ij,jk,ik->i", X, bread, X)
        resid = resid / (1.0 - h)
    meat = X.T @ (X * (resid**2)[:, None])
    return bread @ meat @ bread


def logit_robust(
    data: pd.DataFrame, formula: str, term: str, cov_type: str = "HC3"
) -> LogisticResult:
    """Logistic regression by maximum likelihood with sandwich standard errors.

    Parameters
    ----------
    data
        One row per subject; must hold every variable of ``formula``; the outcome is coded 0/1.
    formula
        A patsy formula, e.g. ``"skin_any ~ ibd_any + age + C(sex) + bmi"``.
    term
        The coefficient to report, e.g. ``"ibd_any"``.
    cov_type
        ``"HC3"`` (default; R's ``vcovHC`` default for a glm) or ``"HC0"`` (the textbook sandwich).

    Returns
    -------
    LogisticResult
        Log odds ratio, sandwich SE, Wald 95 %/90 % CIs and z p-value, the odds ratio and counts.

    Raises
    ------
    TermNotFoundError
        ``term`` is not a coefficient, or it is constant among complete cases.
    StatsInputError
        Unknown column, a non-0/1 or constant outcome, a rank-deficient design, or a fit that does
        not converge or gives infinite estimates (e.g. under separation: use :func:`logit_firth`).
    """
    if cov_type not in _COV_TYPES:
        raise StatsInputError(
            f"cov_type must be one of {_COV_TYPES}, got {cov_type!r}", where="cov_type"
        )
    design = _design(data, formula, term)
    y, X, _ = design
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.Logit(y, X).fit(disp=0, method="newton", maxiter=100)
        except Exception as exc:  # perfect separation, singular Hessian
            raise StatsInputError(
                f"the logistic model {formula!r} cannot be fitted by maximum likelihood: {exc}",
                where=f"formula {formula!r}",
                hint="cells of the exposure × outcome table are probably empty; use logit_firth",
            ) from None
    beta = np.asarray(res.params, dtype=float)
    converged = bool(res.mle_retvals.get("converged", False))
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    if not converged or np.any(p < 1e-10) or np.any(p > 1 - 1e-10):
        raise StatsInputError(
            f"maximum likelihood for {formula!r} did not converge to finite estimates "
            "(fitted probabilities of 0 or 1: separation)",
            where=f"term {term!r}",
            hint="use logit_firth (penalised likelihood) for sparse or separated data",
        )
    method = f"logistic regression (maximum likelihood), {cov_type} sandwich SEs, Wald z"
    return _result(data, formula, term, design, beta, _sandwich(X, y, p, cov_type), method)


def _firth_fit(
    X: np.ndarray, y: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Firth's penalised-likelihood logistic regression (Newton steps with step halving)."""
    k = X.shape[1]
    beta = np.zeros(k)

    def penalised(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = X @ b
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        info = X.T @ (X * w[:, None])
        sign, logdet = np.linalg.slogdet(info)
        ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        return (ll + 0.5 * logdet if sign > 0 else -math.inf), p, info

    current, p, info = penalised(beta)
    for it in range(1, max_iter + 1):
        w = p * (1.0 - p)
        inv = np.linalg.inv(info)
        h = w * np.einsum("ij,jk,ik->i", X, inv, X)
        score = X.T @ (y - p + h * (0.5 - p))
        step = inv @ score
        # keep steps bounded (as logistf's maxstep) and halve them until the penalised
        # log-likelihood does not decrease
        biggest = float(np.max(np.abs(step)))
        if biggest > 5.0:
            step = step * (5.0 / biggest)
        for _ in range(30):
            cand = beta + step
            val, p_c, info_c = penalised(cand)
            if val >= current - 1e-12:
                break
            step = step / 2.0
        beta, current, p, info = cand, val, p_c, info_c
        if float(np.max(np.abs(step))) < tol:
            return beta, np.linalg.inv(info), it
    raise StatsInputError(
        f"Firth logistic regression did not converge in {max_iter} iterations",
        where="logit_firth",
        hint="check the design for constant or collinear columns",
    )


def logit_firth(
    data: pd.DataFrame, formula: str, term: str, max_iter: int = 200, tol: float = 1e-10
) -> LogisticResult:
    """Firth's bias-reduced (penalised-likelihood) logistic regression.

    Parameters
    ----------
    data, formula, term
        As for :func:`logit_robust`.
    max_iter, tol
        Newton iterations and the convergence tolerance on the largest coefficient change.

    Returns
    -------
    LogisticResult
        Penalised-likelihood log odds ratio with the model-based (Fisher information) SE and Wald
        CIs and p-value, like the summary of R's ``glm(method = brglm2::brglmFit, type = "AS_mean")``.

    Notes
    -----
    The estimate stays finite under separation (e.g. every exposed subject is a case). The Wald
    CI is symmetric on the log-odds scale; R's ``logistf`` reports profile-penalised-likelihood CIs by
    default, which are asymmetric and usually somewhat wider for sparse cells.
    """
    design = _design(data, formula, term)
    y, X, _ = design
    beta, cov, iters = _firth_fit(X, y, max_iter, tol)
    method = "Firth penalised-likelihood logistic regression, model-based SEs, Wald z"
    return _result(data, formula, term, design, beta, cov, method, iters)


# ------------------------------------------------------------------------------------------------
# 2 x 2 tables
# ------------------------------------------------------------------------------------------------
def two_by_two(outcome: pd.Series, exposure: pd.Series) -> tuple[tuple[int, int], tuple[int, int]]:
    """Counts ``((exposed cases, exposed non-cases), (unexposed cases, unexposed non-cases))``.

    Both series are 0/1 (or boolean); rows where either is missing are ignored.
    """
    df = pd.DataFrame({"y": outcome, "x": exposure}).dropna()
    y = df["y"].astype(float).to_numpy()
    x = df["x"].astype(float).to_numpy()
    for name, v in (("outcome", y), ("exposure", x)):
        if not np.all(np.isin(v, (0.0, 1.0))):
            raise StatsInputError(f"the {name} must be coded 0/1", where=name)
    a = int(np.sum((x == 1) & (y == 1)))
    b = int(np.sum((x == 1) & (y == 0)))
    c = int(np.sum((x == 0) & (y == 1)))
    d = int(np.sum((x == 0) & (y == 0)))
    return (a, b), (c, d)


def exact_odds_ratio(table: tuple[tuple[int, int], tuple[int, int]]) -> ExactOddsRatio:
    """Conditional MLE odds ratio, exact 95 % CI and two-sided Fisher p of a 2 × 2 table.

    Parameters
    ----------
    table
        ``((exposed cases, exposed non-cases), (unexposed cases, unexposed non-cases))``.

    Returns
    -------
    ExactOddsRatio
        The same numbers as R's ``fisher.test(matrix(c(a, c, b, d), 2))`` (tested).
    """
    arr = np.asarray(table, dtype=np.int64)
    if arr.shape != (2, 2) or np.any(arr < 0):
        raise StatsInputError(
            f"table must be a 2 × 2 table of counts >= 0, got {table!r}", where="table"
        )
    if np.any(arr.sum(axis=0) == 0) or np.any(arr.sum(axis=1) == 0):
        raise StatsInputError(
            f"a row or column of the 2 × 2 table {arr.tolist()} is empty", where="table"
        )
    from scipy.stats.contingency import odds_ratio

    res = odds_ratio(arr, kind="conditional")
    ci = res.confidence_interval(confidence_level=0.95)
    p = float(stats.fisher_exact(arr)[1])
    return ExactOddsRatio(
        table=((int(arr[0, 0]), int(arr[0, 1])), (int(arr[1, 0]), int(arr[1, 1]))),
        odds_ratio=float(res.statistic),
        ci95=(float(ci.low), float(ci.high)),
        p_value=p,
    )


def wald_power(
    effect: float, se: float, alpha: float = 0.05, alternative: str = "two-sided"
) -> float:
    """Power of the Wald z test (two-sided, or one-sided) to detect ``effect`` when the estimate has SE ``se``.

    ``Φ(|effect|/se − z_{1−α/2}) + Φ(−|effect|/se − z_{1−α/2})``.

    Parameters
    ----------
    effect
        The effect to detect on the estimate's scale (e.g. the SESOI, log(1.5) for OR 1.5).
    se
        Standard error of the estimate; the fitted model's SE is used as the SE under the SESOI
        (it depends on the design — group sizes, event rate, covariates — far more than on the
        true effect when the effect is modest).
    alpha
        Significance level.
    alternative
        ``"two-sided"`` or ``"greater"`` (one-sided in the direction of ``effect``: ``Φ(|effect|/se − z_{1−α})``).
    """
    effect = abs(check_finite("effect", effect))
    se = check_finite("se", se)
    if se <= 0:
        raise StatsInputError(f"se must be > 0, got {se}", where="se")
    alpha = check_finite("alpha", alpha)
    if not 0 < alpha < 1:
        raise StatsInputError(f"alpha must be in (0, 1), got {alpha}", where="alpha")
    ncp = effect / se
    if alternative == "greater":
        return float(stats.norm.sf(float(stats.norm.ppf(1 - alpha)) - ncp))
    if alternative != "two-sided":
        raise StatsInputError(
            f"alternative must be 'two-sided' or 'greater', got {alternative!r}",
            where="alternative",
        )
    zc = float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.norm.sf(zc - ncp) + stats.norm.cdf(-zc - ncp))
