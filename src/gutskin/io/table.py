"""The canonical feature table and its BIOM readers and writer.

:class:`FeatureTable` holds a samples × features matrix as a :class:`scipy.sparse.csr_array` (never
densified whole) with its sample and feature ids and, optionally, a taxonomy lineage per feature.

:func:`read_biom` auto-detects the three BIOM encodings met in public data:

- BIOM 1.0 JSON, plain or gzip-compressed (``.biom``, ``.biom.gz``);
- BIOM 2.x HDF5 (optionally gzip-compressed).

BIOM 1.0 JSON is parsed here rather than by ``biom-format`` because ``biom-format`` accepts tables whose
declared shape disagrees with their data, or whose sparse data repeat a cell or hold negative counts, and
builds a wrong table from them without a word. Every check below raises an
:class:`~gutskin.errors.InputError` naming the file, what is wrong and what to do. HDF5 files are read and
written with ``biom-format`` (:meth:`biom.Table.from_hdf5`, :meth:`biom.Table.to_hdf5`) and the result is
checked the same way.
"""

from __future__ import annotations

import io
import json
import lzma
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._atomic import atomic_path
from ..errors import InputError
from ._compressed import open_decompressed

__all__ = ["VALUE_KINDS", "FeatureTable", "atomic_path", "read_biom", "write_biom"]

#: What the numbers in a table are: read counts, relative abundances (proportions) or an arbitrary
#: non-negative signal (microarray intensities).
VALUE_KINDS: tuple[str, ...] = ("counts", "relative", "signal")

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_GZIP_MAGIC = b"\x1f\x8b"
_BZ2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"

_REDOWNLOAD = (
    "delete the file (and its copy under resources/cache) and run the workflow again so that it is "
    "downloaded and checked against its sha256"
)


def _as_id_array(ids: Iterable[Any], what: str) -> np.ndarray:
    arr = np.empty(0, dtype=object) if ids is None else np.asarray(list(ids), dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    return np.array([str(x) for x in arr], dtype=object)


def _duplicates(ids: np.ndarray, limit: int = 5) -> list[str]:
    values, counts = np.unique(ids.astype(str), return_counts=True)
    return [str(v) for v in values[counts > 1][:limit]]


@dataclass
class FeatureTable:
    """A samples × features table, sparse.

    Parameters
    ----------
    counts
        ``scipy.sparse.csr_array`` of shape (n_samples, n_features), float64. Integer-valued when
        ``values == "counts"``. Other sparse or dense inputs are converted to CSR float64.
    sample_ids
        Unique sample ids (converted to a ``numpy`` object array of ``str``).
    feature_ids
        Unique feature ids (converted likewise).
    taxonomy
        Optional lineage per feature (index: feature ids; value: ``"k__…;p__…;…"``), or ``None``.
    values
        What the numbers are: ``"counts"``, ``"relative"`` or ``"signal"``.

    Raises
    ------
    ValueError
        If shapes disagree, ids are not unique, values are negative or not finite, or ``values`` is
        unknown. (Readers turn bad *files* into :class:`~gutskin.errors.InputError` before this point.)
    """

    counts: sp.csr_array
    sample_ids: np.ndarray
    feature_ids: np.ndarray
    taxonomy: pd.Series | None = None
    values: str = "counts"

    def __post_init__(self) -> None:
        if not isinstance(self.counts, sp.csr_array) or self.counts.dtype != np.float64:
            self.counts = sp.csr_array(self.counts, dtype=np.float64)
        self.sample_ids = _as_id_array(self.sample_ids, "sample_ids")
        self.feature_ids = _as_id_array(self.feature_ids, "feature_ids")
        n, m = self.counts.shape
        if (n, m) != (len(self.sample_ids), len(self.feature_ids)):
            raise ValueError(
                f"counts has shape {self.counts.shape} but there are {len(self.sample_ids)} sample ids "
                f"and {len(self.feature_ids)} feature ids"
            )
        if self.values not in VALUE_KINDS:
            raise ValueError(f"values must be one of {VALUE_KINDS}, not {self.values!r}")
        dup = _duplicates(self.sample_ids)
        if dup:
            raise ValueError(f"duplicate sample ids: {', '.join(dup)}")
        dup = _duplicates(self.feature_ids)
        if dup:
            raise ValueError(f"duplicate feature ids: {', '.join(dup)}")
        data = self.counts.data
        if data.size and not np.all(np.isfinite(data)):
            raise ValueError("counts contain NaN or infinite values")
        if data.size and data.min() < 0:
            raise ValueError("counts contain negative values")
        if self.taxonomy is not None:
            tax = pd.Series(self.taxonomy, dtype=object)
            tax.index = tax.index.astype(str)
            self.taxonomy = tax.reindex(self.feature_ids.astype(str))

    # ------------------------------------------------------------------ shape and sums
    @property
    def n_samples(self) -> int:
        """Number of samples (rows)."""
        return int(self.counts.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features (columns)."""
        return int(self.counts.shape[1])

    def depths(self) -> np.ndarray:
        """Total of each sample (row sums), float64, in the order of :attr:`sample_ids`."""
        return np.asarray(self.counts.sum(axis=1), dtype=np.float64).ravel()

    # ------------------------------------------------------------------ subsetting
    def subset_samples(self, ids: Sequence[str] | np.ndarray) -> FeatureTable:
        """Return the table restricted to ``ids``, in the order of ``ids``.

        Raises
        ------
        KeyError
            Naming up to five ids that are not in the table.
        ValueError
            If ``ids`` repeats an id.
        """
        wanted = _as_id_array(ids, "ids")
        dup = _duplicates(wanted)
        if dup:
            raise ValueError(f"ids repeat: {', '.join(dup)}")
        pos = pd.Index(self.sample_ids.astype(str)).get_indexer(wanted.astype(str))
        if (pos < 0).any():
            missing = [str(x) for x in wanted[pos < 0][:5]]
            raise KeyError(
                f"{int((pos < 0).sum())} id(s) not in the table, e.g. {', '.join(missing)}"
            )
        return FeatureTable(
            counts=self.counts[pos],
            sample_ids=self.sample_ids[pos],
            feature_ids=self.feature_ids.copy(),
            taxonomy=None if self.taxonomy is None else self.taxonomy.copy(),
            values=self.values,
        )

    def filter_empty_features(self) -> FeatureTable:
        """Return the table without features whose column sums to zero (taxonomy follows)."""
        nonzero = np.asarray(self.counts.sum(axis=0)).ravel() > 0
        keep = np.flatnonzero(nonzero)
        tax = None if self.taxonomy is None else self.taxonomy.iloc[keep].copy()
        return FeatureTable(
            counts=self.counts[:, keep],
            sample_ids=self.sample_ids.copy(),
            feature_ids=self.feature_ids[keep],
            taxonomy=tax,
            values=self.values,
        )

    # ------------------------------------------------------------------ biom-format bridge
    def to_biom(self) -> Any:
        """Return a :class:`biom.Table` (observations = features, samples = samples).

        The taxonomy, when present, becomes the ``taxonomy`` observation metadata as a list of ranks
        (the lineage split on ``;``), which is how QIIME and ``biom-format`` store it.
        """
        import biom

        obs_md = None
        if self.taxonomy is not None:
            obs_md = [
                {"taxonomy": _split_lineage(v)} for v in self.taxonomy.reindex(self.feature_ids)
            ]
        matrix = sp.csr_matrix(self.counts.T.tocsr())
        return biom.Table(
            matrix,
            observation_ids=[str(x) for x in self.feature_ids],
            sample_ids=[str(x) for x in self.sample_ids],
            observation_metadata=obs_md,
            type="OTU table",
        )

    @classmethod
    def from_biom(cls, table: Any, values: str = "counts") -> FeatureTable:
        """Build a :class:`FeatureTable` from a :class:`biom.Table` without densifying it.

        Parameters
        ----------
        table
            A ``biom.Table`` (observations × samples).
        values
            ``"counts"``, ``"relative"`` or ``"signal"``.
        """
        matrix = table.matrix_data  # scipy sparse, observations x samples
        counts = sp.csr_array(matrix.T.tocsr(), dtype=np.float64)
        counts.sum_duplicates()
        feature_ids = table.ids(axis="observation")
        return cls(
            counts=counts,
            sample_ids=table.ids(axis="sample"),
            feature_ids=feature_ids,
            taxonomy=_taxonomy_from_metadata(table.metadata(axis="observation"), feature_ids),
            values=values,
        )


def _split_lineage(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [part.strip() for part in str(value).split(";")]


def _lineage_string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return ";".join(part.strip() for part in value.split(";"))
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [str(p).strip() for p in value]
        return ";".join(parts) if parts else None
    return str(value)


def _taxonomy_from_metadata(
    metadata: Sequence[Any] | None, feature_ids: Sequence[Any] | np.ndarray
) -> pd.Series | None:
    if metadata is None:
        return None
    lineages: list[str | None] = []
    found = False
    for md in metadata:
        value = None
        if md:
            for key in ("taxonomy", "Taxonomy", "lineage", "Consensus Lineage"):
                if key in md:
                    value = md[key]
                    break
        lin = _lineage_string(value)
        found = found or lin is not None
        lineages.append(lin)
    if not found:
        return None
    return pd.Series(lineages, index=[str(x) for x in feature_ids], dtype=object, name="taxonomy")


# ---------------------------------------------------------------------- reading
def _open_decompressed(path: Path) -> tuple[bytes, IO[bytes]]:
    """Open ``path``, transparently decompressing gzip/bz2/xz (capped: limits.max_inflated_bytes)."""
    return open_decompressed(path)


def read_biom(path: str | Path, *, values: str = "counts") -> FeatureTable:
    """Read a BIOM table (1.0 JSON, plain or gzip; or 2.x HDF5), detected from its content.

    Parameters
    ----------
    path
        The file.
    values
        What the numbers are (``"counts"``, ``"relative"``, ``"signal"``; from the dataset's
        ``values`` in ``config/datasets.yaml``). With ``"counts"`` every value must be a whole number.

    Returns
    -------
    FeatureTable
        Samples × features, CSR, float64.

    Raises
    ------
    InputError
        If the file is missing, not BIOM, compressed and truncated, has duplicate or missing ids, a
        declared shape that disagrees with its data, negative / non-finite / non-integer counts, or cells
        listed twice. The message names the file, the place and what to do.
    """
    path = Path(path)
    if values not in VALUE_KINDS:
        raise ValueError(f"values must be one of {VALUE_KINDS}, not {values!r}")
    if not path.is_file():
        raise InputError(path, "file not found", hint="check the fetch step's manifest")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty", hint=_REDOWNLOAD)
    head, stream = _open_decompressed(path)
    try:
        if head.startswith(_HDF5_MAGIC):
            table = _read_biom_hdf5(path, stream)
        elif _looks_like_json(head):
            table = _read_biom_json(path, stream, values)
        else:
            raise InputError(
                path,
                "not a BIOM file: it is neither BIOM 1.0 JSON nor BIOM 2.x HDF5 "
                f"(it starts with {head[:8]!r})",
                hint="if it is a tab-separated OTU table, convert it with "
                "`biom convert -i table.txt -o table.biom --to-hdf5`; if it should be BIOM, "
                + _REDOWNLOAD,
            )
    finally:
        stream.close()
    _check_table(path, table, values)
    return table


def _looks_like_json(head: bytes) -> bool:
    stripped = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    return stripped.startswith(b"{") or stripped == b""


def _read_biom_hdf5(path: Path, stream: IO[bytes]) -> FeatureTable:
    import biom
    import h5py
    from biom.exception import TableException

    try:
        if not isinstance(stream, io.BufferedReader) or getattr(stream, "name", None) is None:
            source: Any = io.BytesIO(stream.read())
        else:
            source = str(path)
        with h5py.File(source, "r") as h5:
            for key in ("observation/matrix/data", "sample/matrix/data"):
                if key not in h5:
                    raise InputError(
                        path,
                        f"HDF5 file has no '{key}' dataset, so it is not a BIOM 2.x table",
                        hint=_REDOWNLOAD,
                    )
            declared = tuple(int(x) for x in h5.attrs.get("shape", (-1, -1)))
            n_obs = len(h5["observation/ids"])
            n_samp = len(h5["sample/ids"])
            if declared != (n_obs, n_samp):
                raise InputError(
                    path,
                    f"declared shape {list(declared)} (features × samples) but the file lists "
                    f"{n_obs} feature ids and {n_samp} sample ids",
                    where="attribute 'shape'",
                    hint=_REDOWNLOAD,
                )
            btable = biom.Table.from_hdf5(h5)
    except InputError:
        raise
    except TableException as exc:
        raise InputError(path, f"invalid BIOM table: {exc}", hint=_fix_hint(str(exc))) from None
    except (OSError, EOFError, zlib.error, KeyError, ValueError, IndexError, TypeError) as exc:
        raise InputError(
            path, f"cannot read the BIOM HDF5 file (truncated or corrupt?): {exc}", hint=_REDOWNLOAD
        ) from None
    return _from_biom_checked(path, btable)


def _fix_hint(message: str) -> str:
    if "Duplicate" in message or "duplicate" in message:
        return "every sample id and every feature id must be unique; fix the file where it is made"
    return _REDOWNLOAD


def _from_biom_checked(path: Path, btable: Any) -> FeatureTable:
    sample_ids = _as_id_array(btable.ids(axis="sample"), "sample ids")
    feature_ids = _as_id_array(btable.ids(axis="observation"), "feature ids")
    _check_ids(path, sample_ids, "sample", "columns")
    _check_ids(path, feature_ids, "feature", "rows")
    matrix = btable.matrix_data
    counts = sp.csr_array(matrix.T.tocsr(), dtype=np.float64)
    counts.sum_duplicates()
    _check_values(path, counts.data)
    return FeatureTable(
        counts=counts,
        sample_ids=sample_ids,
        feature_ids=feature_ids,
        taxonomy=_taxonomy_from_metadata(btable.metadata(axis="observation"), feature_ids),
        values="counts",
    )


def _check_ids(path: Path, ids: np.ndarray, what: str, key: str) -> None:
    empty = [i for i, x in enumerate(ids) if not str(x).strip()]
    if empty:
        raise InputError(
            path,
            f"{len(empty)} {what} id(s) are empty (first at position {empty[0]})",
            where=f"'{key}'",
            hint="give every sample and feature a non-empty id where the table is made",
        )
    dup = _duplicates(ids)
    if dup:
        raise InputError(
            path,
            f"duplicate {what} ids: {', '.join(dup)}",
            where=f"'{key}'",
            hint=f"every {what} id must be unique; fix the table where it is made "
            "(e.g. merge or rename the repeated samples)",
        )


def _check_values(path: Path, data: np.ndarray) -> None:
    if not data.size:
        return
    bad = ~np.isfinite(data)
    if bad.any():
        raise InputError(
            path,
            f"{int(bad.sum())} matrix value(s) are NaN or infinite",
            where="'data'",
            hint="a feature table must hold finite numbers; fix the table where it is made",
        )
    if data.min() < 0:
        raise InputError(
            path,
            f"{int((data < 0).sum())} matrix value(s) are negative (smallest {data.min():g})",
            where="'data'",
            hint="counts and abundances cannot be negative: this looks like a transformed table "
            "(log, CLR); use the raw counts instead",
        )


def _check_table(path: Path, table: FeatureTable, values: str) -> None:
    data = table.counts.data
    if values == "counts" and data.size:
        frac = data != np.round(data)
        if frac.any():
            raise InputError(
                path,
                f"{int(frac.sum())} value(s) are not whole numbers (e.g. {data[frac][0]:g}) although "
                "the dataset declares values: counts",
                hint="set `values: relative` (proportions) or `values: signal` for this dataset in "
                "config/datasets.yaml, or use the table of raw counts",
            )
    table.values = values


def _read_biom_json(path: Path, stream: IO[bytes], values: str) -> FeatureTable:
    try:
        doc = json.load(io.TextIOWrapper(stream, encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(
            path,
            f"not valid JSON: {exc.msg}",
            where=f"line {exc.lineno}, column {exc.colno}",
            hint=_REDOWNLOAD,
        ) from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, lzma.LZMAError) as exc:
        raise InputError(
            path, f"cannot read the file (truncated or corrupt?): {exc}", hint=_REDOWNLOAD
        ) from None
    return _parse_biom_json(path, doc)


def _parse_biom_json(path: Path, doc: Any) -> FeatureTable:
    if not isinstance(doc, dict):
        raise InputError(path, "BIOM JSON must be an object at the top level", hint=_REDOWNLOAD)
    for key in ("rows", "columns", "data", "shape", "matrix_type"):
        if key not in doc:
            raise InputError(
                path,
                f"BIOM 1.0 JSON has no '{key}' key",
                where=f"key '{key}'",
                hint="this JSON file is not a BIOM table; " + _REDOWNLOAD,
            )
    rows, columns = doc["rows"], doc["columns"]
    if not isinstance(rows, list) or not isinstance(columns, list):
        raise InputError(path, "'rows' and 'columns' must be lists", hint=_REDOWNLOAD)
    try:
        raw_features = [r["id"] for r in rows]
        raw_samples = [c["id"] for c in columns]
    except (KeyError, TypeError):
        raise InputError(
            path, "every entry of 'rows' and 'columns' needs an 'id'", hint=_REDOWNLOAD
        ) from None
    for key, raw in (("rows", raw_features), ("columns", raw_samples)):
        for i, value in enumerate(raw):
            # null would become the id "None"; a list or object is no id at all
            if value is None or isinstance(value, bool | list | dict):
                raise InputError(
                    path,
                    f"entry {i} of '{key}' has id {json.dumps(value)}: ids must be strings (or numbers)",
                    where=f"key '{key}'[{i}].id",
                    hint="give every sample and feature a real id; " + _REDOWNLOAD,
                )
    feature_ids = _as_id_array(raw_features, "rows")
    sample_ids = _as_id_array(raw_samples, "columns")
    _check_ids(path, sample_ids, "sample", "columns")
    _check_ids(path, feature_ids, "feature", "rows")
    shape = doc["shape"]
    n_obs, n_samp = len(feature_ids), len(sample_ids)
    numeric = (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in shape)
    )
    if not numeric or list(shape) != [n_obs, n_samp]:
        raise InputError(
            path,
            f"declared shape {shape} (features × samples) but the file lists {n_obs} feature ids "
            f"('rows') and {n_samp} sample ids ('columns')",
            where="key 'shape'",
            hint=_REDOWNLOAD,
        )
    mtype = doc["matrix_type"]
    data = doc["data"]
    if mtype == "sparse":
        counts = _sparse_from_triples(path, data, n_obs, n_samp)
    elif mtype == "dense":
        counts = _sparse_from_dense_rows(path, data, n_obs, n_samp)
    else:
        raise InputError(
            path,
            f"unknown matrix_type {mtype!r} (expected 'sparse' or 'dense')",
            where="key 'matrix_type'",
            hint=_REDOWNLOAD,
        )
    metadata = [r.get("metadata") if isinstance(r, dict) else None for r in rows]
    return FeatureTable(
        counts=counts,
        sample_ids=sample_ids,
        feature_ids=feature_ids,
        taxonomy=_taxonomy_from_metadata(metadata, feature_ids),
        values="counts",
    )


def _sparse_from_triples(path: Path, data: Any, n_obs: int, n_samp: int) -> sp.csr_array:
    if not isinstance(data, list):
        raise InputError(path, "'data' must be a list", where="key 'data'", hint=_REDOWNLOAD)
    if not data:
        return sp.csr_array((n_samp, n_obs), dtype=np.float64)
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (ValueError, TypeError):
        raise InputError(
            path,
            "sparse 'data' must be a list of [row, column, value] triples of numbers",
            where="key 'data'",
            hint=_REDOWNLOAD,
        ) from None
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InputError(
            path,
            "sparse 'data' must be a list of [row, column, value] triples",
            where="key 'data'",
            hint=_REDOWNLOAD,
        )
    r, c, v = arr[:, 0], arr[:, 1], arr[:, 2]
    bad = (r != np.floor(r)) | (c != np.floor(c)) | (r < 0) | (c < 0) | (r >= n_obs) | (c >= n_samp)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            path,
            f"{int(bad.sum())} 'data' entries point outside the declared {n_obs} × {n_samp} matrix "
            f"(first: entry {i}, {data[i]})",
            where="key 'data'",
            hint=_REDOWNLOAD,
        )
    ri, ci = r.astype(np.int64), c.astype(np.int64)
    _check_values(path, v)
    linear = ci * n_obs + ri
    uniq, counts_ = np.unique(linear, return_counts=True)
    if (counts_ > 1).any():
        cell = int(uniq[counts_ > 1][0])
        raise InputError(
            path,
            f"{int((counts_ > 1).sum())} matrix cell(s) are listed more than once in 'data' "
            f"(first: row {cell % n_obs}, column {cell // n_obs})",
            where="key 'data'",
            hint="a cell may appear once only; fix the table where it is made",
        )
    coo = sp.coo_array((v, (ci, ri)), shape=(n_samp, n_obs))
    out = sp.csr_array(coo, dtype=np.float64)
    out.eliminate_zeros()
    return out


def _sparse_from_dense_rows(path: Path, data: Any, n_obs: int, n_samp: int) -> sp.csr_array:
    if not isinstance(data, list) or len(data) != n_obs:
        raise InputError(
            path,
            f"dense 'data' must have one list per feature ({n_obs}), "
            f"found {len(data) if isinstance(data, list) else type(data).__name__}",
            where="key 'data'",
            hint=_REDOWNLOAD,
        )
    blocks = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != n_samp:
            raise InputError(
                path,
                f"dense row {i} has {len(row) if isinstance(row, list) else 'no'} values, "
                f"expected {n_samp} (one per sample)",
                where="key 'data'",
                hint=_REDOWNLOAD,
            )
        try:
            vec = np.asarray(row, dtype=np.float64)
        except (ValueError, TypeError):
            raise InputError(
                path, f"dense row {i} holds non-numbers", where="key 'data'", hint=_REDOWNLOAD
            ) from None
        _check_values(path, vec)
        blocks.append(sp.csr_array(vec.reshape(1, -1)))
    if not blocks:
        return sp.csr_array((n_samp, 0), dtype=np.float64)
    return sp.csr_array(sp.vstack(blocks).T.tocsr(), dtype=np.float64)


# ---------------------------------------------------------------------- writing
def write_biom(table: FeatureTable, path: str | Path, generated_by: str = "gutskin") -> None:
    """Write ``table`` as BIOM 2.1 HDF5, atomically (temporary file + :func:`os.replace`).

    Parameters
    ----------
    table
        The table to write (0 samples and/or 0 features is allowed).
    path
        Destination; its directory is created if needed.
    generated_by
        Written to the file's ``generated-by`` attribute.
    """
    import h5py

    btable = table.to_biom()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        btable.to_hdf5(h5, generated_by)
