"""The verdicts of the CLAIMS.md §3.7 rubric and their words, defined once.

Ground floor: imports nothing. :mod:`gutskin.stats.verdict` (the rubric), the ledger, the report and the
end-of-run summary (:mod:`gutskin.runinfo`) all read these names; none re-defines them.
"""

from __future__ import annotations

__all__ = ["CAUSAL_SUPPORTED_LABEL", "DECISIVE", "LABELS", "OUTCOMES", "VERDICTS"]

#: Every verdict, in display order. The report imports these; nothing else defines them.
VERDICTS = (
    "supported",
    "not_supported",
    "contradicted",
    "inconclusive",
    "data_unavailable",
    "not_testable",
)

#: The verdicts that say something about the claim (a sensitivity disagreement downgrades them).
DECISIVE = ("supported", "not_supported", "contradicted")

#: Outcomes of one sensitivity analysis judged at the level of the verdict.
OUTCOMES = ("agrees", "disagrees", "uninformative")

LABELS = {
    "supported": "Supported",
    "not_supported": "Not supported (equivalence shown)",
    "contradicted": "Contradicted",
    "inconclusive": "Inconclusive",
    "data_unavailable": "Data unavailable",
    "not_testable": "Not testable with microbiome data",
}

#: Label of a supported verdict for a claim worded causally.
CAUSAL_SUPPORTED_LABEL = "Association consistent with the claim"
