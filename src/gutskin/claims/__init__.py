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

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import alpha_condition, paired_mirror
from .bundle import DatasetBundle, load_bundle
from .common import ClaimResult
from .ledger import build_ledger

Runner = Callable[[dict[str, Any], dict[str, DatasetBundle], dict[str, Any], Path], ClaimResult]

#: Analysis runners by the ``analysis`` name used in claims.yaml.
RUNNERS: dict[str, Runner] = {
    "alpha_condition": alpha_condition.run,
    "paired_mirror": paired_mirror.run,
}


def run_claim(
    claim: dict[str, Any], bundles: dict[str, DatasetBundle], config: dict[str, Any], out_dir: Path
) -> ClaimResult:
    """Dispatch ``claim`` to its runner."""
    from ..errors import ConfigError

    name = claim.get("analysis")
    if name not in RUNNERS:
        raise ConfigError(
            config.get("claims_file", "config/claims.yaml"),
            f"unknown analysis {name!r} for claim {claim['id']}",
            where=f"claims/{claim['id']}/analysis",
            hint=f"use one of: {', '.join(sorted(RUNNERS))}",
        )
    return RUNNERS[name](claim, bundles, config, Path(out_dir))


__all__ = ["RUNNERS", "ClaimResult", "DatasetBundle", "build_ledger", "load_bundle", "run_claim"]
