"""The ledger: Holm across primary claims, the rubric applied once, untestable claims kept apart."""

from __future__ import annotations

import json

import pytest

from gutskin.claims.bundle import subset_condensed
from gutskin.claims.ledger import build_ledger
from tests.support.claims import claim_entry

CONFIG = {"alpha": 0.05, "power_target": 0.8}


def _claim(cid: str, primary: bool = True, **kw) -> dict:
    fields = {"expected_direction": "negative", "sided": "two", "primary": primary, **kw}
    return claim_entry(cid, **fields)


def _result(cid: str, g: float, ci: tuple, ci90: tuple, p: float, power: float = 0.9) -> dict:
    return {
        "id": cid,
        "headline": {
            "estimate": g,
            "ci_low": ci[0],
            "ci_high": ci[1],
            "p_value": p,
            "effect_size": g,
            "effect_size_ci": list(ci),
            "effect_size_ci90": list(ci90),
            "power": power,
            "n": 500,
        },
        "tests": [{"name": "t", "role": "primary", "p_value": p}],
    }


def test_holm_across_primary_claims() -> None:
    claims = [_claim("C1"), _claim("C2"), _claim("C3", primary=False)]
    results = {
        "C1": _result("C1", -0.5, (-0.7, -0.3), (-0.65, -0.35), 0.01),
        "C2": _result("C2", -0.5, (-0.7, -0.3), (-0.65, -0.35), 0.04),
        "C3": _result("C3", -0.5, (-0.7, -0.3), (-0.65, -0.35), 0.03),
    }
    led = {c["id"]: c for c in build_ledger(claims, results, CONFIG)}
    # Holm by hand for the family {C1: 0.01, C2: 0.04}: 0.01*2 = 0.02, max(0.02, 0.04*1) = 0.04.
    assert led["C1"]["p_adjusted"] == pytest.approx(0.02)
    assert led["C2"]["p_adjusted"] == pytest.approx(0.04)
    assert led["C1"]["holm_family"] == ["C1", "C2"]
    # C3 is outside the family: no adjusted p is invented for it.
    assert led["C3"]["p_adjusted"] is None
    assert led["C1"]["verdict"] == "supported"
    assert led["C1"]["tests"][0]["p_adjusted"] == pytest.approx(0.02)


def test_holm_can_turn_a_nominal_hit_inconclusive() -> None:
    claims = [_claim("C1"), _claim("C2")]
    results = {
        "C1": _result("C1", -0.5, (-0.9, -0.01), (-0.85, -0.1), 0.03),
        "C2": _result("C2", -0.5, (-0.9, -0.01), (-0.85, -0.1), 0.04),
    }
    led = {c["id"]: c for c in build_ledger(claims, results, CONFIG)}
    # Holm: 0.03*2 = 0.06 > 0.05, so C1 is not significant after correction.
    assert led["C1"]["verdict"] == "inconclusive"


def test_untestable_claim_and_data_problem() -> None:
    claims = [
        {
            "id": "C1",
            "title": "t",
            "quote": "q",
            "claim_type": "factual",
            "testable": "no",
            "hypothesis": "h",
            "not_testable_reason": "needs embryology, not microbes",
        },
        _claim("C8"),
    ]
    results = {"C8": {"id": "C8", "data_problem": "dataset d unavailable: HTTP 404"}}
    led = {c["id"]: c for c in build_ledger(claims, results, CONFIG)}
    assert led["C1"]["verdict"] == "not_testable"
    assert led["C1"]["estimate"] is None and led["C1"]["p_value"] is None
    # the dataset could not be had: "data unavailable", counted apart from inconclusive
    assert led["C8"]["verdict"] == "data_unavailable"
    assert led["C8"]["verdict_label"] == "Data unavailable"
    assert "unavailable" in led["C8"]["reason"]
    json.dumps(list(led.values()), allow_nan=False)  # strictly JSON-able


def test_subset_condensed_matches_squareform() -> None:
    import numpy as np
    from scipy.spatial.distance import pdist, squareform

    x = np.arange(24, dtype=float).reshape(6, 4) ** 1.5
    cond = pdist(x)
    ids = np.array(list("abcdef"))
    sub = subset_condensed(cond, ids, np.array(["e", "a", "c"]))
    full = squareform(cond)
    expected = full[np.ix_([4, 0, 2], [4, 0, 2])]
    np.testing.assert_allclose(sub, expected, rtol=0, atol=0)


def test_robustness_score_counts_the_sensitivity_analyses() -> None:
    from gutskin.claims.ledger import robustness

    ok = {"name": "Huber robust regression", "agrees": True, "note": "…"}
    bad = {"name": "minimal covariates", "agrees": False, "note": "…"}
    unjudged = {"name": "observed features", "agrees": None, "note": "no p-value"}
    assert robustness({"sensitivity_analyses": [ok, ok, ok]}) == "3/3 agree"
    assert robustness({"sensitivity_analyses": [ok, bad, ok]}) == (
        "2/3 agree (disagrees: minimal covariates)"
    )
    assert robustness({"sensitivity_analyses": [bad, bad | {"name": "richness"}, unjudged]}) == (
        "0/2 agree (disagree: minimal covariates, richness); 1 uninformative"
    )
    # a runner that only sets the summary keeps the old words; none run -> None
    assert robustness({"sensitivity_agrees": False}) == "disagrees"
    assert robustness({"sensitivity_agrees": True, "sensitivity_analyses": []}) == "agrees"
    assert robustness({"sensitivity_analyses": [unjudged]}) == "1 uninformative"
    assert robustness({"sensitivity_analyses": []}) is None
    # an inconclusive verdict has nothing to confirm: the analyses are not scored as disagreeing
    # (C26 on the real data: significant alone, not after Holm, its three analyses significant too)
    alone = [ok | {"verdict": "supported"}, bad | {"verdict": "supported"}, unjudged]
    assert robustness({"sensitivity_analyses": alone}, "inconclusive") == (
        "not judged: the primary result is not decisive (3 analyses; decisive alone: 2 supported)"
    )
    assert robustness({"sensitivity_analyses": alone}, "supported").startswith("1/2 agree")
    # one analysis: the count and its noun agree ("1 analysis", never "1 analyses")
    assert robustness({"sensitivity_analyses": alone[:1]}, "inconclusive") == (
        "not judged: the primary result is not decisive (1 analysis; decisive alone: 1 supported)"
    )
    # the ledger entry carries the score and the list; a disagreement makes a hit inconclusive
    res = _result("C8", -0.6, (-0.9, -0.3), (-0.85, -0.35), 0.0001)
    res.update(
        sensitivity_analyses=[ok, bad],
        sensitivity_agrees=False,
        sensitivity_note="minimal covariates disagrees (1 of 2 agree); …",
    )
    (entry,) = build_ledger([_claim("C8")], {"C8": res}, CONFIG)
    assert entry["robustness"] == "1/2 agree (disagrees: minimal covariates)"
    assert [o["name"] for o in entry["sensitivity_analyses"]] == [ok["name"], bad["name"]]
    assert [o["outcome"] for o in entry["sensitivity_analyses"]] == ["agrees", "disagrees"]
    assert entry["verdict"] == "inconclusive"
    assert "minimal covariates disagrees" in entry["reason"]


# ---------------------------------------------------------------------------------------------
# issue 11: sensitivity judged at the level of the verdict, data unavailable, Holm family
# ---------------------------------------------------------------------------------------------
def _sens(name: str, g: float, ci: tuple, ci90: tuple, p: float) -> dict:
    return {
        "name": name,
        "kind": "model",
        "agrees": None,
        "note": name,
        "estimate": g,
        "ci": list(ci),
        "ci90": list(ci90),
        "p_value": p,
    }


def test_c8_equivalence_fails_when_sensitivity_cis_leave_the_sesoi() -> None:
    """C8 on the real data: the primary 90% CI is inside ±0.2, the minimal-covariate and
    observed-features refits are not ([-0.203, 0.039], [-0.262, -0.009]); the old rule (same
    significance) called that 4/4 agree and kept "not supported (equivalence shown)"."""
    res = _result("C8", -0.07, (-0.19, 0.05), (-0.17, 0.03), 0.27, power=0.99)
    res["sensitivity_analyses"] = [
        _sens("Huber robust regression", -0.06, (-0.18, 0.06), (-0.16, 0.04), 0.33),
        _sens("minimal covariates", -0.082, (-0.226, 0.062), (-0.203, 0.039), 0.26),
        _sens("observed features", -0.135, (-0.286, 0.015), (-0.262, -0.009), 0.078),
    ]
    (entry,) = build_ledger([_claim("C8")], {"C8": res}, CONFIG)
    assert entry["verdict"] == "inconclusive"
    assert entry["robustness"] == ("1/3 agree (disagree: minimal covariates, observed features)")
    assert [o["verdict"] for o in entry["sensitivity_analyses"]] == [
        "not_supported",
        "inconclusive",
        "inconclusive",
    ]
    assert "not supported (equivalence shown)" in entry["reason"]


def test_claim_without_a_dataset_field_is_data_unavailable_and_counted_apart() -> None:
    from gutskin.claims.ledger import verdict_counts

    claims = [
        _claim("C40", data_unavailable=True, not_testable_reason="no omega-3 intake field"),
        _claim("C41"),
    ]
    del claims[0]["analysis"]
    results = {"C41": {"id": "C41", "data_problem": "too few samples: 3 cases"}}
    led = build_ledger(claims, results, CONFIG)
    by = {e["id"]: e for e in led}
    assert by["C40"]["verdict"] == "data_unavailable"
    assert by["C41"]["verdict"] == "inconclusive"  # a problem other than getting the data
    counts = verdict_counts(led)
    assert counts["data_unavailable"] == 1 and counts["inconclusive"] == 1
    assert set(counts) == {
        "supported",
        "not_supported",
        "contradicted",
        "inconclusive",
        "data_unavailable",
        "not_testable",
    }


@pytest.mark.parametrize(
    ("problem", "unavailable"),
    [
        ("dataset agp unavailable: HTTP 404 from qiita", True),
        ("dataset agp was not loaded (not configured)", True),
        ("dataset agp has no column(s) age in its sample table; add them", True),
        ("too few paired subjects: 4 (minimum 10)", False),
        ("the model could not be fitted: singular design", False),
        (None, False),
    ],
)
def test_which_data_problems_mean_the_data_could_not_be_had(problem, unavailable) -> None:
    from gutskin.claims.ledger import is_data_unavailable

    assert is_data_unavailable(problem) is unavailable


def test_claim_with_a_data_problem_is_left_out_of_the_holm_family() -> None:
    # C1 has a p-value but also a data problem: it must not enter Holm (else C2's 0.04 becomes
    # max(2 * 0.03, 0.04) = 0.06 and C2 turns inconclusive)
    claims = [_claim("C1"), _claim("C2")]
    r1 = _result("C1", -0.5, (-0.9, -0.1), (-0.85, -0.15), 0.03)
    r1["data_problem"] = "too few samples after exclusions"
    results = {"C1": r1, "C2": _result("C2", -0.5, (-0.9, -0.1), (-0.85, -0.15), 0.04)}
    led = {c["id"]: c for c in build_ledger(claims, results, CONFIG)}
    assert led["C2"]["holm_family"] == ["C2"]
    assert led["C2"]["p_adjusted"] == pytest.approx(0.04)
    assert led["C2"]["verdict"] == "supported"
    assert led["C1"]["p_adjusted"] is None and led["C1"]["holm_family"] == []


# ---------------------------------------------------------------------------------------------
# issue 11 item 7: one sidedness rule
# ---------------------------------------------------------------------------------------------
def test_directional_claim_is_tested_one_sided_unless_registered_two_sided() -> None:
    from gutskin.claims.register import claim_sided

    assert claim_sided({"expected_direction": "positive"}) == "one"
    assert claim_sided({"expected_direction": "negative", "sided": "two"}) == "two"
    assert claim_sided({"expected_direction": "two_sided", "sided": "one"}) == "two"
    # two-sided p 0.06 on the claimed side: one-sided 0.03, significant; the 90% CI is the bound
    res = _result("C9", -0.5, (-1.02, 0.02), (-0.93, -0.07), 0.06)
    one = {**_claim("C9"), "sided": "one"}
    (entry,) = build_ledger([one], {"C9": res}, CONFIG)
    assert entry["sided"] == "one" and entry["p_value"] == pytest.approx(0.03)
    assert entry["p_two_sided"] == pytest.approx(0.06)
    assert entry["verdict"] == "supported"
    assert "one-sided p = 0.03" in entry["reason"]
    (two,) = build_ledger([_claim("C9")], {"C9": res}, CONFIG)
    assert two["verdict"] == "inconclusive" and two["p_value"] == pytest.approx(0.06)
    # on the wrong side the one-sided p is 1 - p/2, and a contradiction needs the 95% CI
    wrong = _result("C9", 0.5, (-0.02, 1.02), (0.07, 0.93), 0.06)
    (w,) = build_ledger([one], {"C9": wrong}, CONFIG)
    assert w["p_value"] == pytest.approx(0.97) and w["verdict"] == "inconclusive"
    against = _result("C9", 0.6, (0.1, 1.1), (0.18, 1.02), 0.02)
    (a,) = build_ledger([one], {"C9": against}, CONFIG)
    assert a["verdict"] == "contradicted"


def test_one_sided_headline_p_is_used_as_it_is() -> None:
    res = _result("C9", 0.3, (0.1, 0.5), (0.13, 0.47), 0.004)
    res["headline"]["sided"] = "one"  # e.g. a permutation Mantel test with alternative "greater"
    claim = {**_claim("C9", expected_direction="positive"), "sided": "one"}
    (entry,) = build_ledger([claim], {"C9": res}, CONFIG)
    assert entry["p_value"] == pytest.approx(0.004) and entry["p_two_sided"] is None


def test_mantel_claim_gets_the_simulated_power_of_the_calibration() -> None:
    """Issue 11 item 10: C9's ledger entry had no power although the calibration measures it."""
    res = _result("C9", 0.05, (-0.05, 0.15), (-0.03, 0.13), 0.2)
    res["headline"]["power"] = None
    cal = {
        "tests": [
            {"claim": "C8", "replicates": 10, "planted": [{"value": 0.1, "power": 0.1}]},
            {
                "claim": "C9",
                "replicates": 400,
                "sided": "one",  # the Mantel calibration is sided as the claim (one-sided, r > 0)
                "planted": [
                    {"value": 0.1, "power": 0.645, "power_ci": [0.596, 0.692]},
                    {"value": 0.2, "power": 0.99, "power_ci": [0.97, 1.0]},
                ],
            },
        ]
    }
    claim = _claim(
        "C9",
        expected_direction="positive",
        sided="one",
        sesoi={"value": 0.1, "scale": "correlation"},
    )
    (entry,) = build_ledger([claim], {"C9": res}, CONFIG, cal)
    assert entry["power"] == pytest.approx(0.645)
    assert (
        entry["power_source"] == "simulated in the calibration (400 replicates; 95% CI 0.60–0.69)"
    )
    assert "underpowered: power 0.65" in entry["reason"]
    (without,) = build_ledger([claim], {"C9": res}, CONFIG)
    assert without["power"] is None and without["power_source"] is None


def test_simulated_power_replaces_the_analytic_one_where_it_exists() -> None:
    """Issue 11 item 8: the verdict-level simulation (the claim's own analysis and verdict at a true SESOI)
    is the power printed and judged; the formula's value is kept as ``power_analytic``. A statistic-level
    simulation sided otherwise than the claim (two-sided test, one-sided claim) does not stand in."""
    res = _result("C8", -0.05, (-0.3, 0.1), (-0.25, 0.05), 0.6, power=0.854)
    claim = _claim("C8", sided="one")  # directional, tested one-sided
    cal = {
        "tests": [
            {
                "claim": "C8",
                "replicates": 1000,
                "sided": "two",
                "planted": [{"value": 0.2, "power": 0.70, "power_ci": [0.67, 0.73]}],
            },
        ],
        "verdicts": [
            {
                "claim": "C8",
                "replicates": 200,
                "simulated_power": 0.62,
                "simulated_power_ci": [0.549, 0.688],
            },
        ],
    }
    (entry,) = build_ledger([claim], {"C8": res}, CONFIG, cal)
    assert entry["power"] == pytest.approx(0.62) and entry["power_analytic"] == pytest.approx(0.854)
    assert entry["power_source"].startswith(
        "simulated: the claim's own analysis and verdict on 200"
    )
    assert entry["power_source"].endswith("95% CI 0.55–0.69")
    # without the verdict-level entry, the two-sided statistic-level test does not fit a one-sided claim
    (stat,) = build_ledger([claim], {"C8": res}, CONFIG, {"tests": cal["tests"]})
    assert stat["power"] == pytest.approx(0.854) and stat["power_source"] == "analytic"
    two = {**claim, "sided": "two"}
    (both,) = build_ledger([two], {"C8": res}, CONFIG, {"tests": cal["tests"]})
    assert both["power"] == pytest.approx(0.70) and both["power_source"].startswith("simulated")
    # a pooled claim (k = 2) keeps its own power when the simulation covered one of its cohorts only
    pooled_res = {**res, "k": 2}
    one_cohort = {
        "tests": cal["tests"],
        "verdicts": [{**cal["verdicts"][0], "not_simulated": ["other_cohort"]}],
    }
    (pooled,) = build_ledger([two], {"C8": pooled_res}, CONFIG, one_cohort)
    assert pooled["power"] == pytest.approx(0.854) and pooled["power_source"] == "analytic"


def test_verdict_label_is_scoped_to_what_was_tested() -> None:
    """Issue 11 item 9: C25 read "Supported" for the whole claim and its box said a non-significant
    result cannot mean "no effect"."""
    claim = _claim(
        "C25",
        expected_direction="negative",
        tested="plant-type variety vs gut Shannon diversity",
        untested=["short-chain fatty acid production", "skin-barrier effects"],
    )
    res = _result("C25", -0.5, (-0.7, -0.3), (-0.65, -0.35), 0.001)
    (entry,) = build_ledger([claim], {"C25": res}, CONFIG)
    assert entry["verdict"] == "supported"
    assert entry["scoped_label"] == "Supported — for plant-type variety vs gut Shannon diversity"
    assert entry["untested"] == ["short-chain fatty acid production", "skin-barrier effects"]
    assert "no effect" not in entry["reading_note"]
    weak = _result("C25", -0.1, (-0.4, 0.2), (-0.35, 0.15), 0.5, power=0.5)
    (entry,) = build_ledger([claim], {"C25": weak}, CONFIG)
    assert entry["verdict"] == "inconclusive"
    assert "cannot be read as “no effect”" in entry["reading_note"]
