"""The typed claim-result contract: round trips, the generated JSON Schema and its committed copy."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gutskin.claims.contract import (
    CohortRow,
    Headline,
    LedgerEntry,
    PooledResult,
    Pooling,
    json_schema,
    validate,
    validate_ledger,
)
from gutskin.claims.pooling import _row as failed_row

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "workflow" / "schemas" / "claims_result.schema.json"


def _entry(**kw: object) -> dict:
    base = {
        "id": "C1",
        "title": "t",
        "verdict": "inconclusive",
        "verdict_label": "Inconclusive",
        "reason": "r",
        "headline_extra_key": 1,
        "effect_size": -0.2,
        "effect_size_ci": [-0.5, 0.1],
        "k": 2,
        "cohorts": [
            {
                "dataset": "a",
                "n": 10,
                "estimate": -0.1,
                "se": 0.2,
                "ci": [-0.5, 0.3],
                "weight": 0.6,
                "p_value": 0.6,
                "status": "analysed",
                "reason": None,
            },
            # a failed cohort as the pooling writes it: a row with no numbers, not a weight
            failed_row("b", {"n": 12}, "too few samples"),
        ],
        "pooling": {
            "method": "REML",
            "ci_method": "hksj",
            "hksj_below_k": 10,
            "tau2": 0.01,
            "i2": 12.0,
            "q": 1.1,
            "q_p": 0.3,
            "prediction_interval": None,
        },
        "dataset_selection": [{"dataset": "a", "used": True, "reason": "has gut samples"}],
    }
    base.update(kw)
    return base


def test_committed_schema_is_the_generated_one() -> None:
    assert json.loads(COMMITTED.read_text()) == json_schema(), (
        "regenerate with: python -c 'import json; from gutskin.claims.contract import json_schema; "
        "print(json.dumps(json_schema(), indent=2))' > workflow/schemas/claims_result.schema.json"
    )


def test_round_trip_keeps_keys_and_their_order() -> None:
    d = _entry()
    e = LedgerEntry.from_dict(d)
    assert isinstance(e.cohorts[0], CohortRow) and isinstance(e.pooling, Pooling)
    assert e.cohorts[1].status == "failed"
    assert e.extra == {"headline_extra_key": 1}
    out = e.to_dict()
    assert out == d and list(out) == list(d)
    assert json.dumps(out) == json.dumps(d)


def test_headline_extras_survive() -> None:
    h = {"estimate": 1.0, "resid_sd": 0.3, "ci_low": 0.5}
    assert Headline.from_dict(h).to_dict() == h
    assert list(Headline.from_dict(h).to_dict()) == ["estimate", "resid_sd", "ci_low"]


def test_valid_ledger_passes_and_bad_fields_fail() -> None:
    validate_ledger([_entry()])
    with pytest.raises(jsonschema.ValidationError, match="hksj"):
        validate_ledger([_entry(pooling={**_entry()["pooling"], "ci_method": "hksj2"})])
    with pytest.raises(jsonschema.ValidationError):
        bad = _entry()
        bad["cohorts"][0]["status"] = "done"
        validate_ledger([bad])
    with pytest.raises(jsonschema.ValidationError, match="verdict"):
        validate_ledger([{"id": "C1", "reason": "", "verdict_label": ""}])


def test_pooled_result_requires_k_and_cohorts() -> None:
    ok = {"id": "C8b", "k": 1, "cohorts": [], "pooling": None, "dataset_selection": []}
    validate(ok, "PooledResult")
    assert PooledResult.from_dict(ok).to_dict() == ok
    with pytest.raises(jsonschema.ValidationError, match="'k' is a required"):
        validate(
            {"id": "C8b", "cohorts": [], "pooling": None, "dataset_selection": []}, "PooledResult"
        )
