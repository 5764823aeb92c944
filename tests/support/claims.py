"""A claims.yaml entry written by hand, for tests of the runners and of the ledger."""

from __future__ import annotations

from typing import Any


def claim_entry(cid: str, **fields: Any) -> dict[str, Any]:
    """A testable associational claim on dataset ``d`` (an ``alpha_condition`` test, SESOI g = 0.2).

    ``fields`` replace or add keys (``analysis``, ``params``, ``expected_direction``, ``primary`` …).
    """
    entry: dict[str, Any] = {
        "id": cid,
        "title": cid,
        "quote": "q",
        "claim_type": "associational",
        "testable": "yes",
        "hypothesis": "h",
        "analysis": "alpha_condition",
        "datasets": ["d"],
        "sesoi": {"value": 0.2, "scale": "hedges_g"},
        "primary": True,
    }
    entry.update(fields)
    return entry
