"""The covariate coverage map: which dataset can speak to which variable, for how many samples.

A claim can only be tested, and adjusted for confounders, where the data carry the variables it needs.
:func:`build_coverage` reads every used dataset's canonical sample table (``results/import/{ds}/samples.tsv``)
and import summary (``import.json``) and counts, per dataset and variable, the samples with a value.
:func:`write_coverage` writes the two outputs of the ``coverage`` rule, each atomically:

``results/coverage.json``::

    {"variables": [ordered variable names],
     "definitions": {variable: what it counts},
     "concept_columns": {name: {concept: [the dataset's columns behind it]}},
     "datasets": {name: {"available": bool, "n_samples": int,
                         "body_sites": {site: n},
                         "paired_gut_skin_subjects": int,
                         "paired_same_visit_subjects": int,  # as paired_mirror pairs them
                         "pairing": "visit" | "subject",     # "subject": no visit column
                         "variables": {variable: {"n_non_missing": int, "fraction": float}},
                         "claims": [ids of the claims whose analysis uses the dataset]}}}

``results/coverage.tsv``
    One row per dataset (``dataset``, ``available``, ``n_samples``, then one column per variable holding
    the number of samples with a value).

Variables, in order (:data:`CORE_VARIABLES`): ``condition``, ``body_site``, ``paired_subjects`` (samples
of subjects who gave both a gut and a skin sample), ``subject_id``, ``visit``, ``age``, ``sex``, ``bmi``,
``antibiotics``, ``diet_plants``, ``probiotics``, ``sleep``; then every further column of any dataset in
order of first appearance. ``diet_plants``, ``probiotics`` and ``sleep`` are concepts that datasets name
differently; a sample counts when any of the dataset's columns whose name matches the concept's pattern
(:data:`CONCEPT_PATTERNS`, e.g. ``types_of_plants``, ``sleep_duration``) has a value, and those columns are
not listed again as further variables. ``fraction`` is ``n_non_missing / n_samples`` (0 when there are no
samples). An unavailable dataset has ``available: false``, no samples and zero counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputError
from .harmonise import CANONICAL_COLUMNS
from .importer import empty_samples, read_samples_tsv
from .io import atomic_path

__all__ = [
    "CONCEPT_PATTERNS",
    "CORE_VARIABLES",
    "build_coverage",
    "coverage_table",
    "dataset_coverage",
    "write_coverage",
]

#: The variables every dataset is scored on, in report order, with what each counts.
CORE_VARIABLES: dict[str, str] = {
    "condition": "skin condition (canonical column condition)",
    "body_site": "broad body site (canonical column body_site)",
    "paired_subjects": "samples of subjects with both a gut and a skin sample (subject_id, body_site)",
    "subject_id": "subject identifier (repeated samples of one person can be modelled)",
    "visit": "visit or time point",
    "age": "age in years",
    "sex": "sex",
    "bmi": "body-mass index",
    "antibiotics": "time since antibiotics were last taken",
    "diet_plants": "diet or plant diversity: any column named like diet, plant, vegetable, fruit, fibre",
    "probiotics": "probiotic use: any column named like probiotic",
    "sleep": "sleep: any column named like sleep",
}

#: Column-name patterns (case-insensitive ``re.search``) of the concept variables.
CONCEPT_PATTERNS: dict[str, str] = {
    "diet_plants": r"diet|plant|vegetable|fruit|fib(?:er|re)|whole_?grain",
    "probiotics": r"probiotic",
    "sleep": r"sleep",
}

_SIMPLE = ("condition", "body_site", "subject_id", "visit", "age", "sex", "bmi", "antibiotics")
_NOT_VARIABLES = {"sample_id", "dataset", "body_subsite"}


def _concept_columns(columns: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {k: [] for k in CONCEPT_PATTERNS}
    for col in columns:
        if col in CANONICAL_COLUMNS:
            continue
        for concept, pattern in CONCEPT_PATTERNS.items():
            if re.search(pattern, col, flags=re.IGNORECASE):
                out[concept].append(col)
                break
    return out


def _paired_subjects(samples: pd.DataFrame) -> tuple[int, int]:
    """(subjects with a gut and a skin sample, samples of those subjects)."""
    if not {"subject_id", "body_site"} <= set(samples.columns) or samples.empty:
        return 0, 0
    known = samples[samples["subject_id"].notna() & samples["body_site"].notna()]
    sites = known.groupby("subject_id")["body_site"].agg(lambda s: set(s.astype(str)))
    paired = sites[sites.map(lambda s: {"gut", "skin"} <= s)].index
    return len(paired), int(known["subject_id"].isin(paired).sum())


def _paired_same_visit(samples: pd.DataFrame) -> tuple[int, str]:
    """(subjects with a gut and a skin sample at the same visit, how they are paired).

    As ``paired_mirror`` pairs them: at the same visit when the table has visit values (``"visit"``),
    else on subject alone (``"subject"``: then it equals the paired-subject count).
    """
    if "visit" not in samples.columns or not samples["visit"].notna().any():
        return _paired_subjects(samples)[0], "subject"
    if not {"subject_id", "body_site"} <= set(samples.columns):
        return 0, "visit"
    known = samples[
        samples["subject_id"].notna() & samples["body_site"].notna() & samples["visit"].notna()
    ]
    sites = known.groupby(["subject_id", known["visit"].astype(str)])["body_site"].agg(
        lambda s: set(s.astype(str))
    )
    both = sites[sites.map(lambda s: {"gut", "skin"} <= s)]
    return int(both.index.get_level_values(0).nunique()), "visit"


def dataset_coverage(
    samples: pd.DataFrame, info: Mapping[str, Any], claims: Sequence[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """Coverage of one dataset.

    Parameters
    ----------
    samples
        Its canonical sample table (as read by :func:`gutskin.importer.read_samples_tsv`).
    info
        Its ``import.json`` (``available`` is read).
    claims
        Ids of the claims whose analysis uses the dataset.

    Returns
    -------
    entry : dict
        The dataset's entry of ``coverage.json`` (see the module docstring), with a ``variables``
        entry for every core variable and every further column of this dataset, plus
        ``concept_columns`` (moved to the top level by :func:`build_coverage`).
    extra : list of str
        This dataset's further columns (not canonical, not matched by a concept), in table order.
    """
    available = bool(info.get("available", True))
    if not available:
        samples = samples.iloc[0:0]
    n = len(samples)
    concepts = _concept_columns(samples.columns)
    used = {c for cols in concepts.values() for c in cols}
    extra = [
        str(c)
        for c in samples.columns
        if c not in CANONICAL_COLUMNS and c not in _NOT_VARIABLES and c not in used
    ]
    n_paired_subjects, n_paired_samples = _paired_subjects(samples)
    n_same_visit, pairing = _paired_same_visit(samples)

    def entry(count: int) -> dict[str, Any]:
        return {"n_non_missing": int(count), "fraction": float(count / n) if n else 0.0}

    variables: dict[str, dict[str, Any]] = {}
    for var in CORE_VARIABLES:
        if var == "paired_subjects":
            variables[var] = entry(n_paired_samples)
        elif var in _SIMPLE:
            variables[var] = entry(int(samples[var].notna().sum()) if var in samples else 0)
        else:
            cols = concepts.get(var, [])
            count = int(samples[cols].notna().any(axis=1).sum()) if cols else 0
            variables[var] = entry(count)
    for col in extra:
        variables[col] = entry(int(samples[col].notna().sum()))
    body_sites = (
        {str(k): int(v) for k, v in samples["body_site"].value_counts().sort_index().items()}
        if "body_site" in samples
        else {}
    )
    return {
        "available": available,
        "n_samples": int(n),
        "body_sites": body_sites,
        "paired_gut_skin_subjects": n_paired_subjects,
        "paired_same_visit_subjects": n_same_visit,
        "pairing": pairing,
        "variables": variables,
        "claims": list(claims),
        "concept_columns": {k: v for k, v in concepts.items() if v},
    }, extra


def _claims_by_dataset(claims: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for claim in claims:
        if not claim.get("analysis"):
            continue
        listed = claim.get("datasets") or []
        for ds in listed if isinstance(listed, list) else []:  # "auto": resolved by the caller
            out.setdefault(str(ds), []).append(str(claim["id"]))
    return out


def build_coverage(
    imports: Mapping[str, tuple[str | Path, str | Path] | None],
    claims: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Build the content of ``coverage.json``.

    Parameters
    ----------
    imports
        Dataset name → (``samples.tsv``, ``import.json``) of its import step, in report order;
        ``None`` for a dataset that could not be fetched (listed with ``available: false``).
    claims
        The claims of ``config/claims.yaml`` (``id``, ``analysis``, ``datasets``).

    Returns
    -------
    dict
        See the module docstring. Besides the keys listed there, ``definitions`` says what each
        variable counts and ``concept_columns`` names, per dataset, the columns behind
        ``diet_plants``/``probiotics``/``sleep``.

    Raises
    ------
    InputError
        A missing or unreadable ``import.json`` or ``samples.tsv``.
    """
    by_dataset = _claims_by_dataset(claims)
    datasets: dict[str, Any] = {}
    extras: list[str] = []
    for name, paths in imports.items():
        if paths is None:  # not fetched, so never imported (the workflow plans no import job)
            samples, info = empty_samples(), {"available": False}
        else:
            samples_path, info_path = Path(paths[0]), Path(paths[1])
            if not info_path.is_file():
                raise InputError(
                    info_path, "file not found", hint="run the import step for this dataset"
                )
            try:
                info = json.loads(info_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise InputError(
                    info_path,
                    f"not valid JSON: {exc.msg}",
                    where=f"line {exc.lineno}",
                    hint="re-run the import step; do not edit results by hand",
                ) from None
            samples = read_samples_tsv(samples_path, info.get("columns"))
        entry, extra = dataset_coverage(samples, info, by_dataset.get(str(name), []))
        datasets[str(name)] = entry
        extras.extend(c for c in extra if c not in extras)
    variables = [*CORE_VARIABLES, *extras]
    concept_columns = {}
    for name, entry in datasets.items():  # every dataset lists every variable, in the same order
        entry["variables"] = {
            v: entry["variables"].get(v, {"n_non_missing": 0, "fraction": 0.0}) for v in variables
        }
        concept_columns[name] = entry.pop("concept_columns")
    definitions = dict(CORE_VARIABLES)
    for col in extras:
        definitions[col] = "dataset-specific column of that name"
    return {
        "variables": variables,
        "definitions": definitions,
        "concept_columns": concept_columns,
        "datasets": datasets,
    }


def coverage_table(coverage: Mapping[str, Any]) -> pd.DataFrame:
    """Datasets × variables, non-missing counts (the content of ``coverage.tsv``)."""
    rows = []
    for name, entry in coverage["datasets"].items():
        row: dict[str, Any] = {
            "dataset": name,
            "available": "yes" if entry["available"] else "no",
            "n_samples": entry["n_samples"],
        }
        for var in coverage["variables"]:
            row[var] = entry["variables"][var]["n_non_missing"]
        rows.append(row)
    return pd.DataFrame(rows, columns=["dataset", "available", "n_samples", *coverage["variables"]])


def write_coverage(
    coverage: Mapping[str, Any], json_path: str | Path, tsv_path: str | Path
) -> None:
    """Write ``coverage.json`` and ``coverage.tsv``, each atomically."""
    text = json.dumps(coverage, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    with atomic_path(json_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    table = coverage_table(coverage)
    with atomic_path(tsv_path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
