"""Random-effects meta-analysis against R metafor::rma and a hand computation.

References: ``tests/fixtures/metafor_rma.json`` made by ``tests/fixtures/make_metafor_rma.R`` (metafor 3.8,
REML / DL / PM with tight convergence; the 95 % prediction interval computed there with t on k − 2 df).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gutskin.stats._util import StatsInputError
from gutskin.stats.meta import random_effects, z_test_power

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "metafor_rma.json"
EXAMPLES = ("k3", "k5", "k4_homogeneous", "k2")


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads(FIXTURE.read_text())["examples"]


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("method", ["REML", "DL", "PM"])
def test_matches_metafor(ref: dict, name: str, method: str) -> None:
    ex = ref[name]
    m = ex[method]
    r = random_effects(ex["yi"], ex["sei"], method=method)
    assert r.k == len(ex["yi"])
    assert r.estimate == pytest.approx(m["estimate"], rel=1e-8, abs=1e-12)
    assert r.se == pytest.approx(m["se"], rel=1e-8)
    assert r.ci95 == pytest.approx((m["ci_lb"], m["ci_ub"]), rel=1e-8, abs=1e-12)
    assert r.z == pytest.approx(m["zval"], rel=1e-8, abs=1e-12)
    assert r.p_value == pytest.approx(m["pval"], rel=1e-7)
    assert r.tau2 == pytest.approx(m["tau2"], rel=1e-7, abs=1e-12)
    assert r.i2 == pytest.approx(m["I2"], rel=1e-7, abs=1e-9)
    assert r.h2 == pytest.approx(m["H2"], rel=1e-7)
    assert r.q == pytest.approx(m["QE"], rel=1e-10)
    assert r.q_p == pytest.approx(m["QEp"], rel=1e-8)
    assert r.weights == pytest.approx(m["weights"], rel=1e-7)
    if m["pi95"] is None:
        assert r.pi95 is None
        assert r.pi_note is not None and "at least 3 studies" in r.pi_note
    else:
        assert r.pi95 == pytest.approx(tuple(m["pi95"]), rel=1e-8)
        assert r.pi_note is None


def test_homogeneous_studies_have_zero_tau2_and_i2(ref: dict) -> None:
    ex = ref["k4_homogeneous"]
    r = random_effects(ex["yi"], ex["sei"])
    assert r.tau2 == 0.0 and r.i2 == 0.0 and r.h2 == 1.0
    assert r.estimate == pytest.approx(r.fixed_estimate, rel=1e-12)


def test_dersimonian_laird_by_hand() -> None:
    """Three studies, y = 0.1, 0.5, -0.2, SE = 0.2, 0.3, 0.25 (v = 0.04, 0.09, 0.0625).

    DerSimonian & Laird (1986), written out below: w = 1/v = 25, 11.11, 16;
    ȳ_FE = Σ w y / Σ w = (2.5 + 5.556 − 3.2)/52.11 = 0.0932; Q = Σ w (y − ȳ_FE)²;
    C = Σ w − Σ w² / Σ w; τ² = max(0, (Q − (k − 1)) / C); then w* = 1/(v + τ²), μ = Σ w* y / Σ w*.
    """
    y = [0.1, 0.5, -0.2]
    v = [0.04, 0.09, 0.0625]
    w = [1 / x for x in v]
    sw = sum(w)
    mu_fe = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / sw
    q = sum(wi * (yi - mu_fe) ** 2 for wi, yi in zip(w, y, strict=True))
    c = sw - sum(wi * wi for wi in w) / sw
    tau2 = max(0.0, (q - 2) / c)
    ws = [1 / (x + tau2) for x in v]
    mu = sum(wi * yi for wi, yi in zip(ws, y, strict=True)) / sum(ws)
    se = 1 / math.sqrt(sum(ws))
    i2 = 100 * (q - 2) / q
    r = random_effects(y, [math.sqrt(x) for x in v], method="DL")
    assert r.q == pytest.approx(q, rel=1e-12)
    assert r.tau2 == pytest.approx(tau2, rel=1e-10)
    assert r.estimate == pytest.approx(mu, rel=1e-10)
    assert r.se == pytest.approx(se, rel=1e-10)
    assert r.i2 == pytest.approx(i2, rel=1e-9)  # DL: I² = (Q − df)/Q
    # Higgins 2009 prediction interval with t on k − 2 = 1 df: t_{0.975, 1} = 12.7062
    half = 12.706204736174707 * math.sqrt(tau2 + se * se)
    assert r.pi95 == pytest.approx((mu - half, mu + half), rel=1e-9)
    assert r.ci90 == pytest.approx((mu - 1.6448536269514722 * se, mu + 1.6448536269514722 * se))


def test_labels_and_fixed_effect() -> None:
    r = random_effects([0.2, 0.4], [0.1, 0.1], labels=["agp", "cohort"])
    assert r.labels == ("agp", "cohort")
    # equal SEs: the common-effect estimate is the plain mean, SE = 0.1/sqrt(2)
    assert r.fixed_estimate == pytest.approx(0.3)
    assert r.fixed_se == pytest.approx(0.1 / math.sqrt(2))
    assert r.weights == pytest.approx((50.0, 50.0))
    assert r.to_dict()["pi95"] is None


def test_z_test_power_by_hand() -> None:
    # effect = z_{0.975}·se: power = Φ(0) + Φ(−2·1.959964) = 0.5 + 4.42877e-5
    assert z_test_power(1.959963984540054 * 0.1, 0.1) == pytest.approx(0.5 + 4.42877e-5, abs=1e-9)
    # effect 0: power = alpha
    assert z_test_power(0.0, 0.2, alpha=0.05) == pytest.approx(0.05)


def test_bad_input() -> None:
    with pytest.raises(StatsInputError, match="at least 2 studies"):
        random_effects([0.1], [0.1])
    with pytest.raises(StatsInputError, match="SE must be > 0"):
        random_effects([0.1, 0.2], [0.1, 0.0])
    with pytest.raises(StatsInputError, match="differ in length"):
        random_effects([0.1, 0.2], [0.1])
    with pytest.raises(StatsInputError, match="method"):
        random_effects([0.1, 0.2], [0.1, 0.1], method="ML")
    with pytest.raises(StatsInputError, match="non-finite"):
        random_effects([0.1, float("nan")], [0.1, 0.1])
    with pytest.raises(StatsInputError, match="labels"):
        random_effects([0.1, 0.2], [0.1, 0.1], labels=["a"])


KNHA = Path(__file__).resolve().parents[1] / "fixtures" / "metafor_knha.json"


@pytest.mark.parametrize("name", [*EXAMPLES, "c8b_real"])
def test_hksj_matches_metafor_knha(name: str) -> None:
    """``ci_method="hksj"`` against ``metafor::rma(method="REML", test="knha")``
    (``tests/fixtures/make_metafor_knha.R``)."""
    ex = json.loads(KNHA.read_text())["examples"][name]
    m = ex["REML_knha"]
    r = random_effects(ex["yi"], ex["sei"], ci_method="hksj")
    assert r.ci_method == "hksj" and r.df == m["df"] == r.k - 1
    assert r.estimate == pytest.approx(m["estimate"], rel=1e-8, abs=1e-12)
    assert r.se == pytest.approx(m["se"], rel=1e-7)
    assert r.ci95 == pytest.approx((m["ci_lb"], m["ci_ub"]), rel=1e-7, abs=1e-12)
    assert r.ci90 == pytest.approx((m["ci90_lb"], m["ci90_ub"]), rel=1e-7, abs=1e-12)
    assert r.z == pytest.approx(m["tval"], rel=1e-7, abs=1e-12)
    assert r.p_value == pytest.approx(m["pval"], rel=1e-7)
    assert r.tau2 == pytest.approx(m["tau2"], rel=1e-7, abs=1e-12)
    normal = random_effects(ex["yi"], ex["sei"])
    assert normal.ci95 == pytest.approx((m["normal_ci_lb"], m["normal_ci_ub"]), rel=1e-7, abs=1e-12)
    # the same point estimate and heterogeneity; only the CI differs
    assert r.estimate == normal.estimate and r.i2 == normal.i2 and r.pi95 == normal.pi95


def test_hksj_is_not_truncated_at_the_normal_se_as_metafor() -> None:
    """The HKSJ SE is used as it is, even when it is smaller than the ordinary SE (metafor's
    ``rma(test="knha")`` default; the "modified" rule would take the larger of the two). In the homogeneous
    example it is 8 times smaller, so a truncating implementation would miss metafor's CI."""
    ex = json.loads(KNHA.read_text())["examples"]["k4_homogeneous"]
    m = ex["REML_knha"]
    hk = random_effects(ex["yi"], ex["sei"], ci_method="hksj")
    normal = random_effects(ex["yi"], ex["sei"])
    assert hk.se < normal.se / 5
    assert hk.se == pytest.approx(m["se"], rel=1e-7)
    assert hk.ci95 == pytest.approx((m["ci_lb"], m["ci_ub"]), rel=1e-7, abs=1e-12)
    truncated_half_width = max(hk.se, normal.se) * (m["ci_ub"] - m["estimate"]) / m["se"]
    assert m["ci_ub"] - m["estimate"] < truncated_half_width / 5


def test_pooled_method_text_names_the_hksj_rule(tmp_path: Path) -> None:
    """The pooled claim's method says which HKSJ rule is used (no truncation, as metafor)."""
    from gutskin.claims.pooling import pool

    def cohort(ds: str, g: float, se: float) -> dict:
        return {
            "id": "CX",
            "dataset": ds,
            "headline": {
                "effect_size": g,
                "effect_size_ci": [g - 1.96 * se, g + 1.96 * se],
                "n": 100,
            },
            "se": se,
            "scale": "hedges_g",
        }

    claim = {"id": "CX", "datasets": ["a", "b"], "sesoi": {"value": 0.2}}
    res = pool(claim, {"a": cohort("a", -0.3, 0.1), "b": cohort("b", 0.2, 0.12)}, {}, tmp_path)
    assert "not truncated" in res["method"] and 'rma(test="knha")' in res["method"]
    # the pooled sensitivity analyses named in the method are the declared ones
    from gutskin.claims.sensitivity import applicable

    assert all(s.name in res["method"] for s in applicable("pooled"))
    assert "leave-one-cohort-out" in res["method"] and "normal CI" in res["method"]


def test_unknown_ci_method_is_an_error() -> None:
    with pytest.raises(StatsInputError, match="ci_method"):
        random_effects([0.1, 0.2], [0.1, 0.1], ci_method="knapp")


def test_c8b_real_data_pooled_numbers() -> None:
    """C8b on the real data: REML with the normal CI reproduces the previous in-runner pooling,
    g = −0.26 (−0.54, 0.02); the Hartung–Knapp CI with k = 2 is (−1.84, 1.32), as metafor gives."""
    ex = json.loads(KNHA.read_text())["examples"]["c8b_real"]
    normal = random_effects(ex["yi"], ex["sei"])
    hk = random_effects(ex["yi"], ex["sei"], ci_method="hksj")
    assert round(normal.estimate, 2) == -0.26
    assert [round(x, 2) for x in normal.ci95] == [-0.54, 0.02]
    assert [round(x, 2) for x in hk.ci95] == [-1.84, 1.32]
