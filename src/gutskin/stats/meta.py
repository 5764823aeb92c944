"""Random-effects meta-analysis of per-dataset effects (Hedges g or regression β with their SEs).

:func:`random_effects` pools ``k`` independent estimates ``y_i`` with standard errors ``s_i``
(``v_i = s_i²``) under ``y_i ~ N(μ, v_i + τ²)``:

* ``τ²`` by REML (default; the root of the restricted-likelihood score, as ``metafor::rma(method =
  "REML")``), DerSimonian–Laird (``DL``, via :func:`statsmodels.stats.meta_analysis.combine_effects`)
  or Paule–Mandel (``PM``, the root of the generalised Q equation; statsmodels' iterated version stops
  at ~1e-5);
* ``μ̂ = Σ w_i y_i / Σ w_i`` with ``w_i = 1 / (v_i + τ̂²)``, ``SE(μ̂) = 1 / sqrt(Σ w_i)``, a normal
  95 % CI and z-test (metafor's default), and the 90 % CI used by equivalence tests;
* Cochran's ``Q = Σ (y_i - ȳ_FE)² / v_i`` on ``k - 1`` df with its χ² p-value;
* ``I² = τ̂² / (τ̂² + s²)`` (in percent) and ``H² = (τ̂² + s²) / s²`` with the "typical" within-study
  variance ``s² = (k - 1) Σ w / ((Σ w)² - Σ w²)``, ``w = 1/v`` (Higgins & Thompson 2002; metafor's
  definition; for DL it equals ``(Q - (k - 1)) / Q``);
* with ``ci_method="hksj"`` the Hartung–Knapp–Sidik–Jonkman CI instead: ``SE_HK(μ̂)² = Σ w_i (y_i - μ̂)² /
  ((k - 1) Σ w_i)`` and the t distribution on ``k - 1`` df for the CI and the test (``metafor::rma(test =
  "knha")``; not truncated at the ordinary SE, as in metafor). It keeps its nominal coverage with few
  studies, where the normal CI is far too narrow (IntHout et al. 2014, *BMC Med Res Methodol* 14:25);
* the 95 % prediction interval for the effect in a new setting, ``μ̂ ± t_{k-2} sqrt(τ̂² + SE(μ̂)²)``
  (Higgins, Thompson & Spiegelhalter 2009, *J R Stat Soc A* 172:137). It needs ``k ≥ 3``; for
  ``k < 3`` it is ``None`` and ``pi_note`` says why.

With two studies ``τ²`` is barely estimable: the result is reported, but the note makes the limitation
visible. References in the tests come from ``metafor::rma`` (``tests/fixtures/make_metafor_rma.R``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from ._util import JsonMixin, StatsInputError, as_vector

__all__ = ["CI_METHODS", "METHODS", "MetaResult", "random_effects", "z_test_power"]

#: Estimators of the between-study variance.
METHODS = ("REML", "DL", "PM")
#: Confidence-interval methods of the pooled estimate.
CI_METHODS = ("normal", "hksj")


@dataclass(frozen=True)
class MetaResult(JsonMixin):
    """A random-effects meta-analysis.

    Attributes
    ----------
    method
        Estimator of ``tau2``: ``REML``, ``DL`` or ``PM``.
    k
        Number of studies (datasets).
    estimate, se
        Pooled effect ``μ̂`` and its standard error.
    ci95, ci90
        Normal confidence intervals of ``μ̂``.
    z, p_value
        Wald z statistic and two-sided p-value for ``μ = 0``.
    tau2, tau
        Between-study variance and SD.
    i2
        I² in percent (0–100).
    h2
        H² (≥ 1).
    q, q_df, q_p
        Cochran's Q, its df (``k - 1``) and the χ² p-value of the test of homogeneity.
    pi95
        95 % prediction interval (``None`` when ``k < 3``).
    pi_note
        Why ``pi95`` is missing, else ``None``.
    weights
        Relative random-effects weights in percent, in input order.
    labels
        Study labels, in input order.
    effects, ses
        The inputs.
    fixed_estimate, fixed_se
        Common-effect (inverse-variance) estimate and SE, for comparison.
    ci_method
        ``normal`` (Wald z) or ``hksj`` (Hartung–Knapp–Sidik–Jonkman: ``se`` is the Knapp–Hartung SE and
        ``ci95``, ``ci90``, ``z`` and ``p_value`` use the t distribution on ``df`` = ``k - 1``).
    df
        Degrees of freedom of the t distribution (``None`` for ``normal``).
    """

    method: str
    k: int
    estimate: float
    se: float
    ci95: tuple[float, float]
    ci90: tuple[float, float]
    z: float
    p_value: float
    tau2: float
    tau: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    pi95: tuple[float, float] | None
    pi_note: str | None
    weights: tuple[float, ...]
    labels: tuple[str, ...]
    effects: tuple[float, ...]
    ses: tuple[float, ...]
    fixed_estimate: float
    fixed_se: float
    ci_method: str = "normal"
    df: int | None = None


def _tau2_root(fn: Callable[[float], float], y: np.ndarray, v: np.ndarray, estimator: str) -> float:
    """The root in τ² ≥ 0 of ``fn`` (positive below the root), or 0 when ``fn(0) ≤ 0`` (truncated): the
    bracket grows fourfold from ``max(var(y), max(v), 1e-8)`` until ``fn`` turns, then Brent's method."""
    if fn(0.0) <= 0:
        return 0.0
    hi = max(float(np.var(y, ddof=1)), float(v.max()), 1e-8)
    while fn(hi) > 0:
        hi *= 4.0
        if hi > 1e12:  # pragma: no cover - pathological input
            raise StatsInputError(
                f"the {estimator} estimate of tau² does not converge", where="effects"
            )
    return float(optimize.brentq(fn, 0.0, hi, xtol=1e-15, rtol=1e-13, maxiter=500))


def _tau2_reml(y: np.ndarray, v: np.ndarray) -> float:
    """REML estimate of τ² (root of the restricted score, truncated at 0)."""

    def score(t2: float) -> float:
        w = 1.0 / (v + t2)
        sw = w.sum()
        mu = float(np.sum(w * y) / sw)
        # d(restricted log-likelihood)/d tau2, times 2
        return float(np.sum(w * w * (y - mu) ** 2) - sw + np.sum(w * w) / sw)

    return _tau2_root(score, y, v, "REML")


def _tau2_pm(y: np.ndarray, v: np.ndarray) -> float:
    """Paule–Mandel estimate of τ²: the root of ``Σ w_i (y_i - μ̂)² = k - 1`` (truncated at 0)."""
    k = y.size

    def excess(t2: float) -> float:
        w = 1.0 / (v + t2)
        mu = float(np.sum(w * y) / w.sum())
        return float(np.sum(w * (y - mu) ** 2)) - (k - 1)

    return _tau2_root(excess, y, v, "Paule–Mandel")


def _tau2_dl(y: np.ndarray, v: np.ndarray) -> float:
    """DerSimonian–Laird τ² from :func:`statsmodels.stats.meta_analysis.combine_effects`."""
    import warnings

    from statsmodels.stats.meta_analysis import combine_effects

    with warnings.catch_warnings():
        # statsmodels also computes unused Knapp–Hartung variances, which can warn for tau2 = 0.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = combine_effects(y, v, method_re="chi2")
    return max(0.0, float(res.tau2))


def z_test_power(
    effect: float, se: float, alpha: float = 0.05, alternative: str = "two-sided"
) -> float:
    """Power of a z-test at level ``alpha`` when the true effect is ``effect``.

    ``Φ(|effect|/se - z_{1-α/2}) + Φ(-|effect|/se - z_{1-α/2})``; used for the power of a pooled
    estimate at the SESOI given its (random-effects) SE. ``alternative="greater"``: one-sided in the
    direction of ``effect``, ``Φ(|effect|/se - z_{1-α})``.
    """
    if not se > 0 or not math.isfinite(se):
        raise StatsInputError(f"se must be a positive number, got {se!r}", where="se")
    if not 0 < alpha < 1:
        raise StatsInputError(f"alpha must be in (0, 1), got {alpha!r}", where="alpha")
    lam = abs(float(effect)) / se
    if alternative == "greater":
        return float(stats.norm.cdf(lam - float(stats.norm.ppf(1 - alpha))))
    if alternative != "two-sided":
        raise StatsInputError(
            f"alternative must be 'two-sided' or 'greater', got {alternative!r}",
            where="alternative",
        )
    zc = float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.norm.cdf(lam - zc) + stats.norm.cdf(-lam - zc))


def random_effects(
    effects: Sequence[float] | np.ndarray,
    ses: Sequence[float] | np.ndarray,
    *,
    method: str = "REML",
    labels: Sequence[str] | None = None,
    level: float = 0.95,
    ci_method: str = "normal",
) -> MetaResult:
    """Random-effects meta-analysis of ``effects`` with standard errors ``ses``.

    Parameters
    ----------
    effects
        One estimate per study (e.g. adjusted Hedges g per dataset), all on the same scale.
    ses
        Their standard errors (> 0).
    method
        ``REML`` (default), ``DL`` (DerSimonian–Laird) or ``PM`` (Paule–Mandel).
    labels
        Study labels (default ``study 1`` …).
    level
        Level of the confidence and prediction intervals (default 0.95; ``ci90`` is always 90 %).
    ci_method
        ``normal`` (default; Wald z) or ``hksj`` (Hartung–Knapp–Sidik–Jonkman, t on ``k - 1`` df).

    Returns
    -------
    MetaResult

    Raises
    ------
    StatsInputError
        Fewer than 2 studies, lengths differ, non-finite values, an SE ≤ 0, unknown method.
    """
    y = as_vector("effects", effects)
    s = as_vector("ses", ses)
    if y.size != s.size:
        raise StatsInputError(
            f"effects ({y.size}) and ses ({s.size}) differ in length", where="effects, ses"
        )
    k = int(y.size)
    if k < 2:
        raise StatsInputError(
            f"a meta-analysis needs at least 2 studies, got {k}",
            where="effects",
            hint="report the single study's estimate instead",
        )
    if np.any(s <= 0):
        raise StatsInputError(
            f"every SE must be > 0 (position {int(np.flatnonzero(s <= 0)[0])} is not)",
            where="ses",
        )
    if method not in METHODS:
        raise StatsInputError(f"method must be one of {METHODS}, got {method!r}", where="method")
    if not 0 < level < 1:
        raise StatsInputError(f"level must be in (0, 1), got {level!r}", where="level")
    if ci_method not in CI_METHODS:
        raise StatsInputError(
            f"ci_method must be one of {CI_METHODS}, got {ci_method!r}", where="ci_method"
        )
    labs = (
        tuple(str(x) for x in labels)
        if labels is not None
        else tuple(f"study {i + 1}" for i in range(k))
    )
    if len(labs) != k:
        raise StatsInputError(f"{len(labs)} labels for {k} studies", where="labels")

    v = s * s
    w_fe = 1.0 / v
    mu_fe = float(np.sum(w_fe * y) / w_fe.sum())
    se_fe = float(1.0 / math.sqrt(w_fe.sum()))
    q = float(np.sum(w_fe * (y - mu_fe) ** 2))
    q_df = k - 1
    q_p = float(stats.chi2.sf(q, q_df))

    tau2 = {"REML": _tau2_reml, "DL": _tau2_dl, "PM": _tau2_pm}[method](y, v)
    w = 1.0 / (v + tau2)
    mu = float(np.sum(w * y) / w.sum())
    se = float(1.0 / math.sqrt(w.sum()))
    se_re = se  # the prediction interval keeps the ordinary SE (Higgins et al. 2009)
    df: int | None = None
    if ci_method == "hksj":
        df = k - 1
        se = float(math.sqrt(np.sum(w * (y - mu) ** 2) / (df * w.sum())))
        if not se > 0:
            raise StatsInputError(
                "the Knapp–Hartung SE is 0 (all studies have the same estimate)",
                where="effects",
                hint="use ci_method='normal'",
            )
        zc = float(stats.t.ppf(0.5 + level / 2, df))
        z90 = float(stats.t.ppf(0.95, df))
        z = mu / se
        p = float(2 * stats.t.sf(abs(z), df))
    else:
        zc = float(stats.norm.ppf(0.5 + level / 2))
        z90 = float(stats.norm.ppf(0.95))
        z = mu / se
        p = float(2 * stats.norm.sf(abs(z)))

    s2 = (k - 1) * w_fe.sum() / (w_fe.sum() ** 2 - np.sum(w_fe * w_fe))
    i2 = 100.0 * tau2 / (tau2 + s2)
    h2 = (tau2 + s2) / s2

    if k >= 3:
        half = float(stats.t.ppf(0.5 + level / 2, k - 2)) * math.sqrt(tau2 + se_re * se_re)
        pi: tuple[float, float] | None = (mu - half, mu + half)
        pi_note = None
    else:
        pi = None
        pi_note = (
            f"prediction interval not computed: it needs at least 3 studies (t with k − 2 df), "
            f"and there are {k}; between-study heterogeneity cannot be judged"
        )
    return MetaResult(
        method=method,
        k=k,
        estimate=mu,
        se=se,
        ci95=(mu - zc * se, mu + zc * se),
        ci90=(mu - z90 * se, mu + z90 * se),
        z=float(z),
        p_value=p,
        tau2=float(tau2),
        tau=float(math.sqrt(tau2)),
        i2=float(i2),
        h2=float(h2),
        q=q,
        q_df=q_df,
        q_p=q_p,
        pi95=pi,
        pi_note=pi_note,
        weights=tuple(float(x) for x in 100.0 * w / w.sum()),
        labels=labs,
        effects=tuple(float(x) for x in y),
        ses=tuple(float(x) for x in s),
        fixed_estimate=mu_fe,
        fixed_se=se_fe,
        ci_method=ci_method,
        df=df,
    )
