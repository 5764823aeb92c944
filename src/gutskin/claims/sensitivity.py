"""Sensitivity analyses declared once and applied by every analysis they fit.

A :class:`Sensitivity` has a ``name``, a ``kind`` (what it varies: ``model``, ``metric``, ``estimator``,
``matched`` …; written into each entry), the analyses it ``applies_to`` (runner names of ``claims.yaml``'s
``analysis``, or ``"pooled"`` for a claim pooled over ``k ≥ 2`` cohorts) and how it is obtained:

* ``variant`` — a refit of the cohort's primary model with another outcome column or fewer covariates
  (minimal covariates, the alternative alpha metric, the second rarefaction depth). :func:`variants` gives
  the :class:`Variant` of each that fits an analysis, from the primary model's :class:`ModelContext`; the
  runner fits each with its own model (OLS, mixed model …) on the same subjects.
* ``refit`` — for the pooled analyses, the alternative pooled estimate(s) from a :class:`PoolContext`
  (leave-one-cohort-out, the other τ² estimator, each cohort-level analysis pooled like the headline, the
  normal CI when the headline's is Hartung–Knapp–Sidik–Jonkman).
* neither — an analysis the runner fits itself, but only where the declaration says it applies
  (:func:`applies`): Huber robust regression, the subject-level OLS of a mixed model, the other logistic
  estimator, the Mantel test on another beta metric, the matched case–control analysis.

Every entry is a :class:`gutskin.claims.contract.SensitivityResult` (name, kind, estimate, 95 % and 90 %
CI, p on the SESOI's scale, note); runners record theirs with
:func:`gutskin.claims.entries.add_sensitivity` / ``record_sensitivity`` passing the declaration (its
``kind``), the pooling with :func:`entry`. Each is judged at the level of the verdict by
:func:`gutskin.stats.verdict.judge_sensitivity` (the ledger judges the cohort-level ones after Holm's
adjustment).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..stats import meta
from ..stats._util import StatsInputError
from ..stats.verdict import judge_sensitivity
from .common import MINIMAL_COVARIATES, SECOND_DEPTH, alternative_metric, metric_name

__all__ = [
    "ALTERNATIVE_METRIC",
    "HUBER",
    "MATCHED",
    "MINIMAL_COVARIATES_MODEL",
    "OTHER_BETA_METRIC",
    "OTHER_LOGISTIC_ESTIMATOR",
    "OTHER_PSEUDOCOUNT",
    "REGISTRY",
    "SECOND_DEPTH_MODEL",
    "SUBJECT_LEVEL",
    "ModelContext",
    "PoolContext",
    "Refit",
    "Sensitivity",
    "Variant",
    "applicable",
    "applies",
    "entry",
    "fit_variants",
    "register",
    "variants",
]


@dataclass(frozen=True)
class Refit:
    """One alternative estimate on the claim's effect scale (display scale: r for Fisher z)."""

    label: str
    estimate: float | None
    ci: tuple[float, float] | None
    ci90: tuple[float, float] | None
    p_value: float | None
    note: str


@dataclass(frozen=True)
class PoolContext:
    """What a pooled sensitivity analysis needs: the cohorts' estimates and the pooling options."""

    labels: list[str]
    effects: list[float]
    ses: list[float]
    method: str
    ci_method: str
    to_display: Callable[[float], float]
    effect_word: str
    #: Each cohort-level sensitivity analysis that every cohort ran on the effect-size scale:
    #: name -> (effects, SEs) in cohort order (SEs from the 95 % CIs, normal approximation).
    cohort_analyses: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelContext:
    """The primary model of one cohort, as the model-variant sensitivity analyses see it.

    ``alt_metric`` is the alternative alpha metric when its column was added to the model data (else
    None); ``depth2_label`` says what the second-depth column ``<metric>_depth2`` holds when the diversity
    step computed it (else None).
    """

    metric: str
    covariates: tuple[str, ...]
    alt_metric: str | None = None
    depth2_label: str | None = None


@dataclass(frozen=True)
class Variant:
    """A refit of the primary model asked for by a declared sensitivity analysis.

    ``key`` is ``minimal``, ``metric`` or ``depth2``; ``name`` is quoted in the ledger's robustness;
    ``label`` says what differs from the primary model (e.g. ``minimal covariates: age, sex``);
    ``outcome`` and ``covariates`` are the refit's outcome column and covariates (same subjects);
    ``what`` is the one-line note of its test entry.
    """

    sensitivity: Sensitivity
    key: str
    name: str
    label: str
    outcome: str
    covariates: tuple[str, ...]
    what: str

    @property
    def kind(self) -> str:
        return self.sensitivity.kind


@dataclass(frozen=True)
class Sensitivity:
    """A sensitivity analysis declared once (see the module docstring)."""

    name: str
    kind: str
    applies_to: tuple[str, ...]
    description: str
    refit: Callable[[Any], Iterator[Refit]] | None = None
    variant: Callable[[Sensitivity, ModelContext], Variant | None] | None = None


#: Declared sensitivity analyses by name.
REGISTRY: dict[str, Sensitivity] = {}


def register(s: Sensitivity) -> Sensitivity:
    """Add ``s`` to :data:`REGISTRY` (names are unique)."""
    if s.name in REGISTRY:
        raise ValueError(f"sensitivity analysis {s.name!r} is declared twice")
    REGISTRY[s.name] = s
    return s


def applicable(analysis: str) -> list[Sensitivity]:
    """The declared sensitivity analyses that fit ``analysis``, in declaration order."""
    return [s for s in REGISTRY.values() if analysis in s.applies_to]


def applies(analysis: str, s: Sensitivity) -> bool:
    """Whether the declared sensitivity analysis ``s`` fits ``analysis`` (the runner then fits it)."""
    return analysis in s.applies_to


def variants(analysis: str, ctx: ModelContext) -> list[Variant]:
    """The model variants of the declared sensitivity analyses that fit ``analysis``, in declaration
    order (minimal covariates, alternative metric, second rarefaction depth), leaving out those the
    primary model cannot have (no covariate besides age and sex, metric or depth not computed)."""
    out = []
    for s in applicable(analysis):
        v = s.variant(s, ctx) if s.variant is not None else None
        if v is not None:
            out.append(v)
    return out


def _fit(ctx: PoolContext, idx: list[int], method: str, ci_method: str) -> meta.MetaResult:
    return meta.random_effects(
        [ctx.effects[i] for i in idx],
        [ctx.ses[i] for i in idx],
        method=method,
        labels=[ctx.labels[i] for i in idx],
        ci_method=ci_method,
    )


def _refit_from(label: str, m: meta.MetaResult, ctx: PoolContext, what: str) -> Refit:
    d = ctx.to_display
    ci = (d(m.ci95[0]), d(m.ci95[1]))
    ci90 = (d(m.ci90[0]), d(m.ci90[1]))
    return Refit(
        label=label,
        estimate=d(m.estimate),
        ci=ci,
        ci90=ci90,
        p_value=m.p_value,
        note=(
            f"{what}: {ctx.effect_word} {d(m.estimate):+.3g} (95% CI {ci[0]:.3g} to {ci[1]:.3g}), "
            f"p = {m.p_value:.3g}"
        ),
    )


def _single(label: str, i: int, ctx: PoolContext, what: str) -> Refit:
    from scipy import stats

    d = ctx.to_display
    y, s = ctx.effects[i], ctx.ses[i]
    z95, z90 = float(stats.norm.ppf(0.975)), float(stats.norm.ppf(0.95))
    ci = (d(y - z95 * s), d(y + z95 * s))
    ci90 = (d(y - z90 * s), d(y + z90 * s))
    p = float(2 * stats.norm.sf(abs(y / s)))
    return Refit(
        label=label,
        estimate=d(y),
        ci=ci,
        ci90=ci90,
        p_value=p,
        note=(
            f"{what}: {ctx.effect_word} {d(y):+.3g} (95% CI {ci[0]:.3g} to {ci[1]:.3g}), "
            f"p = {p:.3g}"
        ),
    )


def _leave_one_out(ctx: PoolContext) -> Iterator[Refit]:
    k = len(ctx.effects)
    for out in range(k):
        keep = [i for i in range(k) if i != out]
        what = f"without {ctx.labels[out]}"
        label = f"leave-one-cohort-out: without {ctx.labels[out]}"
        if len(keep) == 1:
            yield _single(label, keep[0], ctx, what + f" ({ctx.labels[keep[0]]} alone)")
        else:
            ci_m = ctx.ci_method if len(keep) >= 2 else "normal"
            yield _refit_from(label, _fit(ctx, keep, ctx.method, ci_m), ctx, what)


def _other_tau2(ctx: PoolContext) -> Iterator[Refit]:
    other = "DL" if ctx.method != "DL" else "REML"
    m = _fit(ctx, list(range(len(ctx.effects))), other, ctx.ci_method)
    yield _refit_from(f"{other} τ²", m, ctx, f"{other} τ²")


def _normal_ci(ctx: PoolContext) -> Iterator[Refit]:
    if ctx.ci_method != "hksj":
        return
    m = _fit(ctx, list(range(len(ctx.effects))), ctx.method, "normal")
    yield _refit_from("normal (Wald) CI", m, ctx, "normal CI instead of Hartung–Knapp")


def _pooled_cohort_analyses(ctx: PoolContext) -> Iterator[Refit]:
    for name, (effects, ses) in ctx.cohort_analyses.items():
        m = meta.random_effects(
            effects, ses, method=ctx.method, labels=ctx.labels, ci_method=ctx.ci_method
        )
        yield _refit_from(f"{name} (pooled)", m, ctx, f"{name}, pooled over the cohorts")


_R = TypeVar("_R")


def fit_variants(
    analysis: str,
    ctx: ModelContext,
    fit: Callable[[Variant], _R],
    failed: Callable[[Variant, StatsInputError], None],
) -> list[tuple[Variant, _R]]:
    """Fit each model variant of :func:`variants` with the runner's ``fit`` (same subjects as the primary
    model); a variant the data cannot fit is left out and passed to ``failed`` (which writes the note)."""
    out = []
    for v in variants(analysis, ctx):
        try:
            out.append((v, fit(v)))
        except StatsInputError as exc:
            failed(v, exc)
    return out


# ------------------------------------------------------------------------------------------------
# cohort-level analyses: model variants
# ------------------------------------------------------------------------------------------------
def _minimal(s: Sensitivity, ctx: ModelContext) -> Variant | None:
    minimal = tuple(c for c in ctx.covariates if c in MINIMAL_COVARIATES)
    if minimal == tuple(ctx.covariates):
        return None  # the primary model is already the minimal one
    return Variant(
        sensitivity=s,
        key="minimal",
        name=s.name,
        label=f"minimal covariates: {', '.join(minimal) or 'none'}",
        outcome=ctx.metric,
        covariates=minimal,
        what="same subjects, fewer covariates",
    )


def _alt_metric(s: Sensitivity, ctx: ModelContext) -> Variant | None:
    if ctx.alt_metric is None:
        return None
    return Variant(
        sensitivity=s,
        key="metric",
        name=metric_name(ctx.alt_metric),
        label=f"{metric_name(ctx.alt_metric)} instead of {metric_name(ctx.metric)}",
        outcome=ctx.alt_metric,
        covariates=tuple(ctx.covariates),
        what="same subjects and model, another alpha metric",
    )


def _depth2(s: Sensitivity, ctx: ModelContext) -> Variant | None:
    if ctx.depth2_label is None:
        return None
    return Variant(
        sensitivity=s,
        key="depth2",
        name=s.name,
        label=ctx.depth2_label,
        outcome=f"{ctx.metric}_depth2",
        covariates=tuple(ctx.covariates),
        what="same subjects and model, alpha at a second rarefaction depth",
    )


_ALPHA_MODELS = ("alpha_condition", "alpha_exposure", "longitudinal_mixed")

MINIMAL_COVARIATES_MODEL = register(
    Sensitivity(
        name="minimal covariates",
        kind="model",
        applies_to=_ALPHA_MODELS,
        variant=_minimal,
        description=(
            f"the same model adjusted for {' and '.join(MINIMAL_COVARIATES)} only (those of them the "
            "model has), same subjects"
        ),
    )
)
ALTERNATIVE_METRIC = register(
    Sensitivity(
        name="alternative metric",
        kind="metric",
        applies_to=_ALPHA_MODELS,
        variant=_alt_metric,
        description=(
            f"the same model on {metric_name(alternative_metric('shannon'))} (on "
            f"{metric_name(alternative_metric('observed'))} when the claim's metric is observed "
            "features), same subjects; named by the metric"
        ),
    )
)
SECOND_DEPTH_MODEL = register(
    Sensitivity(
        name=SECOND_DEPTH,
        kind="model",
        applies_to=_ALPHA_MODELS,
        variant=_depth2,
        description=(
            "the same model on the metric at the second rarefaction depth "
            "(rarefaction.sensitivity_depth × the depth), where the diversity step computed it"
        ),
    )
)

# ------------------------------------------------------------------------------------------------
# cohort-level analyses the runner fits itself
# ------------------------------------------------------------------------------------------------
HUBER = register(
    Sensitivity(
        name="Huber robust regression",
        kind="estimator",
        applies_to=("alpha_condition", "alpha_exposure", "differential_abundance"),
        description="the headline OLS model fitted by Huber's robust regression",
    )
)
SUBJECT_LEVEL = register(
    Sensitivity(
        name="subject-level OLS",
        kind="model",
        applies_to=("longitudinal_mixed",),
        description=(
            "OLS (HC3) on one number per subject (change from baseline, or the subject's mean) instead "
            "of the mixed model"
        ),
    )
)
OTHER_LOGISTIC_ESTIMATOR = register(
    Sensitivity(
        name="other logistic estimator",
        kind="estimator",
        applies_to=("comorbidity_logistic",),
        description="maximum likelihood when the headline uses Firth's penalised likelihood, else Firth",
    )
)
OTHER_BETA_METRIC = register(
    Sensitivity(
        name="other beta metric",
        kind="metric",
        applies_to=("paired_mirror",),
        description="the Mantel test on each other computed beta metric (one analysis per metric)",
    )
)
OTHER_PSEUDOCOUNT = register(
    Sensitivity(
        name="other pseudocount",
        kind="model",
        applies_to=("differential_abundance",),
        description=(
            "the headline log-ratio with each other positive pseudocount of the claim's pseudocounts (one "
            "analysis per pseudocount): zeros and the pseudocount pull the log-ratio towards 0, the more the "
            "larger the pseudocount, so an equivalence must hold at a smaller one too"
        ),
    )
)
MATCHED = register(
    Sensitivity(
        name="matched case–control",
        kind="matched",
        applies_to=("alpha_condition", "alpha_exposure"),
        description=(
            "a matched case–control analysis of the same data (config.yaml's matching), for a "
            "single-cohort headline"
        ),
    )
)

# ------------------------------------------------------------------------------------------------
# pooled analyses (k ≥ 2 cohorts)
# ------------------------------------------------------------------------------------------------
register(
    Sensitivity(
        name="leave-one-cohort-out",
        kind="leave_one_cohort_out",
        applies_to=("pooled",),
        refit=_leave_one_out,
        description="the pooled estimate without each cohort in turn (k ≥ 2)",
    )
)
register(
    Sensitivity(
        name="other τ² estimator",
        kind="tau2_estimator",
        applies_to=("pooled",),
        refit=_other_tau2,
        description="DerSimonian–Laird τ² instead of REML (REML when the primary is DL)",
    )
)
register(
    Sensitivity(
        name="cohort sensitivity analyses, pooled",
        kind="pooled_cohort_analysis",
        applies_to=("pooled",),
        refit=_pooled_cohort_analyses,
        description=(
            "each sensitivity analysis every cohort ran on the effect-size scale (minimal covariates, "
            "alternative metric, second depth …), pooled as the headline is"
        ),
    )
)
register(
    Sensitivity(
        name="normal CI",
        kind="ci_method",
        applies_to=("pooled",),
        refit=_normal_ci,
        description="the Wald (normal) CI instead of Hartung–Knapp–Sidik–Jonkman",
    )
)


def entry(
    s: Sensitivity,
    r: Refit,
    *,
    primary_verdict: str,
    sesoi: float,
    direction: str,
    alpha: float,
) -> dict[str, Any]:
    """The contract entry of one refit, judged against ``primary_verdict``."""
    e: dict[str, Any] = {
        "name": r.label,
        "kind": s.kind,
        "estimate": r.estimate,
        "ci": list(r.ci) if r.ci else None,
        "ci90": list(r.ci90) if r.ci90 else None,
        "p_value": r.p_value,
    }
    outcome, alone = judge_sensitivity(primary_verdict, e, sesoi, direction, alpha)
    e["outcome"] = outcome
    e["verdict"] = alone
    e["agrees"] = {"agrees": True, "disagrees": False}.get(outcome)
    e["note"] = r.note + (f" — alone: {alone.replace('_', ' ')}" if outcome == "disagrees" else "")
    return e
