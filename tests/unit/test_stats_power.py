"""Power and minimum detectable effects against R's power.t.test and CLAIMS.md §3.6.

R values: ``tests/fixtures/r_stats_reference.json`` (``stats::power.t.test(strict = TRUE)``, the
noncentral t evaluated with ``pt(ncp = )`` and solved with ``uniroot``).

CLAIMS.md §3.6 tables ("normal approximation", α = 0.05 two-sided, 80 % power):
n per group ≈ 1,570 (g 0.1), 392 (0.2), 174 (0.3), 63 (0.5), 25 (0.8); 525 at 90 % power for 0.2;
minimum detectable g 0.83 (12/251), 0.89 (20/20), ≈ 0.54 (54/50), 0.60 (43/43).
"""

from __future__ import annotations

import math

import pytest

from gutskin.stats import (
    StatsInputError,
    correlation_power,
    min_detectable_g,
    min_detectable_r,
    n_per_group,
    regression_term_power,
    two_sample_power,
)
from tests.support.fixtures import reference

REF = reference("r_stats_reference.json")["power"]
REF_ALL = reference("r_stats_reference.json")

CLAIMS_N80 = {0.1: 1570, 0.2: 392, 0.3: 174, 0.5: 63, 0.8: 25}
CLAIMS_MDG = {(12, 251): 0.83, (20, 20): 0.89, (54, 50): 0.54, (43, 43): 0.60}


@pytest.mark.parametrize("g", ["0.1", "0.2", "0.3", "0.5", "0.8"])
def test_n_per_group_matches_r_power_t_test(g: str) -> None:
    assert n_per_group(float(g), power=0.8) == pytest.approx(REF["n_per_group_80"][g], rel=1e-7)


def test_n_per_group_90_percent_matches_r() -> None:
    assert n_per_group(0.2, power=0.9) == pytest.approx(REF["n_per_group_90"]["0.2"], rel=1e-7)


@pytest.mark.parametrize(("g", "n_table"), list(CLAIMS_N80.items()))
def test_claims_table_n_per_group(g: float, n_table: int) -> None:
    # the table is the normal approximation: it rounds to the table exactly ...
    assert round(n_per_group(g, method="normal")) == n_table
    # ... and the exact t-based n is at most ~1 more per group
    n_t = n_per_group(g)
    assert n_table - 0.5 <= n_t <= n_table + 1.5


def test_claims_table_n_90_percent() -> None:
    assert round(n_per_group(0.2, power=0.9, method="normal")) == 525


def test_power_at_the_table_n_is_80_percent() -> None:
    # spec check: ~392 per group gives 80 % power for g = 0.2, ~63 for 0.5, ~25 for 0.8
    assert two_sample_power(0.2, 392, 392) == pytest.approx(0.80, abs=0.005)
    assert two_sample_power(0.5, 63, 63) == pytest.approx(0.80, abs=0.01)
    assert two_sample_power(0.8, 25, 25) == pytest.approx(0.80, abs=0.02)


def test_power_given_n_matches_r() -> None:
    assert two_sample_power(0.5, 20, 20) == pytest.approx(REF["power_n20_d05"], rel=1e-9)
    for case in REF["power_unequal"]:
        assert two_sample_power(case["g"], case["n1"], case["n2"]) == pytest.approx(
            case["power"], rel=1e-9
        )


@pytest.mark.parametrize("i", range(4))
def test_min_detectable_g_matches_r(i: int) -> None:
    case = REF["min_detectable_g_t"][i]
    assert min_detectable_g(case["n1"], case["n2"]) == pytest.approx(case["g"], rel=1e-8)
    case_n = REF["min_detectable_g_normal"][i]
    assert min_detectable_g(case_n["n1"], case_n["n2"], method="normal") == pytest.approx(
        case_n["g"], rel=1e-8
    )


@pytest.mark.parametrize(("design", "g_table"), list(CLAIMS_MDG.items()))
def test_claims_table_min_detectable_g(design: tuple[int, int], g_table: float) -> None:
    assert min_detectable_g(*design, method="normal") == pytest.approx(g_table, abs=0.011)
    # exact t-based values are a little larger in small samples (20/20: 0.909)
    g_t = min_detectable_g(*design)
    assert g_table - 0.011 <= g_t <= g_table + 0.025


def test_r_delta_for_n20() -> None:
    assert min_detectable_g(20, 20) == pytest.approx(REF["delta_n20_p80"], rel=1e-8)


def test_power_of_zero_effect_is_alpha_and_sign_does_not_matter() -> None:
    assert two_sample_power(0.0, 30, 40) == pytest.approx(0.05, abs=1e-12)
    assert two_sample_power(-0.4, 30, 40) == pytest.approx(two_sample_power(0.4, 30, 40))
    assert two_sample_power(0.4, 30, 40, alpha=0.01) < two_sample_power(0.4, 30, 40)


def test_large_samples_agree_with_normal_approximation() -> None:
    # df ~ 2e5: the t test is the z test; scipy's noncentral t alone returns NaN in the far tail here
    for g in (0.01, 0.0987, 0.3):
        t_pow = two_sample_power(g, 100_000, 100_000)
        assert math.isfinite(t_pow)
        assert t_pow == pytest.approx(
            two_sample_power(g, 100_000, 100_000, method="normal"), abs=1e-4
        )
    assert min_detectable_g(100_000, 100_000) == pytest.approx(
        min_detectable_g(100_000, 100_000, method="normal"), rel=1e-4
    )


def test_regression_term_power_is_two_sample_power() -> None:
    assert regression_term_power(0.3, 120, 900) == two_sample_power(0.3, 120, 900)


@pytest.mark.parametrize("i", range(3))
def test_correlation_power_matches_r_formula(i: int) -> None:
    case = REF_ALL["correlation_power"][i]
    got = correlation_power(case["r"], case["n"], alternative=case["alternative"])
    assert got == pytest.approx(case["power"], rel=1e-10)


def test_correlation_power_by_hand() -> None:
    # r = 0.3, n = 84: z = atanh(0.3) * 9 = 2.7971; power ≈ Φ(2.7971 - 1.95996) = Φ(0.8371) ≈ 0.7987
    z = math.atanh(0.3) * 9
    expected = 0.5 * (1 + math.erf((z - 1.959963984540054) / math.sqrt(2)))
    expected += 0.5 * (1 + math.erf((-z - 1.959963984540054) / math.sqrt(2)))
    assert correlation_power(0.3, 84) == pytest.approx(expected, rel=1e-10)
    assert correlation_power(0.3, 84) == pytest.approx(0.80, abs=0.005)


def test_min_detectable_r_inverts_power() -> None:
    r = min_detectable_r(84)
    assert correlation_power(r, 84) == pytest.approx(0.8, abs=1e-9)
    assert r == pytest.approx(0.3, abs=0.003)


def test_bad_inputs_raise() -> None:
    with pytest.raises(StatsInputError):
        two_sample_power(0.5, 1, 20)
    with pytest.raises(StatsInputError):
        two_sample_power(float("nan"), 10, 20)
    with pytest.raises(StatsInputError):
        n_per_group(0.0)
    with pytest.raises(StatsInputError):
        correlation_power(0.2, 3)
    with pytest.raises(StatsInputError):
        min_detectable_g(10, 10, power=1.2)
    with pytest.raises(StatsInputError):
        two_sample_power(0.5, 10, 10, method="z")


# ------------------------------------------------------------------------------------------------
# issue 11 item 12: references from independent R code (pwr::pwr.t2n.test, stats::t.test TOST)
# ------------------------------------------------------------------------------------------------
_PWR = reference("r_tost_pwr.json")


@pytest.mark.parametrize("row", _PWR["power"], ids=lambda r: f"{r['n1']}v{r['n2']}")
def test_two_sample_power_matches_pwr(row: dict) -> None:
    from gutskin.stats.power import regression_term_power

    got = regression_term_power(row["d"], row["n1"], row["n2"], alpha=0.05)
    assert got == pytest.approx(row["two_sided"], abs=1e-6)


@pytest.mark.parametrize("row", _PWR["tost"], ids=lambda r: f"bound{r['bound']}")
def test_tost_matches_two_one_sided_t_tests_in_r(row: dict) -> None:
    import numpy as np

    from gutskin.stats.equivalence import tost

    x, y = np.asarray(_PWR["x"]), np.asarray(_PWR["y"])
    n1, n2 = len(x), len(y)
    sp2 = ((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2)
    se = float(np.sqrt(sp2 * (1 / n1 + 1 / n2)))
    r = tost(float(x.mean() - y.mean()), se, n1 + n2 - 2, row["bound"])
    assert r.p_lower == pytest.approx(row["p_lower"], rel=1e-7)
    assert r.p_upper == pytest.approx(row["p_upper"], rel=1e-7)
    assert r.p_value == pytest.approx(row["p_value"], rel=1e-7)
    assert list(r.ci) == pytest.approx(row["ci90"], abs=1e-10)


# ------------------------------------------------------------------------------------------------
# one-sided power of a directional claim (claims/register.py): pwr's alternative = "greater"
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("row", _PWR["power"], ids=lambda r: f"{r['n1']}v{r['n2']}")
def test_one_sided_two_sample_power_matches_pwr_greater(row: dict) -> None:
    got = regression_term_power(row["d"], row["n1"], row["n2"], alternative="greater")
    assert got == pytest.approx(row["greater"], abs=1e-6)
    # the sign of g does not matter: "greater" means "in the direction of the effect"
    assert two_sample_power(-row["d"], row["n1"], row["n2"], alternative="greater") == got
    assert got > row["two_sided"]  # one tail at α beats two tails at α/2 for a real effect


@pytest.mark.parametrize("row", _PWR["one_sided"], ids=lambda r: f"d{r['d']}n{r['n']}")
def test_one_sided_wald_z_and_t_power_match_pwr(row: dict) -> None:
    from gutskin.stats.logistic import wald_power
    from gutskin.stats.meta import z_test_power
    from gutskin.stats.mixed import mixed_power

    d, n = row["d"], row["n"]
    se = 1 / math.sqrt(n)
    for f in (wald_power, z_test_power):
        assert f(d, se) == pytest.approx(row["norm_two_sided"], abs=1e-9)
        assert f(d, se, alternative="greater") == pytest.approx(row["norm_greater"], abs=1e-9)
    assert mixed_power(d, se, n - 1) == pytest.approx(row["t1_two_sided"], abs=1e-7)
    assert mixed_power(d, se, n - 1, alternative="greater") == pytest.approx(
        row["t1_greater"], abs=1e-7
    )


def test_power_alternative_is_checked() -> None:
    from gutskin.stats.logistic import wald_power
    from gutskin.stats.meta import z_test_power
    from gutskin.stats.mixed import mixed_power

    with pytest.raises(StatsInputError, match="alternative"):
        two_sample_power(0.2, 50, 50, alternative="less")
    for call in (
        lambda: wald_power(0.2, 0.1, alternative="one"),
        lambda: z_test_power(0.2, 0.1, alternative="one"),
        lambda: mixed_power(0.2, 0.1, 10, alternative="one"),
    ):
        with pytest.raises(StatsInputError, match="alternative"):
            call()
