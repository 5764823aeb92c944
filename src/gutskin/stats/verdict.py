"""The verdict rubric of CLAIMS.md §3.7, in one place.

:func:`decide` turns the numbers of one primary test (:class:`Evidence`) into a :class:`Verdict`
with a one-sentence reason that quotes the effect, its CI, the (Holm-adjusted) p-value and the power
at the smallest effect size of interest (SESOI). The steps are applied in this order:

1. ``data_problem`` → *inconclusive* ("data insufficient: …"), or *data unavailable* when
   ``data_unavailable`` is set (the dataset could not be had, or no dataset has the needed field).
2. significant = (Holm-adjusted, else raw) ``p < alpha`` **and** the 95 % CI excludes 0.
3. significant in the direction opposite to the claim → *contradicted*.
4. equivalence (90 % CI strictly inside ``(-SESOI, +SESOI)``) → *not supported (equivalence
   shown)*; for "mirror" claims, equivalence with a concordant positive control → *contradicted*.
5. significant, in the claimed direction (or the claim is two-sided) and ``|estimate| >= SESOI`` →
   *supported*. Causal claims get the label "Association consistent with the claim".
6. significant but smaller than the SESOI, not equivalent → *inconclusive*.
7. not significant, not equivalent → *inconclusive* (underpowered, or the CI spans 0 and the SESOI).

A decisive verdict (supported, not supported, contradicted) then stands only if no pre-specified
sensitivity analysis disagrees *at the level of the verdict* (:func:`judge_sensitivity`): an
equivalence verdict needs each analysis's own 90 % CI inside ±SESOI; "supported" needs each analysis
significant in the claimed direction; "contradicted" needs each significant in the opposite one. An
analysis that cannot disagree (e.g. another τ² estimator when τ² is 0 under all of them) is
*uninformative* and is never counted as agreeing; one that disagrees makes the verdict *inconclusive*.

A non-significant result is never worded as the absence of an effect: only the TOST (step 4) can
support that reading.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..verdict_words import CAUSAL_SUPPORTED_LABEL, DECISIVE, LABELS, OUTCOMES, VERDICTS
from ._util import JsonMixin, StatsInputError

__all__ = [
    "DECISIVE",
    "LABELS",
    "OUTCOMES",
    "VERDICTS",
    "Evidence",
    "Verdict",
    "data_unavailable",
    "decide",
    "judge_sensitivity",
    "not_testable",
]

# The words are defined once, in the ground-floor module gutskin.verdict_words (light enough for the
# end-of-run summary, which must not load the statistics stack); re-exported here.

_DIRECTIONS = ("positive", "negative", "two_sided")


def _check_interval(name: str, ci: tuple[float, float] | None) -> None:
    if ci is None:
        return
    if len(ci) != 2:
        raise StatsInputError(f"{name} must be a (low, high) pair, got {ci!r}", where=name)
    lo, hi = ci
    for v in (lo, hi):
        if v is None or not math.isfinite(float(v)):
            raise StatsInputError(f"{name} must hold two finite numbers, got {ci!r}", where=name)
    if lo > hi:
        raise StatsInputError(
            f"{name} must be (low, high) with low <= high, got {ci!r}", where=name
        )


def _check_optional_number(name: str, value: float | None, lo: float, hi: float) -> None:
    if value is None:
        return
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise StatsInputError(f"{name} must be in [{lo:g}, {hi:g}], got {value!r}", where=name)


@dataclass(frozen=True)
class Evidence(JsonMixin):
    """The numbers of one primary test, on the SESOI's scale.

    Attributes
    ----------
    estimate
        Effect estimate on the SESOI's scale (e.g. Hedges g, or r); ``None`` if not computed.
    ci95, ci90
        95 % CI (significance) and 90 % CI (TOST equivalence) of ``estimate``.
    p_value
        Raw p-value.
    p_adjusted
        Holm-adjusted p-value within the family of primary tests (``None``: use ``p_value``).
    sesoi
        Smallest effect size of interest (> 0), same scale as ``estimate``.
    expected_direction
        Direction the claim predicts: ``positive``, ``negative`` or ``two_sided``.
    power
        Power to detect the SESOI (``None``: not computed).
    n
        Sample size quoted in the reason.
    alpha, power_target
        Significance level and the power below which a non-significant result is "underpowered".
    sensitivity_agrees
        Whether the pre-specified sensitivity analyses agree (``None``: none run).
    sensitivity_note
        What the sensitivity analyses showed, quoted in the reason.
    positive_control_ok
        Mirror claims: did the positive control show concordance? (``None``: not run.)
    mirror_claim
        The claim is about concordance between sites ("mirroring").
    causal_language
        The claim is worded causally ("determine", "trigger", …).
    data_problem
        Why the data cannot answer (e.g. ``"too few samples"``); forces *inconclusive*.
    data_unavailable
        The data problem is that the data could not be had (dataset unavailable, or no dataset has
        the needed field): the verdict is *data unavailable* rather than *inconclusive*.
    one_sided
        The primary test is one-sided in ``expected_direction``: ``p_value``/``p_adjusted`` are
        one-sided p-values, support needs the 90 % CI (the one-sided 95 % bound) to exclude 0 on the
        claimed side, and a contradiction needs the 95 % CI to exclude 0 on the opposite side (see
        :mod:`gutskin.claims.register`). Ignored for a two-sided direction.
    sensitivity
        The pre-specified sensitivity analyses, each a dict with ``name`` and, on the SESOI's scale,
        ``estimate``, ``ci`` (95 %), ``ci90``, ``p_value`` (and optionally ``can_disagree: False``
        with a ``note``, or, for a check without an estimate, ``agrees``); judged by
        :func:`judge_sensitivity` against the primary verdict. When given, ``sensitivity_agrees``
        is ignored.
    power_note
        Why the power is what it is, quoted beside it in an "underpowered" reason (e.g. a pooled
        Hartung–Knapp interval over two cohorts, which has almost no power whatever their size).
    """

    estimate: float | None
    ci95: tuple[float, float] | None
    ci90: tuple[float, float] | None
    p_value: float | None
    p_adjusted: float | None
    sesoi: float
    expected_direction: str
    power: float | None
    n: int
    alpha: float = 0.05
    power_target: float = 0.8
    sensitivity_agrees: bool | None = None
    sensitivity_note: str | None = None
    positive_control_ok: bool | None = None
    mirror_claim: bool = False
    causal_language: bool = False
    data_problem: str | None = None
    data_unavailable: bool = False
    sensitivity: tuple[dict[str, Any], ...] = ()
    one_sided: bool = False
    power_note: str | None = None

    def __post_init__(self) -> None:
        """Validate the fields (raises :class:`~gutskin.stats._util.StatsInputError`)."""
        try:
            sesoi_ok = (
                self.sesoi is not None and math.isfinite(float(self.sesoi)) and self.sesoi > 0
            )
        except (TypeError, ValueError):
            sesoi_ok = False
        if not sesoi_ok:
            raise StatsInputError(f"sesoi must be a number > 0, got {self.sesoi!r}", where="sesoi")
        if self.expected_direction not in _DIRECTIONS:
            raise StatsInputError(
                f"expected_direction must be one of {_DIRECTIONS}, got {self.expected_direction!r}",
                where="expected_direction",
            )
        if self.estimate is not None and not math.isfinite(float(self.estimate)):
            raise StatsInputError(
                f"estimate must be finite or None, got {self.estimate!r}", where="estimate"
            )
        _check_interval("ci95", self.ci95)
        _check_interval("ci90", self.ci90)
        _check_optional_number("p_value", self.p_value, 0.0, 1.0)
        _check_optional_number("p_adjusted", self.p_adjusted, 0.0, 1.0)
        _check_optional_number("power", self.power, 0.0, 1.0)
        if not 0 < self.alpha < 1:
            raise StatsInputError(f"alpha must be in (0, 1), got {self.alpha!r}", where="alpha")
        if not 0 < self.power_target < 1:
            raise StatsInputError(
                f"power_target must be in (0, 1), got {self.power_target!r}", where="power_target"
            )
        if self.n is None or int(self.n) != self.n or self.n < 0:
            raise StatsInputError(f"n must be a non-negative integer, got {self.n!r}", where="n")


@dataclass(frozen=True)
class Verdict(JsonMixin):
    """A claim's verdict: machine value, display label and a one-sentence reason.

    ``sensitivity`` holds the judged sensitivity analyses (copies of :attr:`Evidence.sensitivity`
    with ``outcome``, ``verdict`` and ``agrees`` set by :func:`judge_sensitivity`).
    """

    verdict: str
    label: str
    reason: str
    sensitivity: tuple[dict[str, Any], ...] = field(default=())


# ------------------------------------------------------------------------------------------------
# wording helpers
# ------------------------------------------------------------------------------------------------
def _decimals(*values: float | None) -> int:
    """Decimals showing the smallest non-zero |value| with 2 significant digits (2 to 4)."""
    mags = [abs(float(v)) for v in values if v is not None and abs(float(v)) >= 1e-4]
    if not mags:
        return 2
    return int(min(4, max(2, -math.floor(math.log10(min(mags))) + 1)))


def _fmt(x: float, decimals: int | None = None) -> str:
    """A number for prose, with ``decimals`` (default: chosen from the value itself)."""
    d = _decimals(x) if decimals is None else decimals
    out = f"{float(x):.{d}f}"
    return f"{0.0:.{d}f}" if float(out) == 0 else out  # never "-0.00"


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _ci_text(ci: tuple[float, float], level: int, d: int) -> str:
    return f"{level}% CI {_fmt(ci[0], d)} to {_fmt(ci[1], d)}"


def _p_text(ev: Evidence) -> str:
    parts = []
    side = "one-sided " if ev.one_sided and ev.expected_direction != "two_sided" else ""
    if ev.p_value is not None:
        parts.append(side + _fmt_p(ev.p_value))
    if ev.p_adjusted is not None:
        parts.append("Holm-adjusted " + side + _fmt_p(ev.p_adjusted))
    return ", ".join(parts) if parts else "no p-value available"


def _power_text(ev: Evidence, d: int) -> str:
    if ev.power is None:
        return "power at the SESOI not computed"
    return f"power {ev.power:.2f} to detect the SESOI of ±{_fmt(ev.sesoi, d)}"


def _digits(ev: Evidence) -> int:
    """One number of decimals for the estimate, its CIs and the SESOI of a reason."""
    vals: list[float | None] = [ev.estimate, ev.sesoi]
    for ci in (ev.ci95, ev.ci90):
        if ci is not None:
            vals.extend(ci)
    return _decimals(*vals)


def _summary(ev: Evidence, with_power: bool = True) -> str:
    """Effect and CIs first, p-values second, then power and n (CLAIMS.md §3.7 wording rules)."""
    assert ev.estimate is not None and ev.ci95 is not None
    d = _digits(ev)
    cis = _ci_text(ev.ci95, 95, d)
    if ev.ci90 is not None:
        cis += "; " + _ci_text(ev.ci90, 90, d)
    power = f", {_power_text(ev, d)}" if with_power else ""
    return f"estimate {_fmt(ev.estimate, d)} ({cis}), {_p_text(ev)}{power}, n = {ev.n}"


def _sign(x: float) -> str:
    return "positive" if x > 0 else "negative" if x < 0 else "zero"


def _make(verdict: str, reason: str, label: str | None = None) -> Verdict:
    reason = reason.strip()
    if not reason.endswith("."):
        reason += "."
    return Verdict(verdict=verdict, label=label or LABELS[verdict], reason=reason)


def not_testable(reason: str) -> Verdict:
    """Verdict for a claim that microbiome data cannot test (mechanistic, interventional, …)."""
    if not isinstance(reason, str) or not reason.strip():
        raise StatsInputError("a not-testable verdict needs a reason", where="reason")
    return _make("not_testable", reason)


# ------------------------------------------------------------------------------------------------
# the rubric
# ------------------------------------------------------------------------------------------------
def data_unavailable(reason: str) -> Verdict:
    """Verdict for a claim whose data could not be had (no configured dataset could be obtained, or
    none has the field the claim needs); counted apart from *inconclusive*."""
    if not isinstance(reason, str) or not reason.strip():
        raise StatsInputError("a data-unavailable verdict needs a reason", where="reason")
    return _make("data_unavailable", reason)


def _pair(value: Any) -> tuple[float, float] | None:
    """A (lo, hi) pair of finite floats from ``value``, else None."""
    if value is None or isinstance(value, str):
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        return None
    return lo, hi


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def judge_sensitivity(
    primary_verdict: str | Verdict,
    entry: Mapping[str, Any],
    sesoi: float,
    direction: str,
    alpha: float = 0.05,
    *,
    primary_estimate: float | None = None,
    basis: str | None = None,
    one_sided: bool = False,
) -> tuple[str, str]:
    """Judge one sensitivity analysis at the level of the verdict.

    Parameters
    ----------
    primary_verdict
        The primary analysis's verdict (a word of :data:`VERDICTS`, or a :class:`Verdict`).
    entry
        The sensitivity analysis: ``estimate``, ``ci`` (95 %; ``ci95`` is accepted too), ``ci90`` and
        ``p_value``, all on the SESOI's scale. ``can_disagree: False`` marks an analysis that cannot
        disagree by construction (e.g. another τ² estimator when τ² is 0 under all of them). A check
        without an estimate (e.g. "the prediction interval does not span 0 and the SESOI") gives its
        own ``agrees``.
    sesoi, direction, alpha
        The claim's SESOI (> 0, same scale), expected direction (``positive``, ``negative``,
        ``two_sided``) and significance level (the analysis's own raw p is compared with it).
    primary_estimate
        For a two-sided claim, the sign the primary analysis found ("supported" then needs the same
        sign).
    basis
        What the primary decisive verdict rests on: ``"equivalence"`` (the default for
        *not supported*, and for a *contradicted* mirror claim, whose contradiction is an equivalence)
        or ``"significance"`` (the default for *supported* and *contradicted*).
    one_sided
        The claim is tested one-sided (see :attr:`Evidence.one_sided`): "significant in the claimed
        direction" then means the one-sided p (from the entry's two-sided ``p_value`` of a symmetric
        test, unless the entry says ``"sided": "one"``) below alpha and the 90 % CI excluding 0 on
        that side; "in the opposite direction" means the 95 % CI excluding 0 on the other side.

    Returns
    -------
    (outcome, verdict)
        ``outcome`` is one of :data:`OUTCOMES`:

        * primary *not supported* (equivalence): ``agrees`` when the analysis's 90 % CI lies strictly
          inside ``(-SESOI, +SESOI)``, else ``disagrees``;
        * primary *supported*: ``agrees`` when the analysis is significant (p < alpha and, where it has
          one, its 95 % CI excludes 0) in the claimed direction, else ``disagrees``;
        * primary *contradicted*: the same in the opposite direction;
        * primary not decisive: ``agrees`` when the analysis alone is not decisive either, else
          ``disagrees`` (which cannot change the verdict);
        * ``uninformative`` when the analysis cannot disagree or lacks the numbers the judgement needs
          (never counted as agreeing).

        ``verdict`` is the verdict the analysis alone would give (the rubric on its own numbers and
        raw p, without sensitivity analyses); ``"inconclusive"`` when it has no estimate.
    """
    pv = primary_verdict.verdict if isinstance(primary_verdict, Verdict) else str(primary_verdict)
    if pv not in VERDICTS:
        raise StatsInputError(
            f"primary_verdict must be one of {VERDICTS}, got {pv!r}", where="primary_verdict"
        )
    if direction not in _DIRECTIONS:
        raise StatsInputError(
            f"direction must be one of {_DIRECTIONS}, got {direction!r}", where="direction"
        )
    est = _number(entry.get("estimate"))
    ci95 = _pair(entry.get("ci", entry.get("ci95")))
    ci90 = _pair(entry.get("ci90"))
    p = _number(entry.get("p_value"))
    if p is not None and not 0.0 <= p <= 1.0:
        p = None
    one_sided = one_sided and direction != "two_sided"
    if one_sided and p is not None and est is not None and entry.get("sided") != "one":
        on_side = est > 0 if direction == "positive" else est < 0
        p = p / 2 if on_side else 1 - p / 2

    alone = "inconclusive"
    if est is not None and ci95 is not None:
        alone = _decide(
            Evidence(
                estimate=est,
                ci95=ci95,
                ci90=ci90,
                p_value=p,
                p_adjusted=None,
                sesoi=sesoi,
                expected_direction=direction,
                power=None,
                n=0,
                alpha=alpha,
                one_sided=one_sided,
            )
        ).verdict

    if entry.get("can_disagree") is False:
        return "uninformative", alone
    if est is None:
        check = entry.get("agrees")
        if isinstance(check, bool):
            return ("agrees" if check else "disagrees"), alone
        return "uninformative", alone

    if pv not in DECISIVE:
        return ("disagrees" if alone in DECISIVE else "agrees"), alone

    if basis is None:
        basis = "equivalence" if pv == "not_supported" else "significance"
    if basis == "equivalence":
        if ci90 is None:
            return "uninformative", alone
        inside = -sesoi < ci90[0] and ci90[1] < sesoi
        return ("agrees" if inside else "disagrees"), alone

    if p is None:
        return "uninformative", alone
    if one_sided:
        if pv == "supported":
            bound = ci90 or ci95
            side = bound is None or (bound[0] > 0 if direction == "positive" else bound[1] < 0)
            return ("agrees" if p < alpha and side else "disagrees"), alone
        against = ci95 is not None and (ci95[1] < 0 if direction == "positive" else ci95[0] > 0)
        return ("agrees" if against else "disagrees"), alone
    sig = p < alpha and (ci95 is None or ci95[0] > 0 or ci95[1] < 0)
    if direction == "two_sided":
        if primary_estimate is None or primary_estimate == 0:
            claimed = _sign(est)  # no primary sign to compare with: any significant sign will do
        else:
            claimed = _sign(primary_estimate)
        opposite = "negative" if claimed == "positive" else "positive"
    else:
        claimed = direction
        opposite = "negative" if direction == "positive" else "positive"
    wanted = claimed if pv == "supported" else opposite
    return ("agrees" if sig and _sign(est) == wanted else "disagrees"), alone


def _judged(ev: Evidence, primary: Verdict) -> list[dict[str, Any]]:
    """Copies of ``ev.sensitivity`` with ``outcome``, ``verdict`` and ``agrees`` set."""
    basis = None
    if primary.verdict == "contradicted" and ev.mirror_claim and not _sig(ev):
        basis = "equivalence"
    out = []
    for entry in ev.sensitivity:
        outcome, alone = judge_sensitivity(
            primary,
            entry,
            ev.sesoi,
            ev.expected_direction,
            ev.alpha,
            primary_estimate=ev.estimate,
            basis=basis,
            one_sided=ev.one_sided,
        )
        judged = dict(entry)
        judged.update(
            outcome=outcome,
            verdict=alone,
            agrees=None if outcome == "uninformative" else outcome == "agrees",
        )
        out.append(judged)
    return out


def _sig(ev: Evidence) -> bool:
    if ev.ci95 is None:
        return False
    p_used = ev.p_adjusted if ev.p_adjusted is not None else ev.p_value
    return p_used is not None and p_used < ev.alpha and (ev.ci95[0] > 0 or ev.ci95[1] < 0)


def sensitivity_summary(judged: list[dict[str, Any]]) -> str | None:
    """One line on judged sensitivity analyses: disagreeing ones first, with their counts.

    ``"minimal covariates disagrees (1 of 3 agree, 1 uninformative); …notes…"``; None when there are
    none.
    """
    if not judged:
        return None
    bad = [o for o in judged if o.get("outcome") == "disagrees"]
    good = [o for o in judged if o.get("outcome") == "agrees"]
    unin = [o for o in judged if o.get("outcome") == "uninformative"]
    counts = f"{len(good)} of {len(good) + len(bad)} agree"
    if unin:
        counts += f", {len(unin)} uninformative"
    notes = "; ".join(
        str(o.get("note") or o.get("name") or "").strip().rstrip(".") + f" [{o.get('outcome')}]"
        for o in bad + good + unin
    )
    if bad:
        names = ", ".join(str(o.get("name")) for o in bad)
        verb = "disagrees" if len(bad) == 1 else "disagree"
        return f"{names} {verb} ({counts}); {notes}"
    return f"{counts}; {notes}"


def decide(ev: Evidence) -> Verdict:
    """Apply the CLAIMS.md §3.7 rubric to one primary test.

    A decisive verdict (supported, not supported, contradicted) stands only if no pre-specified
    sensitivity analysis disagrees at the level of the verdict (:func:`judge_sensitivity`, on
    ``ev.sensitivity``; with no list given, the summary flag ``ev.sensitivity_agrees``); when one
    disagrees the verdict is inconclusive and the reason says which disagreed and what the primary
    analysis alone showed.

    Parameters
    ----------
    ev
        The test's numbers; see :class:`Evidence`.

    Returns
    -------
    Verdict
        ``verdict`` (one of :data:`VERDICTS`), display ``label``, a ``reason`` sentence quoting
        effect, CIs, p (raw and Holm-adjusted), power at the SESOI and n, and the judged
        ``sensitivity`` analyses.

    Notes
    -----
    Boundaries are strict: ``p == alpha`` is not significant; a 95 % CI touching 0 does not
    exclude it; a 90 % CI touching ±SESOI does not show equivalence; ``|estimate| == SESOI`` counts
    as reaching the SESOI.
    """
    if ev.sensitivity:
        primary = _decide(ev, sensitivity_clause=False)
        judged = _judged(ev, primary)
        informative = [o for o in judged if o["outcome"] != "uninformative"]
        agrees: bool | None = (
            all(o["outcome"] == "agrees" for o in informative) if informative else None
        )
        ev = dataclasses.replace(
            ev, sensitivity_agrees=agrees, sensitivity_note=sensitivity_summary(judged)
        )
    else:
        judged = []
    verdict = _decide(ev)
    if ev.sensitivity_agrees is False and verdict.verdict in DECISIVE:
        note = (
            (
                ev.sensitivity_note
                or "a pre-specified sensitivity analysis did not reproduce the result"
            )
            .strip()
            .rstrip(".")
        )
        primary_text = (
            f"primary analysis: {_summary(ev)}"
            if verdict.verdict == "supported"
            else f"the primary analysis alone would be {LABELS[verdict.verdict].lower()} "
            f"({verdict.reason})"
        )
        verdict = _make("inconclusive", f"sensitivity analyses disagree: {note}; {primary_text}")
    return dataclasses.replace(verdict, sensitivity=tuple(judged))


def _decide(ev: Evidence, sensitivity_clause: bool = True) -> Verdict:
    """The rubric without the sensitivity check, which :func:`decide` applies to every decisive verdict."""
    # 1. data problems
    if ev.data_problem:
        problem = ev.data_problem.strip().rstrip(".")
        if ev.data_unavailable:
            return _make("data_unavailable", f"data unavailable: {problem}")
        return _make("inconclusive", f"data insufficient: {problem}")
    if ev.estimate is None or ev.ci95 is None:
        return _make(
            "inconclusive",
            "data insufficient: the analysis produced no estimate or 95% CI to judge"
            + (f" (n = {ev.n})" if ev.n is not None else ""),
        )

    est = float(ev.estimate)
    lo95, hi95 = ev.ci95
    sesoi = float(ev.sesoi)
    d = _digits(ev)
    summary = _summary(ev)
    sesoi_txt = f"±{_fmt(sesoi, d)}"

    # 2. significance
    p_used = ev.p_adjusted if ev.p_adjusted is not None else ev.p_value
    ci_excludes_zero = lo95 > 0 or hi95 < 0
    p_below = p_used is not None and p_used < ev.alpha
    sig = p_below and ci_excludes_zero
    opposite = False
    one_sided = ev.one_sided and ev.expected_direction != "two_sided"
    if one_sided:
        # one-sided in the claimed direction: the (1 - 2 alpha) CI is the one-sided bound; an effect
        # the other way is judged by the two-sided 95 % CI
        lo, hi = ev.ci90 if ev.ci90 is not None else ev.ci95
        claimed_side = lo > 0 if ev.expected_direction == "positive" else hi < 0
        ci_excludes_zero = claimed_side
        sig = p_below and claimed_side
        opposite = (hi95 < 0) if ev.expected_direction == "positive" else (lo95 > 0)
    elif sig and ev.expected_direction != "two_sided" and _sign(est) != ev.expected_direction:
        opposite = True

    # 3. significant in the opposite direction
    if opposite:
        return _make(
            "contradicted",
            f"significant effect in the opposite direction to the claim (the claim predicts a "
            f"{ev.expected_direction} effect, the estimate is {_sign(est)}): {summary}",
        )

    # 4. equivalence
    equivalent = ev.ci90 is not None and -sesoi < ev.ci90[0] and ev.ci90[1] < sesoi
    if equivalent:
        assert ev.ci90 is not None
        eq = f"{_ci_text(ev.ci90, 90, d)} lies within ±SESOI ({sesoi_txt})"
        if ev.mirror_claim:
            if ev.positive_control_ok:
                return _make(
                    "contradicted",
                    f"concordance equivalent to none while the positive control is concordant: "
                    f"{eq}; {summary}",
                )
            control = (
                "the positive control did not show concordance"
                if ev.positive_control_ok is False
                else "no positive control was run"
            )
            return _make(
                "not_supported",
                f"equivalence shown: {eq}; {control}, so the pipeline cannot tell a real absence "
                f"of concordance from a method that misses it; {summary}",
            )
        extra = (
            "; the effect is statistically detectable but smaller than the smallest effect of "
            "interest"
            if sig
            else ""
        )
        return _make("not_supported", f"equivalence shown: {eq}{extra}; {summary}")

    # 5. significant and at least as large as the SESOI
    if sig and abs(est) >= sesoi:
        direction = (
            "in the claimed direction"
            if ev.expected_direction != "two_sided"
            else "(the claim states no direction)"
        )
        reason = (
            f"significant effect {direction}, at least as large as the SESOI of {sesoi_txt}: "
            f"{summary}"
        )
        if not sensitivity_clause:
            pass
        elif ev.sensitivity_agrees is True:
            reason += "; the sensitivity analyses agree"
            if ev.sensitivity_note:
                reason += f" ({ev.sensitivity_note.strip().rstrip('.')})"
        elif ev.sensitivity_agrees is None and ev.sensitivity:
            reason += "; no sensitivity analysis could disagree"
            if ev.sensitivity_note:
                reason += f" ({ev.sensitivity_note.strip().rstrip('.')})"
        else:
            reason += "; no sensitivity analysis was run"
        if ev.causal_language:
            reason += "; the causal wording is not testable with cross-sectional data"
            return _make("supported", reason, label=CAUSAL_SUPPORTED_LABEL)
        return _make("supported", reason)

    # 6. significant but small, equivalence not shown
    if sig:
        return _make(
            "inconclusive",
            f"significant but smaller than the SESOI ({sesoi_txt}), and equivalence not "
            f"shown: {summary}",
        )

    # 7. not significant, equivalence not shown
    eq_note = "" if ev.ci90 is not None else "; equivalence could not be assessed (no 90% CI)"
    if ev.power is not None and ev.power < ev.power_target:
        return _make(
            "inconclusive",
            f"underpowered: power {ev.power:.2f} at the SESOI (target {ev.power_target:.2f}"
            f"{'; ' + ev.power_note if ev.power_note else ''}); "
            f"the result is not statistically significant and equivalence is not shown: "
            f"{_summary(ev, with_power=False)}{eq_note}",
        )
    if ci_excludes_zero:
        # the raw CI excludes 0 but the (adjusted) p-value is not below alpha
        why = (
            f"the Holm-adjusted p-value is not below alpha = {_fmt(ev.alpha)}"
            if ev.p_adjusted is not None
            else f"the p-value is not below alpha = {_fmt(ev.alpha)}"
            if ev.p_value is not None
            else "there is no p-value"
        )
        return _make(
            "inconclusive",
            f"not significant although the "
            f"{'90% CI (the one-sided bound)' if one_sided else '95% CI'} excludes 0 ({why}), "
            f"and equivalence not "
            f"shown: {summary}{eq_note}",
        )
    if ev.ci90 is None:
        return _make(
            "inconclusive",
            f"not statistically significant, and equivalence could not be assessed (no 90% CI): "
            f"{summary}",
        )
    return _make(
        "inconclusive",
        f"the CI spans both 0 and the SESOI ({sesoi_txt}), so the data cannot distinguish a "
        f"null from a meaningful effect: {summary}",
    )
