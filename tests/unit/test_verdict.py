"""The verdict rubric (CLAIMS.md §3.7) branch by branch, and Holm/BH against R's p.adjust."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from gutskin.errors import InputError
from gutskin.stats import LABELS, VERDICTS, Evidence, Verdict, bh, decide, holm, not_testable
from gutskin.stats.verdict import CAUSAL_SUPPORTED_LABEL
from tests.support.fixtures import reference

REF = reference("r_stats_reference.json")

FORBIDDEN = ("no effect", "no difference", "no association", "no relationship", "does not affect")


def ev(**kw: Any) -> Evidence:
    """A baseline: a clear, large negative effect as claimed, well powered."""
    base: dict[str, Any] = {
        "estimate": -0.45,
        "ci95": (-0.70, -0.20),
        "ci90": (-0.66, -0.24),
        "p_value": 0.0004,
        "p_adjusted": 0.003,
        "sesoi": 0.2,
        "expected_direction": "negative",
        "power": 0.95,
        "n": 500,
    }
    base.update(kw)
    return Evidence(**base)


def check_wording(v: Verdict) -> None:
    assert v.verdict in VERDICTS
    low = v.reason.lower()
    for phrase in FORBIDDEN:
        assert phrase not in low, (phrase, v.reason)
    assert v.reason.endswith(".")


# ---------------------------------------------------------------------------------------------
# 1. data problems
# ---------------------------------------------------------------------------------------------
def test_data_problem_is_inconclusive_whatever_the_numbers() -> None:
    v = decide(ev(data_problem="too few samples (n = 4)"))
    assert (v.verdict, v.label) == ("inconclusive", "Inconclusive")
    assert v.reason == "data insufficient: too few samples (n = 4)."
    check_wording(v)


def test_missing_estimate_is_inconclusive() -> None:
    v = decide(
        ev(estimate=None, ci95=None, ci90=None, p_value=None, p_adjusted=None, power=None, n=0)
    )
    assert v.verdict == "inconclusive" and v.reason.startswith("data insufficient")
    check_wording(v)


# ---------------------------------------------------------------------------------------------
# 3. contradicted (opposite direction)
# ---------------------------------------------------------------------------------------------
def test_significant_opposite_direction_is_contradicted() -> None:
    v = decide(ev(estimate=0.45, ci95=(0.20, 0.70), ci90=(0.24, 0.66)))
    assert (v.verdict, v.label) == ("contradicted", "Contradicted")
    assert "opposite direction" in v.reason and "0.45" in v.reason
    check_wording(v)


def test_opposite_direction_but_small_and_equivalent_is_still_contradicted() -> None:
    # rubric order: step 3 comes before the equivalence step
    v = decide(ev(estimate=0.05, ci95=(0.02, 0.08), ci90=(0.025, 0.075), p_adjusted=0.01))
    assert v.verdict == "contradicted"


def test_two_sided_claim_is_never_contradicted_by_direction() -> None:
    v = decide(
        ev(estimate=0.45, ci95=(0.20, 0.70), ci90=(0.24, 0.66), expected_direction="two_sided")
    )
    assert v.verdict == "supported"
    assert "states no direction" in v.reason
    check_wording(v)


def test_opposite_direction_not_significant_after_holm_is_not_contradicted() -> None:
    v = decide(
        ev(estimate=0.45, ci95=(0.20, 0.70), ci90=(0.24, 0.66), p_value=0.01, p_adjusted=0.06)
    )
    assert v.verdict == "inconclusive"
    assert "Holm-adjusted" in v.reason
    check_wording(v)


# ---------------------------------------------------------------------------------------------
# 4. equivalence
# ---------------------------------------------------------------------------------------------
def test_equivalence_not_significant_is_not_supported() -> None:
    v = decide(
        ev(
            estimate=0.01,
            ci95=(-0.10, 0.12),
            ci90=(-0.08, 0.10),
            p_value=0.8,
            p_adjusted=1.0,
            power=0.99,
        )
    )
    assert (v.verdict, v.label) == ("not_supported", "Not supported (equivalence shown)")
    assert v.reason.startswith(
        "equivalence shown: 90% CI -0.080 to 0.100 lies within ±SESOI (±0.200)"
    )
    assert "statistically detectable" not in v.reason
    check_wording(v)


def test_equivalence_and_significant_says_detectable_but_small() -> None:
    v = decide(
        ev(
            estimate=-0.08,
            ci95=(-0.12, -0.04),
            ci90=(-0.115, -0.045),
            p_value=0.0001,
            p_adjusted=0.0008,
        )
    )
    assert v.verdict == "not_supported"
    assert "statistically detectable but smaller than the smallest effect of interest" in v.reason
    check_wording(v)


def test_ci90_touching_the_bound_is_not_equivalence() -> None:
    v = decide(
        ev(
            estimate=0.0,
            ci95=(-0.25, 0.25),
            ci90=(-0.2, 0.2),
            p_value=0.9,
            p_adjusted=1.0,
            power=0.9,
        )
    )
    assert v.verdict == "inconclusive"
    just_inside = decide(
        dataclasses.replace(
            ev(
                estimate=0.0,
                ci95=(-0.25, 0.25),
                ci90=(-0.1999, 0.1999),
                p_value=0.9,
                p_adjusted=1.0,
            )
        )
    )
    assert just_inside.verdict == "not_supported"


def test_missing_ci90_never_shows_equivalence() -> None:
    v = decide(
        ev(estimate=0.0, ci95=(-0.05, 0.05), ci90=None, p_value=0.9, p_adjusted=1.0, power=0.99)
    )
    assert v.verdict == "inconclusive"
    assert "could not be assessed" in v.reason
    check_wording(v)


def test_mirror_claim_equivalent_with_working_positive_control_is_contradicted() -> None:
    v = decide(
        ev(
            estimate=0.01,
            ci95=(-0.06, 0.08),
            ci90=(-0.05, 0.07),
            p_value=0.4,
            p_adjusted=0.9,
            sesoi=0.1,
            expected_direction="positive",
            mirror_claim=True,
            positive_control_ok=True,
        )
    )
    assert v.verdict == "contradicted"
    assert v.reason.startswith(
        "concordance equivalent to none while the positive control is concordant"
    )
    check_wording(v)


@pytest.mark.parametrize("control", [False, None])
def test_mirror_claim_equivalent_without_positive_control_is_not_supported(
    control: bool | None,
) -> None:
    v = decide(
        ev(
            estimate=0.01,
            ci95=(-0.06, 0.08),
            ci90=(-0.05, 0.07),
            p_value=0.4,
            p_adjusted=0.9,
            sesoi=0.1,
            expected_direction="positive",
            mirror_claim=True,
            positive_control_ok=control,
        )
    )
    assert v.verdict == "not_supported"
    assert (
        "did not show concordance" if control is False else "no positive control was run"
    ) in v.reason
    check_wording(v)


def test_mirror_claim_not_equivalent_falls_through_to_power() -> None:
    v = decide(
        ev(
            estimate=0.05,
            ci95=(-0.10, 0.20),
            ci90=(-0.08, 0.18),
            p_value=0.4,
            p_adjusted=0.9,
            sesoi=0.1,
            expected_direction="positive",
            mirror_claim=True,
            positive_control_ok=True,
            power=0.3,
        )
    )
    assert v.verdict == "inconclusive" and v.reason.startswith("underpowered")


# ---------------------------------------------------------------------------------------------
# 5. supported / sensitivity disagreement / causal wording
# ---------------------------------------------------------------------------------------------
def test_supported() -> None:
    v = decide(ev(sensitivity_agrees=True, sensitivity_note="RLM g = -0.41"))
    assert (v.verdict, v.label) == ("supported", "Supported")
    for number in (
        "-0.45",
        "-0.70",
        "-0.20",
        "p < 0.001",
        "Holm-adjusted p = 0.003",
        "power 0.95",
        "n = 500",
    ):
        assert number in v.reason, number
    assert "sensitivity analyses agree (RLM g = -0.41)" in v.reason
    # effect and CI come before the p-value
    assert v.reason.index("estimate") < v.reason.index("95% CI") < v.reason.index("p <")
    check_wording(v)


def test_supported_without_sensitivity_analysis_says_so() -> None:
    v = decide(ev())
    assert v.verdict == "supported" and "no sensitivity analysis was run" in v.reason


def test_estimate_exactly_at_sesoi_is_supported() -> None:
    v = decide(ev(estimate=-0.2, ci95=(-0.35, -0.05), ci90=(-0.32, -0.08)))
    assert v.verdict == "supported"


def test_sensitivity_disagreement_is_inconclusive() -> None:
    v = decide(
        ev(
            sensitivity_agrees=False,
            sensitivity_note="matched analysis g = -0.05 (95% CI -0.3 to 0.2)",
        )
    )
    assert v.verdict == "inconclusive"
    assert v.reason.startswith("sensitivity analyses disagree: matched analysis g = -0.05")
    check_wording(v)


def test_causal_claim_gets_association_label() -> None:
    v = decide(ev(causal_language=True))
    assert v.verdict == "supported"
    assert v.label == CAUSAL_SUPPORTED_LABEL == "Association consistent with the claim"
    assert "the causal wording is not testable with cross-sectional data" in v.reason


def test_causal_language_does_not_change_other_verdicts() -> None:
    v = decide(ev(causal_language=True, estimate=0.45, ci95=(0.2, 0.7), ci90=(0.24, 0.66)))
    assert (v.verdict, v.label) == ("contradicted", "Contradicted")


# ---------------------------------------------------------------------------------------------
# 2./6. significance boundaries; significant but small
# ---------------------------------------------------------------------------------------------
def test_p_exactly_alpha_is_not_significant() -> None:
    v = decide(
        ev(
            p_value=0.05,
            p_adjusted=None,
            estimate=-0.45,
            ci95=(-0.9, -0.01),
            ci90=(-0.8, -0.1),
            power=0.9,
        )
    )
    assert v.verdict == "inconclusive"
    assert "p = 0.05" in v.reason
    check_wording(v)


def test_ci95_touching_zero_is_not_significant() -> None:
    v = decide(
        ev(
            p_value=0.049,
            p_adjusted=None,
            estimate=-0.3,
            ci95=(-0.6, 0.0),
            ci90=(-0.55, -0.05),
            power=0.5,
        )
    )
    assert v.verdict == "inconclusive" and v.reason.startswith("underpowered")


def test_raw_p_used_when_no_adjusted_p() -> None:
    v = decide(ev(p_adjusted=None, p_value=0.01))
    assert v.verdict == "supported"
    assert "Holm" not in v.reason


def test_significant_but_smaller_than_sesoi() -> None:
    v = decide(ev(estimate=-0.12, ci95=(-0.22, -0.02), ci90=(-0.205, -0.035), p_adjusted=0.02))
    assert v.verdict == "inconclusive"
    assert v.reason.startswith("significant but smaller than the SESOI")
    assert "equivalence not shown" in v.reason
    check_wording(v)


# ---------------------------------------------------------------------------------------------
# 7. not significant, not equivalent
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("estimate", "ci95", "ci90", "p", "power", "says"),
    [
        # underpowered: named as such, with the power
        (
            -0.15,
            (-0.5, 0.2),
            (-0.44, 0.14),
            (0.4, 0.9),
            0.31,
            ["underpowered: power 0.31 at the SESOI"],
        ),
        # power at the target: not called underpowered
        (-0.1, (-0.3, 0.1), (-0.27, 0.07), (0.3, 0.6), 0.8, ["the CI spans both 0 and the SESOI"]),
        # power missing: said so
        (
            -0.1,
            (-0.3, 0.1),
            (-0.27, 0.07),
            (0.3, 0.6),
            None,
            ["the CI spans both 0 and the SESOI", "power at the SESOI not computed"],
        ),
    ],
    ids=["underpowered", "power-at-target", "power-missing"],
)
def test_not_significant_not_equivalent_is_inconclusive(
    estimate: float,
    ci95: tuple[float, float],
    ci90: tuple[float, float],
    p: tuple[float, float],
    power: float | None,
    says: list[str],
) -> None:
    v = decide(
        ev(
            estimate=estimate,
            ci95=ci95,
            ci90=ci90,
            p_value=p[0],
            p_adjusted=p[1],
            power=power,
        )
    )
    assert v.verdict == "inconclusive"
    assert v.reason.startswith(says[0])
    assert all(s in v.reason for s in says[1:])
    check_wording(v)


def test_missing_p_value_is_not_significant() -> None:
    v = decide(ev(p_value=None, p_adjusted=None, power=0.9))
    assert v.verdict == "inconclusive"
    assert "no p-value" in v.reason
    check_wording(v)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"estimate": 0.45, "ci95": (0.2, 0.7), "ci90": (0.24, 0.66)},
        {
            "estimate": 0.0,
            "ci95": (-0.1, 0.1),
            "ci90": (-0.08, 0.08),
            "p_value": 0.9,
            "p_adjusted": 1.0,
        },
        {
            "estimate": -0.1,
            "ci95": (-0.5, 0.3),
            "ci90": (-0.45, 0.25),
            "p_value": 0.6,
            "p_adjusted": 1.0,
            "power": 0.2,
        },
        {
            "estimate": -0.1,
            "ci95": (-0.5, 0.3),
            "ci90": (-0.45, 0.25),
            "p_value": 0.6,
            "p_adjusted": 1.0,
            "power": 0.99,
        },
        {"estimate": -0.1, "ci95": (-0.15, -0.05), "ci90": (-0.14, -0.06), "p_adjusted": 0.5},
        {"data_problem": "dataset unavailable: mirror empty"},
    ],
)
def test_reasons_never_claim_absence_of_effect(kw: dict[str, Any]) -> None:
    for extra in (
        {},
        {"mirror_claim": True, "positive_control_ok": True},
        {"causal_language": True},
    ):
        check_wording(decide(ev(**kw, **extra)))


# ---------------------------------------------------------------------------------------------
# helpers, labels, validation
# ---------------------------------------------------------------------------------------------
def test_not_testable() -> None:
    v = not_testable(
        "mechanistic claim about short-chain fatty acids; no microbiome table measures it"
    )
    assert (v.verdict, v.label) == ("not_testable", "Not testable with microbiome data")
    assert v.to_dict() == {
        "verdict": "not_testable",
        "label": LABELS["not_testable"],
        "reason": v.reason,
        "sensitivity": [],
    }
    with pytest.raises(InputError):
        not_testable("  ")


def test_labels_cover_every_verdict() -> None:
    assert set(LABELS) == set(VERDICTS)
    assert LABELS["supported"] == "Supported"
    assert LABELS["contradicted"] == "Contradicted"
    assert LABELS["inconclusive"] == "Inconclusive"


def test_evidence_to_dict_is_json() -> None:
    d = ev().to_dict()
    assert json.loads(json.dumps(d))["ci95"] == [-0.70, -0.20]


@pytest.mark.parametrize(
    "kw",
    [
        {"sesoi": 0.0},
        {"sesoi": -0.2},
        {"expected_direction": "down"},
        {"ci95": (0.3, -0.3)},
        {"p_value": 1.5},
        {"power": -0.1},
        {"estimate": float("nan")},
        {"n": -1},
    ],
)
def test_evidence_validation(kw: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        ev(**kw)


# ---------------------------------------------------------------------------------------------
# multiple testing (R: p.adjust)
# ---------------------------------------------------------------------------------------------
def test_holm_matches_r() -> None:
    ref = REF["p_adjust"]
    assert holm(ref["p"]) == pytest.approx(ref["holm"], abs=1e-12)


def test_bh_matches_r() -> None:
    ref = REF["p_adjust"]
    assert bh(ref["p"]) == pytest.approx(ref["BH"], abs=1e-12)


def test_holm_by_hand_with_none_passing_through() -> None:
    # m = 3 non-missing: sorted 0.01, 0.02, 0.04 -> 0.03, 0.04, max(0.04, 0.04) = 0.04
    assert holm([0.04, None, 0.01, 0.02]) == pytest.approx([0.04, None, 0.03, 0.04])
    assert holm([None, None]) == [None, None]
    assert holm([]) == []


def test_bh_by_hand_with_none() -> None:
    # m = 3: sorted 0.01, 0.02, 0.04 -> min over j >= i of 3 p(j) / j: 0.03, 0.03, 0.04
    assert bh([0.04, None, 0.01, 0.02]) == pytest.approx([0.04, None, 0.03, 0.03])


def test_adjustments_cap_at_one_and_reject_bad_p() -> None:
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    with pytest.raises(InputError):
        holm([0.1, float("nan")])
    with pytest.raises(ValueError):
        bh([0.1, 1.2])


def test_numbers_share_decimals_and_never_show_negative_zero() -> None:
    v = decide(ev(estimate=-0.08, ci95=(-0.12, -0.04), ci90=(-0.115, -0.045)))
    assert "estimate -0.080 (95% CI -0.120 to -0.040; 90% CI -0.115 to -0.045)" in v.reason
    v0 = decide(
        ev(estimate=-0.00001, ci95=(-0.1, 0.1), ci90=(-0.08, 0.08), p_value=0.9, p_adjusted=1.0)
    )
    assert "estimate 0.000 (" in v0.reason and "-0.000" not in v0.reason


@pytest.mark.parametrize(
    ("estimate", "ci95", "ci90", "p", "primary_verdict"),
    [
        # significant in the opposite direction (the claim predicts a positive effect)
        (-0.75, (-1.29, -0.20), (-1.20, -0.29), 0.0075, "contradicted"),
        # equivalence shown: 90% CI inside ±0.2
        (-0.05, (-0.20, 0.09), (-0.18, 0.07), 0.45, "not_supported"),
    ],
)
def test_sensitivity_disagreement_downgrades_every_decisive_verdict(
    estimate: float,
    ci95: tuple[float, float],
    ci90: tuple[float, float],
    p: float,
    primary_verdict: str,
) -> None:
    base = dict(
        estimate=estimate,
        ci95=ci95,
        ci90=ci90,
        p_value=p,
        p_adjusted=None,
        sesoi=0.2,
        expected_direction="positive",
        power=0.9,
        n=150,
    )
    assert decide(Evidence(**base)).verdict == primary_verdict
    assert decide(Evidence(**base, sensitivity_agrees=True)).verdict == primary_verdict
    v = decide(
        Evidence(**base, sensitivity_agrees=False, sensitivity_note="observed features disagrees")
    )
    assert v.verdict == "inconclusive"
    assert v.reason.startswith("sensitivity analyses disagree: observed features disagrees")
    assert LABELS[primary_verdict].lower() in v.reason


# ---------------------------------------------------------------------------------------------
# sensitivity analyses judged at the level of the verdict (issue 11 item 1)
# ---------------------------------------------------------------------------------------------
# C8 on the real data (issue 11): the primary 90% CI of Hedges g lies inside ±0.2, but refitting with
# minimal covariates gives [-0.203, 0.039] and observed features [-0.262, -0.009]; both are
# non-significant like the primary, which the old "same significance" rule counted as agreement.
C8_PRIMARY = dict(
    estimate=-0.07,
    ci95=(-0.19, 0.05),
    ci90=(-0.17, 0.03),
    p_value=0.27,
    p_adjusted=1.0,
    sesoi=0.2,
    expected_direction="negative",
    power=0.99,
    n=1500,
)
C8_MINIMAL = {
    "name": "minimal covariates",
    "estimate": -0.082,
    "ci": [-0.226, 0.062],
    "ci90": [-0.203, 0.039],
    "p_value": 0.26,
    "note": "minimal covariates",
}
C8_OBSERVED = {
    "name": "observed features",
    "estimate": -0.135,
    "ci": [-0.286, 0.015],
    "ci90": [-0.262, -0.009],
    "p_value": 0.078,
    "note": "observed features",
}


def test_c8_equivalence_needs_each_sensitivity_analysis_to_show_equivalence() -> None:
    from gutskin.stats import judge_sensitivity

    assert decide(Evidence(**C8_PRIMARY)).verdict == "not_supported"
    for entry in (C8_MINIMAL, C8_OBSERVED):
        outcome, alone = judge_sensitivity("not_supported", entry, 0.2, "negative", 0.05)
        assert outcome == "disagrees", entry["name"]
        assert alone == "inconclusive"
    v = decide(Evidence(**C8_PRIMARY, sensitivity=(C8_MINIMAL, C8_OBSERVED)))
    assert v.verdict == "inconclusive"
    assert v.reason.startswith("sensitivity analyses disagree: minimal covariates, observed")
    assert "0 of 2 agree" in v.reason
    assert [o["outcome"] for o in v.sensitivity] == ["disagrees", "disagrees"]
    assert [o["agrees"] for o in v.sensitivity] == [False, False]
    check_wording(v)


def test_equivalent_sensitivity_analysis_agrees_with_equivalence() -> None:
    inside = {
        "name": "Huber",
        "estimate": -0.05,
        "ci": [-0.2, 0.1],
        "ci90": [-0.18, 0.08],
        "p_value": 0.5,
    }
    v = decide(Evidence(**C8_PRIMARY, sensitivity=(inside,)))
    assert v.verdict == "not_supported"
    assert v.sensitivity[0]["outcome"] == "agrees"
    assert v.sensitivity[0]["verdict"] == "not_supported"


@pytest.mark.parametrize(
    ("entry", "outcome"),
    [
        # significant in the claimed (negative) direction, even if smaller than the SESOI
        (
            {"estimate": -0.15, "ci": [-0.28, -0.02], "ci90": [-0.26, -0.04], "p_value": 0.02},
            "agrees",
        ),
        # same sign, not significant: the old rule said "disagrees" too, but via a different path
        (
            {"estimate": -0.3, "ci": [-0.62, 0.02], "ci90": [-0.57, -0.03], "p_value": 0.07},
            "disagrees",
        ),
        # significant in the opposite direction
        ({"estimate": 0.3, "ci": [0.05, 0.55], "ci90": [0.09, 0.51], "p_value": 0.02}, "disagrees"),
        # p below alpha but the 95% CI touches 0: not significant by the rubric
        (
            {"estimate": -0.3, "ci": [-0.6, 0.0], "ci90": [-0.55, -0.05], "p_value": 0.04},
            "disagrees",
        ),
        # no p-value: cannot be judged
        (
            {"estimate": -0.3, "ci": [-0.6, -0.1], "ci90": [-0.55, -0.15], "p_value": None},
            "uninformative",
        ),
    ],
)
def test_supported_needs_each_analysis_significant_in_the_claimed_direction(
    entry: dict[str, Any], outcome: str
) -> None:
    from gutskin.stats import judge_sensitivity

    assert decide(ev()).verdict == "supported"
    assert judge_sensitivity("supported", entry, 0.2, "negative", 0.05)[0] == outcome
    v = decide(ev(sensitivity=({"name": "x", **entry},)))
    expected = {"agrees": "supported", "disagrees": "inconclusive", "uninformative": "supported"}
    assert v.verdict == expected[outcome]


def test_contradicted_needs_each_analysis_significant_in_the_opposite_direction() -> None:
    from gutskin.stats import judge_sensitivity

    base = ev(estimate=0.45, ci95=(0.2, 0.7), ci90=(0.24, 0.66))
    assert decide(base).verdict == "contradicted"
    same = {"estimate": 0.3, "ci": [0.1, 0.5], "ci90": [0.13, 0.47], "p_value": 0.004}
    ns = {"estimate": 0.1, "ci": [-0.1, 0.3], "ci90": [-0.07, 0.27], "p_value": 0.3}
    assert judge_sensitivity("contradicted", same, 0.2, "negative")[0] == "agrees"
    assert judge_sensitivity("contradicted", ns, 0.2, "negative")[0] == "disagrees"
    assert decide(dataclasses.replace(base, sensitivity=(same,))).verdict == "contradicted"
    assert decide(dataclasses.replace(base, sensitivity=(same, ns))).verdict == "inconclusive"


def test_analysis_that_cannot_disagree_is_uninformative_not_agreeing() -> None:
    from gutskin.stats import judge_sensitivity

    # another τ² estimator when τ² = 0 under every estimator: the same number by construction
    tau = {
        "name": "DL τ²",
        "estimate": -0.45,
        "ci": [-0.7, -0.2],
        "ci90": [-0.66, -0.24],
        "p_value": 0.0004,
        "can_disagree": False,
        "note": "τ² = 0 under REML and DL",
    }
    assert judge_sensitivity("supported", tau, 0.2, "negative")[0] == "uninformative"
    v = decide(ev(sensitivity=(tau,)))
    assert v.verdict == "supported"
    assert v.sensitivity[0]["outcome"] == "uninformative"
    assert v.sensitivity[0]["agrees"] is None
    assert "the sensitivity analyses agree" not in v.reason
    assert "no sensitivity analysis could disagree" in v.reason


def test_check_without_estimate_uses_its_own_outcome() -> None:
    spans = {"name": "prediction interval", "agrees": False, "note": "PI spans 0 and the SESOI"}
    assert decide(ev(sensitivity=(spans,))).verdict == "inconclusive"
    fine = {"name": "prediction interval", "agrees": True, "note": "PI does not span"}
    assert decide(ev(sensitivity=(fine,))).verdict == "supported"


def test_judge_sensitivity_rejects_unknown_words() -> None:
    from gutskin.stats import judge_sensitivity

    with pytest.raises(InputError):
        judge_sensitivity("maybe", {}, 0.2, "negative")
    with pytest.raises(InputError):
        judge_sensitivity("supported", {}, 0.2, "up")


def test_data_unavailable_is_its_own_verdict() -> None:
    from gutskin.stats import data_unavailable

    assert "data_unavailable" in VERDICTS
    assert LABELS["data_unavailable"] == "Data unavailable"
    v = decide(ev(data_problem="dataset hmp unavailable: HTTP 404", data_unavailable=True))
    assert (v.verdict, v.label) == ("data_unavailable", "Data unavailable")
    assert v.reason == "data unavailable: dataset hmp unavailable: HTTP 404."
    # a data problem that is not about getting the data stays inconclusive
    assert decide(ev(data_problem="too few samples")).verdict == "inconclusive"
    assert data_unavailable("no dataset has the field").verdict == "data_unavailable"


def test_report_styles_every_verdict_in_the_rubric_order() -> None:
    from gutskin.report.verdict_style import styles

    style = styles()
    assert tuple(style) == VERDICTS
    assert style["data_unavailable"].label == LABELS["data_unavailable"]


@pytest.mark.parametrize(
    ("ci90", "equivalent"),
    [
        ((-0.2, 0.1), False),  # lower bound touches -SESOI, upper well inside
        ((-0.1, 0.2), False),  # upper bound touches +SESOI, lower well inside
        ((-0.19999, 0.1), True),
        ((-0.1, 0.19999), True),
    ],
)
def test_equivalence_boundary_each_side_alone(ci90: tuple[float, float], equivalent: bool) -> None:
    """Issue 11 item 11: the 90% CI must lie strictly inside ±SESOI on each side separately (a
    `<=` on either side alone used to pass unnoticed)."""
    v = decide(
        ev(estimate=0.0, ci95=(-0.25, 0.25), ci90=ci90, p_value=0.9, p_adjusted=None, power=0.9)
    )
    assert (v.verdict == "not_supported") is equivalent


def test_one_sided_wording_names_the_interval_it_used() -> None:
    # C9-like: one-sided p 0.076 after Holm 0.345; the 90% CI excludes 0, the 95% CI does not
    v = decide(
        ev(
            estimate=0.067,
            ci95=(-0.017, 0.145),
            ci90=(0.003, 0.13),
            p_value=0.076,
            p_adjusted=0.345,
            sesoi=0.1,
            expected_direction="positive",
            power=None,
            one_sided=True,
        )
    )
    assert v.verdict == "inconclusive"
    assert "the 90% CI (the one-sided bound) excludes 0" in v.reason
    assert "95% CI excludes 0" not in v.reason
