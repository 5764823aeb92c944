"""Verdict-level calibration asserted on enough replicates (issue 11 item 8): C8, C9 and C10.

What is asserted, and why this way. The full real path (:func:`gutskin.calibration.calibrate_verdicts`:
look-alike files → import → diversity → the claim's runner → the ledger) costs about 7 CPU-s per replicate at
a reduced design and ~17 at the real one, so a few hundred replicates per scenario do not fit CI. Here the same
verdict machinery (:func:`gutskin.calibration.calibrate_verdict_machinery`) runs on calibration's
statistic-level simulations at the **real designs** of the ``calibration`` block of config/config.yaml, with
each claim read from config/claims.yaml (model, taxa, sidedness, SESOI) and its headline computed by the
runner's own code, then the ledger's rubric (build_ledger → decide → judge_sensitivity):

* C8 (224 cases / 991 controls): OLS with HC3 on simulated Shannon values, TOST, power, the Huber and
  minimal-covariates sensitivity analyses.
* C9 (171 HMP subjects in run-centre strata 53/47/46/25): the one-sided Mantel test (Spearman) with
  permutations within strata and subject-bootstrap 90/95 % CIs (paired_mirror.mantel_test /
  mantel_headline) on simulated gut and skin distance matrices with a batch shift per stratum, the
  positive control concordant (as in HMP). 199 permutations (the run uses 9,999): p-values move in steps
  of 1/200, so "p < 0.05" means at most 8 of 199 permuted r reach the observed one, a size of exactly
  9/200 = 0.045 under the null instead of 0.05 (slightly conservative; the power a little lower than with
  9,999). 199 subject bootstraps (the run uses 999): the 90 % CI's ends are the 5th/95th percentiles of 199
  resamples, noisier than of 999, which widens the spread of the equivalence and one-sided support calls
  a little in both directions.
* C10 (66 rosacea / 991 controls at 10,000 reads): the pre-registered log-ratio of simulated counts of
  seven taxa with its OLS-HC3 model, TOST, power, and its Huber and other-pseudocount (0.1 and 1)
  sensitivity analyses (differential.record_log_ratio_headline). 600 replicates at the SESOI: its rate
  there sits near 5.5 %, where 200 cannot reliably show it below 10 % (below).

Sensitivity analyses that need community data (other metrics and depths, the matched analysis, C9's other
beta metrics) are left out: a decisive verdict stands only if every analysis agrees, so these rates bound
the full battery's from above. The full path keeps its own (smaller, slow-marked) test in
test_calibration.py and runs at the report's replicate count in the workflow.

Monte-Carlo uncertainty: 200 replicates per scenario (C10 at the SESOI: 600); each error rate is asserted
through its exact (Clopper–Pearson) two-sided 95 % interval: upper bound < 0.10 (a one-sided binomial test
rejecting "rate ≥ 0.10" at 2.5 %) and lower bound ≤ 0.05 (not shown above 5 %). The highest count that passes
is 11/200 (41/600).

Measured (seed 20261207; ``python -m pytest -s -n 0 tests/unit/test_verdict_calibration.py`` prints them):

* C8: null wrongly supported 2/200, contradicted 1/200; at the SESOI wrongly "equivalence shown" 11/200 =
  0.055 (0.028–0.096) — the TOST's nominal α at the boundary, which "≤ 5 %" can only meet in expectation (if
  the true rate is exactly 0.05 this test fails for about 30 % of seeds: the price of asserting the boundary
  at all with 200 replicates). Simulated power 0.705 vs analytic 0.771.
* C9: see :data:`C9_MEASURED`.
* C10: see :data:`C10_MEASURED`. Found here: at a true LFC of the *abundance* ratio equal to the SESOI the
  log-ratio of pseudocounted counts is attenuated (mean estimate −0.89 for a true −1: zeros and the
  pseudocount of 0.5 hold Enterobacteriaceae's rarest samples still), so with Huber alone "equivalence
  shown" was wrong 27/200 = 0.135 (0.091–0.190), shown above 5 %. The declared other-pseudocount analyses
  (0.1 attenuates by about 2 %) must now show equivalence too: 33/600 = 0.055 (0.038–0.076) at this seed and
  34/600 = 0.057 (0.040–0.078) at another (seed 99), the TOST's nominal rate at the boundary as for C8. The
  first 200 of this seed gave 14/200 (upper bound 0.115 > 0.10), hence 600 at the SESOI.

Cost (one BLAS thread, measured on a shared machine): C8 about 50 CPU-s, C9 about 95, C10 about 135.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gutskin import calibration as cal
from gutskin.config import load_and_validate, load_yaml, validate
from gutskin.stats import power

REPO = Path(__file__).resolve().parents[2]
CLAIMS = load_and_validate(REPO / "config" / "claims.yaml", "claims")["claims"]
CONFIG = validate(load_yaml(REPO / "config" / "config.yaml"), "config")
REPLICATES, SEED = 200, 20261207
#: C10's rate at the SESOI sits near 5.5 %, where 200 replicates cannot reliably show it below 10 %; its
#: null keeps 200 (its rates are far from the bounds), so the test stays at about 800 replicates' cost.
C10_REPLICATES = {"null": 200, "sesoi": 600}
#: Counts measured at SEED (documentation of the numbers above; the assertions are the bounds).
C9_MEASURED = (
    "null: supported 8/200 = 0.040 (0.017–0.077), contradicted by an opposite effect 2/200 = 0.010 "
    "(0.001–0.036), contradicted by equivalence (right at r = 0) 99/200; SESOI (population r 0.1): shown "
    "equivalent to none 7/200 = 0.035 (0.014–0.071), supported 115/200, significant in the claimed "
    "direction 128/200 = 0.640 (0.569–0.706), as the full path measured (0.645)"
)
C10_MEASURED = (
    "null (200): supported 0/200 (0–0.018), contradicted (opposite effect) 4/200 = 0.020 (0.005–0.050); "
    "SESOI (600; true LFC −1.0 of the abundance ratio): equivalence shown 33/600 = 0.055 (0.038–0.076) with "
    "the other-pseudocount analyses (before them: 27/200 = 0.135, 0.091–0.190); significant in the claimed "
    "direction 534/600 = 0.890 (0.862–0.914) vs analytic 0.965; mean estimate −0.874"
)

_RUN = """
import json, sys
from gutskin import calibration as cal
claim, config, args = json.load(sys.stdin)
json.dump(cal.calibrate_verdict_machinery(claim, *args, config), sys.stdout)
"""


def _claim(cid: str) -> dict:
    return next(c for c in CLAIMS if c["id"] == cid)


def _machinery(cid: str, replicates: int | dict[str, int] = REPLICATES) -> dict:
    """The claim's verdict machinery at REPLICATES per scenario, in a child process with one BLAS thread:
    the fits are small, and multi-threaded BLAS on a busy machine only spins (C8: 183 CPU-s instead of
    about 50 at load 10)."""
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
    }
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", _RUN],
        input=json.dumps([_claim(cid), CONFIG, [replicates, SEED]], default=str),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    rates: dict = json.loads(out.stdout)
    for sc in rates["scenarios"].values():
        assert sum(v["count"] for v in sc["verdicts"].values()) == sc["replicates"]
    # the measured numbers, shown with -s
    print(cid, json.dumps(rates["checks"], indent=1))
    for name, sc in rates["scenarios"].items():
        counts = {v: e["count"] for v, e in sc["verdicts"].items() if e["count"]}
        power_ = sc["significant_claimed"]
        print(
            f"{cid} {name} n={sc['replicates']} {counts} significant in the claimed direction "
            f"{power_['count']} {power_['ci']} analytic {sc['mean_analytic_power']} "
            f"mean effect {sc['mean_effect_size']}"
        )
    return rates


@pytest.fixture(scope="module")
def c8_rates() -> dict:
    return _machinery("C8")


@pytest.fixture(scope="module")
def c9_rates() -> dict:
    return _machinery("C9")


@pytest.fixture(scope="module")
def c10_rates() -> dict:
    return _machinery("C10", C10_REPLICATES)


def _bounded(entry: dict) -> None:
    """Rate ≤ 0.10 shown at 97.5 % one-sided, and not shown above 5 %."""
    assert entry["ci"][1] < 0.10, entry
    assert entry["ci"][0] <= 0.05, entry


def _check(rates: dict, start: str) -> dict:
    (found,) = [c for c in rates["checks"] if c["what"].startswith(start)]
    return found


# ------------------------------------------------------------------------------------------------
# C8
# ------------------------------------------------------------------------------------------------
def test_null_wrongly_supported_or_contradicted_at_most_5_percent(c8_rates: dict) -> None:
    null = c8_rates["scenarios"]["null"]
    assert null["planted"] == 0.0
    for verdict in ("supported", "contradicted"):
        _bounded(null["verdicts"][verdict])
        assert (
            _check(c8_rates, f"wrongly {verdict} under the null")["count"]
            == (null["verdicts"][verdict]["count"])
        )


def test_true_sesoi_wrongly_shows_equivalence_at_most_5_percent(c8_rates: dict) -> None:
    sesoi = c8_rates["scenarios"]["sesoi"]
    assert sesoi["planted"] == pytest.approx(-0.2)  # C8: negative direction, SESOI 0.2
    # At a true effect exactly at the SESOI the TOST errs at its nominal α (0.05) by construction, and the
    # sensitivity analyses, being highly correlated with the headline, lower that only a little: so the
    # honest claims are "not shown above 5 %" (CI lower bound ≤ 0.05) and "shown below 10 %" (upper < 0.10);
    # a point estimate ≤ 0.05 would pass or fail with the seed.
    _bounded(sesoi["verdicts"]["not_supported"])
    assert sesoi["equivalence_based"] == sesoi["verdicts"]["not_supported"]  # not a mirror claim


def test_simulated_power_agrees_with_the_analytic_power(c8_rates: dict) -> None:
    # C8 is registered two-sided (sided: two), so its analytic power is the two-sided t test's; the
    # simulated one must agree within 3.5 binomial SEs (it includes HC3 and the skewed residuals).
    design = c8_rates["design"]
    assert (design["n_cases"], design["n_controls"]) == (224, 991)  # the real C8 design
    sim = c8_rates["scenarios"]["sesoi"]["significant_claimed"]["rate"]
    expected = power.regression_term_power(0.2, design["n_cases"], design["n_controls"])
    se = math.sqrt(expected * (1 - expected) / REPLICATES)
    assert abs(sim - expected) < 3.5 * se, (sim, expected)


# ------------------------------------------------------------------------------------------------
# C9: a one-sided mirror claim (Mantel r > 0), whose equivalence reads "contradicted"
# ------------------------------------------------------------------------------------------------
def test_c9_null_wrongly_supported_or_contradicted_at_most_5_percent(c9_rates: dict) -> None:
    assert c9_rates["design"]["strata_sizes"] == [53, 47, 46, 25]  # HMP's run centres (C9's design)
    null = c9_rates["scenarios"]["null"]
    assert null["planted"] == 0.0
    _bounded(null["verdicts"]["supported"])
    # a mirror claim's "contradicted" is either an effect opposite to the claim (wrong under the null) or
    # concordance equivalent to none with a concordant positive control (right at a true r of 0)
    _bounded(null["contradicted_opposite"])
    assert (
        null["verdicts"]["contradicted"]["count"]
        == null["contradicted_opposite"]["count"] + null["equivalence_based"]["count"]
    )
    assert null["verdicts"]["not_supported"]["count"] == 0  # the control is concordant
    check = _check(c9_rates, "wrongly contradicted")
    assert check["count"] == null["contradicted_opposite"]["count"]


def test_c9_true_sesoi_wrongly_shows_equivalence_at_most_5_percent(c9_rates: dict) -> None:
    sesoi = c9_rates["scenarios"]["sesoi"]
    assert sesoi["planted"] == pytest.approx(0.1)  # C9: Mantel r, positive, SESOI 0.1
    _bounded(sesoi["equivalence_based"])
    assert (
        _check(c9_rates, "wrongly shown equivalent")["count"]
        == (sesoi["equivalence_based"]["count"])
    )


def test_c9_simulated_power_at_the_sesoi(c9_rates: dict) -> None:
    # No analytic power exists for a stratified Mantel test with a bootstrap CI (the runner prints none;
    # the ledger takes the simulated one). The verdict's "significant" needs the one-sided permutation p
    # below alpha *and* the bootstrap 90 % CI above 0, so its power cannot exceed that of the permutation
    # test alone, whose rejection rate at the null bounds the size: at most 9/200 by construction.
    sesoi, null = (c9_rates["scenarios"][k]["significant_claimed"] for k in ("sesoi", "null"))
    assert null["ci"][0] <= 0.045
    assert sesoi["ci"][0] > 0.5, sesoi  # clearly powered beyond a coin flip at r = 0.1, n = 171


# ------------------------------------------------------------------------------------------------
# C10: the pre-registered log-ratio (two-sided by the register, predicted negative)
# ------------------------------------------------------------------------------------------------
def test_c10_null_wrongly_supported_or_contradicted_at_most_5_percent(c10_rates: dict) -> None:
    null = c10_rates["scenarios"]["null"]
    assert null["planted"] == 0.0
    for verdict in ("supported", "contradicted"):
        _bounded(null["verdicts"][verdict])


def test_c10_true_sesoi_wrongly_shows_equivalence_at_most_5_percent(c10_rates: dict) -> None:
    # Failed with Huber as the only sensitivity analysis (27/200 = 0.135, 0.091–0.190): the log-ratio at the
    # headline's pseudocount of 0.5 is attenuated, so its TOST shows equivalence too often at a true LFC of
    # −1; the declared other-pseudocount analyses (0.1 attenuates by about 2 %) must now agree.
    sesoi = c10_rates["scenarios"]["sesoi"]
    assert sesoi["planted"] == pytest.approx(-1.0)  # C10: log fold change, negative, SESOI 1.0
    _bounded(sesoi["equivalence_based"])


def test_c10_analytic_power_overstates_what_the_verdict_gets(c10_rates: dict) -> None:
    # The runner's power (two-sample t at LFC 1 / residual SD) ignores the attenuation by zeros and the
    # pseudocount; the simulated power, which the ledger prints when calibration has it, is clearly lower.
    sesoi = c10_rates["scenarios"]["sesoi"]
    sim = sesoi["significant_claimed"]
    assert sesoi["mean_effect_size"] > -0.95  # attenuated towards 0 from the true −1.0
    assert sim["ci"][1] < sesoi["mean_analytic_power"], (sim, sesoi["mean_analytic_power"])
    assert sim["ci"][0] > 0.8, sim  # still above the power target


def test_machinery_refuses_other_analyses() -> None:
    c3 = next(c for c in CLAIMS if c.get("analysis") not in cal._MACHINERY and c.get("analysis"))
    with pytest.raises(Exception, match="claims only"):
        cal.calibrate_verdict_machinery(c3, 1, 1, CONFIG)
