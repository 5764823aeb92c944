"""Readers for sample metadata: QIIME mapping files and generic delimited text.

Every reader returns the *raw* metadata as a :class:`pandas.DataFrame` with

- one column per header field, in file order, all of dtype ``str``; missing values are ``NA``
  (empty cells, ``no_data`` in QIIME mapping files, and the dataset's ``missing_values``);
- the sample-id column kept as an ordinary column (named as in the header);
- the index holding the 1-based *line number* of each row in the file (index name ``"line"``), so that
  later errors (an unmapped value, a non-number) can point at the line to look at;
- ``df.attrs["source"]`` (the file) and ``df.attrs["id_column"]``.

Cells are stripped of surrounding white space. Sample ids must be present and unique; every row must
have as many fields as the header. Files may be plain, gzip-, bz2- or xz-compressed (detected from their
first bytes).

Readers are registered by the ``format`` names used in ``config/datasets.yaml`` in
:data:`SAMPLE_READERS`; to add a format, write a function with the :class:`SampleReader` signature,
add it to the dict and to the ``format`` enum of ``workflow/schemas/datasets.schema.yaml``.
"""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ..errors import InputError, close_matches_note
from ._compressed import decompress_bytes

_R = TypeVar("_R")

__all__ = [
    "QIIME_MISSING",
    "SAMPLE_READERS",
    "SampleReader",
    "nonblank_records",
    "read_delimited",
    "read_qiime_mapping",
    "read_samples",
    "read_text",
    "require_header",
]

#: Always missing in QIIME mapping files (besides empty cells).
QIIME_MISSING: tuple[str, ...] = ("no_data",)

#: A sample reader: ``reader(path, *, id_column, missing_values) -> DataFrame`` (see module docs).
SampleReader = Callable[..., pd.DataFrame]


def read_text(path: Path) -> str:
    """Return the decoded text of ``path`` (decompressing gzip/bz2/xz, capped by
    ``limits.max_inflated_bytes``), or raise InputError."""
    if not path.is_file():
        raise InputError(path, "file not found", hint="check the fetch step's manifest")
    raw = decompress_bytes(path, path.read_bytes())
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            path,
            f"not UTF-8 text: byte {raw[exc.start : exc.start + 1]!r} cannot be decoded",
            where=f"line {line}",
            hint="re-save the file as UTF-8",
        ) from None


def nonblank_records(
    path: Path, reader: Any, line_offset: int = 0
) -> Iterator[tuple[int, list[str]]]:
    """``(first line, fields)`` of each record of the :func:`csv.reader` ``reader`` that has a non-blank
    field; a CSV error becomes an InputError naming ``path`` and the line (``line_offset`` lines came
    before the text the reader reads)."""
    last = line_offset
    try:
        for record in reader:
            start, last = last + 1, reader.line_num + line_offset
            if record and any(f.strip() for f in record):
                yield start, record
    except csv.Error as exc:
        raise InputError(
            path, f"cannot parse the file: {exc}", where=f"line {reader.line_num + line_offset}"
        ) from None


def require_header(path: Path, header: list[str] | None) -> list[str]:
    """``header``, or the InputError of a file with no header line (nothing but blank lines)."""
    if header is None:
        raise InputError(path, "the file is empty (no header line)", hint="check the file")
    return header


def _parse(
    path: Path,
    *,
    delimiter: str,
    quoting: int,
    id_column: str | None,
    missing_values: Iterable[str],
    comment: str | None,
    header_prefix: str | None,
    unique_ids: bool = True,
) -> pd.DataFrame:
    text = read_text(path)
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quoting=quoting,  # type: ignore[arg-type]
        strict=False,
    )
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    for start, record in nonblank_records(path, reader):
        cells = [f.strip() for f in record]
        if header is None:
            header, header_line = cells, start
            continue
        if comment is not None and cells[0].startswith(comment):
            continue
        if len(cells) != len(header):
            raise InputError(
                path,
                f"row has {len(cells)} fields but the header (line {header_line}) has "
                f"{len(header)}",
                where=f"line {start}",
                hint="every row needs one value per column (use an empty cell or a missing-value "
                "code such as no_data); check for a stray or missing "
                + ("tab" if delimiter == "\t" else repr(delimiter)),
            )
        rows.append(cells)
        lines.append(start)
    header = require_header(path, header)
    if header_prefix is not None and not header[0].startswith(header_prefix):
        raise InputError(
            path,
            f"the first line must be the header starting with {header_prefix!r}, "
            f"found {header[0][:40]!r}",
            where=f"line {header_line}",
            hint="a QIIME mapping file starts with a header line `#SampleID<TAB>…`; is this the right "
            "file and format?",
        )
    empty = [i + 1 for i, h in enumerate(header) if not h and i > 0]
    if empty:
        raise InputError(
            path,
            f"header field(s) {', '.join(map(str, empty))} have no name",
            where=f"line {header_line}",
            hint="give every column a name",
        )
    seen: dict[str, int] = {}
    dups = []
    for h in header:
        seen[h] = seen.get(h, 0) + 1
        if seen[h] == 2:
            dups.append(h)
    if dups:
        raise InputError(
            path,
            f"duplicate column name(s): {', '.join(repr(d) for d in dups)}",
            where=f"line {header_line}",
            hint="column names must be unique; rename or remove the repeated column(s)",
        )
    if id_column is None:
        id_column = header[0]
    if id_column not in header:
        raise InputError(
            path,
            f"no sample-id column {id_column!r} among the {len(header)} columns"
            + close_matches_note(id_column, header, ignore_case=True),
            where=f"line {header_line}",
            hint="set samples.id_column in config/datasets.yaml to the column holding sample ids",
        )
    data = np.array(rows, dtype=object).reshape(len(rows), len(header))
    missing = {"", *(str(m) for m in missing_values)}
    if data.size:
        data[np.isin(data, list(missing))] = None
    index = pd.Index(lines, name="line", dtype="int64")
    df = pd.DataFrame(data, columns=header, index=index).astype("str")
    if unique_ids:
        _check_sample_ids(path, df, id_column)
    df.attrs["source"] = str(path)
    df.attrs["id_column"] = id_column
    return df


def _check_sample_ids(path: Path, df: pd.DataFrame, id_column: str) -> None:
    ids = df[id_column]
    if ids.isna().any():
        line = int(ids.index[ids.isna()][0])
        raise InputError(
            path,
            f"{int(ids.isna().sum())} row(s) have no sample id in column {id_column!r}",
            where=f"line {line}",
            hint="every row needs a sample id; remove the row or fill in its id",
        )
    dup_mask = ids.duplicated(keep=False)
    if dup_mask.any():
        dup_ids = list(dict.fromkeys(ids[dup_mask]))
        shown = []
        for sid in dup_ids[:5]:
            at = ", ".join(str(x) for x in ids.index[ids == sid][:4])
            shown.append(f"{sid!r} (lines {at})")
        raise InputError(
            path,
            f"{len(dup_ids)} duplicate sample id(s): {'; '.join(shown)}",
            where=f"column {id_column!r}",
            hint="each sample may appear once; remove or rename the repeated rows",
        )


def read_qiime_mapping(
    path: str | Path,
    *,
    missing_values: Iterable[str] = (),
    id_column: str = "#SampleID",
) -> pd.DataFrame:
    """Read a QIIME (1.x) mapping file.

    The first line is the header and starts with ``#SampleID``; fields are tab-separated and read
    without quote handling (``csv.QUOTE_NONE``: a ``"`` is an ordinary character); later lines that start
    with ``#`` are comments and skipped; empty lines are skipped.

    Parameters
    ----------
    path
        The mapping file (plain or compressed).
    missing_values
        Further values to read as missing, besides empty cells and ``no_data``.
    id_column
        The sample-id column (``#SampleID``).

    Returns
    -------
    pandas.DataFrame
        Raw metadata as described in the module docstring.

    Raises
    ------
    InputError
        Naming the line of a ragged row, the duplicate sample ids, a missing header, etc.
    """
    return _parse(
        Path(path),
        delimiter="\t",
        quoting=csv.QUOTE_NONE,
        id_column=id_column,
        missing_values=(*QIIME_MISSING, *missing_values),
        comment="#",
        header_prefix="#SampleID",
    )


def read_delimited(
    path: str | Path,
    sep: str = "\t",
    id_column: str | None = None,
    *,
    missing_values: Iterable[str] = (),
    quoting: int | None = None,
    comment: str | None = None,
    unique_ids: bool = True,
) -> pd.DataFrame:
    """Read a delimited text table with a header line and one row per sample.

    Parameters
    ----------
    path
        The file (plain or compressed).
    sep
        Field separator (``"\\t"`` or ``","``).
    id_column
        The column holding sample ids; ``None`` means the first column. An empty first header cell (as
        written by R for row names) is a column named ``""``.
    missing_values
        Values to read as missing, besides empty cells (e.g. ``NA``).
    quoting
        A :mod:`csv` quoting constant; default ``csv.QUOTE_MINIMAL`` (``"…"`` quotes fields) for
        ``sep=","`` and ``csv.QUOTE_NONE`` otherwise.
    comment
        If given, rows whose first cell starts with it (after the header) are skipped.
    unique_ids
        Check that the id column is filled and unique (default). ``False`` for a file joined by a key
        that may repeat (``samples.join``), whose repeats the join checks itself.

    Returns
    -------
    pandas.DataFrame
        Raw metadata as described in the module docstring.

    Raises
    ------
    InputError
        Naming the line of a ragged row, duplicate or missing sample ids, a missing id column, etc.
    """
    if quoting is None:
        quoting = csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE
    return _parse(
        Path(path),
        delimiter=sep,
        quoting=quoting,
        id_column=id_column,
        missing_values=missing_values,
        comment=comment,
        header_prefix=None,
        unique_ids=unique_ids,
    )


def bind_separator(
    reader: Callable[..., _R], sep: str, name: str, options: Sequence[str] | None = None
) -> Callable[..., _R]:
    """``reader`` with its ``sep`` fixed: the reader of one delimited ``format``.

    The result takes the path and keyword options only, and its signature (which
    :func:`gutskin.importer` checks a file's ``options`` against) lists exactly ``options`` (default:
    every keyword of ``reader`` but ``sep``), so a format accepts no option it does not use.
    """
    sig = inspect.signature(reader)
    first, *rest = sig.parameters.values()
    kept = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in rest
        if p.name != "sep" and (options is None or p.name in options)
    ]

    def bound(path: str | Path, **kwargs: Any) -> _R:
        return reader(path, sep=sep, **kwargs)

    bound.__name__ = bound.__qualname__ = name
    bound.__doc__ = f":func:`{reader.__name__}` with ``sep={sep!r}``."
    bound.__signature__ = sig.replace(parameters=[first, *kept])  # type: ignore[attr-defined]
    return bound


_tsv = bind_separator(read_delimited, "\t", "_tsv", ("id_column", "missing_values", "unique_ids"))
_csv = bind_separator(read_delimited, ",", "_csv", ("id_column", "missing_values", "unique_ids"))


def _qiime(
    path: str | Path, *, id_column: str | None = None, missing_values: Iterable[str] = ()
) -> pd.DataFrame:
    return read_qiime_mapping(
        path, missing_values=missing_values, id_column=id_column or "#SampleID"
    )


#: Sample-metadata readers by the ``format`` name used in ``config/datasets.yaml``.
SAMPLE_READERS: dict[str, SampleReader] = {
    "qiime_mapping": _qiime,
    "tsv": _tsv,
    "csv": _csv,
}


def read_samples(
    path: str | Path,
    fmt: str,
    *,
    id_column: str | None = None,
    missing_values: Iterable[str] = (),
    **kwargs: Any,
) -> pd.DataFrame:
    """Read sample metadata with the reader registered for ``fmt`` in :data:`SAMPLE_READERS`."""
    try:
        reader = SAMPLE_READERS[fmt]
    except KeyError:
        raise InputError(
            path,
            f"unknown sample-metadata format {fmt!r}",
            where="files.samples.format",
            hint=f"use one of {', '.join(sorted(SAMPLE_READERS))} in config/datasets.yaml",
        ) from None
    return reader(path, id_column=id_column, missing_values=missing_values, **kwargs)
