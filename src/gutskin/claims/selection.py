"""Which datasets serve a claim: the ones it lists, or (``datasets: auto``) every configured dataset whose
harmonised columns and design can serve its analysis.

The decision is made when the workflow is planned, so it reads what the configuration declares of each
dataset (:func:`declared_entry`: the canonical columns of ``datasets.yaml`` and the values they are mapped
to) in the shape of an entry of the coverage map (:mod:`gutskin.coverage`). A runner module may expose
``requires(claim) -> predicate``, the predicate taking such an entry and returning ``None`` when the
dataset can serve the claim, else the reason it cannot; runners without one use :func:`generic_requires`
(every canonical column the claim's parameters name must be mapped). Each dataset's reason, kept or left
out, goes to the claim's ``dataset_selection``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["AUTO", "declared_entry", "generic_requires", "resolve", "select"]

AUTO = "auto"

Predicate = Callable[[Mapping[str, Any]], str | None]

#: Parameters of the runners that name a canonical column of the sample table.
_COLUMN_PARAMS = ("exposure", "outcome", "cluster")


def declared_entry(block: Mapping[str, Any]) -> dict[str, Any]:
    """A coverage-map-like entry of one dataset from its ``datasets.yaml`` block.

    ``variables``: the canonical columns it maps, each with ``values`` (the mapped values, or None when
    the column is not mapped value by value); ``body_sites``: the mapped ``body_site`` values;
    ``body_subsites``: the mapped ``body_subsite`` values.
    """
    cols = ((block.get("samples") or {}).get("columns")) or {}
    variables: dict[str, Any] = {}
    for name, spec in cols.items():
        variables[str(name)] = {"values": _declared_values(spec or {})}
    sites = (variables.get("body_site") or {}).get("values")
    subsites = (variables.get("body_subsite") or {}).get("values")
    if subsites is not None and sites is not None and "map" in (cols.get("body_subsite") or {}):
        subsites = sorted(set(subsites) | set(sites))  # unlisted subsites take the body_site value
    return {"variables": variables, "body_sites": sites, "body_subsites": subsites}


def _declared_values(spec: Mapping[str, Any]) -> list[str] | None:
    """The values a canonical column can take by its ``datasets.yaml`` spec (None: not known before import).

    ``constant`` → that value; ``indicators`` → the indicator outputs plus ``none``/``several_value``;
    ``map`` (value by value) → the mapped values plus ``other``; ``levels`` (ordinal) → the levels;
    ``blank`` adds its value. A column read as it is (``from`` only) is not known.
    """
    if spec.get("constant") is not None:
        return [str(spec["constant"])]
    values: set[str] | None = None
    if isinstance(spec.get("indicators"), dict):
        values = {str(v) for v in spec["indicators"].values()}
        for key in ("none", "several_value"):
            if spec.get(key) is not None:
                values.add(str(spec[key]))
    elif isinstance(spec.get("map"), dict):
        values = {str(v) for v in spec["map"].values() if v is not None}
        if spec.get("other") is not None:
            values.add(str(spec["other"]))
    elif spec.get("levels"):
        values = {str(v) for v in spec["levels"]}
    if values is not None and spec.get("blank") is not None:
        values.add(str(spec["blank"]))
    return sorted(values) if values is not None else None


def _has_value(entry: Mapping[str, Any], column: str, value: str) -> bool:
    var = (entry.get("variables") or {}).get(column)
    if var is None:
        return False
    values = var.get("values")
    return values is None or str(value) in values


def generic_requires(claim: Mapping[str, Any]) -> Predicate:
    """Every canonical column the claim's parameters name is mapped, and the body site is declared."""
    p = claim.get("params") or {}

    def ok(entry: Mapping[str, Any]) -> str | None:
        for key in _COLUMN_PARAMS:
            col = p.get(key)
            if isinstance(col, str) and col not in (entry.get("variables") or {}):
                return f"no {col!r} column (needed as {key})"
        site = p.get("body_site")
        if site and not _has_value(entry, "body_site", str(site)):
            return f"no {site} samples declared (body_site)"
        ref = p.get("reference")
        exp = p.get("exposure")
        if isinstance(exp, str) and ref is not None and not _has_value(entry, exp, str(ref)):
            return f"no {exp} = {ref} (the reference level) declared"
        levels = p.get("levels")
        if (
            isinstance(exp, str)
            and levels
            and not any(_has_value(entry, exp, str(v)) for v in levels)
        ):
            return f"none of the {exp} levels {list(levels)} declared"
        return None

    return ok


def requires(claim: Mapping[str, Any]) -> Predicate:
    """The runner's own ``requires(claim)`` when its module has one, else :func:`generic_requires`."""
    from . import RUNNERS

    fn = RUNNERS.get(str(claim.get("analysis")))
    mod = importlib.import_module(fn.__module__) if fn is not None else None
    custom = getattr(mod, "requires", None) if mod is not None else None
    return custom(claim) if custom is not None else generic_requires(claim)


def select(
    claim: Mapping[str, Any], datasets: Mapping[str, Mapping[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The datasets of ``claim`` and the ``dataset_selection`` rows saying why each is used or not."""
    listed = claim.get("datasets", [])
    if listed != AUTO:
        return list(listed), [
            {"dataset": ds, "used": True, "reason": "listed for this claim in claims.yaml"}
            for ds in listed
        ]
    per = (claim.get("params") or {}).get("per_dataset") or {}
    used: list[str] = []
    rows = []
    for ds, block in datasets.items():
        # the dataset's own per_dataset overrides apply, as in its cohort job
        params = {**(claim.get("params") or {}), **(per.get(ds) or {})}
        why = requires({**claim, "params": params})(declared_entry(block))
        if why is None:
            used.append(ds)
            rows.append(
                {
                    "dataset": ds,
                    "used": True,
                    "reason": "its harmonised columns and design serve the analysis",
                }
            )
        else:
            rows.append({"dataset": ds, "used": False, "reason": why})
    return used, rows


def resolve(
    claims: list[dict[str, Any]], datasets: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, list[str]], dict[str, list[dict[str, Any]]]]:
    """:func:`select` for every claim with an analysis: ``(datasets by claim, selection by claim)``."""
    by_claim: dict[str, list[str]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    for c in claims:
        if not c.get("analysis"):
            continue
        by_claim[c["id"]], rows[c["id"]] = select(c, datasets)
    return by_claim, rows
