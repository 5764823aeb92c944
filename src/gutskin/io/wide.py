"""Wide (spreadsheet-shaped) feature tables, and rounding of averaged counts.

Many public tables are plain CSV/TSV matrices written by R or a spreadsheet: one row per sample and one
column per taxon (``rows="samples"``, the R ``write.csv`` of a samples × taxa data frame), or the
transpose (``rows="features"``). :func:`read_wide` reads them into a sparse
:class:`~gutskin.io.table.FeatureTable` without building a dense copy: rows are parsed one at a time and
only their non-zero cells kept.

Column names may be lineages (``lineage=...``); they are then parsed by :mod:`gutskin.taxonomy` and the
table's ``taxonomy`` holds the canonical lineage (``"k__Bacteria;p__…;s__…"``) of each feature. R-mangled
names (``Bacteria.Firmicutes.Bacilli…``) need ``lineage="r_dotted"``, whose ranks are recovered from the
whole set of names (:func:`gutskin.taxonomy.parse_r_dotted`; what stayed undecided is logged).

:func:`round_counts` turns non-integer "counts" (e.g. replicate-averaged reads) into whole numbers when a
dataset declares ``round: nearest``, and reports how much that changed.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError
from ..taxonomy import RANK_PREFIX, format_lineage, lineage_table, parse_r_dotted
from .mapping import bind_separator, nonblank_records, read_text, require_header
from .table import VALUE_KINDS, FeatureTable

__all__ = [
    "ROUND_MODES",
    "parse_wide_text",
    "read_wide",
    "read_wide_csv",
    "read_wide_tsv",
    "round_counts",
]

log = logging.getLogger(__name__)

#: Accepted values of a dataset's ``round`` key.
ROUND_MODES: tuple[str, ...] = ("nearest",)

_LINEAGE_CONVENTIONS = ("auto", "greengenes", "silva", "metaphlan", "plain", "r_dotted")


def _bad_cell(
    path: Path, cells: Sequence[str], header: Sequence[str], line: int, what: str
) -> None:
    for j, cell in enumerate(cells):
        try:
            v = float(cell)
        except ValueError:
            shown = repr(cell) if cell.strip() else "an empty cell"
            raise InputError(
                path,
                f"{shown} is not a number ({what} table cells must be numbers)",
                where=f"line {line}, column {j + 2} ({header[j + 1][:60]!r})",
                hint="a feature table holds only numbers after its id column; write absent taxa as 0",
            ) from None
        if not np.isfinite(v):
            raise InputError(
                path,
                f"{cell!r} is not a finite number",
                where=f"line {line}, column {j + 2} ({header[j + 1][:60]!r})",
                hint="a feature table must hold finite numbers; fix the table where it is made",
            )


def _lineages(feature_ids: np.ndarray, lineage: str, path: Path) -> pd.Series:
    ids = [str(x) for x in feature_ids]
    if lineage == "r_dotted":
        ranks, report = parse_r_dotted(ids)
        log.info(
            "%s: lineages recovered from R-mangled names: %d of %d resolved in every rank, %d with "
            "ranks left open (%s)",
            path,
            report["n_resolved"],
            report["n_names"],
            report["n_ambiguous"],
            ", ".join(f"{k}: {v}" for k, v in report["ambiguous_ranks"].items()) or "none",
        )
    else:
        try:
            ranks = lineage_table(pd.Series(ids, index=ids, dtype=object), lineage)
        except ValueError as exc:
            raise InputError(
                path,
                f"a column name cannot be read as a lineage: {exc}",
                hint="fix files.table.options.lineage in config/datasets.yaml (or remove it if the "
                "column names are not lineages)",
            ) from None
    return pd.Series(
        [format_lineage(list(row)) for row in ranks.itertuples(index=False, name=None)],
        index=ids,
        dtype=object,
        name="taxonomy",
    )


def read_wide(
    path: str | Path,
    *,
    values: str = "counts",
    sep: str = ",",
    rows: str = "samples",
    lineage: str | None = None,
    lineage_column: str | None = None,
    rank_columns: list[str] | None = None,
    ignore_columns: list[str] | None = None,
) -> FeatureTable:
    """Read a wide CSV/TSV feature table.

    Parameters
    ----------
    path
        The file (plain, gzip, bz2 or xz). Line 1 is the header; cells may be quoted (``"…"``).
    values
        ``counts`` (every value must be a whole number), ``relative`` or ``signal``.
    sep
        ``","`` or ``"\\t"``.
    rows
        ``"samples"``: one row per sample, the first column holds sample ids (its header may be empty,
        as R writes row names) and every other column is a feature. ``"features"``: one row per feature,
        the first column holds feature ids and every other column is a sample.
    lineage
        If given, feature ids (``rows="samples"``) are lineages written in this convention (one of
        ``auto``, ``greengenes``, ``silva``, ``metaphlan``, ``plain``, ``r_dotted``) and become the
        table's ``taxonomy``.
    lineage_column
        With ``rows="features"``: a column holding each feature's lineage (e.g. ``taxonomy``); it is
        not a sample.
    rank_columns
        With ``rows="features"``: columns holding one rank each, highest first (e.g. Kingdom, Phylum,
        Class, Order, Family, Genus, Species); they are not samples and make the feature's lineage
        (``k__Bacteria;p__…``; empty or ``NA`` cells end the named part).
    ignore_columns
        With ``rows="features"``: further columns that are not samples (e.g. the ASV's sequence).

    Returns
    -------
    FeatureTable
        Samples × features, CSR float64, zeros not stored.

    Raises
    ------
    InputError
        A missing or empty file, a ragged row, a non-number, a negative value, non-integers under
        ``values: counts``, empty or duplicate ids — naming the file, line and column.
    """
    path = Path(path)
    if values not in VALUE_KINDS:
        raise ValueError(f"values must be one of {VALUE_KINDS}, not {values!r}")
    if rows not in ("samples", "features"):
        raise ValueError("rows must be 'samples' or 'features'")
    if lineage is not None and lineage not in _LINEAGE_CONVENTIONS:
        raise InputError(
            path,
            f"unknown lineage convention {lineage!r}",
            where="files.table.options.lineage",
            hint=f"use one of {', '.join(_LINEAGE_CONVENTIONS)}",
        )
    return parse_wide_text(
        read_text(path),
        path,
        values=values,
        sep=sep,
        rows=rows,
        lineage=lineage,
        lineage_column=lineage_column,
        rank_columns=rank_columns,
        ignore_columns=ignore_columns,
    )


def parse_wide_text(
    text: str,
    path: Path,
    *,
    values: str = "counts",
    sep: str = ",",
    rows: str = "samples",
    lineage: str | None = None,
    lineage_column: str | None = None,
    line_offset: int = 0,
    rank_columns: list[str] | None = None,
    ignore_columns: list[str] | None = None,
) -> FeatureTable:
    """:func:`read_wide` on decoded text (``path`` is named in errors; ``line_offset`` lines were skipped)."""
    if values not in VALUE_KINDS:
        raise ValueError(f"values must be one of {VALUE_KINDS}, not {values!r}")
    if rows not in ("samples", "features"):
        raise ValueError("rows must be 'samples' or 'features'")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False)
    header: list[str] | None = None
    row_ids: list[str] = []
    row_lines: list[int] = []
    lineages: list[str | None] = []
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    lin_pos: int | None = None
    rank_pos: list[int] = []
    skip: set[int] = set()
    n_cols = 0
    what = "a sample" if rows == "samples" else "a feature"
    for start, record in nonblank_records(path, reader, line_offset):
        if header is None:
            header = [f.strip() for f in record]
            if len(header) < 2:
                raise InputError(
                    path,
                    "the header has fewer than two columns (ids and at least one "
                    f"{'feature' if rows == 'samples' else 'sample'})",
                    where=f"line {start}",
                    hint=f"is the separator right? This reader was told {sep!r}",
                )
            if lineage_column is not None:
                if rows != "features":
                    raise InputError(
                        path,
                        "options.lineage_column is only for tables with one row per feature",
                        where="files.table.options",
                        hint="use options.lineage for lineages in the column names",
                    )
                if lineage_column not in header[1:]:
                    raise InputError(
                        path,
                        f"no lineage column {lineage_column!r} in the header",
                        where=f"line {start}",
                        hint="fix files.table.options.lineage_column in config/datasets.yaml",
                    )
                lin_pos = header.index(lineage_column, 1)
            extra = [*(rank_columns or []), *(ignore_columns or [])]
            if extra and rows != "features":
                raise InputError(
                    path,
                    "options.rank_columns / ignore_columns are only for tables with one row per "
                    "feature",
                    where="files.table.options",
                )
            for name in extra:
                if name not in header[1:]:
                    raise InputError(
                        path,
                        f"no column {name!r} (options.rank_columns / ignore_columns) in the header",
                        where=f"line {start}",
                        hint="fix files.table.options in config/datasets.yaml",
                    )
            for name in rank_columns or []:
                if name.lower() not in RANK_PREFIX:
                    raise InputError(
                        path,
                        f"rank column {name!r} is not a rank name",
                        where="files.table.options.rank_columns",
                        hint=f"name rank columns after ranks: {', '.join(RANK_PREFIX)}",
                    )
            rank_pos = [header.index(n, 1) for n in rank_columns or []]
            skip = {k for k in (lin_pos, *rank_pos) if k is not None}
            skip |= {header.index(n, 1) for n in ignore_columns or []}
            n_cols = len(header) - 1 - len(skip)
            continue
        if len(record) != len(header):
            raise InputError(
                path,
                f"row has {len(record)} fields but the header has {len(header)}",
                where=f"line {start}",
                hint=f"every row needs one value per column; check for a stray {sep!r} or a "
                "missing cell",
            )
        rid = record[0].strip()
        if lin_pos is not None:
            lineages.append(record[lin_pos].strip() or None)
        elif rank_pos:
            lineages.append(_ranks_lineage([record[k] for k in rank_pos], rank_columns or []))
        cells = [c for k, c in enumerate(record[1:], start=1) if k not in skip]
        hdr = [h for k, h in enumerate(header) if k not in skip]
        try:
            vec = np.array(cells, dtype=np.float64)
        except ValueError:
            _bad_cell(path, cells, hdr, start, what)
            raise  # pragma: no cover - _bad_cell always raises here
        if not np.all(np.isfinite(vec)):
            _bad_cell(path, cells, hdr, start, what)
        nz = np.flatnonzero(vec)
        indices.append(nz)
        data.append(vec[nz])
        indptr.append(indptr[-1] + len(nz))
        row_ids.append(rid)
        row_lines.append(start)
    header = require_header(path, header)
    col_ids = [h for k, h in enumerate(header[1:], start=1) if k not in skip]
    _check_ids(path, row_ids, row_lines, "row")
    _check_ids(path, col_ids, None, "column")
    matrix = sp.csr_array(
        (
            np.concatenate(data) if data else np.empty(0),
            np.concatenate(indices) if indices else np.empty(0, dtype=np.int64),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(row_ids), n_cols),
    )
    if matrix.data.size and matrix.data.min() < 0:
        i = (
            int(np.searchsorted(matrix.indptr, np.flatnonzero(matrix.data < 0)[0], side="right"))
            - 1
        )
        raise InputError(
            path,
            f"{int((matrix.data < 0).sum())} value(s) are negative (smallest {matrix.data.min():g})",
            where=f"line {row_lines[i]}",
            hint="counts and abundances cannot be negative: this looks like a transformed table "
            "(log, CLR); use the raw counts instead",
        )
    if values == "counts" and matrix.data.size:
        frac = matrix.data != np.round(matrix.data)
        if frac.any():
            first = int(np.flatnonzero(frac)[0])
            i = int(np.searchsorted(matrix.indptr, first, side="right")) - 1
            raise InputError(
                path,
                f"{int(frac.sum())} value(s) are not whole numbers (e.g. {matrix.data[first]:g}) "
                "although the dataset declares values: counts",
                where=f"line {row_lines[i]}",
                hint="if these are averaged counts (e.g. over technical replicates), add `round: "
                "nearest` to the dataset in config/datasets.yaml; if they are proportions, set "
                "`values: relative`",
            )
    row_arr = np.asarray(row_ids, dtype=object)
    col_arr = np.asarray(col_ids, dtype=object)
    if rows == "samples":
        table = FeatureTable(counts=matrix, sample_ids=row_arr, feature_ids=col_arr, values=values)
        if lineage is not None:
            table.taxonomy = _lineages(table.feature_ids, lineage, path)
    else:
        taxonomy = None
        if lin_pos is not None or rank_pos:
            taxonomy = pd.Series(lineages, index=row_ids, dtype=object, name="taxonomy")
        table = FeatureTable(
            counts=sp.csr_array(matrix.T.tocsr()),
            sample_ids=col_arr,
            feature_ids=row_arr,
            taxonomy=taxonomy,
            values=values,
        )
        if lineage is not None and lin_pos is None and not rank_pos:
            table.taxonomy = _lineages(table.feature_ids, lineage, path)
    return table


def _ranks_lineage(cells: list[str], names: list[str]) -> str | None:
    """``k__Bacteria;p__Firmicutes;…`` from one cell per rank (empty / ``NA`` cells stay unnamed)."""
    parts = []
    for cell, name in zip(cells, names, strict=True):
        value = cell.strip()
        if value in ("NA", "NaN", "nan", "None"):
            value = ""
        parts.append(RANK_PREFIX[name.lower()] + value)
    return ";".join(parts) if any(p[3:] for p in parts) else None


def _check_ids(path: Path, ids: list[str], lines: list[int] | None, what: str) -> None:
    empty = [k for k, x in enumerate(ids) if not x]
    if empty:
        k = empty[0]
        where = f"line {lines[k]}" if lines else f"header, column {k + 2}"
        raise InputError(
            path,
            f"{len(empty)} {what} id(s) are empty",
            where=where,
            hint=f"give every {what} a name",
        )
    seen: dict[str, int] = {}
    for k, x in enumerate(ids):
        if x in seen:
            where = (
                f"lines {lines[seen[x]]} and {lines[k]}"
                if lines
                else f"header, columns {seen[x] + 2} and {k + 2}"
            )
            raise InputError(
                path,
                f"duplicate {what} id {x!r}",
                where=where,
                hint=f"every {what} id must be unique; fix the table where it is made",
            )
        seen[x] = k


#: :func:`read_wide` with ``sep=","`` (format ``wide_csv``).
read_wide_csv = bind_separator(read_wide, ",", "read_wide_csv")
#: :func:`read_wide` with ``sep="\\t"`` (format ``wide_tsv``).
read_wide_tsv = bind_separator(read_wide, "\t", "read_wide_tsv")


def round_counts(table: FeatureTable, mode: str = "nearest") -> tuple[FeatureTable, dict[str, Any]]:
    """Round a table of non-integer counts to whole numbers.

    ``nearest`` rounds half to even (IEC 60559, as R's ``round`` and :func:`numpy.round` do), so that
    ties such as 2.5 do not bias totals upwards. Values below 0.5 become 0: a taxon seen in fewer than
    half of the averaged replicates is dropped from that sample, which the report counts.

    Parameters
    ----------
    table
        Any table (``values`` is set to ``counts`` in the result).
    mode
        One of :data:`ROUND_MODES`.

    Returns
    -------
    table : FeatureTable
        The rounded table (zeros not stored; same ids and taxonomy).
    report : dict
        ``mode``; ``n_values`` (non-zero cells before); ``n_changed`` (cells whose value changed);
        ``fraction_changed``; ``max_change`` (largest absolute change of one cell); ``n_nonzero_to_zero``
        (cells rounded down to 0); ``depth_change_max`` (largest absolute change of a sample total);
        ``depth_change_mean_relative`` (mean over samples of |change| / total before).
    """
    if mode not in ROUND_MODES:
        raise ValueError(f"unknown rounding mode {mode!r}; use one of {ROUND_MODES}")
    counts = table.counts.copy()
    before = counts.data.copy()
    depth_before = table.depths()
    counts.data = np.round(counts.data)
    changed = counts.data != before
    to_zero = (counts.data == 0) & (before != 0)
    counts.eliminate_zeros()
    rounded = FeatureTable(
        counts=counts,
        sample_ids=table.sample_ids.copy(),
        feature_ids=table.feature_ids.copy(),
        taxonomy=None if table.taxonomy is None else table.taxonomy.copy(),
        values="counts",
    )
    depth_change = np.abs(rounded.depths() - depth_before)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(depth_before > 0, depth_change / depth_before, 0.0)
    report = {
        "mode": "nearest (half to even)",
        "n_values": int(before.size),
        "n_changed": int(changed.sum()),
        "fraction_changed": float(changed.mean()) if before.size else 0.0,
        "max_change": float(np.abs(np.round(before) - before).max()) if before.size else 0.0,
        "n_nonzero_to_zero": int(to_zero.sum()),
        "depth_change_max": float(depth_change.max()) if depth_change.size else 0.0,
        "depth_change_mean_relative": float(rel.mean()) if rel.size else 0.0,
    }
    return rounded, report
