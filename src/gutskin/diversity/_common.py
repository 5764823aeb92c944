"""Input checks and small helpers shared by the diversity modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..io.table import FeatureTable

#: Where an error is reported when the caller gave no file name.
DEFAULT_SOURCE = "<feature table>"


def positive_int(value: Any, what: str, where: str, hint: str | None = None) -> int:
    """``value`` as an ``int`` if it is a positive integer (not a bool).

    Raises
    ------
    InputError
        ``"<what> must be a positive integer, got <value>"`` at ``where`` (a config key).
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(
            None, f"{what} must be a positive integer, got {value!r}", where=where, hint=hint
        )
    return int(value)


def as_csr(matrix: Any, *, source: str | None = None) -> sp.csr_array:
    """Return ``matrix`` as a canonical CSR array (sorted indices, no duplicates), without densifying.

    Raises
    ------
    InputError
        If ``matrix`` is not a 2-D scipy sparse matrix/array or holds negative or non-finite values.
    """
    src = source or DEFAULT_SOURCE
    if not sp.issparse(matrix):
        raise InputError(
            src,
            f"expected a scipy sparse samples x features matrix, got {type(matrix).__name__}",
            hint="pass FeatureTable.counts (a scipy.sparse.csr_array)",
        )
    csr = sp.csr_array(matrix)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    data = csr.data
    if data.dtype.kind not in "biuf":
        raise InputError(src, f"table values have dtype {data.dtype}, not numbers")
    if data.dtype.kind == "f" and data.size and not np.isfinite(data).all():
        raise _bad_entry(
            src,
            csr,
            int(np.flatnonzero(~np.isfinite(data))[0]),
            "the table holds NaN or infinite values",
            "fix or drop that sample; missing abundances must be 0",
        )
    if data.size and data.min() < 0:
        raise _bad_entry(
            src,
            csr,
            int(np.argmin(data)),
            "the table holds negative values; abundances must be >= 0",
            "check that the table is raw abundances, not a log or centred transform",
        )
    return csr


def _bad_entry(src: str, csr: sp.csr_array, k: int, problem: str, hint: str) -> InputError:
    """The error for stored entry ``k`` of ``csr`` (an index into ``csr.data``), naming its cell."""
    row = int(np.searchsorted(csr.indptr, k, side="right") - 1)
    return InputError(
        src, problem, where=f"sample row {row}, feature column {int(csr.indices[k])}", hint=hint
    )


def row_where(i: int, ids: np.ndarray | None) -> str:
    """Human-readable location of sample row ``i``."""
    if ids is not None and 0 <= i < len(ids):
        return f"sample {ids[i]!s} (row {i})"
    return f"sample row {i}"


def split_table(data: Any) -> tuple[Any, np.ndarray | None, str]:
    """``(matrix, sample_ids or None, values kind)`` from a FeatureTable or a bare sparse matrix."""
    if hasattr(data, "counts") and hasattr(data, "sample_ids"):
        return (
            data.counts,
            np.asarray(data.sample_ids, dtype=str),
            str(getattr(data, "values", "counts")),
        )
    return data, None, "counts"


def default_ids(n: int, ids: Any | None) -> np.ndarray:
    """Sample ids as a ``str`` array (``"0" .. "n-1"`` when none are given)."""
    if ids is None:
        return np.arange(n).astype(str)
    out = np.asarray(ids, dtype=str)
    if out.shape != (n,):
        raise InputError(
            None, f"{out.shape[0] if out.ndim else 0} sample ids given for a table of {n} samples"
        )
    return out


def subset_table(table: FeatureTable, counts: sp.csr_array, rows: np.ndarray) -> FeatureTable:
    """A FeatureTable like ``table`` restricted to ``rows`` with ``counts`` as its matrix."""
    import dataclasses

    sample_ids = np.asarray(table.sample_ids)[rows]
    if dataclasses.is_dataclass(table) and not isinstance(table, type):
        return dataclasses.replace(table, counts=counts, sample_ids=sample_ids)
    return type(table)(
        counts=counts,
        sample_ids=sample_ids,
        feature_ids=table.feature_ids,
        taxonomy=getattr(table, "taxonomy", None),
        values=getattr(table, "values", "counts"),
    )
