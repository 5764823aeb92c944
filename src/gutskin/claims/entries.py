"""Entries of a :class:`~gutskin.claims.common.ClaimResult` built from fitted estimates.

``headline`` (:func:`headline_entry`), one entry of ``tests`` (:func:`estimate_test`, with the effect-size
fields of :func:`effect_fields`) and the pre-registered sensitivity analysis (:func:`add_sensitivity`,
:func:`add_huber_sensitivity`). The keys come in the order the runners have always written them, so
``claims.json`` does not change when a runner moves to these helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .common import ClaimResult, significant_same

if TYPE_CHECKING:
    from ..stats.regression import RegressionResult


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


def add_sensitivity(
    res: ClaimResult,
    primary: Estimate,
    alternative: Estimate,
    alpha: float,
    *,
    sensitivity_note: str,
    disagrees_with: str,
    test_name: str,
    effect: dict[str, Any] | None = None,
    **extra: Any,
) -> bool | None:
    """Record the pre-registered sensitivity analysis ``alternative`` of the ``primary`` estimate.

    Sets ``res.sensitivity_agrees`` (:func:`significant_same` at ``alpha``) and ``res.sensitivity_note``
    (``sensitivity_note``, plus ``" — disagrees with <disagrees_with>"`` when they disagree) and
    appends the test ``test_name`` with role ``sensitivity`` (see :func:`estimate_test` for ``effect``
    and ``extra``).
    Returns the agreement.
    """
    agrees = significant_same(
        primary.p_value, primary.estimate, alternative.p_value, alternative.estimate, alpha
    )
    res.sensitivity_agrees = agrees
    res.sensitivity_note = sensitivity_note + (
        "" if agrees is not False else f" — disagrees with {disagrees_with}"
    )
    res.tests.append(estimate_test(test_name, "sensitivity", alternative, effect, **extra))
    return agrees


def add_huber_sensitivity(
    res: ClaimResult, primary: Estimate, rob: RegressionResult, alpha: float, test_name: str
) -> bool | None:
    """:func:`add_sensitivity` for a Huber robust regression ``rob`` of the primary OLS model.

    The note gives the robust estimate, its 95 % CI and p; the test entry its ``n``.
    """
    return add_sensitivity(
        res,
        primary,
        rob,
        alpha,
        sensitivity_note=(
            f"Huber robust regression: {rob.estimate:+.3g} (95% CI {rob.ci95[0]:.3g} to "
            f"{rob.ci95[1]:.3g}), p = {rob.p_value:.3g}"
        ),
        disagrees_with="OLS",
        test_name=test_name,
        n=rob.n,
    )
