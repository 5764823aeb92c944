"""Equivalence testing by two one-sided tests (TOST; Schuirmann 1987, Lakens 2017).

Equivalence to zero within ±``bound`` (the smallest effect size of interest, SESOI) is shown when
both one-sided nulls, ``effect <= -bound`` and ``effect >= +bound``, are rejected at level alpha.
This is the same as the ``1 - 2 alpha`` (90 % for alpha = 0.05) confidence interval lying strictly
inside ``(-bound, +bound)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from ._util import JsonMixin, StatsInputError, check_finite

__all__ = ["TostResult", "tost", "tost_correlation"]


@dataclass(frozen=True)
class TostResult(JsonMixin):
    """Result of a TOST equivalence test.

    Attributes
    ----------
    estimate
        The effect (for correlations: r, not Fisher z).
    se
        Standard error on the scale the test is done on (Fisher z for correlations).
    bound
        SESOI (> 0); equivalence region ``(-bound, +bound)`` on the estimate's scale.
    df
        Degrees of freedom of the t tests; ``None`` = normal distribution.
    p_lower, p_upper
        One-sided p-values against ``effect <= -bound`` and ``effect >= +bound``.
    p_value
        ``max(p_lower, p_upper)``: the TOST p-value.
    ci
        The ``1 - 2 alpha`` confidence interval on the estimate's scale.
    alpha
        Level of each one-sided test.
    equivalent
        ``p_value < alpha`` (equivalently, ``ci`` strictly inside ``(-bound, bound)``).
    scale
        ``"estimate"`` or ``"fisher_z"`` (the scale of ``se`` and of the tests).
    """

    estimate: float
    se: float
    bound: float
    df: float | None
    p_lower: float
    p_upper: float
    p_value: float
    ci: tuple[float, float]
    alpha: float
    equivalent: bool
    scale: str = "estimate"


def _check_alpha(alpha: float) -> float:
    alpha = check_finite("alpha", alpha)
    if not 0 < alpha < 0.5:
        raise StatsInputError(f"alpha must be in (0, 0.5), got {alpha}", where="alpha")
    return alpha


def _check_bound(bound: float) -> float:
    bound = check_finite("bound", bound)
    if bound <= 0:
        raise StatsInputError(
            f"the equivalence bound (SESOI) must be > 0, got {bound}", where="bound"
        )
    return bound


def tost(
    estimate: float, se: float, df: float | None, bound: float, alpha: float = 0.05
) -> TostResult:
    """Two one-sided t (or z) tests of ``|effect| < bound``.

    Parameters
    ----------
    estimate, se
        Effect estimate and its standard error (e.g. an HC3 regression coefficient).
    df
        Degrees of freedom of the t distribution (e.g. ``df_resid``); ``None`` or ``inf`` for the
        normal distribution.
    bound
        SESOI on the estimate's scale (> 0).
    alpha
        Level of each one-sided test (the CI is ``1 - 2 alpha``).

    Returns
    -------
    TostResult
        ``p_lower = P(T >= (est + bound) / se)``, ``p_upper = P(T <= (est - bound) / se)``,
        ``p_value = max``, CI ``est ± t_{1-alpha, df} se``.
    """
    estimate = check_finite("estimate", estimate)
    se = check_finite("se", se)
    if se <= 0:
        raise StatsInputError(f"se must be > 0, got {se}", where="se")
    bound = _check_bound(bound)
    alpha = _check_alpha(alpha)
    if df is not None and math.isinf(float(df)):
        df = None
    if df is not None:
        df = check_finite("df", df)
        if df <= 0:
            raise StatsInputError(f"df must be > 0, got {df}", where="df")
        dist = stats.t(df)
    else:
        dist = stats.norm()
    p_lower = float(dist.sf((estimate + bound) / se))
    p_upper = float(dist.cdf((estimate - bound) / se))
    q = float(dist.ppf(1 - alpha))
    ci = (estimate - q * se, estimate + q * se)
    p = max(p_lower, p_upper)
    return TostResult(
        estimate=estimate,
        se=se,
        bound=bound,
        df=None if df is None else float(df),
        p_lower=p_lower,
        p_upper=p_upper,
        p_value=p,
        ci=(float(ci[0]), float(ci[1])),
        alpha=alpha,
        equivalent=bool(p < alpha),
    )


def tost_correlation(
    r: float, n: int, bound: float, alpha: float = 0.05, spearman: bool = False
) -> TostResult:
    """TOST for a correlation coefficient via Fisher's z.

    Parameters
    ----------
    r
        Pearson or Spearman correlation, in (-1, 1).
    n
        Number of pairs (> 3).
    bound
        SESOI on the r scale, in (0, 1).
    alpha
        Level of each one-sided test.
    spearman
        Use the Bonett & Wright (2000) SE for Spearman's rho, ``sqrt((1 + r²/2) / (n - 3))``,
        instead of Fisher's ``1 / sqrt(n - 3)``.

    Returns
    -------
    TostResult
        Tests are done on ``atanh(r)`` against ``±atanh(bound)`` with the normal distribution;
        ``estimate`` and ``ci`` are back-transformed to r; ``se`` is on the z scale.

    Notes
    -----
    Not valid for Mantel r (its pairs are not independent): use a subject-bootstrap 90 % CI instead
    (:func:`gutskin.stats.paired.mantel`) and compare it with ±SESOI.
    """
    r = check_finite("r", r)
    if not -1 < r < 1:
        raise StatsInputError(f"r must be in (-1, 1), got {r}", where="r")
    if int(n) != n or n <= 3:
        raise StatsInputError(f"n must be an integer > 3, got {n!r}", where="n")
    bound = _check_bound(bound)
    if bound >= 1:
        raise StatsInputError(f"bound must be < 1 for a correlation, got {bound}", where="bound")
    alpha = _check_alpha(alpha)
    se = math.sqrt((1 + r * r / 2) / (n - 3)) if spearman else 1 / math.sqrt(n - 3)
    z = math.atanh(r)
    zb = math.atanh(bound)
    p_lower = float(stats.norm.sf((z + zb) / se))
    p_upper = float(stats.norm.cdf((z - zb) / se))
    q = float(stats.norm.ppf(1 - alpha))
    p = max(p_lower, p_upper)
    return TostResult(
        estimate=r,
        se=se,
        bound=bound,
        df=None,
        p_lower=p_lower,
        p_upper=p_upper,
        p_value=p,
        ci=(math.tanh(z - q * se), math.tanh(z + q * se)),
        alpha=alpha,
        equivalent=bool(p < alpha),
        scale="fisher_z",
    )
