"""The ledger: Holm across primary claims, the rubric applied once, untestable claims kept apart."""

from __future__ import annotations

import json

import pytest

from gutskin.claims.bundle import subset_condensed
from gutskin.claims.ledger import build_ledger

CONFIG = {"alpha": 0.05, "power_target": 0.8}


def _claim(cid: str, primary: bool = True, **kw) -> dict:
    base = {
        "id": cid,
        "title": cid,
        "quote": "q",
        "claim_type": "associational",
        "testable": "yes",
        "hypothesis": "h",
        "analysis": "alpha_condition",
        "datasets": ["d"],
        "sesoi": {"value": 0.2, "scale": "hedges_g"},
        "expected_direction": "negative",
        "primary": primary,
    }
    base.update(kw)
    return base


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
    assert led["C8"]["verdict"] == "inconclusive"
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
        "0/2 agree (disagree: minimal covariates, richness)"
    )
    # a runner that only sets the summary keeps the old words; none run -> None
    assert robustness({"sensitivity_agrees": False}) == "disagrees"
    assert robustness({"sensitivity_agrees": True, "sensitivity_analyses": []}) == "agrees"
    assert robustness({"sensitivity_analyses": [unjudged]}) is None
    # the ledger entry carries the score and the list; a disagreement makes a hit inconclusive
    res = _result("C8", -0.6, (-0.9, -0.3), (-0.85, -0.35), 0.0001)
    res.update(
        sensitivity_analyses=[ok, bad],
        sensitivity_agrees=False,
        sensitivity_note="minimal covariates disagrees (1 of 2 agree); …",
    )
    (entry,) = build_ledger([_claim("C8")], {"C8": res}, CONFIG)
    assert entry["robustness"] == "1/2 agree (disagrees: minimal covariates)"
    assert entry["sensitivity_analyses"] == [ok, bad]
    assert entry["verdict"] == "inconclusive"
    assert "minimal covariates disagrees" in entry["reason"]
