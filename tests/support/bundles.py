"""Datasets as a claim runner receives them (``DatasetBundle``), built in tests without the workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from gutskin.claims.bundle import DatasetBundle

#: What the diversity step records for a rarefied count table (depth 1,000, 10 iterations).
RAREFIED = {"depth": 1000, "iterations": 10, "rarefied": True}


def ready_bundle(
    name: str,
    samples: pd.DataFrame,
    alpha: pd.DataFrame | None = None,
    *,
    beta_files: dict[str, Path] | None = None,
    diversity_info: dict[str, Any] | None = None,
    import_info: dict[str, Any] | None = None,
) -> DatasetBundle:
    """An available dataset: its sample table, alpha table and beta files as given."""
    return DatasetBundle(
        name=name,
        available=True,
        reason=None,
        samples=samples,
        alpha=alpha if alpha is not None else pd.DataFrame(),
        depth=pd.DataFrame(),
        beta_files=beta_files or {},
        import_info=import_info or {},
        diversity_info=diversity_info if diversity_info is not None else dict(RAREFIED),
    )


def unavailable_bundle(name: str, reason: str = "no network") -> DatasetBundle:
    """A dataset that could not be had: no samples, and the reason."""
    return DatasetBundle(
        name=name,
        available=False,
        reason=reason,
        samples=pd.DataFrame(),
        alpha=pd.DataFrame(),
        depth=pd.DataFrame(),
    )
