"""Shared pieces of the claim runners: the result container, the runner signature and small helpers.

The runners' other shared code is in three small modules: :mod:`~gutskin.claims.inputs` (dataset checks,
metadata values, one sample per subject, covariates), :mod:`~gutskin.claims.entries` (``headline``,
``tests`` and the sensitivity analysis from fitted estimates) and :mod:`~gutskin.claims.outputs`
(tables and figures listed in the result).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats._util import StatsInputError
from .bundle import DatasetBundle

#: One claim of ``config/claims.yaml`` (``id``, ``datasets``, ``sesoi``, ``params`` …).
Claim = dict[str, Any]
#: The loaded datasets by name.
Bundles = dict[str, DatasetBundle]
#: The workflow configuration (``alpha``, ``seed``, ``permutations`` …).
Config = dict[str, Any]

#: Metric names in words, for labels and method texts.
METRIC_WORDS = {
    "shannon": "Shannon (nats)",
    "observed": "observed features",
    "simpson": "Gini–Simpson",
    "faith_pd": "Faith PD",
}

#: The covariates kept by the "minimal covariates" sensitivity analysis of the alpha-diversity runners.
MINIMAL_COVARIATES = ("age", "sex")


def metric_name(metric: str) -> str:
    """A metric's name without its units (``shannon`` -> ``Shannon``)."""
    return METRIC_WORDS.get(metric, metric).split(" (")[0]


def alternative_metric(metric: str) -> str:
    """The alpha metric of the "alternative metric" sensitivity analysis: observed features (richness),
    or Shannon when the claim's metric is observed features."""
    return "observed" if metric != "observed" else "shannon"


#: Name of the second-rarefaction-depth sensitivity analysis (quoted in the ledger's robustness).
SECOND_DEPTH = "second rarefaction depth"


def second_depth_label(metric: str, info: dict[str, Any]) -> str:
    """What the second-rarefaction-depth model changes, e.g. ``Shannon at half the rarefaction depth
    (500 reads)``; ``info`` is the dataset's ``diversity.json`` (``depth2``, ``depth2_fraction``)."""
    frac = info.get("depth2_fraction")
    share = (
        "half the"
        if frac == 0.5
        else f"{frac:g} × the"
        if isinstance(frac, int | float) and frac
        else "a second"
    )
    return f"{metric_name(metric)} at {share} rarefaction depth ({info.get('depth2', '?')} reads)"


def clean(value: Any) -> Any:
    """Turn numpy scalars, NaN and tuples into JSON-able Python values (NaN/inf -> None)."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA:
        return None
    return value


@dataclass
class ClaimResult:
    """Numbers a runner computed for one claim; the ledger turns them into a verdict.

    ``headline`` holds the primary test on the SESOI's scale: ``effect_size``, ``effect_size_ci`` (95 %),
    ``effect_size_ci90``, plus the estimate in natural units (``estimate``, ``ci_low``, ``ci_high``), ``p_value``,
    ``tost_p``, ``power`` and ``n``.

    ``sensitivity_analyses`` lists each pre-specified sensitivity analysis (``name``, ``kind``, ``note``,
    and its ``estimate``, ``ci``, ``ci90``, ``p_value`` on the SESOI's scale; see
    :func:`gutskin.claims.entries.record_sensitivity`); the ledger judges each against the verdict
    (:func:`gutskin.stats.verdict.judge_sensitivity`). ``sensitivity_agrees`` and ``sensitivity_note``
    summarise them (``sensitivity_agrees`` stays None until judged, except for checks without an estimate).
    """

    id: str
    data_problem: str | None = None
    headline: dict[str, Any] = field(default_factory=dict)
    estimate_label: str = ""
    effect_size_label: str = ""
    method: str = ""
    covariates: list[str] = field(default_factory=list)
    n: int | None = None
    n_groups: dict[str, int] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    sensitivity_agrees: bool | None = None
    sensitivity_note: str | None = None
    sensitivity_analyses: list[dict[str, Any]] = field(default_factory=list)
    positive_control_ok: bool | None = None
    figures: list[dict[str, str]] = field(default_factory=list)
    tables: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sample_flow: list[dict[str, Any]] = field(default_factory=list)
    #: the analysis population and the implausible records excluded (claims.population)
    population: str | None = None
    #: deviations from the register, ``{what, reason}`` (from the claim's ``deviations``)
    deviations: list[dict[str, str]] = field(default_factory=list)
    #: the matched case–control analysis (claims.matched_analysis), when the claim has one
    matched: dict[str, Any] | None = None
    #: SE of ``headline["effect_size"]`` on the pooling ``scale`` (see :mod:`gutskin.claims.pooling`).
    se: float | None = None
    #: The common effect scale the headline is pooled on (``hedges_g``, ``fisher_z`` …).
    scale: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``se`` and ``scale`` only when set, for the per-cohort result)."""
        d = dict(self.__dict__)
        for key in ("se", "scale"):
            if d[key] is None:
                del d[key]
        return clean(d)


# ------------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------------
RunnerFunction = Callable[[Claim, Bundles, Config, Path], ClaimResult]


def guarded(
    problem: str = "the model could not be fitted",
) -> Callable[[RunnerFunction], RunnerFunction]:
    """Decorate a runner so that data it cannot analyse give a result instead of failing the workflow.

    The decorated runner gets ``out_dir`` as a :class:`~pathlib.Path`; a
    :class:`~gutskin.stats._util.StatsInputError` it raises becomes ``ClaimResult(id=claim["id"],
    data_problem=f"{problem}: {exc}")``. Other errors (e.g. invalid parameters) propagate.
    """

    def decorate(fn: RunnerFunction) -> RunnerFunction:
        @functools.wraps(fn)
        def run(claim: Claim, bundles: Bundles, config: Config, out_dir: Path) -> ClaimResult:
            try:
                return fn(claim, bundles, config, Path(out_dir))
            except StatsInputError as exc:
                return ClaimResult(id=claim["id"], data_problem=f"{problem}: {exc}")

        return run

    return decorate
