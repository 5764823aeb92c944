"""Entries of a :class:`~gutskin.claims.common.ClaimResult` built from fitted estimates.

``headline`` (:func:`headline_entry`), one entry of ``tests`` (:func:`estimate_test`, with the effect-size
fields of :func:`effect_fields`) and the entries of the pre-registered sensitivity analyses
(:func:`add_sensitivity`, :func:`add_huber_sensitivity`, :func:`record_sensitivity`; each names its
declaration in :mod:`gutskin.claims.sensitivity`, whose ``kind`` it carries; a claim may have several, and
they are summarised into ``sensitivity_agrees`` and ``sensitivity_note`` by :func:`summarise_sensitivity`). The keys come in the order the runners have always written them, so
``claims.json`` does not change when a runner moves to these helpers.

A sensitivity analysis is recorded with its numbers on the SESOI's scale (``estimate``, ``ci``,
``ci90``, ``p_value``) and is *not* judged here: whether it agrees depends on the primary verdict
(equivalence, significance in the claimed or the opposite direction), which only the ledger knows
after Holm's adjustment; :func:`gutskin.stats.verdict.judge_sensitivity` judges it there. Its
``agrees`` stays None, except for checks without an estimate (e.g. the prediction interval), which
give their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .common import ClaimResult

if TYPE_CHECKING:
    from ..stats.regression import RegressionResult
    from .sensitivity import Sensitivity, Variant


class Estimate(Protocol):
    """What the entries need of a fitted result: a point estimate, its 95 % CI and a p-value."""

    @property
    def estimate(self) -> float: ...

    @property
    def ci95(self) -> tuple[float, float]: ...

    @property
    def p_value(self) -> float: ...


class PrimaryEstimate(Estimate, Protocol):
    """A headline estimate also has a 90 % CI (for equivalence)."""

    @property
    def ci90(self) -> tuple[float, float]: ...


def _to_effect(scale: float | None, sd: float | None) -> Callable[[float], float]:
    if scale is not None and sd is not None:
        raise ValueError("give scale or sd, not both")
    if scale is not None:
        return lambda x: x * scale
    if sd is not None:
        return lambda x: x / sd
    return lambda x: x


def effect_fields(
    r: Estimate, *, scale: float | None = None, sd: float | None = None
) -> dict[str, Any]:
    """``effect_size`` and ``effect_size_ci`` of ``r``.

    The effect size is the estimate multiplied by ``scale`` (e.g. J/σ̂ for Hedges g), divided by ``sd``
    (e.g. a total SD), or, with neither, the estimate itself (log odds ratios, log fold changes); the
    CI is transformed the same way.
    """
    f = _to_effect(scale, sd)
    return {"effect_size": f(r.estimate), "effect_size_ci": [f(r.ci95[0]), f(r.ci95[1])]}


def headline_entry(
    r: PrimaryEstimate,
    *,
    scale: float | None = None,
    sd: float | None = None,
    tost_p: float | None,
    power: float | None,
    n: int,
    **extra: Any,
) -> dict[str, Any]:
    """The ``headline`` of a result from its primary estimate ``r``.

    Keys, in order: ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, the effect-size fields of
    :func:`effect_fields` (with ``scale`` or ``sd``) and ``effect_size_ci90`` (the 90 % CI transformed
    the same way), ``tost_p``, ``power``, ``n``, then ``extra``.
    """
    f = _to_effect(scale, sd)
    return {
        "estimate": r.estimate,
        "ci_low": r.ci95[0],
        "ci_high": r.ci95[1],
        "p_value": r.p_value,
        **effect_fields(r, scale=scale, sd=sd),
        "effect_size_ci90": [f(r.ci90[0]), f(r.ci90[1])],
        "tost_p": tost_p,
        "power": power,
        "n": n,
        **extra,
    }


def estimate_test(
    name: str, role: str, r: Estimate, effect: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """One entry of ``tests``: ``name``, ``role``, the estimate with its 95 % CI, ``effect`` (e.g. from
    :func:`effect_fields`; none by default), ``p_value``, then ``extra`` (``n``, ``note`` …) in order."""
    return {
        "name": name,
        "role": role,
        "estimate": r.estimate,
        "ci_low": r.ci95[0],
        "ci_high": r.ci95[1],
        **(effect or {}),
        "p_value": r.p_value,
        **extra,
    }


def add_holm_levels(
    res: ClaimResult,
    levels: Sequence[tuple[str, Estimate, float, int]],
    ref: str,
    extra: Callable[[str, int], dict[str, Any]],
) -> None:
    """Append one secondary test per level vs ``ref`` (OLS, HC3), Holm-adjusted across the levels.

    ``levels`` holds (level, fitted estimate, its scale to the SESOI's, n of the level); ``extra(level,
    n)`` gives each entry's keys after ``p_adjusted`` and ``n`` (e.g. ``power``, ``level``, ``note``).
    """
    from ..stats import multiple

    adj = multiple.holm([r.p_value for _, r, _, _ in levels])
    for (lv, r, sc, n_lv), pa in zip(levels, adj, strict=True):
        res.tests.append(
            estimate_test(
                f"{lv} vs {ref} (OLS, HC3)",
                "secondary",
                r,
                effect_fields(r, scale=sc),
                p_adjusted=pa,
                n=n_lv,
                **extra(lv, n_lv),
            )
        )


def summarise_sensitivity(res: ClaimResult) -> None:
    """Set ``res.sensitivity_agrees`` and ``res.sensitivity_note`` from ``res.sensitivity_analyses``.

    ``sensitivity_agrees`` is True only if every analysis that could be judged agrees, False if any
    disagrees, and None if none was run (or none could be judged). The note lists each analysis; when
    some disagree it starts with their names and the count, e.g. ``"minimal covariates disagrees (2 of 3
    agree); …"``, and gives the disagreeing ones first.
    """
    outs = res.sensitivity_analyses
    judged = [o for o in outs if o.get("agrees") is not None]
    if not outs:
        res.sensitivity_agrees = None
        res.sensitivity_note = None
        return
    res.sensitivity_agrees = all(o["agrees"] for o in judged) if judged else None
    bad = [o for o in judged if o["agrees"] is False]
    ordered = bad + [o for o in outs if o not in bad]
    note = "; ".join(o["note"] for o in ordered)
    if bad:
        names = ", ".join(o["name"] for o in bad)
        verb = "disagrees" if len(bad) == 1 else "disagree"
        note = f"{names} {verb} ({len(judged) - len(bad)} of {len(judged)} agree); {note}"
    res.sensitivity_note = note


def sesoi_numbers(
    r: Estimate, *, scale: float | None = None, sd: float | None = None
) -> dict[str, Any]:
    """``estimate``, ``ci`` (95 %), ``ci90`` (when ``r`` has one) and ``p_value`` of ``r`` on the
    SESOI's scale (multiplied by ``scale`` or divided by ``sd``, as in :func:`effect_fields`)."""
    f = _to_effect(scale, sd)
    ci90 = getattr(r, "ci90", None)
    return {
        "estimate": f(r.estimate),
        "ci": [f(r.ci95[0]), f(r.ci95[1])] if r.ci95 is not None else None,
        "ci90": [f(ci90[0]), f(ci90[1])] if ci90 is not None else None,
        "p_value": r.p_value,
    }


def record_sensitivity(
    res: ClaimResult,
    sensitivity: Sensitivity,
    note: str,
    *,
    name: str | None = None,
    agrees: bool | None = None,
    numbers: dict[str, Any] | None = None,
    can_disagree: bool = True,
) -> None:
    """Add one entry of the declared sensitivity analysis ``sensitivity`` to ``res`` and update the
    summary.

    The entry (a :class:`gutskin.claims.contract.SensitivityResult`) has ``name`` (default the
    declaration's; short, it is quoted in the ledger's robustness, e.g. ``"minimal covariates"``), the
    declaration's ``kind``, ``agrees`` (given only by checks without an estimate), ``note`` with its
    numbers, and ``numbers`` (:func:`sesoi_numbers`), which the ledger judges. ``can_disagree=False``
    marks an analysis that cannot differ from the primary one by construction (judged *uninformative*).
    """
    entry: dict[str, Any] = {
        "name": name or sensitivity.name,
        "kind": sensitivity.kind,
        "agrees": agrees,
        "note": note,
    }
    if numbers:
        entry.update(numbers)
    if not can_disagree:
        entry["can_disagree"] = False
    res.sensitivity_analyses.append(entry)
    summarise_sensitivity(res)


def add_sensitivity(
    res: ClaimResult,
    sensitivity: Sensitivity,
    alternative: Estimate,
    *,
    sensitivity_note: str,
    test_name: str,
    name: str | None = None,
    effect: dict[str, Any] | None = None,
    scale: float | None = None,
    sd: float | None = None,
    can_disagree: bool = True,
    **extra: Any,
) -> None:
    """Record ``alternative``, the estimate of the declared sensitivity analysis ``sensitivity``.

    The entry (``name``, default the declaration's; ``sensitivity_note``; its estimate, 95 % and 90 % CI
    and p on the SESOI's scale, transformed by ``scale`` or ``sd`` as the headline is) goes to
    ``res.sensitivity_analyses`` (:func:`record_sensitivity`), to be judged against the verdict by the
    ledger, and the test ``test_name`` is appended with role ``sensitivity`` (see
    :func:`estimate_test` for ``effect`` and ``extra``).
    """
    record_sensitivity(
        res,
        sensitivity,
        sensitivity_note,
        name=name,
        numbers=sesoi_numbers(alternative, scale=scale, sd=sd),
        can_disagree=can_disagree,
    )
    res.tests.append(estimate_test(test_name, "sensitivity", alternative, effect, **extra))


def add_variant(
    res: ClaimResult,
    variant: Variant,
    fit: Estimate,
    *,
    sensitivity_note: str,
    test_name: str,
    n: int,
    scale: float | None = None,
    sd: float | None = None,
    note: str | None = None,
) -> None:
    """:func:`add_sensitivity` for the refit ``fit`` of a declared model variant
    (:func:`gutskin.claims.sensitivity.variants`): named as the variant, its effect transformed by
    ``scale`` or ``sd`` as the headline's, the test's ``note`` the variant's ``what`` unless given."""
    add_sensitivity(
        res,
        variant.sensitivity,
        fit,
        name=variant.name,
        sensitivity_note=sensitivity_note,
        test_name=test_name,
        effect=effect_fields(fit, scale=scale, sd=sd),
        scale=scale,
        sd=sd,
        n=n,
        note=note or variant.what,
    )


def add_huber_sensitivity(
    res: ClaimResult,
    rob: RegressionResult,
    test_name: str,
    *,
    scale: float | None = None,
) -> None:
    """:func:`add_sensitivity` for a Huber robust regression ``rob`` of the primary OLS model (the
    declared :data:`gutskin.claims.sensitivity.HUBER`).

    The note gives the robust estimate, its 95 % CI and p; the test entry its ``n``. ``scale`` turns
    the coefficient into the SESOI's scale as the headline's (e.g. the OLS model's J/σ̂ for Hedges g).
    """
    from .sensitivity import HUBER

    add_sensitivity(
        res,
        HUBER,
        rob,
        sensitivity_note=(
            f"Huber robust regression: {rob.estimate:+.3g} (95% CI {rob.ci95[0]:.3g} to "
            f"{rob.ci95[1]:.3g}), p = {rob.p_value:.3g}"
        ),
        test_name=test_name,
        scale=scale,
        n=rob.n,
    )
