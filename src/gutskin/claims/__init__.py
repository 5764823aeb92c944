"""Claim runners and the ledger.

A runner takes one claim of ``config/claims.yaml``, the :class:`~gutskin.claims.bundle.DatasetBundle` of each
dataset it names and the workflow configuration, and returns a
:class:`~gutskin.claims.common.ClaimResult` with numbers only. :func:`~gutskin.claims.ledger.build_ledger`
applies the Holm correction across primary tests and the verdict rubric of :mod:`gutskin.stats.verdict`.

.. autosummary::
   RUNNERS
   run_claim
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bundle import DatasetBundle, load_bundle
from .common import ClaimResult
from .ledger import build_ledger

Runner = Callable[[dict[str, Any], dict[str, DatasetBundle], dict[str, Any], Path], ClaimResult]


def _discover() -> dict[str, Runner]:
    """Find runner modules: any module of this package with a module-level ``ANALYSIS`` name and ``run``.

    Adding an analysis is adding one module; nothing else needs to be edited.
    """
    found: dict[str, Runner] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(mod, "ANALYSIS", None)
        if name is not None:
            if name in found:
                raise RuntimeError(f"two runner modules declare ANALYSIS = {name!r}")
            found[name] = mod.run
    return found


#: Analysis runners by the ``analysis`` name used in claims.yaml.
RUNNERS: dict[str, Runner] = _discover()


def run_claim(
    claim: dict[str, Any], bundles: dict[str, DatasetBundle], config: dict[str, Any], out_dir: Path
) -> ClaimResult:
    """Dispatch ``claim`` to its runner.

    The runner sees the datasets restricted to the claim's population, without implausible records
    (:func:`gutskin.claims.population.restrict`; the exclusions head the sample flow and
    ``population`` says what was analysed); the claim's declared ``deviations`` from the register
    are copied to the result; alpha-diversity claims get the matched case–control analysis
    (:func:`gutskin.claims.matched_analysis.add_matched`).
    """
    from ..errors import ConfigError

    name = claim.get("analysis")
    if name not in RUNNERS:
        raise ConfigError(
            config.get("claims_file", "config/claims.yaml"),
            f"unknown analysis {name!r} for claim {claim['id']}",
            where=f"claims/{claim['id']}/analysis",
            hint=f"use one of: {', '.join(sorted(RUNNERS))}",
        )
    from .population import restrict

    restricted, flow, population = restrict(claim, bundles, config)
    res = RUNNERS[name](claim, restricted, config, Path(out_dir))
    from .matched_analysis import add_matched

    add_matched(claim, config, res, Path(out_dir))
    if flow:
        res.sample_flow = flow + list(res.sample_flow)
    res.population = population
    res.deviations = [
        {"what": str(d["what"]), "reason": str(d["reason"])} for d in claim.get("deviations") or []
    ]
    return res


__all__ = ["RUNNERS", "ClaimResult", "DatasetBundle", "build_ledger", "load_bundle", "run_claim"]
