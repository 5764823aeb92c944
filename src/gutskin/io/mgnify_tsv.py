"""MGnify taxonomic abundance tables (format ``mgnify_tsv``): the reader of the study-summary TSVs that
:mod:`gutskin.sources.mgnify` downloads (it lives here, below the sources, like every file reader)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError
from .mapping import read_text
from .table import FeatureTable

__all__ = ["read_taxonomy_tsv"]

log = logging.getLogger("gutskin.sources")

#: Columns of an abundance table that are not runs.
_SKIP_COLUMNS = {"taxid", "tax_id", "#taxid", "ncbi_taxid"}


def read_taxonomy_tsv(path: str | Path, *, values: str = "counts") -> FeatureTable:
    """Read an MGnify taxonomic abundance table (study summary) into a :class:`FeatureTable`.

    Layout: a header line whose first field is the lineage column (``#SampleID`` in API v1 files,
    ``taxonomy`` in v6 study summaries), then one column per run; each further line is one lineage
    (``sk__Bacteria;k__;p__Firmicutes;…``) with one number per run. A QIIME-style layout — ``#OTU ID`` first
    and a ``taxonomy`` column — is read too (features = OTU ids, lineage from ``taxonomy``). A leading
    ``# Constructed from biom file`` line is skipped; ``taxid`` columns are ignored. Lineages listed twice
    are summed (and logged).

    Parameters
    ----------
    path
        The file (plain or gzip/bz2/xz-compressed).
    values
        ``counts`` (whole numbers required), ``relative`` or ``signal``.

    Raises
    ------
    InputError
        Naming the file, line and column of a ragged row, a non-number, a negative or non-finite value,
        a fraction in a counts table, or duplicate run columns.
    """
    path = Path(path)
    text = read_text(path)
    lines = text.splitlines()
    header_at = None
    for i, line in enumerate(lines):
        if not line.strip() or line.startswith("# Constructed from"):
            continue
        header_at = i
        break
    if header_at is None:
        raise InputError(path, "the file is empty (no header line)", hint="check the download")
    header = [h.strip() for h in lines[header_at].split("\t")]
    if len(header) < 2:
        raise InputError(
            path,
            "the header has a single column: this is not a tab-separated MGnify abundance table",
            where=f"line {header_at + 1}",
            hint="check that the file is an MGnify taxonomy abundance TSV (format mgnify_tsv)",
        )
    lowered = [h.lower() for h in header]
    tax_col = next((j for j, h in enumerate(lowered) if j > 0 and h == "taxonomy"), None)
    skip = {0} | {j for j, h in enumerate(lowered) if h in _SKIP_COLUMNS}
    if tax_col is not None:
        skip.add(tax_col)
    run_cols = [j for j in range(len(header)) if j not in skip]
    runs = [header[j] for j in run_cols]
    if not runs:
        raise InputError(path, "the table has no run columns", where=f"line {header_at + 1}")
    dups = [r for r, n in pd.Series(runs).value_counts(sort=False).items() if n > 1]
    if dups:
        raise InputError(
            path,
            f"duplicate run column(s): {', '.join(repr(d) for d in dups)}",
            where=f"line {header_at + 1}",
            hint="each run may appear once",
        )
    feature_ids: list[str] = []
    lineages: list[str] = []
    rows: list[np.ndarray] = []
    for i in range(header_at + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise InputError(
                path,
                f"row has {len(cells)} fields but the header has {len(header)}",
                where=f"line {i + 1}",
                hint="the download may be truncated; delete it from the cache and run again",
            )
        fid = cells[0].strip()
        if not fid:
            raise InputError(path, "a row has no lineage / feature id", where=f"line {i + 1}")
        row = np.empty(len(run_cols), dtype=np.float64)
        for k, j in enumerate(run_cols):
            cell = cells[j].strip()
            try:
                value = float(cell)
            except ValueError:
                raise InputError(
                    path,
                    f"{cell!r} is not a number",
                    where=f"line {i + 1}, column {header[j]!r}",
                    hint="every run column must hold numbers",
                ) from None
            if not math.isfinite(value) or value < 0:
                raise InputError(
                    path,
                    f"{cell!r} is not a finite, non-negative number",
                    where=f"line {i + 1}, column {header[j]!r}",
                    hint="abundances cannot be negative or infinite",
                )
            if values == "counts" and value != round(value):
                raise InputError(
                    path,
                    f"{cell!r} is not a whole number although the dataset declares values: counts",
                    where=f"line {i + 1}, column {header[j]!r}",
                    hint="set `values: relative` for this dataset in config/datasets.yaml",
                )
            row[k] = value
        feature_ids.append(fid)
        lineages.append(cells[tax_col].strip() if tax_col is not None else fid)
        rows.append(row)
    dense = np.vstack(rows) if rows else np.zeros((0, len(runs)))
    ids = pd.Index(feature_ids)
    if ids.has_duplicates:
        n_dup = int(ids.duplicated().sum())
        log.warning("%s: %d repeated lineage row(s) summed", path, n_dup)
        frame = pd.DataFrame(dense, index=ids).groupby(level=0, sort=False).sum()
        first_lineage = dict(zip(feature_ids[::-1], lineages[::-1], strict=True))
        feature_ids = [str(x) for x in frame.index]
        lineages = [first_lineage[f] for f in feature_ids]
        dense = frame.to_numpy()
    counts = sp.csr_array(dense.T)
    taxonomy = pd.Series(lineages, index=pd.Index(feature_ids), dtype="str")
    try:
        return FeatureTable(
            counts=counts,
            sample_ids=np.array(runs, dtype=object),
            feature_ids=np.array(feature_ids, dtype=object),
            taxonomy=taxonomy,
            values=values,
        )
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
