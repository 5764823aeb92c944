"""The end-of-run summary, the calibration skips and the no-data claim result (gutskin.runinfo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gutskin.claims.common import ClaimResult
from gutskin.runinfo import calibration_skips, claim_without_data, main, summarise


def _results(tmp: Path, available: dict[str, bool], ledger: list[dict] | None) -> Path:
    res = tmp / "results"
    (res / "fetch").mkdir(parents=True)
    # Only fetch manifests: the workflow plans no import job for a dataset that could not be fetched.
    for ds, ok in available.items():
        (res / "fetch" / f"{ds}.json").write_text(
            json.dumps(
                {
                    "dataset": ds,
                    "available": ok,
                    "reason": "" if ok else "no mirror, network disabled",
                }
            )
        )
    if ledger is not None:
        (res / "claims.json").write_text(json.dumps(ledger))
        (res / "report.html").write_text("<html></html>")
    return res


OFFLINE_LEDGER = [
    {"id": "C8", "analysis": "alpha_condition", "verdict": "inconclusive", "data_problem": "x"},
    {"id": "C9", "analysis": "paired_mirror", "verdict": "inconclusive", "data_problem": "y"},
    {"id": "C21", "data_unavailable": True, "verdict": "inconclusive", "data_problem": "no field"},
    {"id": "C1", "verdict": "not_testable"},
]


def test_offline_summary_fails_with_hint(tmp_path: Path) -> None:
    res = _results(tmp_path, {"agp": False, "hmp": False}, OFFLINE_LEDGER)
    s = summarise(res, ["agp", "hmp"], res / "report.html")
    assert not s.ok
    assert (s.n_available, s.n_datasets, s.analysed, s.testable) == (0, 2, 0, 3)
    text = "\n".join(s.lines)
    assert "datasets: 0 of 2 available; unavailable: agp, hmp" in text
    assert "verdicts: 3 data unavailable, 1 not testable with microbiome data" in text
    assert f"report: {res / 'report.html'}" in text
    assert "GUTSKIN_MIRROR=" in text and '--forcerun fetch"' in text
    assert main([str(res)]) == 1


def test_partial_data_summary_passes_and_names_reruns(tmp_path: Path) -> None:
    ledger = [
        {"id": "C8", "analysis": "alpha_condition", "verdict": "supported"},
        {"id": "C9", "analysis": "paired_mirror", "verdict": "inconclusive", "data_problem": "y"},
        {"id": "C10", "analysis": "differential", "verdict": "inconclusive"},
    ]
    res = _results(tmp_path, {"agp": True, "hmp": False}, ledger)
    s = summarise(res, ["agp", "hmp"])
    assert s.ok and s.analysed == 2 and s.testable == 3
    text = "\n".join(s.lines)
    assert "1 supported, 1 inconclusive, 1 data unavailable" in text
    assert '--forcerun results/fetch/hmp.json"' in text
    assert main([str(res)]) == 0


def test_partial_target_without_ledger_is_not_judged(tmp_path: Path) -> None:
    res = _results(tmp_path, {"agp": True}, None)
    s = summarise(res, ["agp"])
    assert s.ok and "no ledger" in "\n".join(s.lines)


def test_calibration_skips() -> None:
    claims = {
        "C8": {"analysis": "alpha_condition", "datasets": ["agp"]},
        "C9": {"analysis": "paired_mirror", "datasets": ["hmp"]},
    }
    status = {"agp": {"available": True}, "hmp": {"available": False}}
    skips = calibration_skips(["C8", "C9", "C10"], claims, status)
    assert set(skips) == {"C9", "C10"}
    assert "hmp" in skips["C9"] and "not analysed" in skips["C10"]


def test_claim_without_data_matches_claim_result(tmp_path: Path) -> None:
    res = _results(tmp_path, {"agp": False, "hmp": True}, None)
    r = claim_without_data({"id": "C8", "datasets": ["agp"]}, res)
    assert r is not None
    # Same keys as a runner's result, so the ledger and the report read it alike.
    assert set(r) == set(ClaimResult(id="C8").to_dict())
    assert r["data_problem"] == "dataset agp unavailable: no mirror, network disabled"
    # One dataset available: the runner decides.
    assert claim_without_data({"id": "C8b", "datasets": ["agp", "hmp"]}, res) is None
    assert claim_without_data({"id": "C3", "datasets": ["nope"]}, res) is None


def test_no_data_fast_paths_equal_the_claims_package(tmp_path: Path) -> None:
    """The claim_cohort and pool_claim jobs of an unavailable dataset skip the claims package: their
    results must be exactly what cohort_result and pool write (one cohort, and three)."""
    from gutskin.claims.pooling import cohort_claim, cohort_result, pool
    from gutskin.runinfo import cohort_without_data, pooled_without_data

    res = _results(tmp_path, {"agp": False, "hmp": False, "eb": False, "ok": True}, None)
    claim = {"id": "C9", "analysis": "mantel_sites", "datasets": ["agp", "hmp", "eb"]}
    selection = [{"dataset": "agp", "used": True, "reason": "listed"}]
    light, heavy = {}, {}
    for ds in claim["datasets"]:
        one = cohort_claim(claim, ds)
        light[ds] = cohort_without_data(one, ds, res)
        heavy[ds] = cohort_result(claim_without_data(one, res), ds)
        assert json.dumps(light[ds]) == json.dumps(heavy[ds])  # same keys, order and values
    assert cohort_without_data(cohort_claim(claim, "ok"), "ok", res) is None
    for subset in (["agp"], ["agp", "hmp", "eb"]):
        cs = {ds: light[ds] for ds in subset}
        fast = pooled_without_data({**claim, "datasets": subset}, cs, selection)
        slow = pool({**claim, "datasets": subset}, cs, {}, tmp_path / "pool", selection)
        assert fast is not None and json.dumps(fast) == json.dumps(slow)
        assert fast["k"] == 0
    # one cohort with another problem (or a result): the pooling module decides
    few = {**light["hmp"], "data_problem": "too few samples"}
    assert pooled_without_data(claim, {"agp": light["agp"], "hmp": few}, selection) is None


def test_unanalysed_results_are_what_pool_claim_wrote(tmp_path: Path) -> None:
    """A claim none of whose datasets could be fetched gets no pool_claim job: the ledger's stand-in
    must equal what that job wrote (the claims package's pool of the no-data cohorts)."""
    from gutskin.claims.pooling import cohort_claim, cohort_result, pool
    from gutskin.errors import InputError
    from gutskin.runinfo import cohorts_of, unanalysed_results

    res = _results(tmp_path, {"agp": False, "hmp": False, "ok": True}, None)
    claims = [
        {"id": "C9", "analysis": "mantel_sites", "datasets": ["agp", "hmp"]},
        {"id": "C8", "analysis": "alpha_condition", "datasets": ["ok", "agp"]},
        {"id": "C1"},  # not testable: no result at all
    ]
    claim_datasets = {"C9": ["agp", "hmp"], "C8": ["ok", "agp"]}
    selection = {"C9": [{"dataset": "agp", "used": True, "reason": "listed"}]}
    done = {"C8": {"id": "C8"}}
    out = unanalysed_results(claims, done, claim_datasets, selection, res)
    assert list(out) == ["C9"]
    heavy = {
        ds: cohort_result(claim_without_data(cohort_claim(claims[0], ds), res), ds)
        for ds in ("agp", "hmp")
    }
    slow = pool(claims[0], heavy, {}, tmp_path / "pool", selection["C9"])
    assert json.dumps(out["C9"]) == json.dumps(slow)
    # a cohort job's result is read as written; an available dataset without one is an error
    cohort = tmp_path / "ok.json"
    cohort.write_text(json.dumps({"id": "C8", "dataset": "ok", "n": 12}))
    both = cohorts_of(claims[1], ["ok", "agp"], {"ok": cohort}, res)
    assert list(both) == ["ok", "agp"] and both["ok"]["n"] == 12
    assert both["agp"] == heavy["agp"] | {"id": "C8"}
    with pytest.raises(InputError, match="dataset ok"):
        cohorts_of(claims[1], ["ok"], {}, res)
