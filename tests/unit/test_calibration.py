"""Calibration (gutskin.calibration): false-positive rates and power of the primary tests by simulation.

Honest thresholds: with R null replicates at a true rate of 0.05 the binomial SE of the observed FPR is
sqrt(0.05 · 0.95 / R); the accepted window [0.03, 0.07] is ±0.02 around 0.05. Power is compared with the
analytic value of gutskin.stats.power within 3.5 binomial SEs. Seeds are fixed, so the outcomes are
reproducible; the windows are wide enough that a correct test passes for almost every seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from gutskin import calibration as cal
from gutskin.config import load_and_validate, load_yaml, validate
from gutskin.stats import paired, power

REPO = Path(__file__).resolve().parents[2]
CLAIMS = load_and_validate(REPO / "config" / "claims.yaml", "claims")["claims"]
DATASETS = load_and_validate(REPO / "config" / "datasets.yaml", "datasets")["datasets"]
CONFIG = validate(load_yaml(REPO / "config" / "config.yaml"), "config")


def _claim(cid: str) -> dict:
    return next(c for c in CLAIMS if c["id"] == cid)


def test_models_are_read_from_the_claims_file_not_copied() -> None:
    # The copies ALPHA_FORMULA / LOG_RATIO_SPECS are gone; the C8 model follows config/claims.yaml.
    assert not hasattr(cal, "ALPHA_FORMULA") and not hasattr(cal, "LOG_RATIO_SPECS")
    df = cal.simulate_alpha_cohort(20, 60, 0.0, np.random.default_rng(1))
    c8 = _claim("C8")
    f = cal.alpha_formula(c8, df)
    assert f.startswith(f"{c8['params']['metric']} ~ any_condition")
    for cov in c8["params"]["covariates"]:
        assert cov in f
    changed = {"params": {**c8["params"], "covariates": ["age", "bmi"]}}
    assert cal.alpha_formula(changed, df) == "shannon ~ any_condition + age + bmi"
    # a covariate the simulation cannot draw is an error, not a silently different model
    with pytest.raises(ValueError, match="diet"):
        cal.calibrate_alpha_ols(20, 60, 10, [], seed=1, covariates=["age", "diet"])


def test_clopper_pearson_interval_matches_hand_values() -> None:
    # k = 0 of 10: upper = 1 − 0.025^(1/10) = 0.30850; k = 10 of 10: lower = 0.025^(1/10) = 0.69150.
    lo, hi = cal.binomial_ci(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-9)
    lo, hi = cal.binomial_ci(10, 10)
    assert lo == pytest.approx(0.025 ** (1 / 10), abs=1e-9) and hi == 1.0
    # R: binom.test(5, 10)$conf.int = 0.1870860 0.8129140
    lo, hi = cal.binomial_ci(5, 10)
    assert (lo, hi) == pytest.approx((0.1870860, 0.8129140), abs=1e-6)
    with pytest.raises(ValueError):
        cal.binomial_ci(11, 10)


def test_ols_hc3_false_positive_rate_is_nominal() -> None:
    # 1,000 null cohorts of 30 cases / 90 controls with skewed residuals whose SD is 1.2× larger in the
    # smaller group (where ordinary OLS standard errors fail). SE of the FPR = sqrt(.05·.95/1000) = 0.0069,
    # so [0.03, 0.07] is ±2.9 SE.
    r = cal.calibrate_alpha_ols(30, 90, 1000, [], seed=101, sd_ratio=1.2)
    assert r["replicates"] == 1000 and r["planted"] == []
    assert 0.03 <= r["fpr"] <= 0.07, r
    assert r["fpr"] == r["null_rejections"] / 1000
    assert r["fpr_ci"][0] < r["fpr"] < r["fpr_ci"][1]


def test_ols_hc3_power_matches_the_analytic_power() -> None:
    # Equal variances, g = 0.25 with 200 vs 200: the exact two-sample t power (noncentral t) is the target.
    # At this size HC3's small-sample inflation of the SE (about 1/(1 − k/n), k = 8 coefficients) and the
    # covariates' few degrees of freedom change the power by well under 0.01. 400 replicates: SE of the
    # simulated power = sqrt(.7·.3/400) = 0.023; accepted within 3.5 SE.
    r = cal.calibrate_alpha_ols(200, 200, 400, [0.25], seed=102, sd_ratio=1.0)
    p = r["planted"][0]
    expected = power.two_sample_power(0.25, 200, 200)
    assert p["analytic_power"] == pytest.approx(expected)
    se = math.sqrt(expected * (1 - expected) / 400)
    assert abs(p["power"] - expected) < 3.5 * se, (p, expected)
    assert p["mean_estimate_g"] == pytest.approx(0.25, abs=0.03)
    # the null half of the same run: equal variances, skewed residuals (SE 0.011)
    assert 0.02 <= r["fpr"] <= 0.09


def test_mantel_false_positive_rate_is_nominal_with_strata() -> None:
    # 2,000 null cohorts of 40 subjects in 3 strata with a batch shift of 1 SD per stratum and site;
    # 199 permutations within strata give P(p < 0.05) = 9/200 = 0.045 exactly under exchangeability.
    # SE = sqrt(.045·.955/2000) = 0.0046.
    r = cal.calibrate_mantel([15, 15, 10], 2000, [], permutations=199, seed=103, batch_shift=1.0)
    assert 0.03 <= r["fpr"] <= 0.07, r


def test_the_batch_effect_would_fool_unrestricted_permutations() -> None:
    # The same null cohorts tested WITHOUT strata: the shared batch structure makes the two matrices look
    # concordant, so the FPR is far above 0.05. This shows the simulated null is not trivially easy.
    rejections = 0
    for k, ss in enumerate(np.random.SeedSequence(104).spawn(200)):
        dx, dy, _ = cal.simulate_paired_distances(
            [15, 15, 10], 0.0, np.random.default_rng(ss), batch_shift=1.0
        )
        res = paired.mantel(dx, dy, permutations=99, seed=k, alternative="two-sided", n_boot=0)
        rejections += res.p_value < 0.05
    assert rejections / 200 > 0.2


def test_mantel_coupling_gives_the_target_correlation() -> None:
    # For a pair of subjects the profile differences are Δu and aΔu + √(1−a²)Δe; the Pearson correlation
    # of their squared norms is exactly a² (Cov(X², Y²) = 2ρ²σ⁴ per axis for a bivariate normal).
    # The solved a must give the target Spearman r on fresh draws, and a² must exceed it slightly.
    a = cal.mantel_coupling(0.2)
    rng = np.random.default_rng(7)
    du = rng.standard_normal((200_000, 10))
    s = a * du + math.sqrt(1 - a * a) * rng.standard_normal((200_000, 10))
    g2, s2 = (du**2).sum(axis=1), (s**2).sum(axis=1)
    assert stats.spearmanr(g2, s2)[0] == pytest.approx(0.2, abs=0.01)
    assert np.corrcoef(g2, s2)[0, 1] == pytest.approx(a * a, abs=0.01)
    assert a * a > 0.2
    assert cal.mantel_coupling(0.0) == 0.0


def test_mantel_power_grows_with_the_planted_r() -> None:
    r = cal.calibrate_mantel([30, 30], 150, [0.1, 0.3], permutations=99, seed=105, batch_shift=0.0)
    low, high = r["planted"]
    assert low["power"] < high["power"]
    assert high["power"] > 0.9
    # the mean Mantel r of the planted cohorts is near the population value
    assert high["mean_r"] == pytest.approx(0.3, abs=0.04)


def test_log_ratio_calibration_runs_the_runner_model() -> None:
    # 200 null cohorts: SE of the FPR = 0.0154, so [0.01, 0.10] is a loose but real check; the planted
    # LFC of −2 must be detected nearly always, and its estimate is attenuated by zeros and the
    # pseudocount, never inflated.
    r = cal.calibrate_log_ratio(40, 120, 200, [2.0], seed=106, taxa=_claim("C10")["params"]["taxa"])
    assert 0.01 <= r["fpr"] <= 0.10, r
    p = r["planted"][0]
    assert p["effect"] == "LFC = −2" and p["value"] == -2.0
    assert p["power"] > 0.8
    assert -2.2 < p["mean_estimate"] < -1.0
    # Enterobacteriaceae is absent from a sizeable share of samples, as in American Gut
    assert 0.1 < p["mean_zero_share"] < 0.5


def test_run_calibration_writes_the_documented_json(tmp_path: Path) -> None:
    block = validate({}, "config")["calibration"]
    assert block == cal.DEFAULTS
    small = {
        "alpha_ols": {"replicates": 20, "n_cases": 20, "n_controls": 40},
        "mantel": {"replicates": 20, "strata_sizes": [10, 10], "permutations": 49},
        "log_ratio": {"replicates": 20, "n_cases": 20, "n_controls": 40, "depth": 2000},
    }
    small["verdicts"] = {"replicates": 0}
    out = cal.run_calibration(small, seed=5, alpha=0.05, claims=CLAIMS)
    assert out["alpha"] == 0.05 and out["seed"] == 6  # seed + seed_offset (default 1)
    assert [t["claim"] for t in out["tests"]] == ["C8", "C9", "C10"]
    for t in out["tests"]:
        assert {
            "claim",
            "test",
            "replicates",
            "null_rejections",
            "fpr",
            "fpr_ci",
            "planted",
        } <= set(t)
        assert {"design", "seconds"} <= set(t)
        assert t["replicates"] == 20 and len(t["planted"]) == 2
        for p in t["planted"]:
            assert {"effect", "power", "power_ci"} <= set(p)
            assert p["power_ci"][0] <= p["power"] <= p["power_ci"][1]
    assert out["tests"][0]["planted"][0]["effect"] == "g = 0.2"
    path = tmp_path / "calibration.json"
    cal.write_calibration(out, path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(out))
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.json"]
    # the same seed gives the same numbers, in one process or two
    again = cal.run_calibration(small, seed=5, alpha=0.05, workers=2, claims=CLAIMS)
    strip = [{k: v for k, v in t.items() if k != "seconds"} for t in out["tests"]]
    assert [{k: v for k, v in t.items() if k != "seconds"} for t in again["tests"]] == strip


# ------------------------------------------------------------------------------------------------
# verdict level, through the real path
# ------------------------------------------------------------------------------------------------
def _tiny(**kw: object) -> dict:
    block = json.loads(json.dumps(cal.DEFAULTS["verdicts"]))
    block.update(
        claims=["C8"],
        replicates=2,
        n_agp_subjects=240,
        n_hmp_subjects=20,
        n_features=60,
        rarefaction_iterations=1,
        permutations=19,
        bootstrap=19,
    )
    block.update(kw)
    return block


def test_design_key_changes_with_what_the_numbers_depend_on() -> None:
    base = cal.verdict_design(_tiny(), CLAIMS, DATASETS, CONFIG, seed=3)
    key = cal.design_key(base)
    assert cal.design_key(cal.verdict_design(_tiny(), CLAIMS, DATASETS, CONFIG, seed=3)) == key
    # the replicate count is not in the key: more replicates reuse the ones computed before
    assert (
        cal.design_key(cal.verdict_design(_tiny(replicates=9), CLAIMS, DATASETS, CONFIG, 3)) == key
    )
    for other in (
        cal.verdict_design(_tiny(n_agp_subjects=241), CLAIMS, DATASETS, CONFIG, seed=3),
        cal.verdict_design(_tiny(), CLAIMS, DATASETS, CONFIG, seed=4),
        cal.verdict_design(_tiny(permutations=29), CLAIMS, DATASETS, CONFIG, seed=3),
        cal.verdict_design(_tiny(), CLAIMS, DATASETS, {**CONFIG, "alpha": 0.01}, seed=3),
    ):
        assert cal.design_key(other) != key
    # the model comes from the claims file: editing the claim's covariates changes the key
    edited = [
        {**c, "params": {**c["params"], "covariates": ["age"]}} if c["id"] == "C8" else c
        for c in CLAIMS
    ]
    assert cal.design_key(cal.verdict_design(_tiny(), edited, DATASETS, CONFIG, seed=3)) != key
    # the same claims read from a copy of the claims file elsewhere: the same key (the file's path is not
    # what the numbers depend on; a run with an edited copy recomputed an hour of simulations)
    moved = {**CONFIG, "claims_file": "/elsewhere/claims.yaml", "datasets_file": "/x/datasets.yaml"}
    assert cal.design_key(cal.verdict_design(_tiny(), CLAIMS, DATASETS, moved, seed=3)) == key
    assert base["claims"][0]["datasets"] == ["agp_like"]
    with pytest.raises(ValueError, match="look-alike"):
        cal.verdict_design(_tiny(claims=["C18b"]), CLAIMS, DATASETS, CONFIG, seed=3)


@pytest.mark.slow
def test_verdict_calibration_runs_the_claim_and_is_cached_and_worker_independent(
    tmp_path: Path,
) -> None:
    # Two replicates of the null and two at a true g = SESOI (−0.2) through import, diversity, the C8
    # runner and the ledger verdict; then the same with two workers from an empty cache (identical
    # numbers), then a rerun that only reads the cache (no replicate recomputed).
    cache1, cache2 = tmp_path / "c1", tmp_path / "c2"
    one = cal.calibrate_verdicts(_tiny(), CLAIMS, DATASETS, CONFIG, 3, workers=1, cache_dir=cache1)
    two = cal.calibrate_verdicts(_tiny(), CLAIMS, DATASETS, CONFIG, 3, workers=2, cache_dir=cache2)
    strip = [{k: v for k, v in e.items() if k != "seconds"} for e in one]
    assert [{k: v for k, v in e.items() if k != "seconds"} for e in two] == strip
    (entry,) = one
    assert entry["claim"] == "C8" and entry["replicates"] == 2
    assert set(entry["scenarios"]) == {"null", "sesoi"}
    assert (
        entry["scenarios"]["sesoi"]["planted"] == -0.2
    )  # SESOI, in the claimed (negative) direction
    for sc in entry["scenarios"].values():
        assert sum(v["count"] for v in sc["verdicts"].values()) == 2
    assert [c["what"] for c in entry["checks"]] == [
        "wrongly supported under the null",
        "wrongly contradicted under the null",
        "wrongly 'not supported (equivalence shown)' at a true SESOI",
    ]
    files = sorted((cache1 / f"verdicts-{entry['design_key']}").iterdir())
    assert [f.name for f in files] == [
        "null-00000.json",
        "null-00001.json",
        "sesoi_C8-00000.json",
        "sesoi_C8-00001.json",
    ]
    # a corrupt cache entry is recomputed, not trusted
    files[0].write_text("{not json")
    again = cal.calibrate_verdicts(_tiny(), CLAIMS, DATASETS, CONFIG, 3, cache_dir=cache1)
    assert [{k: v for k, v in e.items() if k != "seconds"} for e in again] == strip
    assert again[0]["seconds"] < 60
    # the simulated power at the SESOI is what calibration.json offers the report
    doc = {"verdicts": one}
    assert cal.simulated_power(doc, "C8") == entry["simulated_power"]
    assert cal.simulated_power(doc, "C9") is None


def test_statistic_level_results_are_cached_by_design(tmp_path: Path) -> None:
    small = {
        "alpha_ols": {"replicates": 10, "n_cases": 20, "n_controls": 40, "planted": [0.2]},
        "mantel": {"replicates": 10, "strata_sizes": [8, 8], "permutations": 19, "planted": [0.1]},
        "log_ratio": {"replicates": 10, "n_cases": 20, "n_controls": 40, "depth": 500},
        "verdicts": {"replicates": 0},
    }
    cold = cal.run_calibration(small, seed=5, claims=CLAIMS, cache_dir=tmp_path)
    (entry,) = list(tmp_path.iterdir())
    assert entry.name.startswith("tests-") and entry.suffix == ".json"
    # a warm run reads the file: tamper with it and the tampered numbers come back
    doc = json.loads(entry.read_text())
    doc[0]["null_rejections"] = 999
    entry.write_text(json.dumps(doc))
    warm = cal.run_calibration(small, seed=5, claims=CLAIMS, cache_dir=tmp_path)
    assert warm["tests"][0]["null_rejections"] == 999
    # another design (one more replicate, or another seed) is another entry, computed afresh
    small["alpha_ols"]["replicates"] = 11
    other = cal.run_calibration(small, seed=5, claims=CLAIMS, cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 2
    assert other["tests"][0]["replicates"] == 11
    assert other["tests"][1] == {**cold["tests"][1], "seconds": other["tests"][1]["seconds"]}
    # a corrupt entry is recomputed, never trusted
    entry.write_text("{not json")
    small["alpha_ols"]["replicates"] = 10
    again = cal.run_calibration(small, seed=5, claims=CLAIMS, cache_dir=tmp_path)
    assert again["tests"][0]["null_rejections"] == cold["tests"][0]["null_rejections"]


def test_a_pooled_claim_is_calibrated_on_the_cohort_design_the_simulation_has() -> None:
    """C9 pools HMP and the EB cohort; only HMP has a look-alike, so the verdict calibration runs C9 as
    its HMP cohort job runs it (EB's per-dataset settings not applied) and says the EB cohort is not
    simulated, instead of stopping the run."""
    design = cal.verdict_design(_tiny(claims=["C9"]), CLAIMS, DATASETS, CONFIG, seed=3)
    c9 = design["claims"][0]
    assert _claim("C9")["datasets"] == ["hmp_v35", "eb_kunstner2022"]  # the premise
    assert c9["datasets"] == ["hmp_like"]
    assert c9["calibrated_on"] == "hmp_v35" and c9["not_simulated"] == ["eb_kunstner2022"]
    assert "per_dataset" not in (c9.get("params") or {})


# ------------------------------------------------------------------------------------------------
# C9 and C10 calibrated at their SESOI too (issue 11 item 8): knobs on their effect scales
# ------------------------------------------------------------------------------------------------
def test_c9_and_c10_get_a_scenario_at_their_sesoi(monkeypatch: pytest.MonkeyPatch) -> None:
    """The knobs are read from the claims: C9's SESOI (Mantel r 0.1) → the solved gut–skin coupling;
    C10's SESOI (log-ratio 1.0, predicted lower) → −1.0 in its case level, on its pre-registered taxa."""
    asked: list[tuple] = []

    def fake(r: float, n_features: int = 300, beta_metric: str = "braycurtis") -> float:
        asked.append((r, n_features, beta_metric))
        return 0.6

    monkeypatch.setattr(cal, "hmp_coupling_for_mantel_r", fake)
    design = cal.verdict_design(_tiny(claims=["C8", "C9", "C10"]), CLAIMS, DATASETS, CONFIG, 3)
    scen = dict(cal._scenarios(design))
    assert set(scen) == {"null", "sesoi_C8", "sesoi_C9", "sesoi_C10"} and scen["null"] == {}
    assert scen["sesoi_C8"] == {"condition_effect_g": -0.2}
    assert scen["sesoi_C9"] == {"gut_skin_coupling": 0.6}
    # C10's label-shuffle null check (a control the verdict never reads) is left out of the replicates
    c10 = next(c for c in design["claims"] if c["id"] == "C10")
    assert c10["params"]["null_permutations"] == 0
    assert asked == [(0.1, 60, "braycurtis")]
    assert scen["sesoi_C10"] == {
        "log_ratio_effect": {"rosacea": -1.0},
        "log_ratio_taxa": {
            "g__Faecalibacterium": "lower",
            "g__Roseburia": "lower",
            "f__Lachnospiraceae": "lower",
            "f__Ruminococcaceae": "lower",
            "f__Enterobacteriaceae": "higher",
        },
    }


def _log_ratio_shift(scenario: object) -> float:
    from gutskin import synthetic

    d = synthetic.simulate(scenario)["agp_like"]  # type: ignore[arg-type]
    lin = [";".join(t) for t in d.taxonomy]
    low = np.array(
        [
            any(k in s for k in ("g__Faecalibacterium", "g__Roseburia", "f__Lachno", "f__Rumino"))
            for s in lin
        ]
    )
    high = np.array(["f__Enterobacteriaceae" in s for s in lin])
    c = d.counts + 0.5
    lr = np.log(c[:, low]).mean(axis=1) - np.log(c[:, high]).mean(axis=1)
    fecal = (d.truth["site"] == "feces").to_numpy()
    cond = d.truth["condition"].to_numpy()
    return float(lr[fecal & (cond == "rosacea")].mean() - lr[fecal & (cond == "none")].mean())


def test_c10_knob_plants_a_log_ratio_difference_and_leaves_the_default_alone() -> None:
    from gutskin import synthetic

    # the default look-alike is unchanged by the new fields (same key, hence the same file URLs)
    assert synthetic.Scenario().key() == "s20261126-e628730f4c"
    design = cal.verdict_design(_tiny(claims=["C10"]), CLAIMS, DATASETS, CONFIG, 3)
    fields = dict(cal._scenarios(design))["sesoi_C10"]
    base = {"seed": 11, "n_agp_subjects": 1500, "condition_effect_g": 0.0}
    null = _log_ratio_shift(synthetic.Scenario(**base))
    planted = _log_ratio_shift(synthetic.Scenario(**base, **fields))
    # true change −1.0 on the relative abundances; zeros and the pseudocount attenuate the count-based
    # log-ratio (about −0.8 here), never reverse or inflate it
    assert -1.05 < planted - null < -0.5, (null, planted)
    with pytest.raises(Exception, match="log_ratio_taxa"):
        synthetic.Scenario(log_ratio_effect={"rosacea": -1.0})


@pytest.mark.slow
def test_solved_coupling_plants_the_target_mantel_r() -> None:
    """The coupling solved for C9's SESOI gives that Mantel r on average over look-alikes with other seeds
    (8 seeds of 400 subjects; the r of one look-alike varies by about 0.03 between seeds, so the mean of 8
    has an SD near 0.01 and ±0.03 is about 3 SDs)."""
    from scipy.spatial.distance import pdist

    from gutskin import synthetic

    k = cal.hmp_coupling_for_mantel_r(0.1)
    assert 0 < k < 1
    rs = []
    for seed in range(101, 109):
        d = synthetic.simulate(
            synthetic.Scenario(
                seed=seed, n_agp_subjects=10, n_hmp_subjects=400, gut_skin_coupling=k
            )
        )["hmp_like"]
        t = d.truth.reset_index()
        t["row"] = np.arange(len(t))
        t = t[t["visit"] == t["visit"].min()]
        gut = t[t["site"] == "Stool"].groupby("subject_index")["row"].first()
        skin = t[t["site"].str.endswith("crease")].groupby("subject_index")["row"].first()
        both = gut.index.intersection(skin.index)
        p = d.counts / d.counts.sum(axis=1, keepdims=True)
        rs.append(
            stats.spearmanr(
                pdist(p[gut.loc[both].to_numpy()], "braycurtis"),
                pdist(p[skin.loc[both].to_numpy()], "braycurtis"),
            )[0]
        )
    assert np.mean(rs) == pytest.approx(0.1, abs=0.03), rs


def test_a_mirror_claims_equivalence_is_right_under_the_null_and_wrong_at_the_sesoi() -> None:
    """C9 is a mirror claim: concordance equivalent to none (90 % CI inside ±0.1) with a concordant
    positive control reads "contradicted". Under the null (r = 0) that is the right reading, so only a
    contradiction by an opposite effect counts as wrong; at a true r equal to the SESOI it is the error
    "not supported (equivalence shown)" is for other claims. For a claim that is not a mirror claim (C10)
    every "contradicted" is an opposite effect and counts under the null."""

    def row(verdict: str, ci95: list[float], ci90: list[float], p: float) -> dict:
        est = (ci95[0] + ci95[1]) / 2
        return {"verdict": verdict, "p_value": p, "effect_size": est, "ci95": ci95, "ci90": ci90}

    equivalent = row("contradicted", [-0.05, 0.07], [-0.04, 0.06], 0.4)
    opposite = row("contradicted", [-0.25, -0.02], [-0.22, -0.05], 0.99)
    supported = row("supported", [0.05, 0.3], [0.07, 0.28], 0.001)
    nulls = [equivalent, equivalent, opposite, supported]
    at_sesoi = [equivalent, supported, supported, supported]
    c9 = _claim("C9")
    scen = {
        "null": cal._scenario_rates(c9, nulls, 0.0, 0.05),
        "sesoi": cal._scenario_rates(c9, at_sesoi, 0.1, 0.05),
    }
    assert scen["null"]["verdicts"]["contradicted"]["count"] == 3
    assert scen["null"]["equivalence_based"]["count"] == 2
    assert scen["null"]["contradicted_opposite"]["count"] == 1
    assert [(c["what"].split(" (")[0], c["count"]) for c in cal._verdict_checks(c9, scen)] == [
        ("wrongly supported under the null", 1),
        ("wrongly contradicted", 1),  # the opposite effect only
        ("wrongly shown equivalent to none", 1),  # "contradicted" by equivalence at r = 0.1
    ]
    # the same rows for a claim that is not a mirror claim: every contradiction counts
    c10 = _claim("C10")
    scen10 = {
        "null": cal._scenario_rates(c10, nulls, 0.0, 0.05),
        "sesoi": cal._scenario_rates(c10, at_sesoi, -1.0, 0.05),
    }
    assert [c["count"] for c in cal._verdict_checks(c10, scen10)] == [1, 3, 0]


def test_verdict_replicates_log_progress_lines(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13: a cold verdict-level calibration runs for tens of minutes; it logs how far along it is
    (here with the 30 s spacing set to 0, so every finished replicate gives a line)."""
    import functools
    import logging

    from gutskin.progress import Progress

    monkeypatch.setattr(cal, "Progress", functools.partial(Progress, every=0.0))
    monkeypatch.setattr(cal, "_cached_job", lambda job, cache: {"replicate": job["replicate"]})
    jobs = [{"scenario_name": "null", "replicate": k} for k in range(3)]
    with caplog.at_level(logging.INFO, logger="gutskin.calibration"):
        out = cal._run_jobs(jobs, 1, None)
    assert [r["replicate"] for r in out] == [0, 1, 2]
    lines = [r.getMessage() for r in caplog.records if "verdict-level replicates" in r.getMessage()]
    assert lines[0].startswith("calibration: verdict-level replicates: 1/3 (33 %)")
    assert lines[-1].startswith("calibration: verdict-level replicates: 3/3 (100 %)")
    assert lines[-1].endswith("done")
