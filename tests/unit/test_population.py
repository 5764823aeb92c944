"""Analysis populations and implausible records (issue 11 item 3): the rules, the flow, the errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gutskin.claims import run_claim
from gutskin.claims.bundle import DatasetBundle
from gutskin.claims.population import parse_condition, restrict
from gutskin.errors import ConfigError

RULES = [{"name": "infant age with an adult BMI", "when": "age < 2 and bmi >= 18.5"}]


def _bundle() -> DatasetBundle:
    # 12 gut samples: 3 children (age 5-12), 2 infants with adult BMIs (entry errors), 1 infant with an
    # infant BMI, 1 adult without an age, 5 adults; plus 2 skin samples that must not be counted
    ages = [5, 9, 12, 0, 1, 1, np.nan, 30, 40, 50, 60, 70, 35, 45]
    bmis = [16, 18, 20, 24, 30, 15, 22, 21, 25, 27, 23, 26, 22, 24]
    site = ["gut"] * 12 + ["skin"] * 2
    ids = [f"s{i}" for i in range(14)]
    samples = pd.DataFrame(
        {"age": ages, "bmi": bmis, "body_site": site, "subject_id": ids}, index=ids
    ).rename_axis("sample_id")
    return DatasetBundle("d", True, None, samples, pd.DataFrame(), pd.DataFrame())


def _claim(**kw: Any) -> dict[str, Any]:
    return {"id": "C8", "params": {"body_site": "gut"}, **kw}


def test_population_and_implausible_records_counted_in_the_flow() -> None:
    out, flow, text = restrict(
        _claim(population="age >= 18"), {"d": _bundle()}, {"implausible_records": RULES}
    )
    kept = out["d"].samples
    # adults with an age: s7..s11 (gut) and s12, s13 (skin)
    assert sorted(kept.index) == sorted(["s7", "s8", "s9", "s10", "s11", "s12", "s13"])
    assert [r["n"] for r in flow] == [12, 10, 5]
    assert [r.get("excluded") for r in flow] == [None, 2, 5]  # 3 children, 1 infant, 1 no age
    assert text == ("age >= 18; 2 implausible records excluded (infant age with an adult BMI)")


def test_rules_alone_apply_without_a_population() -> None:
    out, _flow, text = restrict(_claim(), {"d": _bundle()}, {"implausible_records": RULES})
    assert set(_bundle().samples.index) - set(out["d"].samples.index) == {"s3", "s4"}
    assert text == "2 implausible records excluded (infant age with an adult BMI)"


def test_nothing_declared_changes_nothing() -> None:
    b = {"d": _bundle()}
    out, flow, text = restrict(_claim(), b, {})
    assert out is b and flow == [] and text is None


@pytest.mark.parametrize("bad", ["age >= adult", "age => 18", "age >= 18 or bmi < 3"])
def test_unreadable_condition_names_the_claim(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        restrict(_claim(population=bad), {"d": _bundle()}, {})
    assert "claim C8, population" in str(err.value)


def test_population_column_missing_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        restrict(_claim(population="height > 150"), {"d": _bundle()}, {})
    assert "height" in str(err.value) and "dataset d" in str(err.value)


def test_parse_condition_reads_text_values() -> None:
    (c,) = parse_condition("sex == 'female'", file="f", where="w")
    assert (c.column, c.op, c.value) == ("sex", "==", "female")


def test_run_claim_reports_population_and_deviations(tmp_path: Path) -> None:
    from gutskin.claims import RUNNERS

    seen = {}

    def fake(claim, bundles, config, out_dir):  # type: ignore[no-untyped-def]
        from gutskin.claims.common import ClaimResult

        seen["n"] = len(bundles["d"].samples)
        return ClaimResult(id=claim["id"], sample_flow=[{"step": "runner", "n": 5}])

    RUNNERS["_fake"] = fake
    try:
        claim = _claim(
            analysis="_fake",
            population="age >= 18",
            deviations=[{"what": "headline contrast", "reason": "why"}],
        )
        res = run_claim(claim, {"d": _bundle()}, {"implausible_records": RULES}, tmp_path)
    finally:
        del RUNNERS["_fake"]
    assert seen["n"] == 7
    assert res.population.startswith("age >= 18; 2 implausible records excluded")
    assert res.sample_flow[-1] == {"step": "runner", "n": 5}
    assert res.deviations == [{"what": "headline contrast", "reason": "why"}]
