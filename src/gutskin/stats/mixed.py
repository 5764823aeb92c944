"""Linear mixed models with a random intercept per subject, for repeated measures.

:func:`mixed_random_intercept` fits ``y = Xβ + b_subject + ε`` by restricted maximum likelihood (REML) and
reports one fixed-effect coefficient the way R reports it:

- the estimate and the variance components (subject and residual variance) are the REML optimum, as
  ``lme4::lmer(..., REML = TRUE)`` and ``nlme::lme(..., method = "REML")`` give. The default engine
  (``engine="profile"``) maximises the REML likelihood profiled over the fixed effects and the residual
  variance, a one-dimensional problem in the relative SD θ = σ_subject/σ_residual (lme4's
  parametrisation; θ = 0, a singular fit, is allowed): a grid over θ, then bounded Brent. It is exact
  and takes milliseconds. ``engine="statsmodels"`` fits statsmodels ``MixedLM`` (REML) with several
  optimisers and keeps the best likelihood; it gives the same numbers but is 100–1000 times slower;
- the standard errors are ``sqrt(diag((X' V⁻¹ X)⁻¹))`` with ``V`` built from the REML variance
  components, i.e. conditional on them, as in lme4 and nlme. statsmodels' own ``bse_fe`` comes from the
  joint Hessian of fixed effects and variance parameters and differs for unbalanced designs;
- inference uses the t distribution with nlme's "containment" denominator degrees of freedom
  (Pinheiro & Bates 2000, §2.4.2): a term that varies within at least one subject gets
  ``N − M − p_within`` (so does the intercept), a term constant within every subject gets
  ``M − p_between − 1`` (N observations, M subjects, p_within / p_between the numbers of such terms).
  This matches ``summary(nlme::lme(...))$tTable`` (tested against R in ``tests/unit/test_stats_mixed.py``).

A between-subject term is thus tested against the number of subjects, not the number of samples: repeated
visits of one person are not independent replicates.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import optimize, stats

from ._util import Coefficient, StatsInputError, wald_fields
from .power import one_sided_t_power, two_sided_t_power
from .regression import TermNotFoundError, _checked_frame, _model_error

__all__ = ["MixedResult", "mixed_power", "mixed_random_intercept"]

_OPTIMIZERS = ("lbfgs", "bfgs", "powell", "nm")


@dataclass(frozen=True)
class MixedResult(Coefficient):
    """One fixed-effect coefficient of a random-intercept linear mixed model (REML).

    Attributes
    ----------
    term
        Exact coefficient name (patsy), e.g. ``"C(group, Treatment('placebo'))[T.LGG]:after"``.
    estimate, se
        Fixed effect and its standard error (conditional on the REML variance components).
    ci95, ci90
        t intervals with ``df`` degrees of freedom.
    p_value, t, df
        Two-sided t test of ``term = 0`` with nlme's containment degrees of freedom.
    within_subject
        Whether the term varies within at least one subject (decides ``df``).
    n_obs, n_subjects
        Observations (complete cases) and subjects used.
    subject_var, resid_var
        REML estimates of the random-intercept variance and the residual variance.
    total_sd
        ``sqrt(subject_var + resid_var)``: the SD of one observation around the fixed part, used to
        standardise effects.
    icc
        Intra-class correlation ``subject_var / (subject_var + resid_var)``.
    reml_loglik
        REML log-likelihood at the optimum.
    boundary
        True when the subject variance is estimated at (or within 1e-8 of) zero: the fit is singular
        and the model reduces to OLS with t inference.
    optimizer
        ``"profile"`` (bounded Brent on the profiled REML) or the statsmodels optimiser whose solution
        was kept (the best REML likelihood among those that ran).
    formula, n_dropped_missing
        The fixed-effects formula and rows dropped because a formula variable was missing.
    """

    t: float
    df: float
    within_subject: bool
    n_obs: int
    n_subjects: int
    subject_var: float
    resid_var: float
    total_sd: float
    icc: float
    reml_loglik: float
    boundary: bool
    optimizer: str
    formula: str
    n_dropped_missing: int


def _check_inputs(data: pd.DataFrame, formula: str, subject: str) -> pd.DataFrame:
    data = _checked_frame(data, formula)
    if subject not in data.columns:
        raise StatsInputError(
            f"subject column {subject!r} is not in the data",
            where=f"column {subject!r}",
            hint=f"available columns: {', '.join(map(str, data.columns))}",
        )
    if "|" in formula:
        raise StatsInputError(
            f"give the fixed-effects formula only (no '(1 | subject)' term): {formula!r}",
            where=f"formula {formula!r}",
            hint="the random intercept per subject is added by the function",
        )
    return data


def _containment_df(
    X: np.ndarray, groups: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """nlme's denominator degrees of freedom for one grouping level, and the within-subject flags."""
    n, k = X.shape
    codes, uniq = pd.factorize(groups)
    m = len(uniq)
    within = np.zeros(k, dtype=bool)
    for j in range(k):
        col = X[:, j]
        lo = np.full(m, np.inf)
        hi = np.full(m, -np.inf)
        np.minimum.at(lo, codes, col)
        np.maximum.at(hi, codes, col)
        within[j] = bool(np.any(hi - lo > 1e-12 * max(1.0, float(np.max(np.abs(col))))))
    intercept = np.array([nm == "Intercept" for nm in names])
    p_within = int(np.sum(within & ~intercept))
    p_between = int(np.sum(~within & ~intercept))
    df = np.where(within | intercept, n - m - p_within, m - p_between - 1).astype(float)
    return df, within


def _gls_cov(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, tau2: float, sigma2: float
) -> tuple[np.ndarray, np.ndarray]:
    """GLS estimate and covariance ``(X' V⁻¹ X)⁻¹`` for V = σ² I + τ² J within each subject."""
    codes, uniq = pd.factorize(groups)
    m = len(uniq)
    ni = np.bincount(codes, minlength=m).astype(float)
    S = np.stack(
        [np.bincount(codes, weights=X[:, j], minlength=m) for j in range(X.shape[1])], axis=1
    )
    T = np.bincount(codes, weights=y, minlength=m)
    c = tau2 / (sigma2 * (sigma2 + ni * tau2))
    xtvx = X.T @ X / sigma2 - (S * c[:, None]).T @ S
    xtvy = X.T @ y / sigma2 - S.T @ (c * T)
    cov = np.linalg.inv(xtvx)
    return cov @ xtvy, cov


def _profile_reml(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[float, float, float]:
    """REML fit of a random-intercept model: (subject variance, residual variance, REML log-likelihood).

    With λ = θ² = τ²/σ², each subject's covariance is σ²(I + λJ), whose inverse is
    (I − c J)/σ² with c = λ/(1 + nᵢλ) and whose log-determinant is log(1 + nᵢλ) (+ nᵢ log σ²). Profiling
    out β (GLS) and σ² (= RSS/(n − p)) leaves
    −2 l_R(θ) = (n − p)(1 + log(2π RSS/(n − p))) + Σ log(1 + nᵢλ) + log|X'H⁻¹X|,
    the criterion of lme4's ``REMLcrit`` and nlme's REML log-likelihood.
    """
    codes, uniq = pd.factorize(groups)
    m = len(uniq)
    n, p = X.shape
    ni = np.bincount(codes, minlength=m).astype(float)
    S = np.stack([np.bincount(codes, weights=X[:, j], minlength=m) for j in range(p)], axis=1)
    T = np.bincount(codes, weights=y, minlength=m)
    xtx = X.T @ X
    xty = X.T @ y
    yty = float(y @ y)

    def criterion(theta: float) -> tuple[float, float]:
        lam = theta * theta
        c = lam / (1.0 + ni * lam)
        A = xtx - (S * c[:, None]).T @ S
        b = xty - S.T @ (c * T)
        q = yty - float(np.sum(c * T * T))
        beta = np.linalg.solve(A, b)
        rss = q - float(beta @ b)
        if not rss > 0:
            return math.inf, rss
        sign, logdet = np.linalg.slogdet(A)
        if sign <= 0:
            return math.inf, rss
        dev = (n - p) * (1.0 + math.log(2.0 * math.pi * rss / (n - p)))
        dev += float(np.sum(np.log1p(ni * lam))) + logdet
        return dev, rss

    grid = np.concatenate([[0.0], np.geomspace(1e-4, 1e4, 81)])
    devs = np.array([criterion(float(t))[0] for t in grid])
    if not np.isfinite(devs).any():
        raise StatsInputError(
            "the REML criterion is not finite anywhere (the residuals are exactly 0?)",
            where="mixed model",
            hint="check that the outcome varies within subjects",
        )
    k = int(np.nanargmin(devs))
    lo = float(grid[max(k - 1, 0)])
    hi = float(grid[min(k + 1, len(grid) - 1)])
    theta, best = float(grid[k]), float(devs[k])
    if hi > lo:
        opt = optimize.minimize_scalar(
            lambda t: criterion(float(t))[0],
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-12},
        )
        if float(opt.fun) < best:
            theta, best = float(opt.x), float(opt.fun)
    _, rss = criterion(theta)
    sigma2 = rss / (n - p)
    return theta * theta * sigma2, sigma2, -0.5 * best


def _statsmodels_reml(
    formula: str, used: pd.DataFrame, groups: np.ndarray
) -> tuple[float, float, float, str]:
    """REML by statsmodels MixedLM: the best converged fit over several optimisers."""
    model = smf.mixedlm(formula, data=used, groups=groups, missing="drop")
    best = None
    best_name = ""
    for opt in _OPTIMIZERS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = model.fit(reml=True, method=opt)
            except (np.linalg.LinAlgError, ValueError, OverflowError):
                continue
        if not fit.converged or not math.isfinite(float(fit.llf)):
            continue
        if best is None or float(fit.llf) > float(best.llf) + 1e-10:
            best, best_name = fit, opt
    if best is None:
        raise StatsInputError(
            f"the mixed model {formula!r} did not converge with any optimiser ({', '.join(_OPTIMIZERS)})",
            where=f"formula {formula!r}",
            hint="check for subjects with extreme values or too few observations per subject",
        )
    tau2 = max(0.0, float(np.asarray(best.cov_re)[0, 0]))
    return tau2, float(best.scale), float(best.llf), best_name


def mixed_random_intercept(
    data: pd.DataFrame, formula: str, subject: str, term: str, engine: str = "profile"
) -> MixedResult:
    """Fit a random-intercept linear mixed model by REML and report one fixed effect.

    Parameters
    ----------
    data
        One row per observation (sample); must hold the variables of ``formula`` and ``subject``.
    formula
        Fixed effects only, e.g. ``"shannon ~ C(group, Treatment('placebo')) * after + age"``.
    subject
        Column identifying the subject (the random-intercept grouping).
    term
        Exact coefficient name to report.
    engine
        ``"profile"`` (default; exact one-dimensional profiled REML) or ``"statsmodels"`` (MixedLM).

    Returns
    -------
    MixedResult
        Estimate, SE, t-based 95 %/90 % CIs and p with nlme's containment df, variance components,
        ICC and counts.

    Raises
    ------
    TermNotFoundError
        ``term`` is not a coefficient (the message lists the available ones).
    StatsInputError
        Unknown column, no complete cases, a rank-deficient design, fewer than 3 subjects, no subject
        with two observations, no residual degrees of freedom, an unknown engine, or no optimiser
        converging.
    """
    if engine not in ("profile", "statsmodels"):
        raise StatsInputError(
            f"engine must be 'profile' or 'statsmodels', got {engine!r}", where="engine"
        )
    data = _check_inputs(data, formula, subject)
    try:
        # the design via an OLS model object (patsy; complete cases), the response and fixed effects
        model_probe = smf.ols(formula, data=data, missing="drop")
    except Exception as exc:
        raise _model_error(exc, data, formula, "mixed model") from None
    rows = model_probe.data.row_labels
    names = list(model_probe.exog_names)
    if term not in names:
        raise TermNotFoundError(
            f"term {term!r} is not a coefficient of the mixed model {formula!r}",
            where=f"term {term!r}",
            hint="available terms: " + ", ".join(repr(n) for n in names),
        )
    groups_all = data.loc[rows, subject]
    keep = groups_all.notna().to_numpy()
    X = np.asarray(model_probe.exog, dtype=float)[keep]
    y = np.asarray(model_probe.endog, dtype=float)[keep]
    groups = groups_all.astype(str).to_numpy()[keep]
    used = data.loc[np.asarray(rows)[keep]]
    n, k = X.shape
    m = len(pd.unique(groups))
    if n == 0:
        raise StatsInputError(
            "no complete cases: every row has a missing value in a formula variable",
            where=f"formula {formula!r}",
        )
    if m < 3:
        raise StatsInputError(
            f"a random intercept needs at least 3 subjects, got {m}", where=f"column {subject!r}"
        )
    if n == m:
        raise StatsInputError(
            f"every one of the {m} subjects has a single complete observation, so the subject and "
            "residual variances cannot be separated",
            where=f"column {subject!r}",
            hint="use OLS for one observation per subject",
        )
    rank = int(np.linalg.matrix_rank(X))
    if rank < k:
        raise StatsInputError(
            f"the design matrix of {formula!r} is rank-deficient (rank {rank} < {k} columns)",
            where=f"formula {formula!r}",
            hint="remove a collinear covariate or a level that coincides with another",
        )
    j = names.index(term)
    if not np.any(X[:, j] != 0):
        raise TermNotFoundError(
            f"term {term!r} is zero for every complete-case row",
            where=f"term {term!r}",
            hint="drop the empty level or choose another term",
        )
    df_all, within = _containment_df(X, groups, names)
    if df_all[j] < 1 or n - k < 1:
        raise StatsInputError(
            f"no denominator degrees of freedom left for {term!r} ({n} observations, {m} subjects, "
            f"{k} coefficients)",
            where=f"term {term!r}",
            hint="use fewer covariates or more subjects",
        )
    if engine == "profile":
        tau2, sigma2, llf = _profile_reml(X, y, groups)
        optimizer = "profile"
    else:
        tau2, sigma2, llf, optimizer = _statsmodels_reml(formula, used, groups)
    if not sigma2 > 0:
        raise StatsInputError(
            f"the residual variance of {formula!r} is estimated as {sigma2!r}",
            where=f"formula {formula!r}",
            hint="check that the outcome varies within subjects",
        )
    beta, cov = _gls_cov(X, y, groups, tau2, sigma2)
    est = float(beta[j])
    se = float(math.sqrt(cov[j, j]))
    df = float(df_all[j])
    tval = est / se
    p = float(2.0 * stats.t.sf(abs(tval), df))
    total = tau2 + sigma2
    return MixedResult(
        **wald_fields(term, est, se, p, lambda a: stats.t.ppf(a, df)),
        t=float(tval),
        df=df,
        within_subject=bool(within[j]),
        n_obs=int(n),
        n_subjects=int(m),
        subject_var=float(tau2),
        resid_var=float(sigma2),
        total_sd=float(math.sqrt(total)),
        icc=float(tau2 / total),
        reml_loglik=float(llf),
        boundary=bool(tau2 <= 1e-8 * total),
        optimizer=optimizer,
        formula=formula,
        n_dropped_missing=int(data.shape[0] - n),
    )


def mixed_power(
    effect: float, se: float, df: float, alpha: float = 0.05, alternative: str = "two-sided"
) -> float:
    """Power of the t test (two-sided, or one-sided) of a fixed effect to detect ``effect`` given its SE and df.

    ``P(|T| > t_{1−α/2, df})`` with ``T`` noncentral t (``ncp = effect / se``). The fitted model's SE
    stands in for the SE under the alternative (it depends on the design and the variance components,
    not on the effect). ``alternative="greater"``: one-sided in the direction of ``effect``,
    ``P(T > t_{1−α, df})``.
    """
    if alternative not in ("two-sided", "greater"):
        raise StatsInputError(
            f"alternative must be 'two-sided' or 'greater', got {alternative!r}",
            where="alternative",
        )
    for name, v in (("effect", effect), ("se", se), ("df", df), ("alpha", alpha)):
        if not math.isfinite(float(v)):
            raise StatsInputError(f"{name} must be finite, got {v!r}", where=name)
    if se <= 0 or df <= 0 or not 0 < alpha < 1:
        raise StatsInputError(
            f"need se > 0, df > 0 and 0 < alpha < 1 (got se={se}, df={df}, alpha={alpha})",
            where="se, df, alpha",
        )
    ncp = abs(float(effect)) / float(se)
    if alternative == "greater":
        return one_sided_t_power(ncp, df, alpha)
    return two_sided_t_power(ncp, df, alpha)
