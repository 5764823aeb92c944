"""Statistics for the claims audit and the verdict rubric.

Every function is plain Python (no Snakemake) and returns frozen dataclasses whose ``to_dict()``
gives JSON-able values (floats, ints, str, lists, ``None``; never numpy scalars). Bad input raises
:class:`gutskin.stats.StatsInputError`, which is both a :class:`gutskin.errors.InputError` and a
:class:`ValueError`.

Regression (:mod:`gutskin.stats.regression`)
    :func:`ols_hc3`, :func:`rlm_huber` → :class:`RegressionResult`.
Effect sizes (:mod:`gutskin.stats.effects`)
    :func:`hedges_g_from_beta`, :func:`hedges_g`, :func:`hedges_j`.
Equivalence (:mod:`gutskin.stats.equivalence`)
    :func:`tost`, :func:`tost_correlation` → :class:`TostResult`.
Power (:mod:`gutskin.stats.power`)
    :func:`two_sample_power`, :func:`regression_term_power`, :func:`min_detectable_g`,
    :func:`n_per_group`, :func:`correlation_power`, :func:`min_detectable_r`.
Paired sites (:mod:`gutskin.stats.paired`)
    :func:`spearman_permutation` → :class:`CorrelationResult`; :func:`mantel`,
    :func:`partial_mantel` → :class:`MantelResult`; :func:`protest` (alias :func:`procrustes`) →
    :class:`ProcrustesResult`.
Multiple testing (:mod:`gutskin.stats.multiple`)
    :func:`holm`, :func:`bh`.
Beta diversity (:mod:`gutskin.stats.permanova`)
    ``permanova.permanova`` (marginal terms, Freedman–Lane, strata; not re-exported: the name is the
    module's) → :class:`PermanovaResult`; :func:`permdisp` → :class:`PermdispResult`.
Meta-analysis (:mod:`gutskin.stats.meta`)
    :func:`random_effects` (REML / DL / PM τ², I², 95 % prediction interval) → :class:`MetaResult`.
Logistic regression (:mod:`gutskin.stats.logistic`)
    :func:`logit_robust`, :func:`logit_firth` → :class:`LogisticResult`; :func:`exact_odds_ratio`.
Mixed models (:mod:`gutskin.stats.mixed`)
    :func:`mixed_random_intercept` → :class:`MixedResult`; :func:`mixed_power`.
Differential abundance (:mod:`gutskin.stats.da`)
    ANCOM-BC and Dirichlet-multinomial tests with their consensus (imported on use: scikit-bio).
Verdicts (:mod:`gutskin.stats.verdict`)
    :class:`Evidence`, :class:`Verdict`, :func:`decide`, :func:`not_testable`, :data:`VERDICTS`,
    :data:`LABELS`.

Reference values for the tests come from R (``tests/fixtures/make_r_stats_reference.R``: lm +
sandwich HC3, MASS::rlm, vegan mantel / mantel.partial / protest with exact permutation p-values,
cor.test, power.t.test, p.adjust).
"""

from __future__ import annotations

from ._util import StatsInputError
from .effects import hedges_g, hedges_g_from_beta, hedges_j
from .equivalence import TostResult, tost, tost_correlation
from .logistic import LogisticResult, exact_odds_ratio, logit_firth, logit_robust
from .meta import MetaResult, random_effects
from .mixed import MixedResult, mixed_power, mixed_random_intercept
from .multiple import bh, holm
from .paired import (
    CorrelationResult,
    MantelResult,
    ProcrustesResult,
    mantel,
    partial_mantel,
    procrustes,
    protest,
    spearman_permutation,
)
from .permanova import PermanovaResult, PermdispResult, permdisp
from .power import (
    correlation_power,
    min_detectable_g,
    min_detectable_r,
    n_per_group,
    regression_term_power,
    two_sample_power,
)
from .regression import RegressionResult, TermNotFoundError, ols_hc3, rlm_huber
from .verdict import (
    LABELS,
    VERDICTS,
    Evidence,
    Verdict,
    data_unavailable,
    decide,
    judge_sensitivity,
    not_testable,
)

__all__ = [
    "LABELS",
    "VERDICTS",
    "CorrelationResult",
    "Evidence",
    "LogisticResult",
    "MantelResult",
    "MetaResult",
    "MixedResult",
    "PermanovaResult",
    "PermdispResult",
    "ProcrustesResult",
    "RegressionResult",
    "StatsInputError",
    "TermNotFoundError",
    "TostResult",
    "Verdict",
    "bh",
    "correlation_power",
    "data_unavailable",
    "decide",
    "exact_odds_ratio",
    "hedges_g",
    "hedges_g_from_beta",
    "hedges_j",
    "holm",
    "judge_sensitivity",
    "logit_firth",
    "logit_robust",
    "mantel",
    "min_detectable_g",
    "min_detectable_r",
    "mixed_power",
    "mixed_random_intercept",
    "n_per_group",
    "not_testable",
    "ols_hc3",
    "partial_mantel",
    "permdisp",
    "procrustes",
    "protest",
    "random_effects",
    "regression_term_power",
    "rlm_huber",
    "spearman_permutation",
    "tost",
    "tost_correlation",
    "two_sample_power",
]
