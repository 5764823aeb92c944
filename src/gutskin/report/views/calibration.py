"""The Calibration view (false-positive rate and power of each primary test on simulated data) and the
covariate coverage map of the Data section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from ..qc import calibration_view as _calibration_rows
from ..qc import coverage_view as _coverage_grid

__all__ = ["calibration_view", "coverage_view"]


def calibration_view(calibration: Mapping[str, Any] | None, source: str) -> dict[str, Any] | None:
    """``results/calibration.json`` as table rows with their inline bars; ``None`` when not computed."""
    if calibration is None:
        return None
    view = _calibration_rows(calibration, source)
    for row in view["rows"]:
        row["bar"] = Markup(row["bar"]) if row["bar"] else None  # numbers + escaped text only
    return view


def coverage_view(coverage: Mapping[str, Any] | None, source: str) -> dict[str, Any] | None:
    """``results/coverage.json`` as a variables × datasets grid; ``None`` when not computed."""
    return _coverage_grid(coverage, source) if coverage is not None else None
