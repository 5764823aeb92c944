"""Calibration of the primary tests and of the verdicts: error rates and power on simulated cohorts.

For each primary test the project simulates ``replicates`` cohorts under the null (no effect) and under
planted effects (the SESOI and twice the SESOI, by default), runs **the same code** the claim runner uses,
and counts rejections at ``alpha``. The false-positive rate (FPR) should be close to ``alpha`` and the power
should match what the report promises. Rates carry exact (Clopper–Pearson) binomial 95 % intervals.

Tests and simulations (all seeded; the default group sizes are the real designs of the 2014 American Gut and
HMP runs; the default replicate counts are a quick check, and ``config/config.yaml`` asks for 1000 / 400 / 400):

``alpha_ols`` — C8, gut alpha diversity by skin condition
    Shannon values are generated directly (the statistic level: the claim's model sees nothing else):
    ``Shannon = 3.4 + covariate effects + case · β + ε``, with age, sex, BMI and antibiotics drawn with the
    frequencies of the real C8 sample, ε left-skewed like the real C8 residuals (skew-normal, shape −10:
    skewness −0.96; the real residuals have −0.97, SD 0.61, and the same SD in cases and controls).
    ``sd_ratio`` makes the cases' residual SD larger (unequal variances, the situation HC3 is for; the unit
    tests use 1.2 as a stress test). The planted effect is a standardised difference
    ``g = β / σ`` with σ the pooled residual SD. Test: :func:`gutskin.stats.regression.ols_hc3` on
    ``shannon ~ any_condition + age + C(sex) + bmi + C(antibiotics)``, as
    :mod:`gutskin.claims.alpha_condition` fits it. Analytic power:
    :func:`gutskin.stats.power.regression_term_power`.
``mantel`` — C9, gut–skin concordance in the same subjects
    Each subject has a latent d-dimensional (d = 10) Gaussian profile u; the gut profile is u and the skin
    profile is ``a·u + √(1−a²)·e`` with independent e, so ``a = 0`` is the null. Every stratum (run centre)
    adds a random shift to the gut profiles and an independent one to the skin profiles (``batch_shift`` SD
    per axis): a batch effect that makes the two matrices look concordant unless permutations stay within
    strata. Distances are Euclidean. The planted effect is the population Mantel r (Spearman) of the
    subject-level coupling (batch excluded); the coupling a giving it is solved numerically
    (:func:`mantel_coupling`). Test: :func:`gutskin.stats.paired.mantel` (Spearman, two-sided, permutations
    within strata), as :mod:`gutskin.claims.paired_mirror` calls it, with fewer permutations.
``log_ratio`` — C10, the pre-registered log-ratio of SCFA producers to Enterobacteriaceae
    Counts are simulated (the statistic depends on zeros and the pseudocount, so it is not generated
    directly): seven taxa with logistic-normal relative abundances matching American Gut medians
    (*Faecalibacterium*, *Roseburia* and another Lachnospiraceae and Ruminococcaceae genus each, *Escherichia*
    (Enterobacteriaceae; median 4 reads in 10,000, absent from about a quarter of samples), *Bacteroides* and a
    remainder), recent antibiotics lowering the producers, multinomial reads at ``depth``. The planted effect
    is a true log fold change −L of the producer : Enterobacteriaceae ratio in cases, the predicted direction
    (producers × e^(−L/2), Enterobacteriaceae × e^(L/2)). Test: :func:`gutskin.claims.differential.fit_log_ratio` on
    :func:`gutskin.stats.da.log_ratio` of :func:`gutskin.stats.da.taxon_counts`, exactly the runner's path.
    Analytic power (t approximation with the simulated residual SD) ignores the attenuation by zeros.

The models are read from ``config/claims.yaml`` (:func:`alpha_formula` builds C8's with the runner's own
covariate coding; C10's taxa and pseudocount are the claim's ``params``), never copied into this module.

**Verdict level, through the real path** (:func:`calibrate_verdicts`, issue 11 item 8). The tests above
calibrate one statistic; the verdict also depends on the equivalence step, the sensitivity and matched
analyses and the rubric. So each replicate simulates the American Gut and HMP look-alikes of
:mod:`gutskin.synthetic`, writes them in the real file formats (gzipped BIOM JSON / BIOM HDF5, QIIME mapping),
imports them with the real ``config/datasets.yaml`` blocks, computes diversity, runs each claim's own runner
(:func:`gutskin.claims.run_claim`, with its ``params``) and the ledger's rubric
(:func:`gutskin.claims.build_ledger` → :func:`gutskin.stats.verdict.decide`). Reported per claim: the rate of
each verdict under the null (wrongly *supported* / *contradicted*: ≤ 5 %) and at a true effect equal to the
SESOI (wrongly *not supported (equivalence shown)*: ≤ 5 %), with Clopper–Pearson CIs, and the simulated power
(significant in the claimed direction at the SESOI), which :func:`simulated_power` hands to the report.
Replicates are cached by :func:`design_key` and run in a process pool; results do not depend on the pool size.
A mirror claim (C9) reads an equivalence with a concordant positive control as *contradicted*: under the null
that is the right reading and only a contradiction by an opposite effect counts as wrong; at the SESOI it is
the equivalence error (:func:`_verdict_checks`).

**Verdict level, cheap enough for CI** (:func:`calibrate_verdict_machinery`): the same verdict machinery (the
claim's headline computed by its runner's own code, then the ledger) on the statistic-level simulations above
at the real designs, for C8, C9 and C10, a few hundred replicates per scenario in a couple of CPU minutes;
sensitivity analyses that need community data are left out, so its decisive-verdict rates bound the full
battery's from above.

:func:`run_calibration` runs all of it from the ``calibration`` block of ``config/config.yaml`` and returns the
content of ``results/calibration.json``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numba
import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from . import synthetic
from ._atomic import write_json
from ._memo import code_version, content_key, memo
from .claims import build_ledger, differential, load_bundle, paired_mirror, run_claim, sensitivity
from .claims.common import MINIMAL_COVARIATES, ClaimResult
from .claims.differential import fit_log_ratio
from .claims.entries import headline_entry, record_sensitivity, sesoi_numbers
from .claims.inputs import covariate_term
from .claims.pooling import cohort_claim
from .claims.register import claim_sided, power_alternative
from .diversity.pipeline import run_diversity
from .importer import import_dataset, load_imported
from .io.table import FeatureTable
from .progress import Progress
from .stats import da, effects, equivalence, paired, power, regression
from .stats._util import StatsInputError
from .stats.verdict import VERDICTS

_LOG = logging.getLogger("gutskin.calibration")

__all__ = [
    "DEFAULTS",
    "alpha_formula",
    "binomial_ci",
    "calibrate_alpha_ols",
    "calibrate_log_ratio",
    "calibrate_mantel",
    "calibrate_verdict_machinery",
    "calibrate_verdicts",
    "design_key",
    "mantel_coupling",
    "run_calibration",
    "simulate_alpha_cohort",
    "simulate_log_ratio_cohort",
    "simulate_paired_distances",
    "simulated_power",
    "verdict_design",
    "write_calibration",
]

#: Defaults of the ``calibration`` block (mirrored in ``workflow/schemas/config.schema.yaml``). The replicate
#: counts are a quick check (whole-workflow test runs use them); ``config/config.yaml`` asks for 1000 (C8) and
#: 400 (C9, C10) for the report.
DEFAULTS: dict[str, Any] = {
    "seed_offset": 1,
    "alpha_ols": {
        "claim": "C8",
        "replicates": 200,
        "planted": [0.2, 0.4],
        "n_cases": 224,
        "n_controls": 991,
    },
    "mantel": {
        "claim": "C9",
        "replicates": 100,
        "planted": [0.1, 0.2],
        "permutations": 199,
        "strata_sizes": [53, 47, 46, 25],
        "batch_shift": 0.5,
    },
    "log_ratio": {
        "claim": "C10",
        "replicates": 100,
        "planted": [1.0, 2.0],
        "n_cases": 66,
        "n_controls": 991,
        "depth": 10000,
    },
    "verdicts": {
        "claims": ["C8", "C9", "C10"],
        # off by default (each replicate runs every listed claim's whole analysis); config/config.yaml
        # asks for 20 per scenario for the report, cached by design key
        "replicates": 0,
        # 1,215 American Gut subjects, 18.4 % with a skin condition (C8's 224 cases / 991 controls),
        # split 12:10:8 over eczema, rosacea and psoriasis; 171 HMP subjects (C9's strata total).
        "n_agp_subjects": 1215,
        "condition_shares": {
            "none": 0.816,
            "eczema": 0.0736,
            "rosacea": 0.0613,
            "psoriasis": 0.0491,
        },
        "n_hmp_subjects": 171,
        "n_features": 300,
        "rarefaction_iterations": 5,
        "permutations": 199,
        "bootstrap": 199,
    },
}

_ANTIBIOTICS = ("past_month", "past_6_months", "past_year", "not_past_year")
_ANTIBIOTIC_P = (0.05, 0.11, 0.12, 0.72)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def binomial_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) confidence interval for a proportion ``k / n``.

    ``lower = Beta(α/2; k, n − k + 1)`` (0 when k = 0), ``upper = Beta(1 − α/2; k + 1, n − k)`` (1 when
    k = n), with α = 1 − level.
    """
    if int(n) != n or n < 1 or int(k) != k or not 0 <= k <= n:
        raise StatsInputError(
            f"need integers 0 <= k <= n, n >= 1; got k = {k}, n = {n}", where="k, n"
        )
    a = 1 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def _replicate_seeds(
    seed: int, test: int, scenario: int, replicates: int
) -> list[np.random.SeedSequence]:
    """Independent seeds per replicate; replicate k's seed does not depend on the number of replicates."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(test, scenario)).spawn(replicates)


def _rate(rejections: int, replicates: int) -> tuple[float, list[float]]:
    lo, hi = binomial_ci(rejections, replicates)
    return rejections / replicates, [lo, hi]


def _check_replicates(replicates: int) -> int:
    if isinstance(replicates, bool) or int(replicates) != replicates or replicates < 1:
        raise StatsInputError(
            f"replicates must be a positive integer, got {replicates!r}", where="replicates"
        )
    return int(replicates)


def _simulate_covariates(n: int, case: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Age, sex, BMI and antibiotics with the frequencies of the real C8 sample (American Gut 2014).

    Age 45 ± 17.6 years, 56 % female, BMI log-normal around 24 (SD about 5), antibiotics last taken in the
    past month / 6 months / year / not in the past year with 5 / 11 / 12 / 72 %. ``case`` is accepted for
    simulations that want covariates to differ by group; here they do not (they did not in the real data).

    Needs ``n >= 8`` (two samples of each antibiotics level).
    """
    if n < 8:
        raise StatsInputError(f"a simulated cohort needs at least 8 samples, got {n}", where="n")
    age = np.clip(rng.normal(45.0, 17.6, n), 18, 90)
    bmi = np.clip(np.exp(rng.normal(math.log(24.0), 0.2, n)), 12, 60)
    # Redraw the factors until every level has two samples: a level with one sample has leverage 1 and
    # no HC3 standard error (the claim runner reports such data as a problem rather than a p-value), so
    # the calibration conditions on fittable designs, as the analyses do.
    while True:
        sex = np.where(rng.random(n) < 0.55, "female", "male")
        antibiotics = rng.choice(np.array(_ANTIBIOTICS), size=n, p=_ANTIBIOTIC_P)
        if (
            len(np.unique(sex)) == 2
            and min(np.unique(sex, return_counts=True)[1]) >= 2
            and len(np.unique(antibiotics)) == len(_ANTIBIOTICS)
            and min(np.unique(antibiotics, return_counts=True)[1]) >= 2
        ):
            break
    return pd.DataFrame(
        {
            "age": age,
            "sex": pd.Categorical(sex),
            "bmi": bmi,
            "antibiotics": pd.Categorical(antibiotics),
        }
    )


#: Kinds of simulation and the function running one replicate of each (set below).
_ONE: dict[str, Callable[..., tuple[bool, dict[str, float]]]] = {}


def _task(
    kind: str,
    params: dict[str, Any],
    effect: float,
    seed: int,
    test: int,
    scenario: int,
    replicates: int,
    alpha: float,
    start: int = 0,
    stop: int | None = None,
) -> tuple[int, dict[str, list[float]], float]:
    """Replicates ``start:stop`` of one scenario: (rejections, the extras per replicate, seconds).

    Picklable for a pool. Replicate k's seed does not depend on the chunking, so the merged chunks of a
    scenario give exactly the numbers of one pass over all its replicates.
    """
    t0 = time.perf_counter()
    one = _ONE[kind]
    rejections = 0
    extras: dict[str, list[float]] = {}
    for ss in _replicate_seeds(seed, test, scenario, replicates)[start:stop]:
        rejected, extra = one(params, effect, ss, alpha)
        rejections += int(rejected)
        for key, v in extra.items():
            extras.setdefault(key, []).append(v)
    return rejections, extras, time.perf_counter() - t0


def _worker_init() -> None:
    """One numba thread per pool worker: the pool already uses the cores."""
    numba.set_num_threads(1)


#: Replicates per unit of work handed to a worker (and counted by the progress lines).
CHUNK_REPLICATES = 25


def _run_tasks(
    tasks: list[tuple[Any, ...]], workers: int
) -> list[tuple[int, dict[str, float], float]]:
    """Run :func:`_task` argument tuples, in a process pool when ``workers > 1``; results in order.

    Each scenario is split into chunks of :data:`CHUNK_REPLICATES` replicates and merged back in order,
    so the results depend neither on ``workers`` nor on the chunking. A progress line with an ETA goes
    to the ``gutskin.calibration`` log about every 30 s (:class:`gutskin.progress.Progress`).
    """
    chunks: list[tuple[int, tuple[Any, ...]]] = []
    for k, t in enumerate(tasks):
        replicates = int(t[6])
        for start in range(0, replicates, CHUNK_REPLICATES):
            chunks.append((k, (*t, start, min(replicates, start + CHUNK_REPLICATES))))
    progress = Progress("calibration: simulated replicates", sum(int(t[6]) for t in tasks), _LOG)
    parts: list[tuple[int, dict[str, list[float]], float]]
    if workers <= 1 or len(chunks) <= 1:
        parts = []
        for _, args in chunks:
            parts.append(_task(*args))
            progress.update(args[-1] - args[-2])
    else:
        # forkserver, not fork: numba's parallel kernels (e.g. the Mantel permutations) start GNU OpenMP
        # threads in this process, and forking a process that uses GNU OpenMP is unsafe (it aborts).
        ctx = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(
            max_workers=min(workers, len(chunks)), mp_context=ctx, initializer=_worker_init
        ) as pool:
            futures = [pool.submit(_task, *args) for _, args in chunks]
            size = {f: args[-1] - args[-2] for f, (_, args) in zip(futures, chunks, strict=True)}
            for f in as_completed(futures):
                progress.update(size[f])
            parts = [f.result() for f in futures]
    merged: list[tuple[int, dict[str, list[float]], float]] = [(0, {}, 0.0) for _ in tasks]
    for (k, _), (rej, extras, secs) in zip(chunks, parts, strict=True):
        total_rej, total_extras, total_secs = merged[k]
        for key, values in extras.items():
            total_extras.setdefault(key, []).extend(values)
        merged[k] = (total_rej + rej, total_extras, total_secs + secs)
    return [
        (rej, {key: float(np.mean(v)) for key, v in extras.items()}, secs)
        for rej, extras, secs in merged
    ]


def _scenario_tasks(
    kind: str,
    params: dict[str, Any],
    planted: Sequence[float],
    seed: int,
    test: int,
    replicates: int,
    alpha: float,
) -> list[tuple[Any, ...]]:
    """The null (effect 0) and one task per planted effect."""
    return [
        (kind, params, float(effect), seed, test, k, replicates, alpha)
        for k, effect in enumerate([0.0, *planted])
    ]


def _result(
    claim: str,
    test: str,
    replicates: int,
    scenarios: list[tuple[int, dict[str, float], float]],
    labels: Sequence[str],
    values: Sequence[float],
    design: str,
    simulation: str,
    alpha: float,
    analytic: Callable[[float, dict[str, float]], float | None] | None = None,
    sided: str = "two",
) -> dict[str, Any]:
    null_k, null_extra, _ = scenarios[0]
    fpr, fpr_ci = _rate(null_k, replicates)
    planted = []
    for (k, extra, _), label, value in zip(scenarios[1:], labels, values, strict=True):
        pw, pw_ci = _rate(k, replicates)
        planted.append(
            {
                "effect": label,
                "value": float(value),
                "rejections": k,
                "power": pw,
                "power_ci": pw_ci,
                "analytic_power": None if analytic is None else analytic(value, null_extra),
                **{f"mean_{key}": v for key, v in extra.items()},
            }
        )
    return {
        "claim": claim,
        "test": test,
        "replicates": replicates,
        "alpha": alpha,
        "null_rejections": null_k,
        "fpr": fpr,
        "fpr_ci": fpr_ci,
        "fpr_ok": bool(fpr_ci[0] <= alpha <= fpr_ci[1]),
        "planted": planted,
        # "one": rejections one-sided in the direction of the planted effect (the claim's test, when the
        # claim is one-sided); "two": two-sided. The ledger uses a power only for a claim sided alike.
        "sided": sided,
        "design": design,
        "simulation": simulation,
        "seconds": round(sum(sc[2] for sc in scenarios), 2),
    }


# ------------------------------------------------------------------------------------------------
# C8: OLS with HC3 on alpha diversity
# ------------------------------------------------------------------------------------------------
def alpha_formula(claim: Mapping[str, Any], data: pd.DataFrame) -> str:
    """The headline model of an ``alpha_condition`` claim, read from its ``params`` (config/claims.yaml).

    ``<metric> ~ any_condition + <covariates>``, each covariate written by the runner's own
    :func:`gutskin.claims.inputs.covariate_term` (categorical ones with their most frequent level as
    reference), so the calibrated model cannot drift from the analysed one.
    """
    params = claim.get("params") or {}
    metric = str(params.get("metric", "shannon"))
    terms = [covariate_term(str(c), data, preferred=None) for c in params.get("covariates") or []]
    return " + ".join([f"{metric} ~ any_condition", *terms])


def _claim_by_id(claims: Sequence[Mapping[str, Any]] | None, cid: str) -> dict[str, Any]:
    for c in claims or []:
        if c.get("id") == cid:
            return dict(c)
    raise StatsInputError(
        f"claim {cid!r} is not in the claims list the calibration was given",
        where="calibration/claim",
    )


def simulate_alpha_cohort(
    n_cases: int,
    n_controls: int,
    g: float,
    rng: np.random.Generator,
    *,
    sd: float = 0.6,
    sd_ratio: float = 1.0,
    skew: float = -10.0,
) -> pd.DataFrame:
    """One simulated C8 cohort: Shannon, ``any_condition`` (0/1) and covariates.

    Parameters
    ----------
    n_cases, n_controls
        Group sizes.
    g
        True standardised difference (cases − controls) in units of the pooled residual SD ``sd``.
    rng
        Random generator.
    sd
        Pooled residual SD (nats); real C8 residual SD ≈ 0.61.
    sd_ratio
        Residual SD of cases / controls (heteroscedasticity); the pooled SD stays ``sd``.
    skew
        Skew-normal shape of the residuals (negative = long left tail).
    """
    n = n_cases + n_controls
    case = np.r_[np.ones(n_cases), np.zeros(n_controls)]
    cov = _simulate_covariates(n, case, rng)
    # pooled residual variance sd² = (n1 s1² + n0 s0²) / n with s1 = ratio · s0
    s0 = sd / math.sqrt((n_cases * sd_ratio**2 + n_controls) / n)
    scale = np.where(case == 1, s0 * sd_ratio, s0)
    # skew-normal(shape a) = δ|U0| + √(1−δ²)·U1, δ = a/√(1+a²); mean δ√(2/π), variance 1 − 2δ²/π
    delta = skew / math.sqrt(1 + skew * skew)
    raw = delta * np.abs(rng.standard_normal(n)) + math.sqrt(
        1 - delta * delta
    ) * rng.standard_normal(n)
    eps = (raw - delta * math.sqrt(2 / math.pi)) / math.sqrt(1 - 2 * delta * delta / math.pi)
    abx = (
        cov["antibiotics"]
        .astype(str)
        .map(
            {"past_month": -0.30, "past_6_months": -0.15, "past_year": -0.05, "not_past_year": 0.0}
        )
    )
    shannon = (
        3.4
        + 0.004 * (cov["age"] - 45)
        + np.where(cov["sex"] == "female", 0.05, 0.0)
        - 0.01 * (cov["bmi"] - 24)
        + abx.to_numpy(float)
        + g * sd * case
        + scale * eps
    )
    cov.insert(0, "any_condition", case)
    cov.insert(0, "shannon", np.asarray(shannon, dtype=float))
    return cov


#: Pooled residual SD of the simulated Shannon values (the real C8 residual SD is about 0.61 nats).
_ALPHA_SD = 0.6


def _one_alpha_ols(
    params: dict[str, Any], g: float, ss: np.random.SeedSequence, alpha: float
) -> tuple[bool, dict[str, float]]:
    df = simulate_alpha_cohort(
        params["n_cases"],
        params["n_controls"],
        g,
        np.random.default_rng(ss),
        sd=_ALPHA_SD,
        sd_ratio=params.get("sd_ratio", 1.0),
        skew=params.get("skew", -10.0),
    )
    claim = {"params": {"metric": "shannon", "covariates": params["covariates"]}}
    r = regression.ols_hc3(df, alpha_formula(claim, df), "any_condition")
    return r.p_value < alpha, {"estimate_g": r.estimate / _ALPHA_SD}


_ONE["alpha_ols"] = _one_alpha_ols


def _alpha_ols_tasks(
    n_cases: int,
    n_controls: int,
    replicates: int,
    planted: Sequence[float],
    seed: int,
    alpha: float,
    sd_ratio: float = 1.0,
    skew: float = -10.0,
    covariates: Sequence[str] = ("age", "sex", "bmi", "antibiotics"),
) -> list[tuple[Any, ...]]:
    unknown = sorted(set(covariates) - {"age", "sex", "bmi", "antibiotics"})
    if unknown:
        raise StatsInputError(
            f"the C8 simulation draws age, sex, BMI and antibiotics only; cannot simulate {unknown}",
            where="covariates",
        )
    params = {
        "n_cases": int(n_cases),
        "n_controls": int(n_controls),
        "sd_ratio": float(sd_ratio),
        "skew": float(skew),
        "covariates": [str(c) for c in covariates],
    }
    return _scenario_tasks("alpha_ols", params, planted, seed, 0, replicates, alpha)


def _alpha_ols_result(
    scen: list[tuple[int, dict[str, float], float]],
    n_cases: int,
    n_controls: int,
    replicates: int,
    planted: Sequence[float],
    alpha: float,
    claim: str,
    sd_ratio: float = 1.0,
    skew: float = -10.0,
) -> dict[str, Any]:
    return _result(
        claim,
        "OLS with HC3 standard errors, t inference (gutskin.stats.regression.ols_hc3)",
        replicates,
        scen,
        [f"g = {g:g}" for g in planted],
        planted,
        design=(
            f"n = {n_cases} cases / {n_controls} controls; Shannon ~ any condition + age + sex + BMI + "
            "antibiotics"
        ),
        simulation=(
            f"Shannon generated directly with covariate effects and skewed residuals (skew-normal, shape "
            f"{skew:g}), residual SD in cases {sd_ratio:g}× that in controls; "
            "effect = g × pooled residual SD"
        ),
        alpha=alpha,
        analytic=lambda g, _extra: power.regression_term_power(g, n_cases, n_controls, alpha=alpha),
    )


def calibrate_alpha_ols(
    n_cases: int,
    n_controls: int,
    replicates: int,
    planted: Sequence[float],
    seed: int,
    alpha: float = 0.05,
    *,
    claim: str = "C8",
    workers: int = 1,
    sd_ratio: float = 1.0,
    skew: float = -10.0,
    covariates: Sequence[str] = ("age", "sex", "bmi", "antibiotics"),
) -> dict[str, Any]:
    """FPR and power of the C8 headline test (OLS, HC3) on simulated cohorts (see the module docstring).

    Parameters
    ----------
    n_cases, n_controls
        Group sizes of the simulated cohorts.
    replicates
        Cohorts per scenario (the null and each planted effect).
    planted
        Planted standardised differences (Hedges g), e.g. the SESOI and twice it.
    seed
        Seed; replicate seeds are spawned from it.
    alpha
        Significance level.
    claim
        Claim label written in the result.
    workers
        Processes to use (results do not depend on it).
    sd_ratio, skew
        Residual SD of cases relative to controls, and the skew-normal shape of the residuals
        (:func:`simulate_alpha_cohort`).
    covariates
        The claim's covariates (``params.covariates`` of config/claims.yaml; a subset of age, sex, BMI and
        antibiotics, the ones simulated); the model is :func:`alpha_formula`.

    Returns
    -------
    dict
        One entry of ``calibration.json`` ``tests``: ``fpr`` with ``fpr_ci``, and per planted effect
        ``power`` with ``power_ci`` and the analytic power of
        :func:`gutskin.stats.power.regression_term_power`.
    """
    replicates = _check_replicates(replicates)
    tasks = _alpha_ols_tasks(
        n_cases, n_controls, replicates, planted, seed, alpha, sd_ratio, skew, covariates
    )
    scen = _run_tasks(tasks, workers)
    return _alpha_ols_result(
        scen, n_cases, n_controls, replicates, planted, alpha, claim, sd_ratio, skew
    )


# ------------------------------------------------------------------------------------------------
# C9: Mantel with strata
# ------------------------------------------------------------------------------------------------
def _solve_coupling(r_of: Callable[[float], float], target_r: float, *, steps: int) -> float:
    """The coupling in [0, 0.999) at which the increasing ``r_of`` reaches ``target_r``, by ``steps``
    bisections (the midpoint of the last bracket)."""
    lo, hi = 0.0, 0.999
    for _ in range(steps):
        mid = (lo + hi) / 2
        if r_of(mid) < target_r:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@functools.lru_cache(maxsize=64)
def mantel_coupling(
    target_r: float, dims: int = 10, draws: int = 100_000, seed: int = 20240601
) -> float:
    """Coupling ``a`` whose population Mantel r (Spearman, Euclidean distances) equals ``target_r``.

    The Mantel statistic over many subjects converges to the correlation, over pairs of subjects, of the
    two distances; for a pair, the profile differences are ``Δu`` and ``aΔu + √(1−a²)Δe`` with independent
    normal ``Δu``, ``Δe``. The Spearman correlation of their norms is computed on ``draws`` simulated pairs
    (common random numbers) and solved for ``a`` by bisection. Pearson's would be exactly ``a²``;
    Spearman's is about 7 % lower.
    """
    if not 0 <= target_r < 1:
        raise StatsInputError(f"target_r must be in [0, 1), got {target_r}", where="target_r")
    if target_r == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    du = rng.standard_normal((draws, dims))
    de = rng.standard_normal((draws, dims))
    rank_g = stats.rankdata(np.einsum("ij,ij->i", du, du))

    def r_of(a: float) -> float:
        s = a * du + math.sqrt(1 - a * a) * de
        return float(np.corrcoef(rank_g, stats.rankdata(np.einsum("ij,ij->i", s, s)))[0, 1])

    return _solve_coupling(r_of, target_r, steps=30)


def simulate_paired_distances(
    strata_sizes: Sequence[int],
    coupling: float,
    rng: np.random.Generator,
    *,
    dims: int = 10,
    batch_shift: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gut and skin distance matrices of the same subjects, and their strata (see the module docstring).

    Returns
    -------
    dx, dy, strata
        Square Euclidean distance matrices (gut, skin) and the stratum index of each subject.
    """
    strata = np.repeat(np.arange(len(strata_sizes)), strata_sizes)
    n = strata.size
    u = rng.standard_normal((n, dims))
    e = rng.standard_normal((n, dims))
    batch_g = rng.standard_normal((len(strata_sizes), dims)) * batch_shift
    batch_s = rng.standard_normal((len(strata_sizes), dims)) * batch_shift
    gut = u + batch_g[strata]
    skin = coupling * u + math.sqrt(1 - coupling**2) * e + batch_s[strata]
    return squareform(pdist(gut)), squareform(pdist(skin)), strata


def _one_mantel(
    params: dict[str, Any], r: float, ss: np.random.SeedSequence, alpha: float
) -> tuple[bool, dict[str, float]]:
    data_ss, perm_ss = ss.spawn(2)
    dx, dy, strata = simulate_paired_distances(
        params["strata_sizes"],
        params["couplings"][str(float(r))],
        np.random.default_rng(data_ss),
        batch_shift=params["batch_shift"],
    )
    res = paired.mantel(
        dx,
        dy,
        method="spearman",
        permutations=params["permutations"],
        seed=perm_ss,
        strata=strata,
        alternative=params.get("alternative", "two-sided"),
        n_boot=0,
    )
    assert res.p_value is not None
    return res.p_value < alpha, {"r": res.r}


_ONE["mantel"] = _one_mantel


def _mantel_tasks(
    strata_sizes: Sequence[int],
    replicates: int,
    planted: Sequence[float],
    permutations: int,
    seed: int,
    alpha: float,
    batch_shift: float,
    alternative: str = "two-sided",
) -> list[tuple[Any, ...]]:
    sizes = [int(x) for x in strata_sizes]
    if not sizes or min(sizes) < 2:
        raise StatsInputError(
            f"strata_sizes must list at least one stratum of >= 2 subjects, got {list(strata_sizes)}",
            where="strata_sizes",
        )
    couplings = {str(float(r)): mantel_coupling(float(r)) for r in planted}
    couplings[str(0.0)] = 0.0
    params = {
        "strata_sizes": sizes,
        "couplings": couplings,
        "permutations": int(permutations),
        "batch_shift": float(batch_shift),
    }
    if (
        alternative != "two-sided"
    ):  # kept out of the two-sided tasks, so their cache keys stay the same
        params["alternative"] = str(alternative)
    return _scenario_tasks("mantel", params, planted, seed, 1, replicates, alpha)


def _mantel_result(
    scen: list[tuple[int, dict[str, float], float]],
    strata_sizes: Sequence[int],
    replicates: int,
    planted: Sequence[float],
    permutations: int,
    alpha: float,
    batch_shift: float,
    claim: str,
    alternative: str = "two-sided",
) -> dict[str, Any]:
    sizes = [int(x) for x in strata_sizes]
    side = "two-sided" if alternative == "two-sided" else "one-sided (r > 0)"
    return _result(
        claim,
        f"Mantel test, Spearman, {side}, permutations within strata (gutskin.stats.paired.mantel)",
        replicates,
        scen,
        [f"r = {r:g}" for r in planted],
        planted,
        design=(
            f"n = {sum(sizes)} subjects in {len(sizes)} strata ({'/'.join(map(str, sizes))}); "
            f"{permutations} permutations per replicate"
        ),
        simulation=(
            f"10-dimensional Gaussian subject profiles; skin = a·gut + noise; a batch shift of SD "
            f"{batch_shift:g} per stratum in each site, independent between sites; Euclidean distances; "
            "effect = population Mantel r of the coupling"
        ),
        alpha=alpha,
        sided="two" if alternative == "two-sided" else "one",
    )


def calibrate_mantel(
    strata_sizes: Sequence[int],
    replicates: int,
    planted: Sequence[float],
    permutations: int,
    seed: int,
    alpha: float = 0.05,
    *,
    batch_shift: float = 0.5,
    claim: str = "C9",
    workers: int = 1,
    alternative: str = "two-sided",
) -> dict[str, Any]:
    """FPR and power of the C9 headline test (Mantel, Spearman, within strata; two-sided, or "greater"
    as the one-sided claim is tested).

    Parameters
    ----------
    strata_sizes
        Subjects per stratum (run centre).
    replicates, seed, alpha, claim, workers
        As for :func:`calibrate_alpha_ols`.
    planted
        Population Mantel r values of the subject-level coupling (without the batch component).
    permutations
        Permutations per Mantel test.
    batch_shift
        SD of the per-stratum shift of each site's profiles (0: no batch effect).
    """
    replicates = _check_replicates(replicates)
    tasks = _mantel_tasks(
        strata_sizes, replicates, planted, permutations, seed, alpha, batch_shift, alternative
    )
    scen = _run_tasks(tasks, workers)
    return _mantel_result(
        scen,
        strata_sizes,
        replicates,
        planted,
        permutations,
        alpha,
        batch_shift,
        claim,
        alternative,
    )


# ------------------------------------------------------------------------------------------------
# C10: the pre-registered log-ratio
# ------------------------------------------------------------------------------------------------
_GG = "k__Bacteria;p__Firmicutes;c__Clostridia;o__Clostridiales"
#: Simulated taxa: (feature id, lineage, median proportion, SD of the log, predicted direction).
LOG_RATIO_TAXA: tuple[tuple[str, str, float, float, str | None], ...] = (
    ("faecalibacterium", f"{_GG};f__Ruminococcaceae;g__Faecalibacterium;s__", 0.015, 1.0, "lower"),
    ("oscillospira", f"{_GG};f__Ruminococcaceae;g__Oscillospira;s__", 0.15, 0.7, "lower"),
    ("roseburia", f"{_GG};f__Lachnospiraceae;g__Roseburia;s__", 0.004, 1.0, "lower"),
    ("blautia", f"{_GG};f__Lachnospiraceae;g__Blautia;s__", 0.12, 0.7, "lower"),
    (
        "escherichia",
        "k__Bacteria;p__Proteobacteria;c__Gammaproteobacteria;o__Enterobacteriales;"
        "f__Enterobacteriaceae;g__Escherichia;s__",
        0.0004,
        2.5,
        "higher",
    ),
    (
        "bacteroides",
        "k__Bacteria;p__Bacteroidetes;c__Bacteroidia;o__Bacteroidales;f__Bacteroidaceae;g__Bacteroides;s__",
        0.35,
        0.8,
        None,
    ),
    ("other", "k__Bacteria;p__Firmicutes;c__Erysipelotrichi;o__;f__;g__;s__", 0.30, 0.5, None),
)


def simulate_log_ratio_cohort(
    n_cases: int,
    n_controls: int,
    lfc: float,
    rng: np.random.Generator,
    *,
    depth: int = 10000,
) -> tuple[FeatureTable, pd.DataFrame]:
    """One simulated C10 cohort: a count table with Greengenes lineages and the sample metadata.

    Parameters
    ----------
    n_cases, n_controls
        Group sizes.
    lfc
        True log fold change (natural log) of the producer : Enterobacteriaceae ratio in cases vs
        controls; negative = as the article predicts. Producers are scaled by ``e^(lfc/2)`` and
        Enterobacteriaceae by ``e^(−lfc/2)``.
    rng
        Random generator.
    depth
        Reads per sample.

    Returns
    -------
    table, metadata
        ``metadata`` has ``case`` (0/1), age, sex, BMI and antibiotics, indexed by sample id.
    """
    n = n_cases + n_controls
    case = np.r_[np.ones(n_cases), np.zeros(n_controls)]
    meta = _simulate_covariates(n, case, rng)
    ids = np.array([f"s{i}" for i in range(n)], dtype=object)
    meta.index = pd.Index(ids, name="sample_id")
    meta.insert(0, "case", case)
    recent_abx = (meta["antibiotics"].astype(str) == "past_month").to_numpy()
    logs = np.empty((n, len(LOG_RATIO_TAXA)))
    for j, (_fid, _lin, median, sd, direction) in enumerate(LOG_RATIO_TAXA):
        x = math.log(median) + sd * rng.standard_normal(n)
        if direction == "lower":
            x = x + case * lfc / 2 - 0.5 * recent_abx
        elif direction == "higher":
            x = x - case * lfc / 2
        logs[:, j] = x
    w = np.exp(logs - logs.max(axis=1, keepdims=True))
    p = w / w.sum(axis=1, keepdims=True)
    counts = rng.multinomial(depth, p).astype(np.float64)
    table = FeatureTable(
        counts=counts,
        sample_ids=ids,
        feature_ids=np.array([t[0] for t in LOG_RATIO_TAXA], dtype=object),
        taxonomy=pd.Series({t[0]: t[1] for t in LOG_RATIO_TAXA}, dtype=object),
        values="counts",
    )
    return table, meta


def _log_ratio_data(
    params: Mapping[str, Any], lfc: float, ss: np.random.SeedSequence
) -> tuple[pd.DataFrame, pd.DataFrame, list[da.TaxonSpec]]:
    """One simulated C10 cohort (:func:`simulate_log_ratio_cohort`, true LFC ``−|lfc|``) as the runner's
    model sees it: one row per sample with ``case``, the covariates and the claim's ``log_ratio``
    (``params``: ``taxa``, ``pseudocount``, ``n_cases``, ``n_controls``, ``depth``); the samples × taxa
    counts (:func:`gutskin.stats.da.taxon_counts`) and the parsed taxa."""
    table, meta = simulate_log_ratio_cohort(
        params["n_cases"],
        params["n_controls"],
        -abs(lfc),
        np.random.default_rng(ss),
        depth=params["depth"],
    )
    specs = da.parse_taxa(params["taxa"])
    lower = [t.label for t in specs if t.direction == "lower"]
    higher = [t.label for t in specs if t.direction == "higher"]
    tc = da.taxon_counts(table, specs)
    data = meta.copy()
    data["sex"] = data["sex"].astype(str)
    data["antibiotics"] = data["antibiotics"].astype(str)
    data["log_ratio"] = da.log_ratio(
        tc, lower, higher, pseudocount=params["pseudocount"]
    ).to_numpy()
    return data, tc, specs


def _one_log_ratio(
    params: dict[str, Any], lfc: float, ss: np.random.SeedSequence, alpha: float
) -> tuple[bool, dict[str, float]]:
    data, tc, specs = _log_ratio_data(params, lfc, ss)
    higher = next(t.label for t in specs if t.direction == "higher")
    zero = float((tc[higher] == 0).mean())
    r = fit_log_ratio(data, list(params["covariates"]))
    return r.p_value < alpha, {"estimate": r.estimate, "resid_sd": r.resid_sd, "zero_share": zero}


_ONE["log_ratio"] = _one_log_ratio


def _log_ratio_tasks(
    n_cases: int,
    n_controls: int,
    replicates: int,
    planted: Sequence[float],
    seed: int,
    alpha: float,
    depth: int,
    pseudocount: float,
    taxa: Sequence[Mapping[str, Any]],
    covariates: Sequence[str],
) -> list[tuple[Any, ...]]:
    da.parse_taxa(taxa, where="log_ratio/taxa")  # fail here, not in a worker
    params = {
        "n_cases": int(n_cases),
        "n_controls": int(n_controls),
        "depth": int(depth),
        "pseudocount": float(pseudocount),
        "taxa": [dict(t) for t in taxa],
        "covariates": [str(c) for c in covariates],
    }
    return _scenario_tasks(
        "log_ratio", params, [abs(v) for v in planted], seed, 2, replicates, alpha
    )


def _log_ratio_result(
    scen: list[tuple[int, dict[str, float], float]],
    n_cases: int,
    n_controls: int,
    replicates: int,
    planted: Sequence[float],
    alpha: float,
    depth: int,
    claim: str,
) -> dict[str, Any]:
    def analytic(lfc: float, null_extra: dict[str, float]) -> float | None:
        sd = null_extra.get("resid_sd")
        if not sd:
            return None
        return power.regression_term_power(abs(lfc) / sd, n_cases, n_controls, alpha=alpha)

    return _result(
        claim,
        "OLS with HC3 standard errors on the log-ratio of SCFA producers to Enterobacteriaceae "
        "(gutskin.claims.differential.fit_log_ratio)",
        replicates,
        scen,
        [f"LFC = −{abs(v):g}" for v in planted],
        [-abs(v) for v in planted],
        design=(
            f"n = {n_cases} cases / {n_controls} controls at {depth} reads; log-ratio ~ case + age + sex + "
            "BMI + antibiotics"
        ),
        simulation=(
            "logistic-normal abundances of 7 taxa with American Gut-like medians (Enterobacteriaceae median 4 "
            "reads in 10,000), multinomial reads, pseudocount 0.5; effect = true log fold change of the ratio"
        ),
        alpha=alpha,
        analytic=analytic,
    )


def calibrate_log_ratio(
    n_cases: int,
    n_controls: int,
    replicates: int,
    planted: Sequence[float],
    seed: int,
    alpha: float = 0.05,
    *,
    taxa: Sequence[Mapping[str, Any]],
    covariates: Sequence[str] = ("age", "sex", "bmi", "antibiotics"),
    depth: int = 10000,
    pseudocount: float = 0.5,
    claim: str = "C10",
    workers: int = 1,
) -> dict[str, Any]:
    """FPR and power of the C10 headline test (OLS, HC3 on the pre-registered log-ratio).

    Parameters
    ----------
    n_cases, n_controls, replicates, seed, alpha, claim, workers
        As for :func:`calibrate_alpha_ols`.
    planted
        |Log fold changes| of the ratio (natural log), planted in the predicted (negative) direction.
    depth
        Reads per simulated sample.
    pseudocount
        Pseudocount of the log-ratio (the runner's ``log_ratio_pseudocount``).
    taxa, covariates
        The claim's pre-registered taxa (``params.taxa`` of config/claims.yaml, parsed by
        :func:`gutskin.stats.da.parse_taxa`) and covariates: read from the configuration, never copied.

    Notes
    -----
    The analytic power is the two-sample t approximation at ``|LFC| / residual SD`` with the mean residual
    SD of the null replicates; it ignores the attenuation of the effect by zeros and the pseudocount.
    """
    replicates = _check_replicates(replicates)
    tasks = _log_ratio_tasks(
        n_cases, n_controls, replicates, planted, seed, alpha, depth, pseudocount, taxa, covariates
    )
    scen = _run_tasks(tasks, workers)
    return _log_ratio_result(scen, n_cases, n_controls, replicates, planted, alpha, depth, claim)


# ------------------------------------------------------------------------------------------------
# Verdict-level calibration through the real path
# ------------------------------------------------------------------------------------------------
#: Real dataset -> its synthetic look-alike, written by :mod:`gutskin.synthetic` in the same file formats
#: with the same raw columns, so the real harmonisation block of ``config/datasets.yaml`` reads it unchanged.
SYNTHETIC_STANDS_IN: dict[str, str] = {"agp_2014": "agp_like", "hmp_v35": "hmp_like"}
#: Rarefaction depth of each look-alike (reads per sample 2,500–6,000 and 1,500; a few shallow ones dropped).
_SYNTHETIC_DEPTH = {"agp_like": 2000, "hmp_like": 1000}
#: Diversity metrics the look-alikes can have (they carry no tree).
_TREELESS_ALPHA = ("observed", "shannon", "simpson")
_TREELESS_BETA = ("braycurtis", "jaccard", "robust_aitchison")

#: Analyses whose look-alike has a knob on the claim's SESOI scale (:func:`_planted_fields`): C8's
#: standardised Shannon difference, C9's population Mantel r (via the gut–skin coupling solved by
#: :func:`hmp_coupling_for_mantel_r`) and C10's log-ratio difference. Other analyses are calibrated under the
#: null only.
PLANTABLE: tuple[str, ...] = ("alpha_condition", "paired_mirror", "differential_abundance")

#: HMP look-alikes (subjects, seeds) over which the gut–skin coupling for a target Mantel r is solved: the
#: Mantel r at a given coupling varies between look-alike seeds (their taxa loadings differ) about as much
#: as with the subjects, so the target is the mean over seeds, as the replicates (one seed each) see it.
_COUPLING_SUBJECTS = 200
_COUPLING_SEEDS = 8


@functools.lru_cache(maxsize=32)
def hmp_coupling_for_mantel_r(
    target_r: float, n_features: int = 300, beta_metric: str = "braycurtis", seed: int = 20261207
) -> float:
    """The :attr:`gutskin.synthetic.Scenario.gut_skin_coupling` whose HMP look-alike has population Mantel r
    ``target_r`` (Spearman, between the subjects' gut and retroauricular-crease ``beta_metric`` distances).

    Solved by bisection (common random numbers, 12 steps) on the mean Mantel r of
    :data:`_COUPLING_SEEDS` look-alikes of :data:`_COUPLING_SUBJECTS` subjects (first stool and first crease
    sample of each subject, relative abundances at the look-alike's depth, no permutations). The Mantel r at a
    fixed coupling differs between look-alike seeds (one seed per replicate), so this plants a true Mantel r
    equal to ``target_r`` (C9's SESOI) on average over replicates, not in each one.
    """
    if not 0 <= target_r < 1:
        raise StatsInputError(f"target_r must be in [0, 1), got {target_r}", where="target_r")
    if target_r == 0:
        return 0.0

    def r_of(k: float) -> float:
        return float(np.mean([r_one(k, seed + i) for i in range(_COUPLING_SEEDS)]))

    def r_one(k: float, s: int) -> float:
        sc = synthetic.Scenario(
            seed=s,
            n_agp_subjects=10,
            n_hmp_subjects=_COUPLING_SUBJECTS,
            n_features=int(n_features),
            gut_skin_coupling=k,
        )
        d = synthetic.simulate(sc)["hmp_like"]
        t = d.truth.reset_index()
        t["row"] = np.arange(len(t))
        t = t[t["visit"] == t["visit"].min()]
        gut = t[t["site"] == "Stool"].groupby("subject_index")["row"].first()
        skin = (
            t[t["site"].str.endswith("Retroauricular_crease")]
            .groupby("subject_index")["row"]
            .first()
        )
        both = gut.index.intersection(skin.index)
        p = d.counts / d.counts.sum(axis=1, keepdims=True)
        dx = pdist(p[gut.loc[both].to_numpy()], metric=beta_metric)
        dy = pdist(p[skin.loc[both].to_numpy()], metric=beta_metric)
        return float(stats.spearmanr(dx, dy)[0])

    return _solve_coupling(r_of, target_r, steps=12)


def _planted_fields(claim: Mapping[str, Any], design: Mapping[str, Any]) -> dict[str, Any] | None:
    """The look-alike's scenario fields planting a true effect equal to ``claim``'s SESOI in the claimed
    direction (None: no knob for this analysis). Read from the claim: its SESOI, direction, case level and,
    for C10, its pre-registered taxa (lineage tags ``g__<name>`` / ``f__<name>``)."""
    analysis = claim.get("analysis")
    params = claim.get("params") or {}
    if analysis == "alpha_condition":
        return {"condition_effect_g": _signed_sesoi(claim)}
    if analysis == "paired_mirror":
        return {
            "gut_skin_coupling": hmp_coupling_for_mantel_r(
                abs(_signed_sesoi(claim)),
                int(design["cohort"]["n_features"]),
                str(params.get("beta_metric", "braycurtis")),
            )
        }
    if analysis == "differential_abundance":
        prefix = {"genus": "g__", "family": "f__"}
        taxa = {
            f"{prefix[str(t['rank'])]}{t['name']}": str(t["direction"])
            for t in params.get("taxa") or []
            if str(t.get("rank")) in prefix
        }
        return {
            "log_ratio_effect": {str(params.get("case")): _signed_sesoi(claim)},
            "log_ratio_taxa": taxa,
        }
    return None


def _signed_sesoi(claim: Mapping[str, Any]) -> float:
    v = float(claim["sesoi"]["value"])
    return -v if claim.get("expected_direction") == "negative" else v


def _swap_claim(claim: Mapping[str, Any]) -> dict[str, Any]:
    """The claim as its per-cohort job runs it on the first of its datasets that has a look-alike.

    A claim pooled over several cohorts is calibrated on the design of the cohort the simulation can
    reproduce (C9: the HMP design; the EB cohort has no look-alike); ``calibrated_on`` and
    ``not_simulated`` say which. A claim none of whose datasets has a look-alike is an error.
    """
    listed = [str(d) for d in (claim.get("datasets") or [])]
    usable = [d for d in listed if d in SYNTHETIC_STANDS_IN]
    if not usable:
        raise StatsInputError(
            f"claim {claim.get('id')} uses {listed}, none of which has a synthetic look-alike "
            f"(only {sorted(SYNTHETIC_STANDS_IN)})",
            where="calibration/verdicts/claims",
        )
    out = cohort_claim(json.loads(json.dumps(claim)), usable[0])
    if out.get("analysis") == "differential_abundance":
        # the label-shuffle null check is a control test the verdict never reads; each shuffle repeats the
        # whole per-taxon procedure, so it is left out of every replicate (no verdict changes)
        out["params"] = {**(out.get("params") or {}), "null_permutations": 0}
    out["datasets"] = [SYNTHETIC_STANDS_IN[usable[0]]]
    out["calibrated_on"] = usable[0]
    out["not_simulated"] = [d for d in listed if d != usable[0]]
    return out


def _synthetic_block(block: Mapping[str, Any], files: Mapping[str, Any]) -> dict[str, Any]:
    """A real dataset block with the look-alike's files; joins of files the look-alike lacks are dropped."""
    out = json.loads(json.dumps(block))
    out["files"] = dict(files)
    samples = dict(out.get("samples") or {})
    joins = samples.get("join") or []
    gone = {j["role"] for j in joins if j["role"] not in out["files"]}
    if gone:
        kept = [j for j in joins if j["role"] not in gone]
        if kept:
            samples["join"] = kept
        else:
            samples.pop("join", None)
        samples["columns"] = {
            k: v
            for k, v in (samples.get("columns") or {}).items()
            if str(v.get("from", "") if isinstance(v, Mapping) else "").split(".", 1)[0] not in gone
        }
        out["samples"] = samples
    return out


def _verdict_replicate(job: dict[str, Any]) -> dict[str, Any]:
    """One simulated cohort through import → diversity → each claim's runner → the ledger's verdict.

    Picklable for a process pool; everything it needs is in ``job`` and it writes only to a temporary
    directory. Returns ``{claim id: {verdict, p_value, effect_size, ci90, power}}``.
    """
    scenario = synthetic.Scenario(**job["scenario"])
    cfg = job["config"]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="gutskin-cal-") as tmp:
        root = Path(tmp)
        files = synthetic.write_synthetic_mirror(root / "mirror", scenario)
        bundles = {}
        for ds in job["datasets"]:
            paths = synthetic.serve_paths(files[ds], root / "mirror")
            manifest = {
                "available": True,
                "reason": None,
                "files": {
                    role: {"path": str(paths[urlparse(f["url"]).path])}
                    for role, f in files[ds].items()
                },
            }
            block = _synthetic_block(job["blocks"][ds], files[ds])
            import_dataset(ds, block, manifest, root / "import" / ds)
            table, _, _ = load_imported(root / "import" / ds)
            run_diversity(
                table,
                depth=_SYNTHETIC_DEPTH[ds],
                iterations=int(job["iterations"]),
                beta_iterations=1,
                seed=int(job["scenario"]["seed"]),
                alpha_metrics=list(_TREELESS_ALPHA),
                beta_metrics=list(_TREELESS_BETA),
                pcoa_dimensions=2,
                out_dir=root / "diversity" / ds,
                sensitivity_depth=float(cfg.get("rarefaction", {}).get("sensitivity_depth", 0.0)),
            )
            bundles[ds] = load_bundle(ds, root / "import" / ds, root / "diversity" / ds)
        for claim in job["claims"]:
            cid = claim["id"]
            res = run_claim(claim, {d: bundles[d] for d in claim["datasets"]}, cfg, root / cid)
            out[cid] = _ledger_row(claim, res.to_dict(), cfg)
    return out


def _cached_job(job: dict[str, Any], cache: Path | None) -> dict[str, Any]:
    """Run one replicate job, reading/writing its cache file when ``cache`` is given."""
    path = None if cache is None else cache / f"{job['scenario_name']}-{job['replicate']:05d}.json"
    return memo(path, lambda: _one_numba_thread(job))


def _one_numba_thread(job: dict[str, Any]) -> dict[str, Any]:
    # One numba thread in every replicate, in this process as in pool workers: parallel reductions
    # (rarefaction, diversity) then add in the same order, so results do not depend on ``workers``.
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return _verdict_replicate(job)
    finally:
        numba.set_num_threads(before)


def _run_jobs(jobs: list[dict[str, Any]], workers: int, cache: Path | None) -> list[dict[str, Any]]:
    """Replicate jobs in order; in a process pool when ``workers > 1`` (results do not depend on it).

    A progress line with an ETA goes to the ``gutskin.calibration`` log about every 30 s: a cold
    verdict-level calibration runs for tens of minutes (issue 13: no long step without a line).
    """
    progress = Progress("calibration: verdict-level replicates", len(jobs), _LOG)
    if workers <= 1 or len(jobs) <= 1:
        out = []
        for j in jobs:
            out.append(_cached_job(j, cache))
            progress.update()
        return out
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_worker_init
    ) as pool:
        futures = [pool.submit(_cached_job, j, cache) for j in jobs]
        for _ in as_completed(futures):
            progress.update()
        return [f.result() for f in futures]


def _significant(r: Mapping[str, Any], alpha: float) -> bool:
    return r["p_value"] is not None and r["p_value"] < alpha


def _claimed(r: Mapping[str, Any], alpha: float, direction: str) -> bool:
    """Significant in the claimed direction (any direction for a two-sided claim)."""
    e = r["effect_size"]
    if not _significant(r, alpha) or e is None:
        return False
    return direction == "two_sided" or (e < 0) == (direction == "negative")


def _rate_entry(k: int, n: int) -> dict[str, Any]:
    rate, ci = _rate(k, n)
    return {"count": k, "rate": rate, "ci": ci}


def verdict_design(
    block: Mapping[str, Any],
    claims: Sequence[Mapping[str, Any]],
    datasets: Mapping[str, Mapping[str, Any]],
    workflow_config: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Everything the verdict calibration's numbers depend on (bar the replicate count): its cache key.

    The claims as configured (with their datasets swapped for the look-alikes), the real dataset blocks, the
    runner configuration (alpha, power target, permutations, bootstrap, rarefaction), the simulated cohort
    (sizes, shares), the seed and a hash of the analysis code.
    """
    wanted = [str(c) for c in block["claims"]]
    chosen = [_swap_claim(_claim_by_id(claims, cid)) for cid in wanted]
    needed = sorted({d for c in chosen for d in c["datasets"]})
    real_of = {v: k for k, v in SYNTHETIC_STANDS_IN.items()}
    missing = [real_of[d] for d in needed if real_of[d] not in datasets]
    if missing:
        raise StatsInputError(
            f"dataset block(s) {missing} are not in the datasets file", where="calibration/verdicts"
        )
    cfg = json.loads(json.dumps(dict(workflow_config)))
    # the claims' and datasets' contents are in the design; where their files live is not (a copy of
    # claims.yaml elsewhere, or a new cohort added to another claim, must not recompute the simulations)
    for key in (
        "report",
        "network",
        "mirrors",
        "cache_dir",
        "calibration",
        "datasets",
        "claims_file",
        "datasets_file",
    ):
        cfg.pop(key, None)
    cfg["permutations"] = int(block["permutations"])
    cfg["bootstrap"] = int(block["bootstrap"])
    return {
        "claims": chosen,
        "datasets": needed,
        "blocks": {d: json.loads(json.dumps(dict(datasets[real_of[d]]))) for d in needed},
        "config": cfg,
        "iterations": int(block["rarefaction_iterations"]),
        "cohort": {
            "n_agp_subjects": int(block["n_agp_subjects"]),
            "n_hmp_subjects": int(block["n_hmp_subjects"]),
            "n_features": int(block["n_features"]),
            "condition_shares": {k: float(v) for k, v in block["condition_shares"].items()},
        },
        "seed": int(seed),
        "code_version": code_version(),
    }


def design_key(design: Mapping[str, Any]) -> str:
    """Stable hash of a :func:`verdict_design`."""
    return content_key(design)


def _scenarios(design: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The null, and one scenario per plantable claim at a true effect equal to its SESOI."""
    out: list[tuple[str, dict[str, Any]]] = [("null", {})]
    for c in design["claims"]:
        fields = _planted_fields(c, design)
        if fields is not None:
            out.append((f"sesoi_{c['id']}", fields))
    return out


def calibrate_verdicts(
    block: Mapping[str, Any],
    claims: Sequence[Mapping[str, Any]],
    datasets: Mapping[str, Mapping[str, Any]],
    workflow_config: Mapping[str, Any],
    seed: int,
    *,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Rates of each verdict of each claim on simulated cohorts, through the claim's real path.

    Each replicate simulates the American Gut and HMP look-alikes of :mod:`gutskin.synthetic`, writes them
    in the real file formats, imports them with the real harmonisation blocks, computes diversity, runs
    each claim's own runner (:func:`gutskin.claims.run_claim`, parameters from ``config/claims.yaml``: its
    headline, sensitivity and matched analyses) and the ledger's verdict rule
    (:func:`gutskin.claims.build_ledger`, which calls :func:`gutskin.stats.verdict.decide`) on that claim
    alone (a Holm family of one: the real run's Holm adjustment can only lower the rates of decisive
    verdicts). Scenarios: the null (no planted effect anywhere) and, for each claim whose analysis has a knob
    (:data:`PLANTABLE`), a true effect equal to its SESOI in the claimed direction.

    Each replicate's result is cached under ``cache_dir/<design key>/`` (:func:`design_key`), so a rerun
    computes only replicates it has not computed before, and raising ``replicates`` computes only the new
    ones. Replicate k's seed depends on (seed, scenario, k) only: results do not depend on ``workers``.

    Returns
    -------
    list
        One entry per claim: ``claim``, ``analysis``, ``replicates``, ``sesoi``, ``design_key``, and per
        scenario the count, rate and Clopper–Pearson 95 % CI of every verdict, of a significant headline
        (``significant``) and of one significant in the claimed direction (``significant_claimed``, the
        simulated power at the SESOI), with the ``checks`` of issue 11 (null: wrongly supported /
        contradicted ≤ 5 %; at the SESOI: wrongly "not supported (equivalence shown)" ≤ 5 %).
    """
    replicates = _check_replicates(block["replicates"])
    design = verdict_design(block, claims, datasets, workflow_config, seed)
    key = design_key(design)
    cache = None if cache_dir is None else Path(cache_dir) / f"verdicts-{key}"
    alpha = float(design["config"].get("alpha", 0.05))
    scenarios = _scenarios(design)
    jobs = []
    for si, (name, planted) in enumerate(scenarios):
        for k in range(replicates):
            ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(7, si, k))
            scen = {
                **design["cohort"],
                "seed": int(ss.generate_state(1)[0]),
                "condition_effect_g": 0.0,
                "gut_skin_coupling": 0.0,
                **planted,
            }
            jobs.append(
                {
                    "scenario_name": name,
                    "replicate": k,
                    "scenario": scen,
                    "config": design["config"],
                    "claims": design["claims"],
                    "datasets": design["datasets"],
                    "blocks": design["blocks"],
                    "iterations": design["iterations"],
                }
            )
    t0 = time.perf_counter()
    results = _run_jobs(jobs, workers, cache)
    seconds = time.perf_counter() - t0
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for job, res in zip(jobs, results, strict=True):
        by_scenario.setdefault(job["scenario_name"], []).append(res)
    out = []
    for c in design["claims"]:
        cid = c["id"]
        direction = c.get("expected_direction", "two_sided")
        entry: dict[str, Any] = {
            "claim": cid,
            "analysis": c.get("analysis"),
            "replicates": replicates,
            "alpha": alpha,
            "sesoi": float(c["sesoi"]["value"]),
            "sesoi_scale": c["sesoi"].get("scale"),
            "expected_direction": direction,
            "design_key": key,
            # a pooled claim is simulated on the cohort the look-alikes reproduce; the others are listed
            "calibrated_on": c.get("calibrated_on"),
            "not_simulated": list(c.get("not_simulated") or []),
            "scenarios": {},
            "checks": [],
        }
        for name in [n for n, _ in scenarios if n in ("null", f"sesoi_{cid}")]:
            entry["scenarios"]["null" if name == "null" else "sesoi"] = _scenario_rates(
                c,
                [r[cid] for r in by_scenario[name]],
                0.0 if name == "null" else _signed_sesoi(c),
                alpha,
            )
        sc = entry["scenarios"]
        entry["checks"] = _verdict_checks(c, sc)
        if "sesoi" in sc:
            entry["simulated_power"] = sc["sesoi"]["significant_claimed"]["rate"]
            entry["simulated_power_ci"] = sc["sesoi"]["significant_claimed"]["ci"]
        else:
            entry["simulated_power"] = None
            entry["simulated_power_ci"] = None
            entry["note"] = (
                f"null only: the synthetic look-alikes have no knob for a {c.get('analysis')} effect on "
                "its SESOI scale"
            )
        entry["seconds"] = round(seconds, 2)
        out.append(entry)
    return out


# ------------------------------------------------------------------------------------------------
# Verdict machinery at the statistic level (CI-sized): calibration's simulate → the claim's models → verdict
# ------------------------------------------------------------------------------------------------
#: What a replicate keeps of its ledger entry (its key there): the verdict and the numbers the rates count.
_ROW_FIELDS = {
    "verdict": "verdict",
    "p_value": "p_value",
    "effect_size": "effect_size",
    "ci95": "effect_size_ci",
    "ci90": "effect_size_ci90",
    "power": "power",
}


def _ledger_row(
    claim: Mapping[str, Any], result: Mapping[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """The ledger's verdict on one runner result (``ClaimResult.to_dict()``) of ``claim`` alone, through
    :func:`gutskin.claims.build_ledger` (→ :func:`gutskin.stats.verdict.decide`), and its numbers."""
    entry = build_ledger([dict(claim)], {str(claim["id"]): dict(result)}, dict(config))[0]
    return {key: entry.get(field) for key, field in _ROW_FIELDS.items()}


def _opposite(claim: Mapping[str, Any], r: Mapping[str, Any], alpha: float) -> bool:
    """Significant against the claimed direction, as the rubric judges a contradiction (step 3 of
    :mod:`gutskin.stats.verdict`): the 95 % CI beyond 0 on the other side, and for a two-sided test
    p < alpha too."""
    direction = claim.get("expected_direction")
    ci = r.get("ci95")
    if direction not in ("positive", "negative") or not ci or None in ci:
        return False
    against = ci[1] < 0 if direction == "positive" else ci[0] > 0
    return against and (claim_sided(dict(claim)) == "one" or _significant(r, alpha))


def _equivalence_based(claim: Mapping[str, Any], r: Mapping[str, Any], alpha: float) -> bool:
    """The verdict rests on equivalence (the 90 % CI inside ±SESOI): *not supported (equivalence
    shown)*, or a mirror claim's *contradicted* that is not an opposite effect (concordance equivalent to
    none while the positive control is concordant)."""
    if r["verdict"] == "not_supported":
        return True
    return (
        r["verdict"] == "contradicted"
        and bool(claim.get("mirror_claim"))
        and not _opposite(claim, r, alpha)
    )


def _scenario_rates(
    claim: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], planted: float, alpha: float
) -> dict[str, Any]:
    """Rates over one scenario's replicates (rows of :func:`_ledger_row`), with Clopper–Pearson CIs: each
    verdict, a decisive verdict resting on equivalence (``equivalence_based``), a contradiction by an
    effect opposite to the claim (``contradicted_opposite``), a significant headline and one significant
    in the claimed direction (``significant_claimed``: the power at a planted SESOI)."""
    n = len(rows)
    direction = str(claim.get("expected_direction", "two_sided"))
    powers = [r["power"] for r in rows if r.get("power") is not None]
    effects = [r["effect_size"] for r in rows if r.get("effect_size") is not None]
    return {
        "planted": planted,
        "verdicts": {v: _rate_entry(sum(r["verdict"] == v for r in rows), n) for v in VERDICTS},
        "equivalence_based": _rate_entry(sum(_equivalence_based(claim, r, alpha) for r in rows), n),
        "contradicted_opposite": _rate_entry(
            sum(r["verdict"] == "contradicted" and _opposite(claim, r, alpha) for r in rows), n
        ),
        "significant": _rate_entry(sum(_significant(r, alpha) for r in rows), n),
        "significant_claimed": _rate_entry(sum(_claimed(r, alpha, direction) for r in rows), n),
        "mean_analytic_power": float(np.mean(powers)) if powers else None,
        "mean_effect_size": float(np.mean(effects)) if effects else None,
    }


def _verdict_checks(
    claim: Mapping[str, Any], scenarios: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The checks of issue 11 on :func:`_scenario_rates` of the null and the SESOI: wrongly supported and
    wrongly contradicted under the null, wrongly showing equivalence at a true SESOI (each ≤ 5 %).

    A mirror claim's contradiction under the null is wrong only as an opposite effect: its other
    contradiction, "concordance equivalent to none", is the right reading of a true r of 0; at the SESOI
    that one is the equivalence error, as "not supported (equivalence shown)" is for other claims."""
    mirror = bool(claim.get("mirror_claim"))
    out = []
    for name, key, what in (
        ("null", ("verdicts", "supported"), "wrongly supported under the null"),
        (
            "null",
            ("contradicted_opposite",) if mirror else ("verdicts", "contradicted"),
            "wrongly contradicted (an effect opposite to the claim) under the null"
            if mirror
            else "wrongly contradicted under the null",
        ),
        (
            "sesoi",
            ("equivalence_based",),
            "wrongly shown equivalent to none ('contradicted' by equivalence, or 'not supported') "
            "at a true SESOI"
            if mirror
            else "wrongly 'not supported (equivalence shown)' at a true SESOI",
        ),
    ):
        if name not in scenarios:
            continue
        r: Mapping[str, Any] = scenarios[name]
        for k in key:
            r = r[k]
        out.append(
            {
                "what": what,
                "count": r["count"],
                "rate": r["rate"],
                "ci": r["ci"],
                "max": 0.05,
                "ok": bool(r["rate"] <= 0.05),
                "shown_above": bool(r["ci"][0] > 0.05),
            }
        )
    return out


def _one_alpha_verdict(
    claim: Mapping[str, Any],
    design: Mapping[str, Any],
    g: float,
    ss: np.random.SeedSequence,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """One C8-style replicate: :func:`simulate_alpha_cohort` (``design``: ``n_cases``, ``n_controls``),
    the claim's headline model (:func:`alpha_formula`: OLS with HC3), its TOST and power as the runner
    computes them, the Huber and minimal-covariates sensitivity analyses recorded with the runner's own
    helpers, and the ledger's verdict."""
    n_cases, n_controls = int(design["n_cases"]), int(design["n_controls"])
    alpha = float(config.get("alpha", 0.05))
    df = simulate_alpha_cohort(n_cases, n_controls, g, np.random.default_rng(ss), sd=_ALPHA_SD)
    params = claim.get("params") or {}
    formula = alpha_formula({"params": {**params, "metric": "shannon"}}, df)
    prim = regression.ols_hc3(df, formula, "any_condition")
    sesoi = float(claim["sesoi"]["value"])
    n1, n0 = int(prim.n_term or n_cases), int(prim.n_reference or n_controls)
    scale = float(effects.hedges_g_from_beta(1.0, prim.resid_sd, n1, n0)[0])
    res = ClaimResult(id=str(claim["id"]))
    res.headline = headline_entry(
        prim,
        scale=scale,
        tost_p=equivalence.tost(prim.estimate, prim.se, prim.df_resid, sesoi / scale).p_value,
        power=power.regression_term_power(
            sesoi, n1, n0, alpha=alpha, alternative=power_alternative(dict(claim))
        ),
        n=prim.n,
    )
    minimal = [c for c in params.get("covariates") or [] if c in MINIMAL_COVARIATES]
    f_min = alpha_formula({"params": {"metric": "shannon", "covariates": minimal}}, df)
    huber = regression.rlm_huber(df, formula, "any_condition")
    minimal_fit = regression.ols_hc3(df, f_min, "any_condition")
    min_scale = float(effects.hedges_g_from_beta(1.0, minimal_fit.resid_sd, n1, n0)[0])
    # the declared analyses of claims/sensitivity.py, on the SESOI scale as the runner records them
    for declared, r, s in (
        (sensitivity.HUBER, huber, scale),
        (sensitivity.MINIMAL_COVARIATES_MODEL, minimal_fit, min_scale),
    ):
        record_sensitivity(res, declared, declared.name, numbers=sesoi_numbers(r, scale=s))
    return _ledger_row(claim, res.to_dict(), config)


def _one_mantel_verdict(
    claim: Mapping[str, Any],
    design: Mapping[str, Any],
    r: float,
    ss: np.random.SeedSequence,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """One C9-style replicate: :func:`simulate_paired_distances` at the coupling whose population Mantel r
    is ``r`` (``design``: ``strata_sizes``, ``batch_shift``), the runner's own headline
    (:func:`gutskin.claims.paired_mirror.mantel_test` with the claim's sidedness,
    ``design["permutations"]`` permutations within strata and ``design["bootstrap"]`` subject bootstraps
    for the 90/95 % CIs; :func:`~gutskin.claims.paired_mirror.mantel_headline`), a concordant positive
    control (as HMP's left vs right crease is), and the ledger's verdict. The other-beta-metric sensitivity
    analyses need community data and are left out."""
    data_ss, perm_ss = ss.spawn(2)
    dx, dy, strata = simulate_paired_distances(
        [int(x) for x in design["strata_sizes"]],
        mantel_coupling(abs(float(r))),
        np.random.default_rng(data_ss),
        batch_shift=float(design["batch_shift"]),
    )
    alternative = paired_mirror.mantel_alternative(dict(claim))
    cfg = {
        **config,
        "permutations": int(design["permutations"]),
        "bootstrap": int(design["bootstrap"]),
        "seed": int(perm_ss.generate_state(1)[0]),
    }
    res = ClaimResult(id=str(claim["id"]))
    res.headline = paired_mirror.mantel_headline(
        paired_mirror.mantel_test(dx, dy, cfg, strata, alternative), len(strata), alternative
    )
    res.positive_control_ok = True
    return _ledger_row(claim, res.to_dict(), config)


def _one_log_ratio_verdict(
    claim: Mapping[str, Any],
    design: Mapping[str, Any],
    lfc: float,
    ss: np.random.SeedSequence,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """One C10-style replicate: :func:`simulate_log_ratio_cohort` with a true log fold change ``lfc`` of the
    producer : Enterobacteriaceae abundance ratio (``design``: ``n_cases``, ``n_controls``, ``depth``), the
    claim's log-ratio (its ``taxa`` and ``log_ratio_pseudocount``), the runner's own headline
    (:func:`gutskin.claims.differential.record_log_ratio_headline`: OLS with HC3, TOST, power, the Huber
    sensitivity analysis and the log-ratio at the claim's other positive ``pseudocounts``) and the ledger's
    verdict."""
    params = claim.get("params") or {}
    sim = {
        "n_cases": int(design["n_cases"]),
        "n_controls": int(design["n_controls"]),
        "depth": int(design["depth"]),
        "taxa": list(params.get("taxa") or []),
        "pseudocount": float(params.get("log_ratio_pseudocount", 0.5)),
    }
    data, tc, specs = _log_ratio_data(sim, lfc, ss)
    res = ClaimResult(id=str(claim["id"]))
    differential.record_log_ratio_headline(
        res,
        data,
        [str(c) for c in params.get("covariates") or []],
        "simulated cases vs controls",
        float(claim["sesoi"]["value"]),
        float(config.get("alpha", 0.05)),
        dict(claim),
        differential.other_pseudocount_ratios(
            tc,
            specs,
            [float(x) for x in params.get("pseudocounts") or differential.DEFAULTS["pseudocounts"]],
            float(params.get("log_ratio_pseudocount", 0.5)),
        ),
    )
    return _ledger_row(claim, res.to_dict(), config)


#: Analysis -> (one replicate of its verdict machinery, the ``calibration`` block holding its design,
#: the replicate seeds' spawn key, extra design defaults, the design in words).
_MACHINERY: dict[str, tuple[Callable[..., dict[str, Any]], str, int, dict[str, Any], str]] = {
    "alpha_condition": (
        _one_alpha_verdict,
        "alpha_ols",
        11,
        {},
        "n = {n_cases} cases / {n_controls} controls; Shannon simulated directly",
    ),
    "paired_mirror": (
        _one_mantel_verdict,
        "mantel",
        12,
        {"bootstrap": 199},
        "n = {n} subjects in strata {strata_sizes}; Euclidean distances of simulated profiles with a "
        "batch shift of SD {batch_shift} per stratum; {permutations} permutations within strata, "
        "{bootstrap} subject bootstraps",
    ),
    "differential_abundance": (
        _one_log_ratio_verdict,
        "log_ratio",
        13,
        {},
        "n = {n_cases} cases / {n_controls} controls at {depth} reads; counts of 7 simulated taxa",
    ),
}


def calibrate_verdict_machinery(
    claim: Mapping[str, Any],
    replicates: int | Mapping[str, int],
    seed: int,
    config: Mapping[str, Any],
    design: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Verdict-level error rates of a C8-, C9- or C10-style claim, cheap enough for CI.

    The full real path (:func:`calibrate_verdicts`: files → import → diversity → runner → ledger) costs
    seconds per replicate; asserting a rate ≤ 5 % needs a few hundred replicates per scenario. This runs
    the same verdict machinery on calibration's statistic-level simulations at the real designs (the
    ``calibration`` block of ``config``, else :data:`DEFAULTS`; ``design`` overrides keys): the claim's
    headline as its runner computes it, with the model, taxa, sidedness and SESOI read from the claim
    (``config/claims.yaml``), then the ledger's rubric (:func:`gutskin.claims.build_ledger`).

    * ``alpha_condition`` (C8, :func:`_one_alpha_verdict`): OLS with HC3 on simulated Shannon values, its
      TOST and power, the Huber and minimal-covariates sensitivity analyses.
    * ``paired_mirror`` (C9, :func:`_one_mantel_verdict`): the one-sided Mantel test within strata with its
      subject-bootstrap CIs on simulated distance matrices, a concordant positive control.
    * ``differential_abundance`` (C10, :func:`_one_log_ratio_verdict`): the log-ratio model with its TOST,
      power and Huber sensitivity analysis on simulated counts.

    Sensitivity analyses that need community data (other metrics, a second depth, the matched analysis)
    are left out; a decisive verdict stands only if each analysis agrees, so fewer analyses can only make
    every decisive verdict *easier*: these rates bound the full battery's from above.

    ``replicates`` is a count per scenario, or a mapping ``{"null": n0, "sesoi": n1}``; replicate k's seed
    does not depend on the count, so more replicates extend the same sequence.

    Returns
    -------
    dict
        ``claim``, ``analysis``, ``replicates`` (per scenario), ``design`` (its numbers) and ``design_text``, and per
        scenario (``null``: no effect; ``sesoi``: a true effect equal to the SESOI in the claimed
        direction) the rates of :func:`_scenario_rates`, with the ``checks`` of :func:`_verdict_checks`.
    """
    per = (
        {k: _check_replicates(replicates[k]) for k in ("null", "sesoi")}
        if isinstance(replicates, Mapping)
        else dict.fromkeys(("null", "sesoi"), _check_replicates(replicates))
    )
    analysis = str(claim.get("analysis"))
    if analysis not in _MACHINERY:
        raise StatsInputError(
            f"claim {claim.get('id')} is a {analysis} claim; this calibration simulates "
            f"{', '.join(_MACHINERY)} claims only",
            where="claim",
        )
    one, block, test_id, extra, words = _MACHINERY[analysis]
    d = {
        **extra,
        **_merged(config.get("calibration"))[block],
        **dict(design or {}),
    }
    d.pop("replicates", None)
    d.pop("planted", None)
    alpha = float(config.get("alpha", 0.05))
    scenarios: dict[str, Any] = {}
    for si, (name, effect) in enumerate((("null", 0.0), ("sesoi", _signed_sesoi(claim)))):
        rows = [
            one(claim, d, effect, ss, config)
            for ss in _replicate_seeds(seed, test_id, si, per[name])
        ]
        scenarios[name] = {"replicates": per[name], **_scenario_rates(claim, rows, effect, alpha)}
    return {
        "claim": claim["id"],
        "analysis": analysis,
        "replicates": per,
        "design": d,
        "design_text": words.format(n=sum(d.get("strata_sizes") or []), **d),
        "scenarios": scenarios,
        "checks": _verdict_checks(claim, scenarios),
    }


def simulated_power(calibration: Mapping[str, Any], claim: str) -> float | None:
    """The simulated power at the SESOI of ``claim`` in a ``calibration.json`` (``None``: not simulated).

    This is the power the report should print for the claim (the verdict-level simulation runs the claim's
    own analysis, so it includes what the analytic formula leaves out).
    """
    for v in calibration.get("verdicts") or []:
        if v.get("claim") == claim:
            p = v.get("simulated_power")
            return None if p is None else float(p)
    return None


def _verdict_tests(verdicts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Verdict-level entries in the ``tests`` shape of the report's calibration table."""
    out = []
    for v in verdicts:
        null = v["scenarios"]["null"]["significant"]
        planted = []
        if "sesoi" in v["scenarios"]:
            s = v["scenarios"]["sesoi"]
            planted.append(
                {
                    "effect": f"{v['sesoi_scale']} = {s['planted']:g} (SESOI)",
                    "value": s["planted"],
                    "rejections": s["significant_claimed"]["count"],
                    "power": s["significant_claimed"]["rate"],
                    "power_ci": s["significant_claimed"]["ci"],
                    "analytic_power": s["mean_analytic_power"],
                }
            )
        planted_ok = null["ci"][0] <= v["alpha"] <= null["ci"][1]
        out.append(
            {
                "claim": v["claim"],
                "test": f"the claim's own analysis and verdict ({v['analysis']}), through the real path",
                "replicates": v["replicates"],
                "alpha": v["alpha"],
                "null_rejections": null["count"],
                "fpr": null["rate"],
                "fpr_ci": null["ci"],
                "fpr_ok": bool(planted_ok),
                "planted": planted,
                "design": "synthetic look-alike cohorts in the real file formats; design key "
                + v["design_key"],
                "simulation": "gutskin.synthetic → import → diversity → runner → ledger verdict",
                "seconds": v["seconds"],
            }
        )
    return out


# ------------------------------------------------------------------------------------------------
# all of it
# ------------------------------------------------------------------------------------------------
def _merged(block: Mapping[str, Any] | None) -> dict[str, Any]:
    out = json.loads(json.dumps(DEFAULTS))
    for key, value in (block or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def run_calibration(
    calibration: Mapping[str, Any] | None,
    seed: int,
    alpha: float = 0.05,
    workers: int = 1,
    *,
    claims: Sequence[Mapping[str, Any]],
    datasets: Mapping[str, Mapping[str, Any]] | None = None,
    workflow_config: Mapping[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    skip: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run every calibration of the ``calibration`` config block; the content of ``calibration.json``.

    Parameters
    ----------
    calibration
        The validated ``calibration`` block (missing keys take :data:`DEFAULTS`).
    seed
        The workflow's master seed; the calibration uses ``seed + seed_offset``.
    alpha
        Significance level of every test.
    workers
        Processes to spread the scenarios over (the numbers do not depend on it).
    claims
        The ``claims`` list of ``config/claims.yaml``: the models, taxa and SESOIs are read from it.
    datasets, workflow_config
        The ``datasets`` of ``config/datasets.yaml`` and the validated workflow configuration, for the
        verdict-level calibration (skipped when ``verdicts.replicates`` is 0 or ``datasets`` is ``None``).
    cache_dir
        Where results are cached by design key (``None``: no cache): the statistic-level tests as one
        file per design (``tests-<key>.json``: their tasks, i.e. sizes, replicates, planted effects,
        models, seed, and the code hash), the verdict-level ones per replicate.
    skip
        Claim ID -> reason, for claims whose analysis cannot run in this workflow (e.g. its data are
        unavailable): their calibration is not simulated and is listed under ``skipped``. The others'
        numbers do not change (every test has its own seeds).

    Returns
    -------
    dict
        ``{"alpha", "seed", "tests": [...], "skipped": [{"claim", "reason"}], "verdicts": [...]}``: one
        test-level entry per calibrated statistic (C8, C9, C10 by default) followed by the verdict-level
        entries in the same shape, and the verdict-level details of :func:`calibrate_verdicts`.
    """
    cfg = _merged(calibration)
    skip = dict(skip or {})
    cal_seed = int(seed) + int(cfg["seed_offset"])
    a, m, lr = cfg["alpha_ols"], cfg["mantel"], cfg["log_ratio"]
    # a skipped claim need not be in the register (its model is not read)
    a_claim = {} if str(a["claim"]) in skip else _claim_by_id(claims, str(a["claim"]))
    m_claim = {} if str(m["claim"]) in skip else _claim_by_id(claims, str(m["claim"]))
    # the Mantel test is sided as the claim's runner tests it (claims/register.py)
    m_alt = "greater" if m_claim and claim_sided(m_claim) == "one" else "two-sided"
    lr_claim = {} if str(lr["claim"]) in skip else _claim_by_id(claims, str(lr["claim"]))
    a_args = (
        int(a["n_cases"]),
        int(a["n_controls"]),
        _check_replicates(a["replicates"]),
        [float(x) for x in a["planted"]],
    )
    m_args = (
        [int(x) for x in m["strata_sizes"]],
        _check_replicates(m["replicates"]),
        [float(x) for x in m["planted"]],
        int(m["permutations"]),
    )
    lr_args = (
        int(lr["n_cases"]),
        int(lr["n_controls"]),
        _check_replicates(lr["replicates"]),
        [float(x) for x in lr["planted"]],
    )
    lr_params = lr_claim.get("params") or {}
    plans: list[
        tuple[str, Callable[[], list[tuple[Any, ...]]], Callable[[Any], dict[str, Any]]]
    ] = [
        (
            str(a["claim"]),
            lambda: _alpha_ols_tasks(
                *a_args,
                cal_seed,
                alpha,
                covariates=list((a_claim.get("params") or {}).get("covariates") or []),
            ),
            lambda sc: _alpha_ols_result(sc, *a_args, alpha, str(a["claim"])),
        ),
        (
            str(m["claim"]),
            lambda: _mantel_tasks(*m_args, cal_seed, alpha, float(m["batch_shift"]), m_alt),
            lambda sc: _mantel_result(
                sc, *m_args, alpha, float(m["batch_shift"]), str(m["claim"]), m_alt
            ),
        ),
        (
            str(lr["claim"]),
            lambda: _log_ratio_tasks(
                *lr_args,
                cal_seed,
                alpha,
                int(lr["depth"]),
                float(lr_params.get("log_ratio_pseudocount", 0.5)),
                list(lr_params.get("taxa") or []),
                list(lr_params.get("covariates") or []),
            ),
            lambda sc: _log_ratio_result(sc, *lr_args, alpha, int(lr["depth"]), str(lr["claim"])),
        ),
    ]
    active = [p for p in plans if p[0] not in skip]
    skipped = [{"claim": p[0], "reason": skip[p[0]]} for p in plans if p[0] in skip]
    for entry in skipped:
        _LOG.info("calibration of %s skipped: %s", entry["claim"], entry["reason"])
    groups = [make() for _, make, _ in active]
    # The statistic-level results are a function of these tasks and the code: cached by their hash.
    tests_key = design_key(
        {"tasks": [list(t) for g in groups for t in g], "code_version": code_version()}
    )
    tests_file = None if cache_dir is None else Path(cache_dir) / f"tests-{tests_key}.json"

    def simulate() -> list[dict[str, Any]]:
        flat = [t for g in groups for t in g]
        results = _run_tasks(flat, workers) if flat else []
        out, k = [], 0
        for (_, _, finish), g in zip(active, groups, strict=True):
            out.append(finish(results[k : k + len(g)]))
            k += len(g)
        return out

    tests: list[dict[str, Any]] = memo(tests_file, simulate)
    verdicts: list[dict[str, Any]] = []
    vb = dict(cfg["verdicts"])
    vb["claims"] = [c for c in vb["claims"] if c not in skip]
    if int(vb["replicates"]) > 0 and vb["claims"] and datasets is not None:
        wc = dict(workflow_config or {})
        wc.setdefault("alpha", alpha)
        verdicts = calibrate_verdicts(
            vb, claims, datasets, wc, cal_seed, workers=workers, cache_dir=cache_dir
        )
    return {
        "alpha": alpha,
        "seed": cal_seed,
        "tests": [*tests, *_verdict_tests(verdicts)],
        "skipped": skipped,
        "verdicts": verdicts,
    }


def write_calibration(obj: Mapping[str, Any], path: str | Path) -> None:
    """Write ``obj`` as JSON atomically (temp file in the same directory, then rename)."""
    write_json(path, obj)
