"""How each verdict is shown: a symbol, a label and a one-line meaning."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VERDICTS", "VerdictStyle"]


@dataclass(frozen=True)
class VerdictStyle:
    """How a verdict is shown: symbol, short label, one-line meaning."""

    symbol: str
    label: str
    meaning: str


#: The five verdicts of the rubric (CLAIMS.md §3.7) with their symbol and wording.
VERDICTS: dict[str, VerdictStyle] = {
    "supported": VerdictStyle(
        "✔",
        "Supported",
        "the primary test is significant after Holm correction, in the claimed direction, and the "
        "effect reaches the smallest effect size of interest",
    ),
    "not_supported": VerdictStyle(
        "≈",
        "Not supported",
        "evidence of no meaningful effect: not significant and the 90 % CI lies within ±SESOI (equivalence "
        "test)",
    ),
    "contradicted": VerdictStyle(
        "✖",
        "Contradicted",
        "a significant effect in the opposite direction, or no concordance where the claim expects it",
    ),
    "inconclusive": VerdictStyle(
        "?",
        "Inconclusive",
        "the data cannot tell: too little power, CI spanning both 0 and the SESOI, or analyses that disagree",
    ),
    "not_testable": VerdictStyle(
        "—",
        "Not testable",
        "no microbiome table can test this claim; any rating shown is external evidence, not a result",
    ),
}
