"""Power and minimum detectable effects at the smallest effect size of interest (SESOI).

Two-group power is that of the two-sided two-sample t test (pooled variance), computed exactly from
the noncentral t distribution, counting both rejection tails (R's
``power.t.test(..., strict = TRUE)``); ``alternative="greater"`` gives the one-sided test's power, as a
directional claim is tested (R's ``pwr::pwr.t2n.test(alternative = "greater")``). ``method="normal"`` gives the normal approximation used for
the tables of CLAIMS.md §3.6 (``n ≈ 2 (z_{1-α/2} + z_{1-β})² / g²``): the exact t-based numbers are
slightly larger for small samples (e.g. 20/20 → minimum detectable g 0.91 exact vs 0.89 normal).
"""

from __future__ import annotations

import math

from scipy import optimize, stats

from ._util import StatsInputError, check_finite

__all__ = [
    "ALTERNATIVES",
    "correlation_power",
    "min_detectable_g",
    "min_detectable_r",
    "n_per_group",
    "one_sided_t_power",
    "regression_term_power",
    "two_sample_power",
    "two_sided_t_power",
]

_METHODS = ("t", "normal")
#: ``"two-sided"``, or ``"greater"``: one-sided in the direction of the effect (``g`` taken as ``|g|``),
#: the power of a directional claim's one-sided test (claims/register.py; R's ``pwr.t2n.test(alternative =
#: "greater")``).
ALTERNATIVES = ("two-sided", "greater")


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise StatsInputError(
            f"alternative must be one of {ALTERNATIVES}, got {alternative!r}", where="alternative"
        )


def _check_alpha(alpha: float) -> float:
    alpha = check_finite("alpha", alpha)
    if not 0 < alpha < 1:
        raise StatsInputError(f"alpha must be in (0, 1), got {alpha}", where="alpha")
    return alpha


def _check_n(name: str, n: float, minimum: float) -> float:
    n = check_finite(name, n)
    if n < minimum:
        raise StatsInputError(f"{name} must be >= {minimum:g}, got {n:g}", where=name)
    return n


def _check_method(method: str) -> None:
    if method not in _METHODS:
        raise StatsInputError(f"method must be one of {_METHODS}, got {method!r}", where="method")


def two_sample_power(
    g: float,
    n1: float,
    n2: float,
    alpha: float = 0.05,
    method: str = "t",
    alternative: str = "two-sided",
) -> float:
    """Power of the two-sample t test (two-sided, or one-sided) to detect a standardised difference ``g``.

    Parameters
    ----------
    g
        True standardised mean difference (Hedges g / Cohen d); the sign does not matter.
    n1, n2
        Group sizes (may be non-integer when solving; each >= 2 for ``method="t"``).
    alpha
        Two-sided significance level.
    method
        ``"t"`` (exact, noncentral t with ``n1 + n2 - 2`` df) or ``"normal"`` (approximation).
    alternative
        ``"two-sided"`` (both tails at α/2) or ``"greater"`` (one tail at α, in the direction of ``g``:
        the power of a one-sided test of a directional claim).

    Returns
    -------
    float
        ``P(|T| > t_{1-α/2})`` with ``T ~ t'(df, ncp = g sqrt(n1 n2 / (n1 + n2)))``; one-sided
        ``P(T > t_{1-α})``.
    """
    g = abs(check_finite("g", g))
    alpha = _check_alpha(alpha)
    _check_method(method)
    _check_alternative(alternative)
    minimum = 2 if method == "t" else 1
    n1 = _check_n("n1", n1, minimum)
    n2 = _check_n("n2", n2, minimum)
    ncp = g * math.sqrt(n1 * n2 / (n1 + n2))
    if alternative == "greater":
        if method == "normal":
            return float(stats.norm.sf(float(stats.norm.ppf(1 - alpha)) - ncp))
        return one_sided_t_power(ncp, n1 + n2 - 2, alpha)
    if method == "normal":
        z = float(stats.norm.ppf(1 - alpha / 2))
        return float(stats.norm.sf(z - ncp) + stats.norm.cdf(-z - ncp))
    if ncp == 0:
        return float(alpha)
    return two_sided_t_power(ncp, n1 + n2 - 2, alpha)


def one_sided_t_power(ncp: float, df: float, alpha: float) -> float:
    """``P(T > t_{1−α, df})`` for ``T`` noncentral t with ``df`` and noncentrality ``ncp ≥ 0``: the power of
    a one-sided t test in the direction of the effect (R's ``pwr`` with ``alternative = "greater"``)."""
    t1 = float(stats.t.ppf(1 - alpha, df))
    one = float(stats.nct.sf(t1, df, ncp))
    # as below: the normal approximation where scipy's noncentral t fails far in a tail
    return one if math.isfinite(one) else float(stats.norm.sf(t1 - ncp))


def two_sided_t_power(ncp: float, df: float, alpha: float) -> float:
    """``P(|T| > t_{1−α/2, df})`` for ``T`` noncentral t with ``df`` and noncentrality ``ncp``."""
    tc = float(stats.t.ppf(1 - alpha / 2, df))
    upper = float(stats.nct.sf(tc, df, ncp))
    lower = float(stats.nct.cdf(-tc, df, ncp))
    # scipy's noncentral t can return NaN far in a tail for large df; there the normal
    # approximation of that (negligible or saturated) tail is accurate
    if not math.isfinite(upper):
        upper = float(stats.norm.sf(tc - ncp))
    if not math.isfinite(lower):
        lower = float(stats.norm.cdf(-tc - ncp))
    return float(min(1.0, upper + lower))


def regression_term_power(
    g: float,
    n1: float,
    n2: float,
    alpha: float = 0.05,
    method: str = "t",
    alternative: str = "two-sided",
) -> float:
    """Power for the coefficient of a group indicator in a covariate-adjusted regression.

    Approximated by :func:`two_sample_power` with ``g`` on the residual-SD scale (the scale of
    :func:`gutskin.stats.effects.hedges_g_from_beta`). The approximation ignores the few degrees of
    freedom spent on covariates and any correlation between the group indicator and the covariates
    (which would lower power by the variance inflation factor); with hundreds of samples and a
    handful of covariates both are small.

    Parameters
    ----------
    g, n1, n2, alpha, method, alternative
        As for :func:`two_sample_power`; ``n1`` and ``n2`` are the complete-case group sizes
        (``RegressionResult.n_term`` and ``n_reference``).
    """
    return two_sample_power(g, n1, n2, alpha=alpha, method=method, alternative=alternative)


def n_per_group(g: float, power: float = 0.8, alpha: float = 0.05, method: str = "t") -> float:
    """Sample size per group (equal groups, not rounded) giving ``power`` to detect ``g``.

    The t-based value equals R's ``power.t.test(delta = g, sd = 1, power = power, strict = TRUE)$n``;
    round it up for a design.
    """
    g = abs(check_finite("g", g))
    if g == 0:
        raise StatsInputError("g must be non-zero", where="g")
    power = check_finite("power", power)
    alpha = _check_alpha(alpha)
    if not alpha < power < 1:
        raise StatsInputError(f"power must be in (alpha, 1), got {power}", where="power")
    _check_method(method)
    lo = 2.0 if method == "t" else 1.0

    def f(n: float) -> float:
        return two_sample_power(g, n, n, alpha=alpha, method=method) - power

    if f(lo) >= 0:
        return lo
    hi = 4.0
    while f(hi) < 0:
        hi *= 2
    return float(optimize.brentq(f, lo, hi, xtol=1e-10, rtol=1e-14))


def min_detectable_g(
    n1: float, n2: float, alpha: float = 0.05, power: float = 0.8, method: str = "t"
) -> float:
    """Smallest standardised difference detectable with ``power`` by a two-sided t test.

    Parameters
    ----------
    n1, n2
        Group sizes.
    alpha, power
        Two-sided level and target power.
    method
        ``"t"`` (exact) or ``"normal"`` (the approximation of CLAIMS.md §3.6).

    Returns
    -------
    float
        The ``g`` solving ``two_sample_power(g, n1, n2) == power``.
    """
    power = check_finite("power", power)
    alpha = _check_alpha(alpha)
    if not alpha < power < 1:
        raise StatsInputError(f"power must be in (alpha, 1), got {power}", where="power")
    two_sample_power(0.0, n1, n2, alpha=alpha, method=method)  # validates n1, n2, method

    def f(g: float) -> float:
        return two_sample_power(g, n1, n2, alpha=alpha, method=method) - power

    hi = 1.0
    while f(hi) < 0:
        hi *= 2
        if hi > 1e6:  # pragma: no cover - only for absurd inputs
            raise StatsInputError("no detectable effect size found", where="n1, n2")
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-14))


def correlation_power(
    r: float, n: int, alpha: float = 0.05, alternative: str = "two-sided"
) -> float:
    """Power to detect a correlation ``r`` with ``n`` independent pairs (Fisher z approximation).

    ``power = Φ(atanh|r| sqrt(n-3) - z_{1-α/2}) + Φ(-atanh|r| sqrt(n-3) - z_{1-α/2})`` (two-sided)
    or ``Φ(atanh(r) sqrt(n-3) - z_{1-α})`` (``alternative="greater"``).

    Parameters
    ----------
    r
        True correlation, in (-1, 1).
    n
        Number of independent pairs (> 3).
    alpha
        Significance level.
    alternative
        ``"two-sided"`` or ``"greater"``.

    Notes
    -----
    For Spearman's rho this is a slight overestimate (its SE is larger by
    ``sqrt(1 + rho²/2)``). It is not the power of a Mantel test, whose n(n-1)/2 distances are not
    independent.
    """
    r = check_finite("r", r)
    if not -1 < r < 1:
        raise StatsInputError(f"r must be in (-1, 1), got {r}", where="r")
    n_pairs = _check_n("n", n, 4)
    alpha = _check_alpha(alpha)
    z = math.atanh(r) * math.sqrt(n_pairs - 3)
    if alternative == "two-sided":
        zc = float(stats.norm.ppf(1 - alpha / 2))
        return float(stats.norm.cdf(z - zc) + stats.norm.cdf(-z - zc))
    if alternative == "greater":
        return float(stats.norm.cdf(z - float(stats.norm.ppf(1 - alpha))))
    raise StatsInputError(
        f"alternative must be 'two-sided' or 'greater', got {alternative!r}", where="alternative"
    )


def min_detectable_r(
    n: int, alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided"
) -> float:
    """Smallest correlation detectable with ``power`` from ``n`` independent pairs (Fisher z)."""
    power = check_finite("power", power)
    correlation_power(0.0, n, alpha=alpha, alternative=alternative)  # validates

    def f(r: float) -> float:
        return correlation_power(r, n, alpha=alpha, alternative=alternative) - power

    if f(1 - 1e-12) < 0:  # pragma: no cover - n = 4 with high power
        raise StatsInputError(
            f"no correlation below 1 reaches power {power} with n = {n}", where="n"
        )
    return float(optimize.brentq(f, 0.0, 1 - 1e-12, xtol=1e-12))
