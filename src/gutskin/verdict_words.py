"""The verdicts of the CLAIMS.md §3.7 rubric and their words, defined once.

Ground floor: imports nothing of gutskin. :mod:`gutskin.stats.verdict` (the rubric), the ledger, the report and the
end-of-run summary (:mod:`gutskin.runinfo`) all read these names; none re-defines them.
"""

from __future__ import annotations

import re

__all__ = [
    "CAUSAL_SUPPORTED_LABEL",
    "DECISIVE",
    "LABELS",
    "OUTCOMES",
    "VERDICTS",
    "is_data_unavailable",
]

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


#: Start of the data problems that mean the data could not be had (see
#: :func:`gutskin.claims.inputs.dataset_problem`): the verdict is then "data unavailable".
_UNAVAILABLE = re.compile(
    r"^dataset \S+ (unavailable\b|was not loaded|has no column\(s\))", re.IGNORECASE
)


def is_data_unavailable(problem: str | None) -> bool:
    """Whether a runner's ``data_problem`` says the data could not be had: the dataset is unavailable
    or was not loaded, or it lacks a column the claim needs (rather than, e.g., too few samples).

    Here, on the ground floor, so the no-data fast path of :mod:`gutskin.runinfo` decides it as the
    ledger and pooling do (``gutskin.claims.common`` re-exports it) without loading the statistics."""
    return bool(problem) and bool(_UNAVAILABLE.match(str(problem).strip()))
