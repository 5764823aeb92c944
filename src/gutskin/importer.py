"""The import step: fetched files → canonical feature table + canonical sample table.

:func:`import_dataset` reads the files listed in a dataset's fetch manifest with the readers registered
for their ``format`` (:data:`gutskin.io.TABLE_READERS`, :data:`gutskin.io.SAMPLE_READERS`), harmonises the
metadata (:func:`gutskin.harmonise.harmonise`), keeps the samples present in both the table and the
metadata, removes features that are then all zero and writes, each atomically::

    <out_dir>/table.biom     BIOM 2.1 HDF5 (observations = features, samples = samples)
    <out_dir>/samples.tsv    canonical sample table, same samples in the same order as the table
    <out_dir>/import.json    what was read, kept and dropped (written last)

:func:`load_imported` reads the three back for the downstream steps.
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import __version__
from .errors import ConfigError, InputError, close_matches_note
from .harmonise import CANONICAL_COLUMNS, canonical_type, column_types, harmonise
from .io import (
    SAMPLE_READERS,
    TABLE_READERS,
    FeatureTable,
    atomic_path,
    read_biom,
    read_samples,
    read_table,
    read_tree,
    round_counts,
    write_biom,
)
from .io.newick import import_tree
from .taxonomy import RANKS, lineage_table

__all__ = [
    "IMPORT_JSON",
    "SAMPLES_TSV",
    "TABLE_BIOM",
    "empty_samples",
    "import_dataset",
    "load_imported",
    "read_samples_tsv",
    "write_samples_tsv",
]

log = logging.getLogger(__name__)

TABLE_BIOM = "table.biom"
TREE_NWK = "tree.nwk"  # gutskin.diversity.phylogeny.TREE_FILE; empty = the dataset has no tree
SAMPLES_TSV = "samples.tsv"
IMPORT_JSON = "import.json"

_ROLES = ("table", "samples")


# ---------------------------------------------------------------------- samples.tsv
def empty_samples() -> pd.DataFrame:
    """A canonical sample table with no rows (the canonical columns, typed)."""
    cols: dict[str, pd.Series] = {}
    for c in CANONICAL_COLUMNS:
        if canonical_type(c) in ("number", "integer"):
            cols[c] = pd.Series([], dtype="float64")
        else:
            cols[c] = pd.Series([], dtype="str")
    return pd.DataFrame(cols)


def write_samples_tsv(
    samples: pd.DataFrame, path: str | Path, types: Mapping[str, Mapping[str, Any]] | None = None
) -> None:
    """Write a canonical sample table as TSV, atomically.

    Missing values are empty cells; integer-typed columns are written without a decimal point; floats
    with full (round-trip) precision; tabs and line breaks inside text values become spaces (the file
    is read without quote handling).
    """
    types = dict(types or column_types(samples))
    out = pd.DataFrame(index=samples.index)
    for c in samples.columns:
        ctype = types.get(c, {}).get("type", "string")
        col = samples[c]
        if ctype in ("number", "integer"):
            num = pd.to_numeric(col, errors="raise").astype("float64")
            if ctype == "integer":
                out[c] = num.map(lambda v: "" if np.isnan(v) else str(int(v)))
            else:
                out[c] = num.map(lambda v: "" if np.isnan(v) else repr(float(v)))
        else:
            obj = col.astype(object)
            out[c] = obj.map(
                lambda v: (
                    ""
                    if v is None or (isinstance(v, float) and np.isnan(v))
                    else str(v).replace("\t", " ").replace("\r", " ").replace("\n", " ")
                )
            )
    header = [str(c).replace("\t", " ").replace("\n", " ").replace("\r", " ") for c in out.columns]
    lines = ["\t".join(header)]
    lines.extend("\t".join(row) for row in out.itertuples(index=False, name=None))
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_samples_tsv(
    path: str | Path, types: Mapping[str, Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """Read a ``samples.tsv`` written by :func:`write_samples_tsv`.

    Parameters
    ----------
    path
        The file.
    types
        Column → ``{"type": string|number|integer|ordinal, "levels": [...]}`` (the ``columns`` entry of
        ``import.json``). Columns not described take the schema's type (canonical columns) or ``str``.

    Returns
    -------
    pandas.DataFrame
        Numbers as ``float64``, text as ``str``, ordinal columns as ordered ``Categorical``; missing
        values are ``NA``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found", hint="run the import step for this dataset")
    raw = pd.read_csv(
        path,
        sep="\t",
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        quoting=csv.QUOTE_NONE,
    )
    types = types or {}
    out = pd.DataFrame(index=raw.index)
    for c in raw.columns:
        info = types.get(c) or {"type": canonical_type(c) or "string"}
        ctype = info.get("type", "string")
        col = raw[c]
        if ctype in ("number", "integer"):
            num = pd.to_numeric(col, errors="coerce").astype("float64")
            bad = num.isna() & col.notna()
            if bad.any():
                raise InputError(
                    path,
                    f"column {c!r} should hold numbers but has {col[bad].iloc[0]!r}",
                    where=f"column {c!r}, line {int(np.flatnonzero(bad.to_numpy())[0]) + 2}",
                    hint="re-run the import step; do not edit results by hand",
                )
            out[c] = num
        elif ctype == "ordinal":
            levels = [str(v) for v in info.get("levels", [])]
            bad = col.notna() & ~col.isin(levels)
            if bad.any():
                raise InputError(
                    path,
                    f"column {c!r} has {col[bad].iloc[0]!r}, not one of its levels {levels}",
                    hint="re-run the import step; do not edit results by hand",
                )
            out[c] = pd.Categorical(col, categories=levels, ordered=True)
        else:
            out[c] = col.astype("str")
    return out


# ---------------------------------------------------------------------- helpers
def _atomic_json(obj: Any, path: Path) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _file_records(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    files = manifest.get("files") or {}
    records = []
    for role, info in files.items():
        if not isinstance(info, Mapping):
            continue
        rec = {"role": str(role)}
        for key in ("url", "sha256", "format", "path", "size", "source", "retrieved_at"):
            if key in info:
                rec[key] = info[key]
        records.append(rec)
    return records


def _empty_table(values: str) -> FeatureTable:
    return FeatureTable(
        counts=sp.csr_array((0, 0), dtype=np.float64),
        sample_ids=np.array([], dtype=object),
        feature_ids=np.array([], dtype=object),
        values=values,
    )


def _base_info(name: str, dataset: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict:
    return {
        "dataset": name,
        "available": True,
        "reason": None,
        "title": dataset.get("title"),
        "data_type": dataset.get("data_type"),
        "values": dataset.get("values", "counts"),
        "rarefaction_depth": dataset.get("rarefaction_depth"),
        "n_samples": 0,
        "n_features": 0,
        "n_samples_table": 0,
        "n_features_table": 0,
        "n_features_removed_empty": 0,
        "n_samples_mapping": 0,
        "dropped": {"not_in_table": 0, "not_in_mapping": 0},
        "dropped_examples": {"not_in_table": [], "not_in_mapping": []},
        "files": _file_records(manifest),
        "harmonisation": None,
        "columns": {},
        "gutskin_version": __version__,
    }


def _write_unavailable(info: dict[str, Any], out_dir: Path, reason: str) -> dict[str, Any]:
    info.update(available=False, reason=reason)
    samples = empty_samples()
    info["columns"] = column_types(samples)
    write_biom(_empty_table(info["values"] or "counts"), out_dir / TABLE_BIOM)
    write_samples_tsv(samples, out_dir / SAMPLES_TSV, info["columns"])
    _write_tree(None, [], out_dir, None)
    _atomic_json(info, out_dir / IMPORT_JSON)
    log.warning("dataset %s is unavailable: %s", info["dataset"], reason)
    return info


def _write_tree(
    tree: Any | None, feature_ids: Any, out_dir: Path, source: str | Path | None
) -> dict[str, Any] | None:
    """Write ``tree.nwk`` (pruned to the features; empty without a tree); its summary or ``None``."""
    return import_tree(tree, feature_ids, out_dir / TREE_NWK, source=source)


def _file_of(
    name: str,
    dataset: Mapping[str, Any],
    manifest: Mapping[str, Any],
    role: str,
    manifest_path: str | Path | None,
) -> tuple[Path, str]:
    where = manifest_path or f"fetch manifest of dataset {name}"
    entry = (manifest.get("files") or {}).get(role)
    if not isinstance(entry, Mapping) or not entry.get("path"):
        raise InputError(
            where,
            f"the manifest lists no fetched {role!r} file although the dataset is marked available",
            where=f"key files/{role}/path",
            hint="re-run the fetch step for this dataset",
        )
    spec = (dataset.get("files") or {}).get(role) or {}
    fmt = spec.get("format") or entry.get("format")
    if not fmt:
        raise InputError(
            "config/datasets.yaml",
            f"no format given for the {role!r} file of dataset {name}",
            where=f"key datasets/{name}/files/{role}/format",
        )
    return Path(entry["path"]), str(fmt)


def _examples(ids: list[str], k: int = 3) -> str:
    return ", ".join(repr(x) for x in ids[:k]) + (" …" if len(ids) > k else "")


# ---------------------------------------------------------------------- reader options and joins
def _reader_options(
    name: str, dataset: Mapping[str, Any], role: str, fmt: str, config_path: str | Path
) -> dict[str, Any]:
    """The ``options`` of a file, checked against the keyword arguments its reader accepts."""
    options = dict(((dataset.get("files") or {}).get(role) or {}).get("options") or {})
    reader = TABLE_READERS.get(fmt) if role == "table" else SAMPLE_READERS.get(fmt)
    if not options or reader is None:
        return options
    params = inspect.signature(reader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return options
    for key in options:
        if key not in params:
            accepted = sorted(
                k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
            )
            raise ConfigError(
                config_path,
                f"option {key!r} does not apply to format {fmt!r}",
                where=f"key datasets/{name}/files/{role}/options/{key}",
                hint=f"options of {fmt!r}: {', '.join(accepted) or 'none'} (see config/README.md)",
            )
    return options


def join_samples(
    raw: pd.DataFrame,
    joins: list[Mapping[str, Any]],
    name: str,
    dataset: Mapping[str, Any],
    manifest: Mapping[str, Any],
    manifest_path: str | Path | None = None,
    config_path: str | Path = "config/datasets.yaml",
) -> tuple[pd.DataFrame, list[dict[str, Any]], list[np.ndarray]]:
    """Join further metadata files to the raw sample metadata (``samples.join`` of a dataset).

    Each join reads the file of its ``role`` with the sample-metadata reader of its format, takes its key
    column (``key``; the first column by default; optionally the one group of ``key_pattern``), and adds
    its ``columns`` as raw columns ``<role>.<column>`` (missing where the sample's ``by`` value is missing
    or not in the file). ``check`` compares main and joined columns (counted, never changed); ``fill``
    then fills missing main values from the joined file.

    Returns
    -------
    raw : pandas.DataFrame
        The metadata with the joined columns (same rows, order and index).
    reports : list of dict
        Per join: ``role``, ``file``, ``by``, ``key``, ``key_pattern``, ``n_rows`` (of the joined file),
        ``n_not_matching_pattern``, ``n_matched`` / ``n_unmatched`` / ``n_no_key`` (metadata rows),
        ``unmatched_examples``, ``columns`` (added), ``check`` (per main column: ``joined``,
        ``compared``, ``agree``, ``disagree``, ``examples``), ``filled`` (per main column), ``header_fix``.
    matched : list of numpy.ndarray
        Per join, which metadata rows (by position) found their key.

    Raises
    ------
    ConfigError
        A role without a file, a joined file whose format is not a sample-metadata format, a bad
        ``key_pattern``, an added column that already exists.
    InputError
        A missing ``by``/``key``/joined column (with close matches), or keys that are not unique.
    """
    source = raw.attrs.get("source", "sample metadata")
    raw = raw.copy()
    reports: list[dict[str, Any]] = []
    matched_masks: list[np.ndarray] = []
    for j, join in enumerate(joins):
        where = f"key datasets/{name}/samples/join/{j}"
        role = str(join["role"])
        if role not in (dataset.get("files") or {}):
            raise ConfigError(
                config_path,
                f"join {j} reads the file of role {role!r}, which dataset {name} does not list",
                where=f"{where}/role",
                hint=f"add files.{role} (url, sha256, format) to the dataset or fix the role",
            )
        path, fmt = _file_of(name, dataset, manifest, role, manifest_path)
        if fmt not in SAMPLE_READERS:
            raise ConfigError(
                config_path,
                f"the joined file {role!r} has format {fmt!r}, which is not a sample-metadata format",
                where=f"key datasets/{name}/files/{role}/format",
                hint=f"use one of {', '.join(sorted(SAMPLE_READERS))}",
            )
        on = str(join["by"])
        if on not in raw.columns:
            raise InputError(
                source,
                f"there is no column {on!r} to join by (samples.join[{j}].by of dataset {name})",
                where=f"column {on!r}",
                hint=f"fix {where}/by in {config_path}",
            )
        options = _reader_options(name, dataset, role, fmt, config_path)
        reader = SAMPLE_READERS[fmt]
        if "unique_ids" in inspect.signature(reader).parameters:
            options["unique_ids"] = False  # repeated keys are checked below
        other = read_samples(
            path,
            fmt,
            id_column=join.get("key"),
            missing_values=join.get("missing_values") or [],
            **options,
        )
        key = str(join.get("key") or other.attrs["id_column"])
        pattern = join.get("key_pattern")
        keys, n_not_matching = _apply_pattern(
            other[key].astype(object), pattern, config_path, f"{where}/key_pattern"
        )
        by_pattern = join.get("by_pattern")
        min_match = float(join.get("min_match", DEFAULT_MIN_MATCH))
        if not 0.0 <= min_match <= 1.0:
            raise ConfigError(
                config_path,
                f"min_match must be a fraction between 0 and 1, not {min_match}",
                where=f"{where}/min_match",
            )
        wanted = [
            *join["columns"],
            *(join.get("fill") or {}).values(),
            *(join.get("check") or {}).values(),
        ]
        for col in wanted:
            if col not in other.columns:
                raise InputError(
                    path,
                    f"no column {col!r} (asked for by samples.join[{j}] of dataset {name})"
                    + close_matches_note(col, other.columns, n=3),
                    where=f"column {col!r}",
                    hint=f"fix {where} in {config_path}",
                )
        for col in [*(join.get("fill") or {}), *(join.get("check") or {})]:
            if col not in raw.columns:
                raise InputError(
                    source,
                    f"no column {col!r} to fill or check (samples.join[{j}] of dataset {name})",
                    where=f"column {col!r}",
                    hint=f"fix {where} in {config_path}",
                )
        usable = keys.notna().to_numpy()
        lookup = other.loc[usable].set_index(pd.Index(keys[usable].astype(str), name="key"))
        lookup, n_repeated = _collapse_repeats(
            lookup,
            np.asarray(other.index[usable]),
            list(dict.fromkeys(wanted)),
            path,
            key,
            name,
            j,
            config_path,
        )
        main_keys, n_by_not_matching = _apply_pattern(
            raw[on].astype(object), by_pattern, config_path, f"{where}/by_pattern"
        )
        has_key = main_keys.notna().to_numpy()
        matched = has_key & main_keys.astype(str).isin(lookup.index).to_numpy()
        n_with_key = int(has_key.sum())
        rate = float(matched.sum()) / n_with_key if n_with_key else 0.0
        if rate < min_match:
            raise InputError(
                f"{source} and {path}",
                f"join {j} of dataset {name} (file role {role!r}, {on!r} → {key!r}) matched "
                f"{int(matched.sum())} of {n_with_key} metadata rows with a key ({rate:.1%}), below "
                f"its min_match of {min_match:.0%}; unmatched keys: "
                + _examples([str(v) for v in main_keys[has_key & ~matched]])
                + "; keys in the joined file: "
                + _examples([str(v) for v in lookup.index]),
                where=f"{where}",
                hint="check the key columns and their patterns (key_pattern, by_pattern) in "
                f"{config_path}; lower {where}/min_match only if so few matches are expected",
            )

        report: dict[str, Any] = {
            "role": role,
            "file": str(path),
            "by": on,
            "key": key,
            "key_pattern": pattern,
            "by_pattern": by_pattern,
            "n_rows": len(other),
            "n_not_matching_pattern": n_not_matching,
            "n_by_not_matching_pattern": n_by_not_matching,
            "n_repeated_keys": n_repeated,
            "min_match": min_match,
            "match_rate": rate,
            "n_matched": int(matched.sum()),
            "n_unmatched": int((has_key & ~matched).sum()),
            "n_no_key": int((~has_key).sum()),
            "unmatched_examples": [str(v) for v in main_keys[has_key & ~matched][:3]],
            "columns": [],
            "check": {},
            "filled": {},
            "header_fix": other.attrs.get("header_fix"),
        }
        for main_col, jcol in (join.get("check") or {}).items():
            a, b = raw[main_col].astype(object), _joined_values(main_keys, matched, lookup, jcol)
            both = (a.notna() & b.notna()).to_numpy()
            differ = both & (a.astype(str) != b.astype(str)).to_numpy()
            report["check"][main_col] = {
                "joined": jcol,
                "compared": int(both.sum()),
                "agree": int((both & ~differ).sum()),
                "disagree": int(differ.sum()),
                "examples": [
                    {
                        "line": int(i) if isinstance(i, (int, np.integer)) else str(i),
                        "main": str(x),
                        "joined": str(y),
                    }
                    for i, x, y in zip(
                        a.index[differ][:3], a[differ][:3], b[differ][:3], strict=True
                    )
                ],
            }
        for col in join["columns"]:
            new = f"{role}.{col}"
            if new in raw.columns:
                raise ConfigError(
                    config_path,
                    f"joined column {new!r} already exists in the metadata",
                    where=f"{where}/columns",
                    hint="each file role may be joined once",
                )
            raw[new] = _joined_values(main_keys, matched, lookup, col).astype("str")
            report["columns"].append(new)
        for main_col, jcol in (join.get("fill") or {}).items():
            values = _joined_values(main_keys, matched, lookup, jcol)
            fill = (raw[main_col].isna() & values.notna()).to_numpy()
            if fill.any():
                filled = raw[main_col].astype(object)
                filled[fill] = values[fill]
                raw[main_col] = filled.astype("str")
            report["filled"][main_col] = int(fill.sum())
        log.info(
            "dataset %s: joined %s by %s: %d of %d metadata rows matched",
            name,
            role,
            on,
            report["n_matched"],
            len(raw),
        )
        reports.append(report)
        matched_masks.append(matched)
    return raw, reports, matched_masks


#: Default ``min_match`` of a join: at least this fraction of the metadata rows with a key must match.
DEFAULT_MIN_MATCH = 0.5


def _apply_pattern(
    values: pd.Series, pattern: Any, config_path: str | Path, where: str
) -> tuple[pd.Series, int]:
    """Keep what the one group of ``pattern`` matches in each value (``None`` where it does not match).

    Without a pattern the values are returned unchanged (missing stays missing). Returns the new
    values and how many present values did not match.
    """
    if not pattern:
        return values.where(values.notna(), None), 0
    try:
        rx = re.compile(str(pattern))
    except re.error as exc:
        raise ConfigError(
            config_path, f"{pattern!r} is not a regular expression: {exc}", where=f"key {where}"
        ) from None
    if rx.groups != 1:
        raise ConfigError(
            config_path,
            f"the pattern {pattern!r} must have exactly one group (it has {rx.groups})",
            where=f"key {where}",
            hint=r'e.g. "^(.+)[.]V35$" keeps what comes before ".V35"',
        )
    found = [rx.search(str(v)) if v is not None and v == v else None for v in values]
    present = [v is not None and v == v for v in values]
    n_not = sum(1 for m, ok in zip(found, present, strict=True) if ok and m is None)
    out = pd.Series([m.group(1) if m else None for m in found], index=values.index, dtype=object)
    return out, n_not


def _collapse_repeats(
    lookup: pd.DataFrame,
    row_lines: np.ndarray,
    columns: list[str],
    path: Path,
    key: str,
    name: str,
    j: int,
    config_path: str | Path,
) -> tuple[pd.DataFrame, int]:
    """One row per key: repeated keys are allowed when their rows agree on the joined columns."""
    dup = lookup.index.duplicated(keep=False)
    if not dup.any():
        return lookup, 0
    rep = lookup.loc[dup, columns].astype(object)
    rep = rep.where(rep.notna(), None)
    for k, group in rep.groupby(level=0, sort=False):
        distinct = group.drop_duplicates()
        if len(distinct) > 1:
            differ = [c for c in columns if group[c].nunique(dropna=False) > 1]
            at = row_lines[np.flatnonzero(lookup.index == k)][:5]
            where_rows = ", ".join(
                f"line {i}" if isinstance(i, (int, np.integer)) else str(i) for i in at
            )
            raise InputError(
                path,
                f"key {k!r} (column {key!r}) repeats in {len(group)} rows ({where_rows}) that "
                f"disagree on {', '.join(repr(c) for c in differ)}: "
                + "; ".join(
                    f"{c}={', '.join(repr(v) for v in pd.unique(group[c]))}" for c in differ[:3]
                ),
                where=f"column {key!r}",
                hint="a repeated key must carry the same values in every joined column; fix the file, "
                f"or join fewer columns (datasets/{name}/samples/join/{j}/columns in {config_path})",
            )
    n_repeated = int(lookup.index[dup].nunique())
    return lookup[~lookup.index.duplicated(keep="first")], n_repeated


def _joined_values(
    main_keys: pd.Series, matched: np.ndarray, lookup: pd.DataFrame, col: str
) -> pd.Series:
    """Column ``col`` of the joined file, aligned to the metadata rows (``None`` where unmatched)."""
    values = main_keys.astype(str).map(lookup[col].astype(object))
    return values.where(pd.Series(matched, index=main_keys.index), None)


def _normalise_table_ids(
    table: FeatureTable, pattern: str, path: Path, name: str, config_path: str | Path
) -> tuple[FeatureTable, dict[str, Any]]:
    """Rename the table's samples to what ``table_id_pattern``'s group matches (others unchanged)."""
    where = f"datasets/{name}/samples/table_id_pattern"
    old = pd.Series(table.sample_ids.astype(str), dtype=object)
    new, n_not = _apply_pattern(old, pattern, config_path, where)
    new = new.where(new.notna(), old).astype(str)
    dup = new.duplicated(keep=False).to_numpy()
    if dup.any():
        first = new[dup].iloc[0]
        clash = [str(x) for x in old[(new == first).to_numpy()]]
        raise InputError(
            path,
            f"table_id_pattern {pattern!r} gives {int(dup.sum())} table samples the same id, e.g. "
            f"{_examples(clash)} all become {first!r}",
            where=f"key {where}",
            hint=f"make the pattern keep what distinguishes the samples ({config_path})",
        )
    renamed = dataclasses.replace(table, sample_ids=new.to_numpy(dtype=object))
    return renamed, {
        "pattern": pattern,
        "n_not_matching": n_not,
        "examples": [f"{a} → {b}" for a, b in zip(old[:3], new[:3], strict=True)],
    }


def _taxonomy_summary(table: FeatureTable) -> dict[str, Any] | None:
    """How many features have a name at each rank (``None`` when the table has no taxonomy)."""
    if table.taxonomy is None:
        return None
    try:
        ranks = lineage_table(table.taxonomy)
    except ValueError as exc:
        return {"n_features": table.n_features, "error": str(exc)}
    return {
        "n_features": table.n_features,
        "named_at_rank": {r: int(ranks[r].notna().sum()) for r in RANKS},
    }


# ---------------------------------------------------------------------- the step
def import_dataset(
    name: str,
    dataset: Mapping[str, Any],
    manifest: Mapping[str, Any],
    out_dir: str | Path,
    *,
    config_path: str | Path = "config/datasets.yaml",
    manifest_path: str | Path | None = None,
) -> dict[str, Any]:
    """Import one dataset into ``out_dir`` (``table.biom``, ``samples.tsv``, ``import.json``).

    Parameters
    ----------
    name
        Dataset key in ``config/datasets.yaml``.
    dataset
        Its (validated) block: ``files`` with each role's ``format``, ``values`` and ``samples``.
    manifest
        The fetch manifest (``results/fetch/<name>.json``): ``available``, ``reason`` and
        ``files[role]["path"]`` for the ``table`` and ``samples`` roles.
    out_dir
        Output directory (created if needed).
    config_path, manifest_path
        Named in error messages.

    Returns
    -------
    dict
        The content of ``import.json``: ``dataset``, ``available``, ``reason``, ``n_samples``,
        ``n_features`` (kept), ``n_samples_table``, ``n_features_table``, ``n_features_removed_empty``,
        ``n_samples_mapping`` (rows of the metadata), ``dropped`` (``not_in_table``: metadata rows whose
        sample is not in the table; ``not_in_mapping``: table samples without metadata),
        ``dropped_examples``, ``files``, ``harmonisation`` (the report of
        :func:`~gutskin.harmonise.harmonise`, on the kept samples' source rows), ``columns`` (type and
        levels of every column of ``samples.tsv``), ``title``, ``data_type``, ``values``,
        ``rarefaction_depth``, ``gutskin_version``; ``taxonomy`` (features named at each rank, or
        ``None``); ``rounding`` (the report of :func:`~gutskin.io.wide.round_counts`) when the dataset
        declares ``round``; ``joins`` (the reports of :func:`join_samples`, each with
        ``n_matched_kept``: kept samples whose key was found) when it declares ``samples.join``.

    Raises
    ------
    InputError
        Unreadable files, harmonisation errors, or a table and metadata that share no sample id (naming
        both files with three example ids of each).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = _base_info(name, dataset, manifest)
    if manifest.get("available") is False:
        reason = str(manifest.get("reason") or "the fetch step could not get its files")
        return _write_unavailable(info, out_dir, reason)

    values = str(dataset.get("values", "counts"))
    table_path, table_fmt = _file_of(name, dataset, manifest, "table", manifest_path)
    samples_path, samples_fmt = _file_of(name, dataset, manifest, "samples", manifest_path)
    spec = dataset.get("samples") or {}

    rounding = dataset.get("round")
    if rounding and values != "counts":
        raise ConfigError(
            config_path,
            f"round: {rounding} applies to tables of counts, but dataset {name} declares values: {values}",
            where=f"key datasets/{name}/round",
            hint="remove `round` (relative abundances and signal are not rounded)",
        )
    table = read_table(
        table_path,
        table_fmt,
        values="signal" if rounding else values,  # non-integers allowed, then rounded below
        **_reader_options(name, dataset, "table", table_fmt, config_path),
    )
    if rounding:
        table, info["rounding"] = round_counts(table, str(rounding))
    raw = read_samples(
        samples_path,
        samples_fmt,
        id_column=spec.get("id_column", "#SampleID"),
        missing_values=spec.get("missing_values") or [],
        **_reader_options(name, dataset, "samples", samples_fmt, config_path),
    )
    joined: list[np.ndarray] = []
    if spec.get("join"):
        raw, info["joins"], joined = join_samples(
            raw, spec["join"], name, dataset, manifest, manifest_path, config_path
        )
    id_column = str(spec.get("id_column", "#SampleID"))
    if spec.get("id_pattern") and id_column in raw.columns:
        raw = raw.copy()
        new_ids, n_not = _apply_pattern(
            raw[id_column].astype(object),
            spec["id_pattern"],
            config_path,
            f"datasets/{name}/samples/id_pattern",
        )
        raw[id_column] = new_ids.where(new_ids.notna(), raw[id_column]).astype("str")
        info["id_normalisation"] = {
            "metadata": {"pattern": spec["id_pattern"], "n_not_matching": n_not}
        }
    if spec.get("table_id_pattern"):
        table, table_norm = _normalise_table_ids(
            table, spec["table_id_pattern"], table_path, name, config_path
        )
        info.setdefault("id_normalisation", {})["table"] = table_norm
    samples, report = harmonise(raw, spec, name, samples_path, config_path=config_path)
    info["n_samples_table"] = table.n_samples
    info["n_features_table"] = table.n_features
    info["n_samples_mapping"] = len(samples)

    table_ids = pd.Index(table.sample_ids.astype(str))
    map_ids = samples["sample_id"].astype(str)
    in_table = map_ids.isin(table_ids).to_numpy()
    in_map = table_ids.isin(map_ids)
    if not in_table.any():
        raise InputError(
            f"{table_path} and {samples_path}",
            "the feature table and the sample metadata share no sample id "
            f"(table: {_examples(list(table_ids))}; metadata column "
            f"{spec.get('id_column', '#SampleID')!r}: {_examples(list(map_ids))})",
            hint=f"check datasets/{name}/samples/id_column in {config_path} and that both files "
            "belong to the same release of the dataset",
        )
    not_in_table = list(map_ids[~in_table])
    not_in_mapping = [str(x) for x in table_ids[~in_map]]
    info["dropped"] = {"not_in_table": len(not_in_table), "not_in_mapping": len(not_in_mapping)}
    info["dropped_examples"] = {
        "not_in_table": not_in_table[:5],
        "not_in_mapping": not_in_mapping[:5],
    }
    kept = samples.loc[in_table].reset_index(drop=True)
    for join_report, matched in zip(info.get("joins") or [], joined, strict=True):
        join_report["n_matched_kept"] = int(matched[in_table].sum())
    sub = table.subset_samples(kept["sample_id"].to_numpy()).filter_empty_features()
    info["n_samples"] = sub.n_samples
    info["n_features"] = sub.n_features
    info["n_features_removed_empty"] = table.n_features - sub.n_features
    info["taxonomy"] = _taxonomy_summary(sub)
    report = dict(report)
    report["missing_kept"] = {c: int(kept[c].isna().sum()) for c in kept.columns}
    info["harmonisation"] = report
    info["columns"] = column_types(kept, report.get("columns"))

    tree, tree_path = None, None
    if "tree" in (dataset.get("files") or {}):
        tree_path, tree_fmt = _file_of(name, dataset, manifest, "tree", manifest_path)
        options = dict((dataset["files"]["tree"] or {}).get("options") or {})
        tree = read_tree(tree_path, tree_fmt, **options)
    info["tree"] = _write_tree(tree, sub.feature_ids, out_dir, tree_path)

    write_biom(sub, out_dir / TABLE_BIOM, generated_by=f"gutskin {__version__}")
    write_samples_tsv(kept, out_dir / SAMPLES_TSV, info["columns"])
    _atomic_json(info, out_dir / IMPORT_JSON)
    log.info(
        "dataset %s: %d samples × %d features kept; %d metadata rows not in the table, %d table "
        "samples without metadata, %d all-zero features removed",
        name,
        info["n_samples"],
        info["n_features"],
        len(not_in_table),
        len(not_in_mapping),
        info["n_features_removed_empty"],
    )
    return info


def load_imported(out_dir: str | Path) -> tuple[FeatureTable, pd.DataFrame, dict[str, Any]]:
    """Read back the outputs of :func:`import_dataset`.

    Returns
    -------
    table : FeatureTable
        With ``values`` as declared for the dataset.
    samples : pandas.DataFrame
        Canonical sample table, rows in the order of ``table.sample_ids``; numbers ``float64``, text
        ``str``, ordinal columns ordered ``Categorical``, missing ``NA``.
    info : dict
        The content of ``import.json``.

    Raises
    ------
    InputError
        A missing or inconsistent file (e.g. ``samples.tsv`` and ``table.biom`` list different samples).
    """
    out_dir = Path(out_dir)
    info_path = out_dir / IMPORT_JSON
    if not info_path.is_file():
        raise InputError(info_path, "file not found", hint="run the import step for this dataset")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            info_path, f"not valid JSON: {exc.msg}", where=f"line {exc.lineno}"
        ) from None
    table = read_biom(out_dir / TABLE_BIOM, values=info.get("values") or "counts")
    samples = read_samples_tsv(out_dir / SAMPLES_TSV, info.get("columns"))
    ids = samples["sample_id"].astype(str).to_numpy() if len(samples) else np.array([], dtype=str)
    if len(ids) != table.n_samples or not np.array_equal(ids, table.sample_ids.astype(str)):
        raise InputError(
            f"{out_dir / SAMPLES_TSV} and {out_dir / TABLE_BIOM}",
            f"they list different samples ({len(ids)} vs {table.n_samples}) or in a different order",
            hint="re-run the import step; do not edit results by hand",
        )
    return table, samples, info
