"""Standardised effect sizes (Hedges' g) for two-group comparisons.

The small-sample correction is Hedges' exact factor

.. math::

    J(m) = \\frac{\\Gamma(m/2)}{\\sqrt{m/2}\\,\\Gamma((m-1)/2)}, \\qquad m = n_1 + n_2 - 2,

which is close to the usual approximation :math:`1 - 3/(4m - 1)` (Hedges 1981; Borenstein et al.
2009, *Introduction to Meta-Analysis*, ch. 4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

from ._util import StatsInputError, as_vector, check_finite

__all__ = ["hedges_g", "hedges_g_from_beta", "hedges_j"]


def hedges_j(df: float) -> float:
    """Hedges' exact small-sample correction factor ``J(df)`` (``df`` > 1).

    Parameters
    ----------
    df
        Degrees of freedom of the pooled SD, normally ``n1 + n2 - 2``.
    """
    df = check_finite("df", df)
    if df <= 1:
        raise StatsInputError(f"df must be > 1 for Hedges' correction, got {df}", where="df")
    return float(
        math.exp(special.gammaln(df / 2) - 0.5 * math.log(df / 2) - special.gammaln((df - 1) / 2))
    )


def _check_group_sizes(n1: int, n2: int) -> None:
    for name, val in (("n1", n1), ("n2", n2)):
        if int(val) != val or val < 2:
            raise StatsInputError(
                f"{name} must be an integer >= 2, got {val!r}",
                where=name,
                hint="a standardised difference needs at least two observations per group",
            )


def hedges_g_from_beta(
    beta: float,
    resid_sd: float,
    n1: int,
    n2: int,
    beta_ci: tuple[float, float] | None = None,
    level: float = 0.95,
) -> tuple[float, tuple[float, float]]:
    """Hedges' g for a regression coefficient of a 0/1 group indicator.

    ``g = J * beta / resid_sd`` with ``J = hedges_j(n1 + n2 - 2)``: the adjusted mean difference
    in units of the residual SD (the within-group SD after covariate adjustment).

    Parameters
    ----------
    beta
        Adjusted mean difference (group minus reference), e.g. ``RegressionResult.estimate``.
    resid_sd
        Residual SD of the model (``RegressionResult.resid_sd``), > 0.
    n1, n2
        Observations in the group and in the reference category
        (``RegressionResult.n_term`` / ``n_reference``).
    beta_ci
        Confidence interval of ``beta`` (e.g. the HC3 ``ci95``). If given, the g interval is this
        interval scaled the same way, ``J * beta_ci / resid_sd`` — which treats ``resid_sd`` as
        known, so it carries the (HC3) uncertainty of ``beta`` but not that of the SD. If ``None``,
        the normal interval ``g ± z * sqrt(var_g)`` with the Hedges & Olkin variance (see
        :func:`hedges_g`) is used.
    level
        Confidence level of the fallback interval (ignored when ``beta_ci`` is given).

    Returns
    -------
    g, (low, high)
    """
    beta = check_finite("beta", beta)
    resid_sd = check_finite("resid_sd", resid_sd)
    if resid_sd <= 0:
        raise StatsInputError(f"resid_sd must be > 0, got {resid_sd}", where="resid_sd")
    _check_group_sizes(n1, n2)
    j = hedges_j(n1 + n2 - 2)
    g = j * beta / resid_sd
    if beta_ci is not None:
        lo = check_finite("beta_ci[0]", beta_ci[0])
        hi = check_finite("beta_ci[1]", beta_ci[1])
        if lo > hi:
            raise StatsInputError(f"beta_ci must be (low, high), got {beta_ci!r}", where="beta_ci")
        return float(g), (float(j * lo / resid_sd), float(j * hi / resid_sd))
    var_g = _var_g(g / j, j, n1, n2)
    z = float(stats.norm.ppf(0.5 + level / 2))
    half = z * math.sqrt(var_g)
    return float(g), (float(g - half), float(g + half))


def _var_g(d: float, j: float, n1: int, n2: int) -> float:
    """Hedges & Olkin variance of g: ``J² [(n1+n2)/(n1 n2) + d² / (2 (n1+n2))]``."""
    return j * j * ((n1 + n2) / (n1 * n2) + d * d / (2.0 * (n1 + n2)))


def hedges_g(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, tuple[float, float]]:
    """Hedges' g of ``x`` minus ``y`` with its variance and a normal CI.

    Parameters
    ----------
    x, y
        The two samples (finite values; at least two each, not both constant).
    level
        Confidence level of the interval.

    Returns
    -------
    g, var_g, (low, high)
        ``d = (mean(x) - mean(y)) / s_pooled`` with the pooled SD on ``n1 + n2 - 2`` df,
        ``g = J d``, ``var_g = J² [(n1 + n2) / (n1 n2) + d² / (2 (n1 + n2))]`` (Hedges & Olkin
        1985; Borenstein et al. 2009 eq. 4.20–4.24) and ``g ± z sqrt(var_g)``.
    """
    xa = as_vector("x", x)
    ya = as_vector("y", y)
    n1, n2 = int(xa.size), int(ya.size)
    _check_group_sizes(n1, n2)
    df = n1 + n2 - 2
    sp2 = ((n1 - 1) * np.var(xa, ddof=1) + (n2 - 1) * np.var(ya, ddof=1)) / df
    if not sp2 > 0:
        raise StatsInputError(
            "both samples are constant (pooled SD 0); Hedges' g is undefined", where="x, y"
        )
    d = float((xa.mean() - ya.mean()) / math.sqrt(sp2))
    j = hedges_j(df)
    g = j * d
    var_g = _var_g(d, j, n1, n2)
    z = float(stats.norm.ppf(0.5 + level / 2))
    half = z * math.sqrt(var_g)
    return float(g), float(var_g), (float(g - half), float(g + half))
