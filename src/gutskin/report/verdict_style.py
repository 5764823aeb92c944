"""How each verdict is shown: a symbol, the label and a one-line meaning.

The verdicts and their words are defined once, in :mod:`gutskin.stats.verdict` (``VERDICTS``, ``LABELS``);
this module only adds what a page needs on top (a symbol, so the verdict reads without colour, and a sentence
for the legend). A verdict the rubric adds later is shown with its own label and a neutral symbol.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stats import verdict as _rubric

__all__ = ["VerdictStyle", "styles"]


@dataclass(frozen=True)
class VerdictStyle:
    """How a verdict is shown: symbol, label (from the rubric), one-line meaning."""

    symbol: str
    label: str
    meaning: str


_SYMBOLS = {
    "supported": "✔",
    "not_supported": "≈",
    "contradicted": "✖",
    "inconclusive": "?",
    "data_unavailable": "∅",
    "not_testable": "—",
}

_MEANINGS = {
    "supported": "the primary test is significant after Holm correction, in the claimed direction, and the "
    "effect reaches the smallest effect size of interest",
    "not_supported": "evidence of no meaningful effect: not significant and the 90 % CI lies within ±SESOI "
    "(equivalence test)",
    "contradicted": "a significant effect in the opposite direction, or no concordance where the claim "
    "expects it",
    "inconclusive": "the data cannot tell: too little power, CI spanning both 0 and the SESOI, or analyses "
    "that disagree",
    "data_unavailable": "no configured dataset could be had in this run, or none records what the test "
    "needs; this says nothing about the claim — rerun with the data",
    "not_testable": "no microbiome table can test this claim; any rating shown is external evidence, not a "
    "result",
}


def styles() -> dict[str, VerdictStyle]:
    """Every verdict of the rubric, in its order, with its symbol, label and meaning."""
    return {
        key: VerdictStyle(
            _SYMBOLS.get(key, "•"),
            _rubric.LABELS.get(key, key.replace("_", " ").capitalize()),
            _MEANINGS.get(key, ""),
        )
        for key in _rubric.VERDICTS
    }
