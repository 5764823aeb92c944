"""Sensitivity analyses declared once and applied by every analysis they fit.

A :class:`Sensitivity` has a ``name`` (quoted in the ledger's robustness), a ``kind``, the analyses it
``applies_to`` (runner names of ``claims.yaml``'s ``analysis``, or ``"pooled"`` for a claim pooled over
``k ≥ 2`` cohorts) and a ``refit`` function that gives the alternative estimate(s) from a context
(for ``pooled``: a :class:`PoolContext`). :func:`applicable` lists those that fit an analysis, and
:func:`entry` turns an alternative estimate into a contract entry
(:class:`gutskin.claims.contract.SensitivityResult`) judged at the level of the verdict by
:func:`gutskin.stats.verdict.judge_sensitivity`.

The analyses of the pooled result are registered here: leave-one-cohort-out (one entry per cohort left
out), the other τ² estimator (DerSimonian–Laird), each cohort-level sensitivity analysis that every cohort
ran on the effect-size scale pooled like the headline, and, when the CI is Hartung–Knapp–Sidik–Jonkman,
the normal (Wald) CI. The per-runner batteries (Huber regression, minimal covariates, alternative metric,
second rarefaction depth) are still fitted inside the runners; each cohort's entries are kept in its row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..stats import meta
from ..stats.verdict import judge_sensitivity

__all__ = ["REGISTRY", "PoolContext", "Refit", "Sensitivity", "applicable", "entry", "register"]


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
class Sensitivity:
    """A sensitivity analysis declared once."""

    name: str
    kind: str
    applies_to: tuple[str, ...]
    refit: Callable[[Any], Iterator[Refit]]
    description: str


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
