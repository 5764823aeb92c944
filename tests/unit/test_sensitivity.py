"""Sensitivity analyses declared once (``gutskin.claims.sensitivity``) and applied by the runners they fit.

The declarations decide which analyses a runner fits (remove an analysis from a declaration's
``applies_to`` and the runner no longer fits it), the model variants follow the primary model (no minimal
model when the covariates are already age and sex, no second depth when it was not computed), and every
entry a runner writes carries the ``kind`` of a declaration that applies to its analysis.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from gutskin.claims import RUNNERS, contract, sensitivity
from gutskin.claims.sensitivity import ModelContext, variants
from tests.unit.test_claims_runners import _bundle, _claim, _exposure_params, _plants_data

CONFIG = {"alpha": 0.05, "power_target": 0.8, "seed": 5}


def test_each_analysis_has_its_declared_battery() -> None:
    names = {a: [s.name for s in sensitivity.applicable(a)] for a in RUNNERS}
    assert names["alpha_condition"] == [
        "minimal covariates",
        "alternative metric",
        "second rarefaction depth",
        "Huber robust regression",
        "matched case–control",
    ]
    assert names["alpha_exposure"] == names["alpha_condition"]
    assert names["longitudinal_mixed"] == [
        "minimal covariates",
        "alternative metric",
        "second rarefaction depth",
        "subject-level OLS",
    ]
    assert names["differential_abundance"] == ["Huber robust regression", "other pseudocount"]
    assert names["comorbidity_logistic"] == ["other logistic estimator"]
    assert names["paired_mirror"] == ["other beta metric"]
    assert [s.name for s in sensitivity.applicable("pooled")] == [
        "leave-one-cohort-out",
        "other τ² estimator",
        "cohort sensitivity analyses, pooled",
        "normal CI",
    ]
    with pytest.raises(ValueError, match="declared twice"):
        sensitivity.register(sensitivity.HUBER)


def test_model_variants_follow_the_primary_model() -> None:
    full = ModelContext("shannon", ("age", "sex", "bmi"), "observed", "Shannon at half (500 reads)")
    got = [(v.key, v.name, v.label, v.outcome, v.covariates, v.kind) for v in variants("x", full)]
    assert got == []  # no declaration applies to an unknown analysis
    got = [
        (v.key, v.name, v.label, v.outcome, v.covariates, v.kind)
        for v in variants("alpha_exposure", full)
    ]
    assert got == [
        (
            "minimal",
            "minimal covariates",
            "minimal covariates: age, sex",
            "shannon",
            ("age", "sex"),
            "model",
        ),
        (
            "metric",
            "observed features",
            "observed features instead of Shannon",
            "observed",
            ("age", "sex", "bmi"),
            "metric",
        ),
        (
            "depth2",
            "second rarefaction depth",
            "Shannon at half (500 reads)",
            "shannon_depth2",
            ("age", "sex", "bmi"),
            "model",
        ),
    ]
    # covariates already minimal, no alternative metric, no second depth: nothing to refit
    assert variants("alpha_exposure", ModelContext("shannon", ("sex", "age"))) == []
    # no covariate of the minimal set at all: the minimal model has none
    (v,) = variants("longitudinal_mixed", ModelContext("observed", ("bmi",)))
    assert (v.label, v.covariates) == ("minimal covariates: none", ())


def _run_exposure(tmp_path: Path) -> dict[str, Any]:
    samples, alpha = _plants_data(400, slope=0.12, seed=2)
    samples["bmi"] = 25.0 + (samples["age"] % 7)
    claim = _claim("C25", "alpha_exposure", _exposure_params(covariates=["age", "sex", "bmi"]))
    return RUNNERS["alpha_exposure"](
        claim, {"d": _bundle(samples, alpha)}, CONFIG, tmp_path
    ).to_dict()


def test_runner_entries_are_declared_contract_results(tmp_path: Path) -> None:
    out = _run_exposure(tmp_path)
    declared = {s.kind for s in sensitivity.applicable("alpha_exposure")}
    names = [e["name"] for e in out["sensitivity_analyses"]]
    assert names == ["Huber robust regression", "minimal covariates", "observed features"]
    for e in out["sensitivity_analyses"]:
        assert e["kind"] in declared
        assert contract.SensitivityResult.from_dict(e).to_dict() == e
        assert e["estimate"] is not None and e["ci"] and e["ci90"]


def test_a_declaration_decides_which_runners_fit_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taking alpha_exposure out of two declarations removes those analyses from its result."""
    for s in (sensitivity.HUBER, sensitivity.MINIMAL_COVARIATES_MODEL):
        narrowed = dataclasses.replace(
            s, applies_to=tuple(a for a in s.applies_to if a != "alpha_exposure")
        )
        monkeypatch.setitem(sensitivity.REGISTRY, s.name, narrowed)
        attr = "HUBER" if s is sensitivity.HUBER else "MINIMAL_COVARIATES_MODEL"
        monkeypatch.setattr(sensitivity, attr, narrowed)
    out = _run_exposure(tmp_path)
    assert [e["name"] for e in out["sensitivity_analyses"]] == ["observed features"]
    assert not any("Huber" in t["name"] or "minimal" in t["name"] for t in out["tests"])
