"""Files of the HMP Data Analysis and Coordination Center (DACC): mapping files and OTU tables.

Mapping files (format ``dacc_map``)
    Tab-separated, header on line 1, one row per sample; R-style ``"…"`` quoting (the
    ``v35_map_uniquebyPSN.txt.bz2`` files write multi-centre runs as ``"BCM,BI"``). Some of them have a
    broken header: ``ppAll_V35_map.txt`` names 14 columns but every row has 15 fields, because the header
    glues two names together (``HMPBodySubsiteHMPBodySite`` for ``HMPBodySubsite`` and
    ``HMPBodySite``). gutskin never guesses such a repair: without a declared fix the reader raises an
    :class:`~gutskin.errors.InputError` naming the file, the first ragged line and both field counts;
    with ``header_fix: {split: {HMPBodySubsiteHMPBodySite: [HMPBodySubsite, HMPBodySite]}}`` (under the
    file's ``options`` in ``config/datasets.yaml``) the named column is split as declared, and the fix
    itself is checked (the glued name must be in the header, and the repaired header must match the rows).

OTU tables (format ``dacc_otu_table``)
    ``otu_table_psn_v35.txt.gz`` and relatives: line 1 is a comment (``# QIIME …``), line 2 the header
    ``#OTU ID<TAB><PSN>…<TAB>Consensus Lineage``, then one row per OTU with one count per sample
    (PSN) and the OTU's lineage (Greengenes style). Read into a sparse
    :class:`~gutskin.io.table.FeatureTable` (samples × OTUs) with the lineages as ``taxonomy``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .mapping import _check_sample_ids, nonblank_records, read_text, require_header
from .table import FeatureTable
from .wide import parse_wide_text

__all__ = ["apply_header_fix", "read_dacc_map", "read_dacc_otu_table"]

_LINEAGE_COLUMNS = ("Consensus Lineage", "taxonomy", "Taxonomy")


def apply_header_fix(
    header: list[str], fix: Mapping[str, Any] | None, path: Path, line: int = 1
) -> list[str]:
    """Apply a declared header fix and return the repaired header.

    Parameters
    ----------
    header
        The header fields as read.
    fix
        ``{"split": {glued_name: [name, name, …]}, "rename": {old: new}}`` (both optional); ``None`` or
        empty = no change.
    path, line
        Named in errors.

    Raises
    ------
    InputError
        A name to split or rename that is not in the header (so a fix that no longer applies — the
        upstream file was corrected — is noticed rather than silently ignored), or a malformed fix.
    """
    if not fix:
        return list(header)
    if not isinstance(fix, Mapping) or set(fix) - {"split", "rename"}:
        raise InputError(
            path,
            "header_fix must be a mapping with `split` and/or `rename`",
            where="options.header_fix",
            hint="e.g. header_fix: {split: {HMPBodySubsiteHMPBodySite: [HMPBodySubsite, HMPBodySite]}}",
        )
    out = list(header)
    for glued, parts in (fix.get("split") or {}).items():
        if (
            not isinstance(parts, list)
            or len(parts) < 2
            or not all(isinstance(p, str) for p in parts)
        ):
            raise InputError(
                path,
                f"header_fix.split.{glued} must list at least two column names",
                where="options.header_fix",
            )
        if out.count(glued) != 1:
            raise InputError(
                path,
                f"header_fix splits column {glued!r}, but the header has it "
                f"{out.count(glued)} time(s) (expected once)",
                where=f"line {line}",
                hint="the file may have been corrected upstream: check its header and remove or fix "
                "the header_fix in config/datasets.yaml",
            )
        k = out.index(glued)
        out[k : k + 1] = parts
    for old, new in (fix.get("rename") or {}).items():
        if out.count(old) != 1:
            raise InputError(
                path,
                f"header_fix renames column {old!r}, but the header has it {out.count(old)} time(s)",
                where=f"line {line}",
                hint="check the file's header and the header_fix in config/datasets.yaml",
            )
        out[out.index(old)] = str(new)
    return out


def read_dacc_map(
    path: str | Path,
    *,
    id_column: str | None = None,
    missing_values: Iterable[str] = (),
    header_fix: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read an HMP DACC mapping file (see the module docstring).

    Parameters
    ----------
    path
        The file (plain or compressed).
    id_column
        The sample-id column; ``None`` = the first column (after the header fix).
    missing_values
        Values read as missing besides empty cells (e.g. ``NA``).
    header_fix
        A declared header repair (:func:`apply_header_fix`).

    Returns
    -------
    pandas.DataFrame
        Raw metadata as the readers of :mod:`gutskin.io.mapping` return it: ``str`` columns named by the
        (repaired) header, ``NA`` for missing, index = line numbers (``"line"``), ``attrs["source"]``,
        ``attrs["id_column"]`` and ``attrs["header_fix"]`` (the fix applied, or ``None``).

    Raises
    ------
    InputError
        A row whose field count differs from the header's (naming the line, both counts, and — when
        there is no fix — how to declare one), a fix that does not apply, duplicate column names, a
        missing id column, missing or duplicate sample ids.
    """
    path = Path(path)
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", strict=False)
    header: list[str] | None = None
    header_line = 0
    n_named = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    for start, record in nonblank_records(path, reader):
        cells = [f.strip() for f in record]
        if header is None:
            n_named = len(cells)
            header = apply_header_fix(cells, header_fix, path, start)
            header_line = start
            continue
        if len(cells) != len(header):
            if header_fix:
                problem = (
                    f"row has {len(cells)} fields but the header (line {header_line}) has "
                    f"{n_named} names, {len(header)} after the declared header_fix"
                )
                hint = "check the header_fix in config/datasets.yaml against the file"
            else:
                problem = (
                    f"row has {len(cells)} fields but the header (line {header_line}) names "
                    f"{len(header)} columns"
                )
                hint = (
                    "if the header glues two column names together (as "
                    "HMPBodySubsiteHMPBodySite in ppAll_V35_map.txt), declare the repair under "
                    "this file's options in config/datasets.yaml, e.g. header_fix: {split: "
                    "{HMPBodySubsiteHMPBodySite: [HMPBodySubsite, HMPBodySite]}}; gutskin does "
                    "not guess it"
                )
            raise InputError(path, problem, where=f"line {start}", hint=hint)
        rows.append(cells)
        lines.append(start)
    header = require_header(path, header)
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise InputError(
            path,
            f"duplicate column name(s): {', '.join(repr(d) for d in dups)}",
            where=f"line {header_line}",
            hint="column names must be unique (a header_fix may rename one)",
        )
    id_column = header[0] if id_column is None else id_column
    if id_column not in header:
        raise InputError(
            path,
            f"no sample-id column {id_column!r} among the {len(header)} columns",
            where=f"line {header_line}",
            hint="set the id column (samples.id_column, or `key` of a join) to one of: "
            + ", ".join(repr(h) for h in header[:20]),
        )
    data = np.array(rows, dtype=object).reshape(len(rows), len(header))
    missing = {"", *(str(m) for m in missing_values)}
    if data.size:
        data[np.isin(data, list(missing))] = None
    df = pd.DataFrame(
        data, columns=header, index=pd.Index(lines, name="line", dtype="int64")
    ).astype("str")
    _check_sample_ids(path, df, id_column)
    df.attrs["source"] = str(path)
    df.attrs["id_column"] = id_column
    df.attrs["header_fix"] = dict(header_fix) if header_fix else None
    return df


def read_dacc_otu_table(path: str | Path, *, values: str = "counts") -> FeatureTable:
    """Read an HMP DACC / QIIME 1 "classic" OTU table (see the module docstring).

    Parameters
    ----------
    path
        The file (plain or compressed, e.g. ``otu_table_psn_v35.txt.gz``).
    values
        ``counts`` (whole numbers required), ``relative`` or ``signal``.

    Returns
    -------
    FeatureTable
        Samples (the header's sample columns, e.g. PSNs) × OTUs, sparse; ``taxonomy`` from the
        ``Consensus Lineage`` column when present.

    Raises
    ------
    InputError
        No ``#OTU ID`` header on line 1 or 2, ragged rows, non-numbers, negative or (for counts)
        non-integer values, duplicate OTU or sample ids — naming file and line.
    """
    path = Path(path)
    text = read_text(path)
    first_lines = text.split("\n", 2)
    skip = 0
    if first_lines and not first_lines[0].startswith("#OTU ID"):
        if (
            len(first_lines) > 1
            and first_lines[0].startswith("#")
            and first_lines[1].startswith("#OTU ID")
        ):
            skip = 1
        else:
            raise InputError(
                path,
                "not an OTU table: line 1 (or line 2 after a '#' comment) must be the header "
                f"starting with '#OTU ID', found {first_lines[0][:40]!r}",
                where="line 1",
                hint="is this the right file and format (dacc_otu_table)?",
            )
    body = text.split("\n", 1)[1] if skip else text
    header = body.split("\n", 1)[0].rstrip("\r").split("\t")
    lineage_column = next((h for h in header[1:] if h.strip() in _LINEAGE_COLUMNS), None)
    return parse_wide_text(
        body,
        path,
        values=values,
        sep="\t",
        rows="features",
        lineage_column=lineage_column.strip() if lineage_column else None,
        line_offset=skip,
    )
