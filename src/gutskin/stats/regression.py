"""Covariate-adjusted regression of a diversity metric on an exposure.

The primary model is ordinary least squares with HC3 heteroscedasticity-consistent standard errors
(MacKinnon & White 1985), as recommended for unequal group variances and unbalanced groups. The
sensitivity model is a robust M-estimator (Huber's T norm, statsmodels ``RLM``).

Inference for OLS/HC3 uses the t distribution with the residual degrees of freedom, exactly like
R's ``lmtest::coeftest(fit, vcov. = sandwich::vcovHC(fit, type = "HC3"))``; statsmodels' own default
for robust covariances (``use_t=False``) would use the normal distribution instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from ._util import Coefficient, StatsInputError, wald_fields

__all__ = ["RegressionResult", "TermNotFoundError", "ols_hc3", "rlm_huber"]


class TermNotFoundError(StatsInputError):
    """The requested coefficient is not in the fitted model (e.g. a level with no samples)."""


@dataclass(frozen=True)
class RegressionResult(Coefficient):
    """One coefficient of a fitted regression model.

    Attributes
    ----------
    term
        Exact coefficient name, e.g. ``"C(condition, Treatment('none'))[T.eczema]"``.
    estimate, se
        Coefficient and its standard error (HC3 for OLS; the RLM default ``H1`` for Huber).
    ci95, ci90
        Two-sided 95 % and 90 % confidence intervals (the 90 % one is the TOST interval).
    p_value, t
        Two-sided p-value and test statistic for ``term = 0``.
    df_resid
        Residual degrees of freedom (used for the t distribution of OLS/HC3).
    n
        Observations used (complete cases).
    resid_sd
        Residual SD: ``sqrt(mse_resid)`` for OLS; the robust scale estimate for RLM.
    r2
        Coefficient of determination (OLS only; ``None`` for RLM).
    formula
        The model formula.
    n_dropped_missing
        Rows dropped because a formula variable was missing.
    method
        ``"OLS (HC3 standard errors, t inference)"`` or ``"RLM (Huber T, normal inference)"``.
    n_term, n_reference
        For a 0/1 indicator term (a factor level or a binary variable): observations with the
        indicator equal to 1, and observations in the reference category (all indicators of the same
        factor equal to 0). ``None`` for continuous terms. These are the group sizes that
        :func:`gutskin.stats.effects.hedges_g_from_beta` and the power functions need.
    """

    t: float
    df_resid: float
    n: int
    resid_sd: float
    r2: float | None
    formula: str
    n_dropped_missing: int
    method: str
    n_term: int | None = None
    n_reference: int | None = None


_FACTOR_LEVEL = re.compile(r"^(?P<factor>.+)\[T\.(?P<level>.*)\]$")


def _numeric_objects_to_float(data: pd.DataFrame) -> pd.DataFrame:
    """Turn object columns holding only numbers and missing values into float columns.

    A column such as ``[34, None, 52]`` has object dtype; patsy would otherwise treat it as a
    categorical factor with one level per distinct number.
    """
    convert = []
    for col in data.columns:
        if data[col].dtype == object:
            vals = data[col].dropna()
            if len(vals) and all(
                isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                for v in vals
            ):
                convert.append(col)
    if not convert:
        return data
    data = data.copy()
    for col in convert:
        data[col] = pd.to_numeric(data[col]).astype(float)
    return data


def _checked_frame(data: pd.DataFrame, formula: str) -> pd.DataFrame:
    """``data`` with at least one row and numbers-only object columns as floats, or StatsInputError."""
    if not isinstance(data, pd.DataFrame):
        raise StatsInputError(
            f"data must be a pandas DataFrame, got {type(data).__name__}", where="data"
        )
    if data.shape[0] == 0:
        raise StatsInputError("the data have no rows", where=f"formula {formula!r}")
    return _numeric_objects_to_float(data)


def _model_error(exc: Exception, data: pd.DataFrame, formula: str, what: str) -> StatsInputError:
    """The error for ``what`` (e.g. ``"model"``) that patsy could not build from ``formula``: the column it
    does not know, or the formula, with the available columns."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    unknown = re.search(r"name '([^']+)' is not defined", str(exc))
    return StatsInputError(
        f"cannot build the {what} {formula!r}: {msg}",
        where=f"column {unknown.group(1)!r}" if unknown else f"formula {formula!r}",
        hint=f"available columns: {', '.join(map(str, data.columns))}",
    )


def _fit_model(data: pd.DataFrame, formula: str, kind: str):
    data = _checked_frame(data, formula)
    try:
        if kind == "ols":
            model = smf.ols(formula, data=data, missing="drop")
        else:
            model = smf.rlm(formula, data=data, M=sm.robust.norms.HuberT(), missing="drop")
    except Exception as exc:  # patsy errors: unknown column, bad syntax, ...
        raise _model_error(exc, data, formula, "model") from None
    return model


def _check_design(model, formula: str, term: str) -> tuple[int, int]:
    names = list(model.exog_names)
    if term not in names:
        raise TermNotFoundError(
            f"term {term!r} is not a coefficient of the fitted model {formula!r}",
            where=f"term {term!r}",
            hint=(
                "available terms: "
                + ", ".join(repr(n) for n in names)
                + " (a factor level with no complete-case samples has no coefficient)"
            ),
        )
    n = int(model.exog.shape[0])
    k = int(model.exog.shape[1])
    if n == 0:
        raise StatsInputError(
            "no complete cases: every row has a missing value in a formula variable",
            where=f"formula {formula!r}",
        )
    col = model.exog[:, names.index(term)]
    if not np.any(col != 0):
        raise TermNotFoundError(
            f"term {term!r} is zero for every complete-case row (a level with no samples)",
            where=f"term {term!r}",
            hint="drop the empty level or choose another term",
        )
    rank = int(np.linalg.matrix_rank(model.exog))
    if rank < k:
        raise StatsInputError(
            f"the design matrix of {formula!r} is rank-deficient (rank {rank} < {k} columns): "
            "some terms are collinear or constant among the complete cases",
            where=f"formula {formula!r}",
            hint="remove a collinear covariate or a level that coincides with another",
        )
    if n - k < 1:
        raise StatsInputError(
            f"too few complete cases ({n}) for {k} coefficients",
            where=f"formula {formula!r}",
            hint="use fewer covariates or more samples",
        )
    return n, k


def _group_sizes(model, term: str) -> tuple[int | None, int | None]:
    """Observations with the 0/1 indicator ``term`` = 1 and in the reference category."""
    if ":" in term:
        return None, None
    names = list(model.exog_names)
    X = model.exog
    col = X[:, names.index(term)]
    if not np.all(np.isin(col, (0.0, 1.0))):
        return None, None
    m = _FACTOR_LEVEL.match(term)
    if m:
        prefix = m.group("factor") + "[T."
        siblings = [i for i, nm in enumerate(names) if nm.startswith(prefix) and ":" not in nm]
    else:
        siblings = [names.index(term)]
    n_term = int(np.sum(col == 1.0))
    n_ref = int(np.sum(np.all(X[:, siblings] == 0.0, axis=1)))
    return n_term, n_ref


def _check_leverage(model, formula: str, term: str) -> None:
    """HC3 divides by (1 - h_i)²: refuse observations with leverage 1 (a one-sample level).

    With h_i = 1 the residual is 0 and HC3's 0/0 turns into an arbitrary finite number through
    rounding, which would be a silently wrong standard error.
    """
    q, _ = np.linalg.qr(model.exog)
    h = np.sum(q * q, axis=1)
    high = np.flatnonzero(h > 1 - 1e-8)
    if high.size:
        labels = [str(model.data.row_labels[i]) for i in high[:5]]
        raise StatsInputError(
            f"{high.size} observation(s) have leverage 1 in {formula!r} (row labels: "
            f"{', '.join(labels)}), so HC3 standard errors are undefined; this happens when a "
            "factor level has a single complete-case sample",
            where=f"term {term!r}",
            hint="merge or drop factor levels with fewer than 2 complete-case samples before fitting",
        )


def _finite_or_raise(values: dict[str, float], term: str, formula: str) -> None:
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise StatsInputError(
            f"{', '.join(bad)} of {term!r} is not finite in {formula!r}; HC3 is undefined when an "
            "observation has leverage 1 (e.g. a factor level with a single sample)",
            where=f"term {term!r}",
            hint="merge or drop levels with fewer than 2 complete-case samples",
        )


def ols_hc3(data: pd.DataFrame, formula: str, term: str) -> RegressionResult:
    """Fit OLS with HC3 standard errors and report one coefficient.

    Parameters
    ----------
    data
        One row per observation; must hold every variable named in ``formula``.
    formula
        A patsy formula, e.g. ``"shannon ~ C(condition, Treatment('none')) + age + C(sex) + bmi"``.
    term
        The exact coefficient name to report, e.g. ``"C(condition, Treatment('none'))[T.eczema]"``.

    Returns
    -------
    RegressionResult
        Estimate, HC3 SE, 95 % and 90 % CIs and two-sided p from the t distribution with
        ``df_resid`` degrees of freedom, residual SD ``sqrt(mse_resid)``, R², n and rows dropped.

    Raises
    ------
    TermNotFoundError
        ``term`` is not a coefficient (its message lists the available terms). It is both an
        :class:`~gutskin.errors.InputError` and a :class:`ValueError`.
    StatsInputError
        Unknown column, no complete cases, a rank-deficient design or an undefined HC3 SE.

    Notes
    -----
    Rows with a missing value in any formula variable are dropped (complete-case analysis); their
    number is ``n_dropped_missing``. Matches R's ``lm`` + ``sandwich::vcovHC(type = "HC3")`` +
    ``lmtest::coeftest`` (checked in ``tests/unit/test_stats_regression.py``).
    """
    model = _fit_model(data, formula, "ols")
    n, _ = _check_design(model, formula, term)
    _check_leverage(model, formula, term)
    res = model.fit(cov_type="HC3", use_t=True)
    est = float(res.params[term])
    se = float(res.bse[term])
    tval = float(res.tvalues[term])
    p = float(res.pvalues[term])
    df = float(res.df_resid)
    _finite_or_raise({"standard error": se, "t": tval, "p-value": p}, term, formula)
    ci95 = res.conf_int(alpha=0.05).loc[term]
    ci90 = res.conf_int(alpha=0.10).loc[term]
    n_term, n_ref = _group_sizes(model, term)
    return RegressionResult(
        term=term,
        estimate=est,
        se=se,
        ci95=(float(ci95.iloc[0]), float(ci95.iloc[1])),
        ci90=(float(ci90.iloc[0]), float(ci90.iloc[1])),
        p_value=p,
        t=tval,
        df_resid=df,
        n=n,
        resid_sd=float(math.sqrt(res.mse_resid)),
        r2=float(res.rsquared),
        formula=formula,
        n_dropped_missing=int(data.shape[0] - n),
        method="OLS (HC3 standard errors, t inference)",
        n_term=n_term,
        n_reference=n_ref,
    )


def rlm_huber(data: pd.DataFrame, formula: str, term: str) -> RegressionResult:
    """Robust regression (Huber T norm, t = 1.345) as a sensitivity analysis to :func:`ols_hc3`.

    Parameters
    ----------
    data, formula, term
        As for :func:`ols_hc3`.

    Returns
    -------
    RegressionResult
        ``se`` is statsmodels' default ``H1`` covariance; p-values and CIs use the normal
        distribution (statsmodels' RLM convention); ``resid_sd`` is the robust (MAD-based) scale;
        ``r2`` is ``None``.

    Notes
    -----
    Scale is re-estimated by the MAD at each iteration, like ``MASS::rlm(psi = psi.huber,
    scale.est = "MAD")``; the coefficients agree with MASS to about 1e-4 (tested).
    """
    model = _fit_model(data, formula, "rlm")
    n, _ = _check_design(model, formula, term)
    res = model.fit(maxiter=200, tol=1e-10)
    est = float(res.params[term])
    se = float(res.bse[term])
    _finite_or_raise({"standard error": se}, term, formula)
    zval = est / se
    p = float(2.0 * stats.norm.sf(abs(zval)))
    n_term, n_ref = _group_sizes(model, term)
    return RegressionResult(
        **wald_fields(term, est, se, p, stats.norm.ppf),
        t=float(zval),
        df_resid=float(res.df_resid),
        n=n,
        resid_sd=float(res.scale),
        r2=None,
        formula=formula,
        n_dropped_missing=int(data.shape[0] - n),
        method="RLM (Huber T, normal inference)",
        n_term=n_term,
        n_reference=n_ref,
    )
