"""What a claim declares about its registered analysis: sidedness, population, deviations.

One rule for the sidedness of every primary test (issue 11 item 7): **a directional hypothesis
(``expected_direction`` positive or negative) is tested one-sided in the claimed direction, unless the
claim says ``sided: two``** (done where the register, CLAIMS.md, states a two-sided H1 such as
"β ≠ 0" or "does not vary"). A claim without a direction is always two-sided.

A one-sided test is significant when its one-sided p (Holm-adjusted in the primary family) is below
alpha and the 90 % CI (the one-sided 95 % bound) excludes 0 on the claimed side; a *contradicted*
verdict still needs the two-sided test: the 95 % CI excluding 0 on the opposite side. Runners report
two-sided p-values unless a headline says ``"sided": "one"`` (e.g. the permutation Mantel test of a
one-sided claim, whose one-sided p comes from the permutation distribution itself);
:func:`one_sided_p` turns a two-sided p of a symmetric (Wald or t) test into the one-sided one.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SIDED_RULE", "claim_sided", "one_sided_p", "power_alternative"]

#: The rule in words, for method texts.
SIDED_RULE = (
    "Sidedness: a directional hypothesis is tested one-sided in the claimed direction unless the "
    "register states a two-sided alternative; a contradiction (an effect opposite to the claim) is "
    "judged by the two-sided 95% CI."
)


def claim_sided(claim: dict[str, Any]) -> str:
    """``"one"`` or ``"two"``: how the claim's primary test is sided, by the rule above."""
    direction = claim.get("expected_direction", "two_sided")
    if direction not in ("positive", "negative"):
        return "two"
    return "two" if str(claim.get("sided", "")).lower() == "two" else "one"


def power_alternative(claim: dict[str, Any]) -> str:
    """The ``alternative`` of the headline's power at the SESOI: ``"greater"`` (one tail, in the claimed
    direction) when :func:`claim_sided` says one-sided, else ``"two-sided"``, so the power printed is that
    of the test the verdict reads."""
    return "greater" if claim_sided(claim) == "one" else "two-sided"


def one_sided_p(p_two_sided: float | None, estimate: float | None, direction: str) -> float | None:
    """One-sided p in ``direction`` from the two-sided p of a symmetric test and the estimate's sign:
    ``p/2`` when the estimate lies on the claimed side, ``1 - p/2`` otherwise (None when unknown)."""
    if p_two_sided is None or estimate is None or direction not in ("positive", "negative"):
        return None
    on_side = estimate > 0 if direction == "positive" else estimate < 0
    return p_two_sided / 2 if on_side else 1 - p_two_sided / 2
