"""The Reproducibility and Files views: provenance stamp, data sha256 and every machine-readable file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..fmt import fmt_scalar

__all__ = ["files_view", "repro_view"]


def files_view(
    claims: list[dict[str, Any]],
    data_views: list[dict[str, Any]],
    claims_source: str,
    coverage_source: str | None,
    calibration_source: str | None,
) -> dict[str, Any]:
    """Every machine-readable file behind the report, and the data file of every figure."""
    figures = []
    for c in claims:
        for f in c["figures"]:
            figures.append(
                {
                    "claim": c["id"],
                    "caption": f["caption"] or f["alt"],
                    "path": f["path"],
                    "data": f["data"],
                }
            )
        for t in c["tables"]:
            figures.append(
                {
                    "claim": c["id"],
                    "caption": t["caption"] or "Table",
                    "path": "",
                    "data": t["path"],
                }
            )
    for d in data_views:
        qc = d.get("qc")
        if qc:
            figures.append(
                {
                    "claim": d["name"],
                    "caption": "Sequencing depth (Data section)",
                    "path": "",
                    "data": qc["path"] or None,
                }
            )
    ledger = [claims_source]
    if claims_source.endswith(".json"):
        ledger.append(claims_source[: -len(".json")] + ".tsv")
    return {
        "ledger": ledger,
        "figures": figures,
        "coverage": coverage_source,
        "calibration": calibration_source,
        "missing": sum(1 for f in figures if not f["data"]),
    }


def repro_view(provenance: Mapping[str, Any]) -> dict[str, Any]:
    versions = provenance.get("versions") or {}
    seeds = provenance.get("seeds") or {}
    dirty = provenance.get("git_dirty")
    return {
        "config_hash": str(provenance.get("config_hash") or "unknown"),
        "config_files": [
            {"path": str(f.get("path", "")), "sha256": str(f.get("sha256", ""))}
            for f in provenance.get("config_files") or []
            if isinstance(f, Mapping)
        ],
        "git_commit": str(provenance.get("git_commit") or "unknown"),
        "git_dirty": (
            "unknown"
            if dirty is None
            else ("yes — uncommitted changes to code or configuration" if dirty else "no")
        ),
        "versions": [(str(k), str(v)) for k, v in versions.items()],
        "seeds": [
            (str(k), fmt_scalar(v) if not isinstance(v, int) else str(v)) for k, v in seeds.items()
        ],
        "lockfile_sha256": str(provenance.get("lockfile_sha256") or "unknown"),
        "platform": str(provenance.get("platform") or "unknown"),
        "timestamp": str(provenance.get("timestamp") or "unknown"),
        "extra": [
            (str(k), str(v))
            for k, v in provenance.items()
            if k
            not in {
                "config_hash",
                "config_files",
                "git_commit",
                "git_dirty",
                "versions",
                "seeds",
                "lockfile_sha256",
                "platform",
                "timestamp",
            }
            and not isinstance(v, Mapping | list)
        ],
    }
