"""The self-contained HTML report, its QC views, the provenance stamp and a browser check.

Modules
-------
html
    :func:`build_report` renders a :class:`ReportInputs` (the claims ledger, the run's summaries, the
    configuration and provenance) as one HTML file; :func:`write_report` writes it atomically.
model
    :func:`~gutskin.report.model.read_claims`: ``claims.json`` checked and read into the claim model — the one
    module that knows the file's field names.
views
    One module per section (ledger, claim, data, calibration, methods, reproducibility) turning the model into
    what the section shows; the templates hold one partial per section.
fmt, svg
    Number formatting; the inline effect bars and the sanitised embedding of figure SVGs.
qc
    :func:`load_depth` (sequencing depth per sample), :func:`read_json`, and the view models of the depth
    histogram, the covariate coverage map and the calibration table.
provenance
    :func:`collect_provenance`: configuration hash, git commit, package versions, seeds, time.
browser
    :func:`~gutskin.report.browser.open_page`: the report in the system's headless Chromium through
    Playwright (DOM, console, layout facts, screenshot); ``python -m gutskin.report.browser`` takes the
    README screenshot. Playwright is a development dependency, imported only there.

Figures are drawn by :mod:`gutskin.plotting` (below both the claims and the report).
"""

from __future__ import annotations

from .fmt import fmt_ci, fmt_num, fmt_p
from .html import ReportInputs, build_report, write_report
from .provenance import collect_provenance
from .qc import load_depth, read_json

__all__ = [
    "ReportInputs",
    "build_report",
    "collect_provenance",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "load_depth",
    "read_json",
    "write_report",
]
