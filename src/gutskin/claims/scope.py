"""Verdict labels scoped to what was tested (issue 11 item 9).

A verdict is about the test that was run, not about the article's whole sentence: C25 "Supported" is
about plant-type variety and gut Shannon diversity, not about prebiotic fibres feeding beneficial
bacteria. A claim declares ``tested`` (what the analysis tests, in a phrase) and ``untested`` (the parts of
the claim it does not test); :func:`scope_fields` gives the ledger's ``scoped_label`` ("Supported — for
plant-type variety vs gut Shannon diversity in American Gut"), ``untested`` and ``reading_note``: the one
interpretive sentence that fits the verdict (the "a non-significant result cannot be read as no effect"
warning belongs to an inconclusive, non-significant result, never to a supported one). The report shows
these fields as they are.
"""

from __future__ import annotations

from typing import Any

__all__ = ["scope_fields"]


def _reading(verdict: str, entry: dict[str, Any], tested: str | None) -> str | None:
    what = f" ({tested})" if tested else ""
    if verdict == "supported":
        return (
            f"The verdict is about what was tested{what}: a significant effect in the claimed direction, at "
            "least as large as the smallest effect of interest; it says nothing about the untested parts."
        )
    if verdict == "contradicted":
        return f"The verdict is about what was tested{what}: the data point the other way."
    if verdict == "not_supported":
        return (
            f"Equivalence shown for what was tested{what}: any effect is smaller than the smallest effect "
            "of interest, which is evidence of no meaningful effect, not merely an absence of evidence."
        )
    if verdict == "inconclusive":
        p = entry.get("p_adjusted") if entry.get("p_adjusted") is not None else entry.get("p_value")
        ci = entry.get("effect_size_ci") or [None, None]
        excludes = None not in ci and (ci[0] > 0 or ci[1] < 0)
        if p is not None and not excludes:
            return (
                "Not significant and equivalence not shown: this non-significant result cannot be read "
                "as “no effect”."
            )
        return "The data cannot decide the claim as tested; see the reason."
    return None


def scope_fields(claim: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """``scoped_label``, ``tested``, ``untested`` and ``reading_note`` of a ledger ``entry``."""
    tested = (claim.get("tested") or "").strip() or None
    untested = [str(u) for u in claim.get("untested") or []]
    label = entry.get("verdict_label") or ""
    verdict = entry.get("verdict") or ""
    scoped = label
    if tested and verdict in ("supported", "not_supported", "contradicted", "inconclusive"):
        scoped = f"{label} — for {tested}"
    return {
        "scoped_label": scoped,
        "tested": tested,
        "untested": untested,
        "reading_note": _reading(str(verdict), entry, tested),
    }
