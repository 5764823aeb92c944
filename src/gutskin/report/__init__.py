"""The self-contained HTML report, its figures and the provenance stamp.

Modules
-------
figures
    Deterministic, accessible matplotlib figures (:func:`~gutskin.report.figures.alpha_by_group`,
    :func:`~gutskin.report.figures.forest`, …) and :func:`~gutskin.report.figures.save_figure`.
html
    :func:`build_report` renders the claims ledger, one section per claim, data, methods and
    reproducibility as one HTML file; :func:`write_report` writes it atomically.
provenance
    :func:`collect_provenance`: configuration hash, git commit, package versions, seeds, time.

``figures`` imports matplotlib; it is not imported here, so ``import gutskin.report`` stays light.
"""

from __future__ import annotations

from .html import VERDICTS, build_report, fmt_ci, fmt_num, fmt_p, write_report
from .provenance import collect_provenance

__all__ = [
    "VERDICTS",
    "build_report",
    "collect_provenance",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "write_report",
]
